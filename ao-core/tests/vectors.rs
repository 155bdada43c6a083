//! Walks every case of `../shared/vectors/` (made by the ecosystem's own JS libraries) and
//! checks each normative expectation. The vectors are the judge: when this fails, our code is
//! wrong, not the file.

use std::path::PathBuf;

use ao_core::deep_hash::{DeepHashItem, deep_hash};
use ao_core::hash::sha256;
use ao_core::{DataItem, Id, SignatureError, SignatureType, Tag, b64, bundle, crypto, hash_chain};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn tags_of(v: &Value) -> Vec<Tag> {
    serde_json::from_value(v.clone()).unwrap()
}

fn opt_b64(bytes: Option<&[u8; 32]>) -> Value {
    bytes.map_or(Value::Null, |b| Value::String(b64::encode(b)))
}

#[test]
fn items() {
    let cases = load("items.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 41, "the vectors README lists 41 item cases");
    for case in cases {
        let name = s(case, "name");
        let raw = b64::decode(s(case, "raw_b64url"), "raw").unwrap();
        assert_eq!(
            raw.len() as u64,
            case["raw_len"].as_u64().unwrap(),
            "{name}"
        );
        if let Some(file) = case["raw_file"].as_str() {
            let bytes = std::fs::read(vectors_dir().join(file)).unwrap();
            assert_eq!(bytes, raw, "{name}: {file} differs from raw_b64url");
        }
        let expect = &case["expect"];
        let outcome = s(expect, "outcome");
        let decoded = DataItem::decode(&raw);
        if outcome == "parse_error" {
            let err = decoded.expect_err(name);
            assert_eq!(err.code(), s(expect, "parse_error"), "{name}: {err}");
            assert!(!err.to_string().is_empty());
            continue;
        }
        let item = decoded.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(item.encode(), raw, "{name}: re-encoding is not byte-exact");
        assert_eq!(item.encoded_len(), raw.len(), "{name}");
        assert_eq!(item.id().to_string(), s(expect, "id"), "{name}");
        assert_eq!(
            u64::from(item.signature_type.code()),
            expect["signature_type"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(item.signature_type.name(), s(expect, "signature_type_name"));
        assert_eq!(b64::encode(&item.signature), s(expect, "signature_b64url"));
        assert_eq!(b64::encode(&item.owner), s(expect, "owner_b64url"));
        assert_eq!(
            item.owner_address(),
            s(expect, "owner_sha256_b64url"),
            "{name}"
        );
        assert_eq!(item.ao_address(), s(expect, "owner_address"), "{name}");
        assert_eq!(opt_b64(item.target.as_ref()), expect["target"], "{name}");
        assert_eq!(opt_b64(item.anchor.as_ref()), expect["anchor"], "{name}");
        let anchor_utf8 = item
            .anchor
            .as_ref()
            .and_then(|a| std::str::from_utf8(a).ok())
            .map_or(Value::Null, |t| Value::String(t.into()));
        assert_eq!(anchor_utf8, expect["anchor_utf8"], "{name}");
        assert_eq!(
            item.tags.len() as u64,
            expect["tag_count"].as_u64().unwrap()
        );
        assert_eq!(
            item.tag_bytes().len() as u64,
            expect["tag_bytes_len"].as_u64().unwrap()
        );
        assert_eq!(item.tags, tags_of(&expect["tags"]), "{name}");
        assert_eq!(item.data.len() as u64, expect["data_len"].as_u64().unwrap());
        assert_eq!(
            hex::encode(sha256(&item.data)),
            s(expect, "data_sha256_hex")
        );
        if expect["data_omitted"].as_bool() == Some(true) {
            assert!(
                item.data
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b as usize == i % 251)
            );
        } else {
            assert_eq!(b64::encode(&item.data), s(expect, "data_b64url"), "{name}");
            let utf8 = std::str::from_utf8(&item.data)
                .ok()
                .map_or(Value::Null, |t| Value::String(t.into()));
            assert_eq!(utf8, expect["data_utf8"], "{name}");
        }
        assert_eq!(
            hex::encode(item.signing_message()),
            s(expect, "deep_hash_hex"),
            "{name}"
        );
        let layout = &expect["layout"];
        assert_eq!(
            (raw.len() - item.data.len()) as u64,
            layout["data_offset"].as_u64().unwrap(),
            "{name}"
        );
        let verified = item.verify();
        match outcome {
            "valid" => {
                assert_eq!(verified, Ok(()), "{name}");
                assert_eq!(expect["valid_signature"], Value::Bool(true));
            }
            "bad_signature" => {
                let err = verified.expect_err(name);
                assert!(!matches!(err, SignatureError::Unsupported(_)), "{name}");
            }
            "unsupported_signature_type" => {
                assert!(!item.signature_type.is_verifiable());
                assert_eq!(
                    verified,
                    Err(SignatureError::Unsupported(item.signature_type)),
                    "{name}"
                );
            }
            other => panic!("{name}: unknown outcome {other}"),
        }
    }
}

fn tree(v: &Value, blobs: &mut Vec<Vec<u8>>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| tree(i, blobs)),
        Value::Object(_) => blobs.push(hex::decode(s(v, "hex")).unwrap()),
        other => panic!("bad deep-hash input {other}"),
    }
}

