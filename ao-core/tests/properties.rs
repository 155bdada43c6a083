//! Property tests: decoding inverts encoding for generated items, and no input makes the
//! decoders panic.

use ao_core::tags::{self, TAG_NAME_BYTES_MAX, Tag};
use ao_core::{DataItem, SignatureType, bundle};
use proptest::prelude::*;

fn tag() -> impl Strategy<Value = Tag> {
    ("[A-Za-z0-9-]{1,24}", ".{0,40}").prop_map(|(name, value)| Tag::new(name, value))
}

fn item() -> impl Strategy<Value = DataItem> {
    (
        0usize..7,
        any::<u8>(),
        proptest::option::of(any::<[u8; 32]>()),
        proptest::option::of(any::<[u8; 32]>()),
        proptest::collection::vec(tag(), 0..20),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(t, fill, target, anchor, tags, data)| {
            let t = SignatureType::ALL[t];
            DataItem::from_parts(
                t,
                vec![fill; t.signature_len()],
                vec![fill.wrapping_add(1); t.owner_len()],
                target,
                anchor,
                tags,
                data,
            )
            .unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_inverts_encode(item in item()) {
        let bytes = item.encode();
        prop_assert_eq!(bytes.len(), item.encoded_len());
        let decoded = DataItem::decode(&bytes).unwrap();
        prop_assert_eq!(decoded.encode(), bytes);
        prop_assert_eq!(decoded, item);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = DataItem::decode(&bytes);
        let _ = tags::decode(&bytes);
        let _ = bundle::decode(&bytes);
    }

    #[test]
    fn corrupted_items_never_panic(item in item(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = item.encode();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(decoded) = DataItem::decode(&bytes) {
            let _ = decoded.verify();
            prop_assert_eq!(&decoded.encode(), &bytes);
        }
        let cut = at.index(bytes.len());
        let _ = DataItem::decode(&bytes[..cut]);
    }

    #[test]
    fn tags_round_trip(tags in proptest::collection::vec(tag(), 0..40)) {
        let bytes = tags::encode(&tags);
        prop_assert_eq!(tags::decode(&bytes).unwrap(), tags);
    }

    #[test]
    fn bundles_round_trip(items in proptest::collection::vec(item(), 0..5)) {
        let bytes = bundle::encode(&items);
        prop_assert_eq!(bundle::decode(&bytes).unwrap(), items);
    }
}

#[test]
fn from_parts_checks_limits_and_lengths() {
    let too_long = Tag::new("n".repeat(TAG_NAME_BYTES_MAX + 1), "v");
    assert!(
        DataItem::from_parts(
            SignatureType::Ed25519,
            vec![0; 64],
            vec![0; 32],
            None,
            None,
            vec![too_long],
            vec![]
        )
        .is_err()
    );
    let err = DataItem::from_parts(
        SignatureType::Ed25519,
        vec![0; 63],
        vec![0; 32],
        None,
        None,
        vec![],
        vec![],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ed25519 (type 2) signature must be 64 bytes, not 63"
    );
}
