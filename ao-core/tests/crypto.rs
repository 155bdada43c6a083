//! Signatures, addresses and wallets against the shared vectors (`../shared/vectors`), plus
//! round trips and garbage inputs. Only the deep hash is taken from `items.json`; decoding the
//! items is the item decoder's test.

use ao_core::b64;
use ao_core::crypto::ethereum;
use ao_core::crypto::rsa::{self, RsaSigner};
use ao_core::crypto::{
    self, SignatureError, Signer, eip55_checksum, ethereum_address, owner_address,
};
use ao_core::signature_type::SignatureType;
use ao_core::wallet::{Jwk, WalletError};
use proptest::prelude::*;
use serde_json::Value;
use std::sync::OnceLock;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/");

fn vector(name: &str) -> Value {
    let path = format!("{VECTORS}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn keys() -> &'static Value {
    static KEYS: OnceLock<Value> = OnceLock::new();
    KEYS.get_or_init(|| vector("keys.json"))
}

fn items() -> &'static Vec<Value> {
    static ITEMS: OnceLock<Vec<Value>> = OnceLock::new();
    ITEMS.get_or_init(|| match vector("items.json") {
        Value::Array(cases) => cases,
        other => panic!("items.json is not an array: {other}"),
    })
}

fn item(name: &str) -> &'static Value {
    items()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no item case {name}"))
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string"))
}

fn b64_field(value: &Value, what: &'static str) -> Vec<u8> {
    b64::decode(str_of(value, what), what).unwrap()
}

fn hex_field(value: &Value, what: &str) -> Vec<u8> {
    hex::decode(str_of(value, what)).unwrap()
}

fn rsa_jwk() -> Jwk {
    Jwk::from_json(&keys()["rsa"]["jwk"].to_string()).unwrap()
}

fn ed25519_jwk() -> Jwk {
    Jwk::from_json(&keys()["ed25519"]["jwk"].to_string()).unwrap()
}

fn ethereum_signer() -> Signer {
    let secret: [u8; 32] = hex_field(&keys()["ethereum"]["private_key_hex"], "private key")
        .try_into()
        .unwrap();
    Signer::from_ethereum_secret(&secret).unwrap()
}

/// The vectors' RSA signer, built once (aws-lc-rs validates the key, which is not free).
fn rsa_signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| rsa_jwk().signer().unwrap())
}

/// A freshly generated RSA-4096 key, shared by the tests that need one.
fn generated_rsa() -> &'static (Jwk, Signer) {
    static GENERATED: OnceLock<(Jwk, Signer)> = OnceLock::new();
    GENERATED.get_or_init(|| {
        let jwk = Jwk::generate_rsa4096().unwrap();
        let signer = jwk.signer().unwrap();
        (jwk, signer)
    })
}

// ---------------------------------------------------------------------------------------------
// Keys and addresses