fn build<'a>(v: &Value, blobs: &mut std::slice::Iter<'a, Vec<u8>>) -> DeepHashItem<'a> {
    match v {
        Value::Array(items) => DeepHashItem::List(items.iter().map(|i| build(i, blobs)).collect()),
        _ => DeepHashItem::Blob(blobs.next().unwrap()),
    }
}

#[test]
fn deep_hash_cases() {
    let file = load("deep_hash.json");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 13);
    let items = load("items.json");
    for case in cases {
        let mut blobs = Vec::new();
        tree(&case["input"], &mut blobs);
        let item = build(&case["input"], &mut blobs.iter());
        assert_eq!(
            hex::encode(deep_hash(&item)),
            s(case, "deep_hash_hex"),
            "{}",
            s(case, "name")
        );
        if let Some(item_name) = case["item"].as_str() {
            let entry = items
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == item_name)
                .unwrap();
            let raw = b64::decode(s(entry, "raw_b64url"), "raw").unwrap();
            let decoded = DataItem::decode(&raw).unwrap();
            assert_eq!(
                hex::encode(decoded.signing_message()),
                s(case, "deep_hash_hex")
            );
            assert_eq!(decoded.id().to_string(), s(case, "item_id"));
        }
    }
}

#[test]
fn tags_avro() {
    let file = load("tags_avro.json");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 11);
    for case in cases {
        let name = s(case, "name");
        let tags = tags_of(&case["tags"]);
        let bytes = ao_core::tags::encode(&tags);
        assert_eq!(hex::encode(&bytes), s(case, "avro_hex"), "{name}");
        assert_eq!(bytes.len() as u64, case["avro_len"].as_u64().unwrap());
        assert_eq!(ao_core::tags::decode(&bytes).unwrap(), tags, "{name}");
    }
    let decode_cases = file["decode_cases"].as_array().unwrap();
    assert_eq!(decode_cases.len(), 3);
    for case in decode_cases {
        let name = s(case, "name");
        let bytes = hex::decode(s(case, "avro_hex")).unwrap();
        let strict = &case["strict_decoder_per_protocol_md"];
        let got = ao_core::tags::decode(&bytes);
        match strict.as_str() {
            Some(error) => {
                assert_eq!(error, "error tag_bytes_trailing_garbage", "{name}");
                assert!(
                    matches!(
                        got,
                        Err(ao_core::tags::TagError::TrailingGarbage { count: 4 })
                    ),
                    "{name}: {got:?}"
                );
            }
            None => assert_eq!(got.unwrap(), tags_of(strict), "{name}"),
        }
    }
}

