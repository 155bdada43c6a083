//! Arweave format-2 transactions and data roots against vectors made by arweave-js itself
//! (`tests/vectors/arweave_v2.mjs` writes `arweave_v2.json`), plus round trips and a signature
//! of ours that verifies.

use ao_core::arweave::merkle::{self, CHUNK_BYTES_MAX};
use ao_core::arweave::{Transaction, TxError, TxJson};
use ao_core::hash::sha256;
use ao_core::wallet::Jwk;
use ao_core::{Signer, Tag, b64};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("vectors/arweave_v2.json");
    serde_json::from_str(text).unwrap()
}

/// The data of every vector: byte i = (i * 7 + (i >> 11)) & 0xff.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + (i >> 11)) & 0xff) as u8).collect()
}

fn rsa_signer() -> Signer {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/keys.json"
    );
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Jwk::from_json(&keys["rsa"]["jwk"].to_string())
        .unwrap()
        .signer()
        .unwrap()
}

#[test]
fn data_roots_and_proofs_match_arweave_js() {
    let vectors = vectors();
    let cases = vectors["merkle"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let size = case["data_size"].as_u64().unwrap() as usize;
        let data = pattern(size);
        let chunked = merkle::chunk_data(&data);
        assert_eq!(
            b64::encode(chunked.data_root),
            case["data_root"].as_str().unwrap(),
            "data root of {size} bytes"
        );
        assert_eq!(merkle::data_root(&data), chunked.data_root);
        let chunks = case["chunks"].as_array().unwrap();
        assert_eq!(chunked.chunks.len(), chunks.len(), "chunks of {size} bytes");
        for ((chunk, proof), expected) in chunked.chunks.iter().zip(&chunked.proofs).zip(chunks) {
            assert_eq!(chunk.range.start as u64, expected["min_byte_range"]);
            assert_eq!(chunk.range.end as u64, expected["max_byte_range"]);
            assert_eq!(proof.offset, expected["offset"]);
            assert_eq!(b64::encode(&proof.data_path), expected["data_path"]);
        }
    }
}

#[test]
fn a_multiple_of_256_kib_hashes_its_empty_last_chunk_but_uploads_none() {
    let data = pattern(2 * CHUNK_BYTES_MAX);
    assert_eq!(merkle::chunk_ranges(data.len()).len(), 3);
    let chunked = merkle::chunk_data(&data);
    assert_eq!(chunked.chunks.len(), 2);
    assert_eq!(chunked.proofs.len(), 2);
}

#[test]
fn transactions_signed_by_arweave_js_read_and_verify() {
    let vectors = vectors();
    for case in vectors["transactions"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let json: TxJson = serde_json::from_value(case["json"].clone()).unwrap();
        let (tx, data) = Transaction::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            hex::encode(tx.signature_data()),
            case["signature_data"].as_str().unwrap(),
            "{name}"
        );
        tx.verify().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(tx.id().to_string(), json.id);
        assert_eq!(data, pattern(tx.data_size as usize));
        // Writing it back gives the JSON arweave-js wrote, field for field.
        let again = tx.to_json((!data.is_empty()).then_some(&data[..]));
        assert_eq!(again, json, "{name}");
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            case["json"],
            "{name}"
        );
    }
}

#[test]
fn our_signature_verifies_and_round_trips() {
    let signer = rsa_signer();
    let data = pattern(300_000);
    let (mut tx, chunked) = Transaction::for_data(&data);
    tx.last_tx = vec![5; 48];
    tx.reward = 1_234_567;
    tx.tags = vec![
        Tag::new("Bundle-Format", "binary"),
        Tag::new("Bundle-Version", "2.0.0"),
        Tag::new("App-Name", "ao-rs SU"),
    ];
    tx.sign(&signer).unwrap();
    tx.verify().unwrap();
    assert_eq!(tx.id().0, sha256(&tx.signature));
    assert_eq!(tx.owner, signer.owner());

    let (back, inline) = Transaction::from_json(&tx.to_json(Some(&data))).unwrap();
    assert_eq!(back, tx);
    assert_eq!(inline, data);
    let (headers, none) = Transaction::from_json(&tx.to_json(None)).unwrap();
    assert_eq!(headers, tx);
    assert!(none.is_empty());

    // The chunk bodies reassemble the data, and each proof checks against the root.
    let mut joined = Vec::new();
    for index in 0..chunked.chunks.len() {
        let body = tx.chunk_body(&chunked, index, &data).unwrap();
        assert_eq!(body.data_root, b64::encode(&tx.data_root));
        assert_eq!(body.data_size, "300000");
        let bytes = b64::decode(&body.chunk, "chunk").unwrap();
        let path = b64::decode(&body.data_path, "data_path").unwrap();
        let offset: u64 = body.offset.parse().unwrap();
        let proven = merkle::validate_path(&chunked.data_root, offset, 300_000, &path).unwrap();
        assert_eq!(proven.data_hash, sha256(&bytes));
        joined.extend(bytes);
    }
    assert!(
        tx.chunk_body(&chunked, chunked.chunks.len(), &data)
            .is_none()
    );
    assert_eq!(joined, data);

    // Any change to a signed field breaks the signature.
    let mut changed = tx.clone();
    changed.reward += 1;
    assert!(changed.verify().is_err());
    let mut changed = tx.clone();
    changed.tags[2].value.push('!');
    assert!(changed.verify().is_err());
}

#[test]
fn no_data_means_an_empty_data_root() {
    let (mut tx, chunked) = Transaction::for_data(&[]);
    assert!(tx.data_root.is_empty());
    assert!(chunked.chunks.is_empty());
    tx.sign(&rsa_signer()).unwrap();
    tx.verify().unwrap();
    let json = tx.to_json(None);
    assert_eq!(json.data_root, "");
    assert_eq!(json.data_size, "0");
}

#[test]
fn malformed_json_is_refused_with_a_reason() {
    let vectors = vectors();
    let good: TxJson = serde_json::from_value(vectors["transactions"][0]["json"].clone()).unwrap();
    let refuse = |edit: &dyn Fn(&mut TxJson)| {
        let mut json = good.clone();
        edit(&mut json);
        Transaction::from_json(&json).unwrap_err()
    };
    assert_eq!(refuse(&|j| j.format = 1), TxError::Format(1));
    assert!(matches!(
        refuse(&|j| j.id = "x".repeat(43)),
        TxError::IdMismatch { .. }
    ));
    assert!(matches!(
        refuse(&|j| j.reward = "007".into()),
        TxError::Number {
            field: "reward",
            ..
        }
    ));
    assert!(matches!(
        refuse(&|j| j.owner = "AAAA".into()),
        TxError::Length { field: "owner", .. }
    ));
    assert!(matches!(
        refuse(&|j| j.data_size = "999".into()),
        TxError::DataSize { .. }
    ));
    assert_eq!(
        refuse(&|j| j.data = b64::encode(vec![1u8; 1000])),
        TxError::DataRoot
    );
    assert!(matches!(
        refuse(&|j| j.tags[0].name = "+/==".into()),
        TxError::Base64(_)
    ));
    assert!(matches!(
        refuse(&|j| j.tags[0].value = b64::encode([0xff, 0xfe])),
        TxError::TagNotUtf8 { index: 0, .. }
    ));
}