#[test]
fn vector_keys_give_their_owners_and_addresses() {
    let k = keys();

    let rsa = rsa_signer();
    assert_eq!(rsa.signature_type(), SignatureType::Arweave);
    assert_eq!(
        b64::encode(rsa.owner()),
        str_of(&k["rsa"]["owner_b64url"], "rsa owner")
    );
    assert_eq!(rsa.address(), str_of(&k["rsa"]["address"], "rsa address"));
    assert_eq!(rsa_jwk().address().unwrap(), rsa.address());

    let ed = ed25519_jwk().signer().unwrap();
    assert_eq!(ed.signature_type(), SignatureType::Ed25519);
    assert_eq!(
        hex::encode(ed.owner()),
        str_of(&k["ed25519"]["public_key_hex"], "ed pk")
    );
    assert_eq!(ed.address(), str_of(&k["ed25519"]["address"], "ed address"));
    assert_eq!(ed25519_jwk().address().unwrap(), ed.address());
    let seed: [u8; 32] = hex_field(&k["ed25519"]["seed_hex"], "seed")
        .try_into()
        .unwrap();
    assert_eq!(
        Signer::from_ed25519_seed(&seed).unwrap().owner(),
        ed.owner()
    );

    let eth = ethereum_signer();
    assert_eq!(eth.signature_type(), SignatureType::Ethereum);
    assert_eq!(
        b64::encode(eth.owner()),
        str_of(&k["ethereum"]["owner_b64url"], "eth owner")
    );
    assert_eq!(
        hex::encode(eth.owner()),
        str_of(&k["ethereum"]["public_key_uncompressed_hex"], "eth pk")
    );
    assert_eq!(
        eth.address(),
        str_of(&k["ethereum"]["owner_sha256_b64url"], "eth sha")
    );
    assert_eq!(
        ethereum_address(eth.owner()).unwrap(),
        str_of(&k["ethereum"]["address"], "eth address")
    );
    let Signer::Ethereum(inner) = &eth else {
        panic!("not an Ethereum signer")
    };
    assert_eq!(
        inner.ethereum_address(),
        str_of(&k["ethereum"]["address"], "eth address")
    );
}

#[test]
fn addresses_json_cases() {
    let a = vector("addresses.json");
    let cases = a["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let owner = b64_field(&case["owner_b64url"], "owner");
        let address = str_of(&case["address"], "address");
        match case["signature_type"].as_u64() {
            Some(3) => {
                assert_eq!(ethereum_address(&owner).unwrap(), address);
                assert_eq!(
                    owner_address(&owner),
                    str_of(&case["owner_sha256_b64url"], "sha address")
                );
                let lower = str_of(&case["address_lowercase"], "lowercase");
                assert_eq!(eip55_checksum(lower), address);
            }
            _ => assert_eq!(owner_address(&owner), address, "{}", case["name"]),
        }
    }
    let checksum_cases = a["eip55_checksum_cases"].as_array().unwrap();
    assert_eq!(checksum_cases.len(), 8);
    for case in checksum_cases {
        let lower = str_of(&case["lowercase"], "lowercase");
        let want = str_of(&case["checksummed"], "checksummed");
        assert_eq!(eip55_checksum(lower), want);
        // Idempotent, prefix optional, case of the input irrelevant.
        assert_eq!(eip55_checksum(want), want);
        assert_eq!(eip55_checksum(&lower[2..]), want);
        assert_eq!(eip55_checksum(&lower.to_ascii_uppercase()[2..]), want);
    }
}

#[test]
fn ethereum_address_rejects_bad_owners() {
    assert!(ethereum_address(&[4u8; 64]).is_err());
    let mut owner = ethereum_signer().owner().to_vec();
    owner[0] = 0x02;
    assert!(ethereum_address(&owner).is_err());
}

// ---------------------------------------------------------------------------------------------
// items.json: verify exactly the valid cases