#[test]
fn bundle_case() {
    let file = load("bundle.json");
    let raw = b64::decode(s(&file, "bundle_b64url"), "bundle").unwrap();
    assert_eq!(raw.len() as u64, file["bundle_len"].as_u64().unwrap());
    assert_eq!(
        std::fs::read(vectors_dir().join(s(&file, "bundle_file"))).unwrap(),
        raw
    );
    let items = bundle::verify(&raw).unwrap();
    assert_eq!(items.len() as u64, file["item_count"].as_u64().unwrap());
    let ids: Vec<String> = items.iter().map(|i| i.id().to_string()).collect();
    let expected_ids: Vec<String> = serde_json::from_value(file["item_ids"].clone()).unwrap();
    assert_eq!(ids, expected_ids);
    for (item, expect) in items.iter().zip(file["items"].as_array().unwrap()) {
        assert_eq!(item.id().to_string(), s(expect, "id"));
        assert_eq!(item.encoded_len() as u64, expect["size"].as_u64().unwrap());
        let offset = expect["offset"].as_u64().unwrap() as usize;
        assert_eq!(
            &raw[offset..offset + item.encoded_len()],
            &item.encode()[..]
        );
        assert_eq!(
            u64::from(item.signature_type.code()),
            expect["signature_type"].as_u64().unwrap()
        );
        assert_eq!(item.ao_address(), s(expect, "owner_address"));
        assert_eq!(item.tags, tags_of(&expect["tags"]));
        assert_eq!(
            std::str::from_utf8(&item.data).unwrap(),
            s(expect, "data_utf8")
        );
    }
    assert_eq!(bundle::encode(&items), raw, "re-bundling is byte-exact");

    let nested = &file["nested"];
    let outer = DataItem::decode(&b64::decode(s(nested, "raw_b64url"), "nested").unwrap()).unwrap();
    assert_eq!(outer.verify(), Ok(()));
    assert_eq!(outer.id().to_string(), s(nested, "id"));
    assert_eq!(outer.tags, tags_of(&nested["tags"]));
    assert!(bundle::is_bundle(&outer));
    assert_eq!(bundle::decode_nested(&outer).unwrap(), items);
}

#[test]
fn bundle_errors_name_the_problem() {
    let file = load("bundle.json");
    let raw = b64::decode(s(&file, "bundle_b64url"), "bundle").unwrap();
    let mut wrong_id = raw.clone();
    wrong_id[32 + 32] ^= 1;
    assert!(matches!(
        bundle::decode(&wrong_id),
        Err(bundle::BundleError::IdMismatch { index: 0, .. })
    ));
    let mut trailing = raw.clone();
    trailing.push(0);
    assert!(matches!(
        bundle::decode(&trailing),
        Err(bundle::BundleError::TrailingBytes { count: 1 })
    ));
    let mut huge = raw.clone();
    huge[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(bundle::decode(&huge).is_err());
    assert!(bundle::decode(&raw[..raw.len() - 1]).is_err());
}

#[test]
fn hash_chains() {
    let file = load("hash_chain.json");
    let chains = file["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 2);
    for chain in chains {
        let process: Id = s(chain, "process_id").parse().unwrap();
        let steps = chain["steps"].as_array().unwrap();
        let mut hc = hash_chain::first(&process);
        assert_eq!(hc.to_string(), s(&steps[0], "hash_chain"));
        let mut verifier = hash_chain::ChainVerifier::new(&process);
        let assignments: Vec<Id> = chain["assignment_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().parse().unwrap())
            .collect();
        for (n, step) in steps.iter().enumerate().skip(1) {
            let previous = assignments[n - 1];
            assert_eq!(previous.to_string(), s(step, "previous_assignment_id"));
            assert_eq!(hc.to_string(), s(step, "previous_hash_chain"));
            let mut input = previous.as_bytes().to_vec();
            input.extend_from_slice(hc.as_bytes());
            assert_eq!(hex::encode(input), s(step, "sha256_input_hex"));
            verifier.check(&previous, &hc).unwrap();
            hc = hash_chain::next(&previous, &hc);
            assert_eq!(hc.to_string(), s(step, "hash_chain"));
        }
        // A tampered link is reported with its nonce.
        let mut verifier = hash_chain::ChainVerifier::new(&process);
        let err = verifier
            .check(&assignments[0], &assignments[1])
            .unwrap_err();
        assert_eq!(err.nonce, 0);
    }
}

#[test]
fn addresses() {
    let file = load("addresses.json");
    for case in file["cases"].as_array().unwrap() {
        let owner = b64::decode(s(case, "owner_b64url"), "owner").unwrap();
        let t = SignatureType::from_code(case["signature_type"].as_u64().unwrap() as u16).unwrap();
        if t == SignatureType::Ethereum {
            assert_eq!(
                crypto::ethereum_address(&owner).unwrap(),
                s(case, "address")
            );
            assert_eq!(
                crypto::owner_address(&owner),
                s(case, "owner_sha256_b64url")
            );
        } else {
            assert_eq!(crypto::owner_address(&owner), s(case, "address"));
        }
    }
    let checks = file["eip55_checksum_cases"].as_array().unwrap();
    assert_eq!(checks.len(), 8);
    for case in checks {
        assert_eq!(
            crypto::eip55_checksum(s(case, "lowercase")),
            s(case, "checksummed")
        );
    }
}