#[test]
fn items_verify_exactly_when_valid() {
    let mut checked = 0;
    let mut rsa_salts = Vec::new();
    for case in items() {
        let name = str_of(&case["name"], "name");
        let expect = &case["expect"];
        if expect.get("deep_hash_hex").is_none() {
            assert_eq!(expect["outcome"], "parse_error", "{name}");
            continue;
        }
        let code = u16::try_from(expect["signature_type"].as_u64().unwrap()).unwrap();
        let sig_type = SignatureType::from_code(code).unwrap();
        let owner = b64_field(&expect["owner_b64url"], "owner");
        let signature = b64_field(&expect["signature_b64url"], "signature");
        let message = hex_field(&expect["deep_hash_hex"], "deep hash");
        assert_eq!(message.len(), 48, "{name}");
        let result = crypto::verify(sig_type, &owner, &message, &signature);
        match str_of(&expect["outcome"], "outcome") {
            "valid" => {
                assert_eq!(result, Ok(()), "{name}");
                if sig_type == SignatureType::Arweave {
                    // The general decoder alone, not only the aws-lc-rs fast path.
                    assert_eq!(rsa::verify_any_salt(&owner, &message, &signature), Ok(()));
                    rsa_salts.push(expect["rsa_pss_salt_length"].as_u64().unwrap());
                }
            }
            "bad_signature" => {
                assert!(result.is_err(), "{name} verified");
                assert!(
                    !matches!(result, Err(SignatureError::Unsupported(_))),
                    "{name}: {result:?}"
                );
            }
            "unsupported_signature_type" => {
                assert_eq!(result, Err(SignatureError::Unsupported(sig_type)), "{name}");
            }
            other => panic!("{name}: unexpected outcome {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 29);
    for salt in [0, 32, 478] {
        assert!(
            rsa_salts.contains(&salt),
            "no valid RSA case with salt {salt}"
        );
    }
}

#[test]
fn ethereum_flipped_v_recovers_another_key() {
    let expect = &item("bad_sig_ethereum_flipped_v")["expect"];
    let owner = b64_field(&expect["owner_b64url"], "owner");
    let signature = b64_field(&expect["signature_b64url"], "signature");
    let message = hex_field(&expect["deep_hash_hex"], "deep hash");
    assert_eq!(signature[64], 28);
    assert_eq!(
        crypto::verify(SignatureType::Ethereum, &owner, &message, &signature),
        Err(SignatureError::Ethereum(
            "recovered key differs from the owner"
        ))
    );
    let mut fixed = signature.clone();
    fixed[64] = 27;
    assert_eq!(
        crypto::verify(SignatureType::Ethereum, &owner, &message, &fixed),
        Ok(())
    );
    for v in [0, 1, 26, 29, 35, 255] {
        fixed[64] = v;
        assert_eq!(
            crypto::verify(SignatureType::Ethereum, &owner, &message, &fixed),
            Err(SignatureError::Ethereum("v must be 27 or 28")),
            "v = {v}"
        );
    }
}

#[test]
fn ethereum_high_s_is_rejected() {
    // s' = order − s with v flipped is the same signature mathematically (the malleable twin);
    // it must not verify, so a signed content has one valid id.
    const ORDER: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let expect = &item("ethereum_type3")["expect"];
    let owner = b64_field(&expect["owner_b64url"], "owner");
    let signature = b64_field(&expect["signature_b64url"], "signature");
    let message = hex_field(&expect["deep_hash_hex"], "deep hash");
    let n = num_bigint_from(&ORDER);
    let s = num_bigint_from(&signature[32..64]);
    let high = (n - s).to_bytes_be();
    let mut twin = signature.clone();
    twin[32..64].fill(0);
    twin[64 - high.len()..64].copy_from_slice(&high);
    twin[64] = if signature[64] == 27 { 28 } else { 27 };
    assert_eq!(
        crypto::verify(SignatureType::Ethereum, &owner, &message, &twin),
        Err(SignatureError::Ethereum(
            "s is in the upper half of the group order (not low-s)"
        ))
    );
}

fn num_bigint_from(bytes: &[u8]) -> num_bigint::BigUint {
    num_bigint::BigUint::from_bytes_be(bytes)
}

// ---------------------------------------------------------------------------------------------
// Signing

/// ed25519 and Ethereum signatures are deterministic, so our signers must reproduce the
/// vectors' signatures byte for byte.
#[test]
fn deterministic_signers_reproduce_the_vectors() {
    let ed = ed25519_jwk().signer().unwrap();
    let eth = ethereum_signer();
    let mut seen = [0, 0];
    for case in items() {
        let expect = &case["expect"];
        if expect["outcome"] != "valid" {
            continue;
        }
        let (signer, slot) = match expect["signature_type"].as_u64() {
            Some(2) => (&ed, 0),
            Some(3) => (&eth, 1),
            _ => continue,
        };
        assert_eq!(b64_field(&expect["owner_b64url"], "owner"), signer.owner());
        let message = hex_field(&expect["deep_hash_hex"], "deep hash");
        let signature = signer.sign(&message).unwrap();
        assert_eq!(
            b64::encode(&signature),
            str_of(&expect["signature_b64url"], "sig")
        );
        seen[slot] += 1;
    }
    assert!(seen[0] >= 5 && seen[1] >= 2, "{seen:?}");
}

fn assert_round_trip(signer: &Signer) {
    let t = signer.signature_type();
    for message in [&b""[..], b"hello", &[7u8; 48], &[0xab; 1000]] {
        let signature = signer.sign(message).unwrap();
        assert_eq!(signature.len(), t.signature_len());
        assert_eq!(signer.owner().len(), t.owner_len());
        assert_eq!(
            crypto::verify(t, signer.owner(), message, &signature),
            Ok(())
        );
        let mut other = message.to_vec();
        other.push(1);
        assert!(crypto::verify(t, signer.owner(), &other, &signature).is_err());
        let mut bent = signature.clone();
        bent[10] ^= 0x40;
        assert!(crypto::verify(t, signer.owner(), message, &bent).is_err());
    }
}

#[test]
fn round_trip_vector_keys() {
    assert_round_trip(rsa_signer());
    assert_round_trip(&ed25519_jwk().signer().unwrap());
    assert_round_trip(&ethereum_signer());
}

#[test]
fn round_trip_generated_keys() {
    let (jwk, signer) = generated_rsa();
    assert_eq!(signer.owner().len(), 512);
    assert_eq!(jwk.address().unwrap(), signer.address());
    assert_round_trip(signer);

    let ed = Jwk::generate_ed25519().unwrap();
    assert_round_trip(&ed.signer().unwrap());

    let mut secret = [0u8; 32];
    secret[31] = 1;
    assert_round_trip(&Signer::from_ethereum_secret(&secret).unwrap());
}

#[test]
fn rsa_signs_with_max_salt_and_verifies_every_salt() {
    let Signer::Arweave(signer) = rsa_signer() else {
        panic!("not RSA")
    };
    let message = [0x5a; 48];
    let owner = signer.owner();
    let default = signer.sign(&message).unwrap();
    assert_eq!(rsa::verify_any_salt(owner, &message, &default), Ok(()));
    for salt in [0u16, 32, 478] {
        let signature = signer.sign_with_salt_len(salt, &message).unwrap();
        assert_eq!(
            rsa::verify(owner, &message, &signature),
            Ok(()),
            "salt {salt}"
        );
        assert_eq!(
            rsa::verify_any_salt(owner, &message, &signature),
            Ok(()),
            "salt {salt}"
        );
    }
    assert!(signer.sign_with_salt_len(20, &message).is_err());
}

#[test]
fn rsa_rejects_out_of_range_signatures_and_bad_moduli() {
    let owner = rsa_signer().owner().to_vec();
    let message = [1u8; 48];
    // s = n and s > n.
    for signature in [owner.clone(), vec![0xff; 512]] {
        assert_eq!(
            rsa::verify_any_salt(&owner, &message, &signature),
            Err(SignatureError::RsaPss)
        );
        assert!(crypto::verify(SignatureType::Arweave, &owner, &message, &signature).is_err());
    }
    // s = 0 and s = 1 give m = 0 and m = 1: no 0xbc trailer.
    let mut one = vec![0u8; 512];
    assert!(crypto::verify(SignatureType::Arweave, &owner, &message, &one).is_err());
    one[511] = 1;
    assert!(crypto::verify(SignatureType::Arweave, &owner, &message, &one).is_err());
    // A modulus with a zero top byte is not 4096 bits; an even one is not RSA.
    let mut short = owner.clone();
    short[0] = 0;
    let signature = rsa_signer().sign(&message).unwrap();
    assert!(matches!(
        crypto::verify(SignatureType::Arweave, &short, &message, &signature),
        Err(SignatureError::InvalidKey { .. })
    ));
    let mut even = owner.clone();
    even[511] &= 0xfe;
    assert!(matches!(
        crypto::verify(SignatureType::Arweave, &even, &message, &signature),
        Err(SignatureError::InvalidKey { .. })
    ));
    // Zero modulus: must be an error, not a division by zero.
    assert!(crypto::verify(SignatureType::Arweave, &[0u8; 512], &message, &signature).is_err());
}

#[test]
fn lengths_are_checked_before_anything_else() {
    let message = [0u8; 48];
    for t in [
        SignatureType::Arweave,
        SignatureType::Ed25519,
        SignatureType::Ethereum,
    ] {
        let owner = vec![4u8; t.owner_len()];
        let signature = vec![1u8; t.signature_len()];
        assert!(matches!(
            crypto::verify(t, &owner[1..], &message, &signature),
            Err(SignatureError::OwnerLength { .. })
        ));
        assert!(matches!(
            crypto::verify(t, &owner, &message, &signature[1..]),
            Err(SignatureError::SignatureLength { .. })
        ));
        let mut long = signature.clone();
        long.push(0);
        assert!(matches!(
            crypto::verify(t, &owner, &message, &long),
            Err(SignatureError::SignatureLength { .. })
        ));
    }
    for t in SignatureType::ALL
        .into_iter()
        .filter(|t| !t.is_verifiable())
    {
        assert_eq!(
            crypto::verify(t, &[], &message, &[]),
            Err(SignatureError::Unsupported(t))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Wallets

#[test]
fn jwk_round_trips_with_the_same_field_names_and_values() {
    for (file_jwk, jwk) in [
        (&keys()["rsa"]["jwk"], rsa_jwk()),
        (&keys()["ed25519"]["jwk"], ed25519_jwk()),
    ] {
        let written = jwk.to_json();
        let as_value: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(&as_value, file_jwk);
        assert_eq!(Jwk::from_json(&written).unwrap(), jwk);
        // serde impls agree with from_json/to_json.
        let via_serde: Jwk = serde_json::from_value(file_jwk.clone()).unwrap();
        assert_eq!(via_serde, jwk);
        assert_eq!(serde_json::to_value(&jwk).unwrap(), *file_jwk);
    }
    let (generated, signer) = generated_rsa();
    let reread = Jwk::from_json(&generated.to_json()).unwrap();
    assert_eq!(&reread, generated);
    assert_eq!(reread.signer().unwrap().owner(), signer.owner());
    let ed = Jwk::generate_ed25519().unwrap();
    assert_eq!(Jwk::from_json(&ed.to_json()).unwrap(), ed);
}

#[test]
fn jwk_ignores_extra_fields_and_hides_secrets_in_debug() {
    let mut file = keys()["rsa"]["jwk"].clone();
    file["ext"] = Value::Bool(true);
    file["kid"] = Value::String("x".into());
    let jwk = Jwk::from_json(&file.to_string()).unwrap();
    assert_eq!(jwk, rsa_jwk());
    let d = str_of(&keys()["rsa"]["jwk"]["d"], "d");
    assert!(!format!("{jwk:?}").contains(&d[..20]));
    let ed_d = str_of(&keys()["ed25519"]["jwk"]["d"], "d");
    assert!(!format!("{:?}", ed25519_jwk()).contains(ed_d));
    assert!(!format!("{:?}", ed25519_jwk().signer().unwrap()).contains(ed_d));
}

#[test]
fn bad_wallets_are_typed_errors() {
    let rsa = keys()["rsa"]["jwk"].clone();
    let ed = keys()["ed25519"]["jwk"].clone();

    assert!(matches!(Jwk::from_json("{"), Err(WalletError::Json(_))));
    assert!(matches!(Jwk::from_json("[]"), Err(WalletError::Json(_))));
    assert!(matches!(
        Jwk::from_json(r#"{"kty":"EC","crv":"secp256k1"}"#),
        Err(WalletError::UnsupportedKeyType { .. })
    ));
    assert!(matches!(
        Jwk::from_json(r#"{"kty":"OKP","crv":"X25519","d":"","x":""}"#),
        Err(WalletError::UnsupportedKeyType { .. })
    ));

    let mut missing = rsa.clone();
    missing.as_object_mut().unwrap().remove("qi");
    assert!(matches!(
        Jwk::from_json(&missing.to_string()),
        Err(WalletError::MissingField("qi"))
    ));
    let mut padded = rsa.clone();
    padded["e"] = Value::String("AQAB==".into());
    assert!(matches!(
        Jwk::from_json(&padded.to_string()),
        Err(WalletError::Base64(_))
    ));

    // Parses, but the key is unusable.
    let mut wrong_d = rsa.clone();
    wrong_d["d"] = Value::String(b64::encode([3u8; 512]));
    let jwk = Jwk::from_json(&wrong_d.to_string()).unwrap();
    assert!(matches!(jwk.signer(), Err(WalletError::InvalidKey(_))));
    let mut e3 = rsa.clone();
    e3["e"] = Value::String(b64::encode([3u8]));
    let jwk = Jwk::from_json(&e3.to_string()).unwrap();
    assert!(matches!(jwk.signer(), Err(WalletError::InvalidKey(_))));
    let mut short_n = rsa.clone();
    short_n["n"] = Value::String(b64::encode([0xc5u8; 256]));
    let jwk = Jwk::from_json(&short_n.to_string()).unwrap();
    assert!(matches!(jwk.signer(), Err(WalletError::InvalidKey(_))));
    assert!(matches!(jwk.address(), Err(WalletError::InvalidKey(_))));

    let mut wrong_x = ed.clone();
    wrong_x["x"] = Value::String(b64::encode([9u8; 32]));
    let jwk = Jwk::from_json(&wrong_x.to_string()).unwrap();
    assert!(matches!(jwk.signer(), Err(WalletError::InvalidKey(_))));
    let mut short_d = ed.clone();
    short_d["d"] = Value::String(b64::encode([9u8; 31]));
    assert!(matches!(
        Jwk::from_json(&short_d.to_string()),
        Err(WalletError::Base64(_))
    ));

    assert!(Signer::from_ethereum_secret(&[0u8; 32]).is_err());
    assert!(Signer::from_ethereum_secret(&[0xff; 32]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Garbage never panics

fn any_type() -> impl Strategy<Value = SignatureType> {
    prop::sample::select(SignatureType::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn garbage_of_any_length_is_an_error(
        t in any_type(),
        owner in prop::collection::vec(any::<u8>(), 0..600),
        message in prop::collection::vec(any::<u8>(), 0..100),
        signature in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        prop_assert!(crypto::verify(t, &owner, &message, &signature).is_err());
    }

    #[test]
    fn garbage_of_the_right_length_is_an_error(
        t in prop::sample::select(vec![
            SignatureType::Arweave, SignatureType::Ed25519, SignatureType::Ethereum,
        ]),
        seed in any::<u64>(),
        message in prop::collection::vec(any::<u8>(), 0..100),
        v in any::<u8>(),
    ) {
        let mut state = seed;
        let mut bytes = |len: usize| -> Vec<u8> {
            (0..len).map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 56) as u8
            }).collect()
        };
        let mut signature = bytes(t.signature_len());
        let owner = match t {
            // Real keys, random signatures: the interesting arithmetic runs.
            SignatureType::Arweave => rsa_signer().owner().to_vec(),
            SignatureType::Ethereum => {
                signature[64] = if v % 4 == 0 { v } else { 27 + v % 2 };
                ethereum_signer().owner().to_vec()
            }
            _ => bytes(t.owner_len()),
        };
        prop_assert!(crypto::verify(t, &owner, &message, &signature).is_err());
        if t == SignatureType::Arweave {
            prop_assert!(rsa::verify_any_salt(&owner, &message, &signature).is_err());
        }
    }

    /// Our ecrecover against k256's `recover_from_prehash` (which re-verifies what it recovers):
    /// on real signatures with either v, and on random r ‖ s.
    #[test]
    fn ethereum_recovery_agrees_with_k256(
        secret in prop::array::uniform32(any::<u8>()),
        message in prop::collection::vec(any::<u8>(), 0..100),
        random_rs in prop::array::uniform32(any::<u8>()),
        flip_v in any::<bool>(),
        use_random in any::<bool>(),
    ) {
        let Ok(signer) = Signer::from_ethereum_secret(&secret) else { return Ok(()) };
        let mut signature = signer.sign(&message).unwrap();
        if use_random {
            signature[..32].copy_from_slice(&random_rs);
            signature[32] &= 0x7f; // keep s low most of the time
        }
        if flip_v {
            signature[64] ^= 27 ^ 28;
        }
        let ours = ethereum::recover(&message, &signature).ok();
        let hash = ethereum::personal_sign_hash(&message);
        let theirs = k256::ecdsa::Signature::from_slice(&signature[..64])
            .ok()
            .filter(|s| s.normalize_s().is_none())
            .and_then(|s| {
                let id = k256::ecdsa::RecoveryId::from_byte(signature[64] - 27)?;
                k256::ecdsa::VerifyingKey::recover_from_prehash(&hash, &s, id).ok()
            })
            .map(|key| key.to_encoded_point(false).as_bytes().to_vec());
        prop_assert_eq!(ours.map(|k| k.to_vec()), theirs.clone());
        let verified = crypto::verify(SignatureType::Ethereum, signer.owner(), &message, &signature);
        prop_assert_eq!(verified.is_ok(), !use_random && !flip_v);
    }

    #[test]
    fn random_rsa_moduli_never_panic(
        owner in prop::collection::vec(any::<u8>(), 512..=512),
        signature in prop::collection::vec(any::<u8>(), 512..=512),
    ) {
        prop_assert!(rsa::verify_any_salt(&owner, b"m", &signature).is_err());
        prop_assert!(crypto::verify(SignatureType::Arweave, &owner, b"m", &signature).is_err());
    }

    #[test]
    fn random_wallet_text_never_panics(text in ".{0,200}") {
        let _ = Jwk::from_json(&text);
        let _ = eip55_checksum(&text);
    }

    #[test]
    fn random_jwk_fields_never_panic(
        kty in prop::sample::select(vec!["RSA", "OKP"]),
        fields in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 9),
    ) {
        let names = ["n", "e", "d", "p", "q", "dp", "dq", "qi", "x"];
        let mut object = serde_json::Map::new();
        object.insert("kty".into(), Value::String(kty.into()));
        object.insert("crv".into(), Value::String("Ed25519".into()));
        for (name, bytes) in names.iter().zip(&fields) {
            object.insert((*name).into(), Value::String(b64::encode(bytes)));
        }
        if let Ok(jwk) = Jwk::from_json(&Value::Object(object).to_string()) {
            let _ = jwk.address();
            prop_assert!(jwk.signer().is_err());
        }
    }
}

#[test]
fn generated_rsa_key_is_4096_bits_with_exponent_65537() {
    let (jwk, _) = generated_rsa();
    let Jwk::Rsa(c) = jwk else { panic!("not RSA") };
    assert_eq!(c.n.len(), 512);
    assert_ne!(c.n[0], 0);
    assert_eq!(c.e, rsa::PUBLIC_EXPONENT);
    assert!(!c.d.is_empty() && c.d[0] != 0);
    let _: &RsaSigner = match generated_rsa().1 {
        Signer::Arweave(ref s) => s,
        _ => panic!("not RSA"),
    };
}
