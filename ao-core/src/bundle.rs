//! ANS-104 binary bundles: a 32-byte little-endian item count, a 64-byte header per item
//! (32-byte LE size, 32-byte id), then the items back to back. Parsing never trusts a count or
//! a size beyond the bytes actually present.

use crate::crypto::SignatureError;
use crate::id::Id;
use crate::item::{DataItem, DecodeError, ItemBuilder};
use crate::tags::Tag;

/// The tags that mark an item (or transaction) whose data is a bundle.
pub fn bundle_tags() -> [Tag; 2] {
    [
        Tag::new("Bundle-Format", "binary"),
        Tag::new("Bundle-Version", "2.0.0"),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is truncated: {what} needs {needed} bytes, {available} remain")]
    Truncated {
        what: &'static str,
        needed: u64,
        available: usize,
    },
    #[error("bundle {what} does not fit in 64 bits")]
    NumberTooLarge { what: &'static str },
    #[error("bundle item {index}: the header says id {header} but the item's id is {actual}")]
    IdMismatch {
        index: usize,
        header: Id,
        actual: Id,
    },
    #[error("bundle item {index}: {source}")]
    Item { index: usize, source: DecodeError },
    #[error("bundle item {index}: {source}")]
    Signature {
        index: usize,
        source: SignatureError,
    },
    #[error("{count} bytes follow the last bundle item")]
    TrailingBytes { count: usize },
    #[error("item is not a bundle: it lacks the tags Bundle-Format: binary, Bundle-Version: 2.0.0")]
    NotABundle,
}

/// Writes the binary bundle of `items`, in order.
pub fn encode(items: &[DataItem]) -> Vec<u8> {
    let encoded: Vec<(Id, Vec<u8>)> = items.iter().map(|i| (i.id(), i.encode())).collect();
    let parts: Vec<(Id, &[u8])> = encoded.iter().map(|(id, b)| (*id, &b[..])).collect();
    encode_raw(&parts)
}

/// Writes the binary bundle of items already encoded, each with its id, in order. The caller
/// vouches that each id is the item's (a decoder checks it against the item).
pub fn encode_raw(items: &[(Id, &[u8])]) -> Vec<u8> {
    let total: usize = items.iter().map(|(_, bytes)| bytes.len()).sum();
    let mut out = Vec::with_capacity(32 + 64 * items.len() + total);
    out.extend_from_slice(&u256_le(items.len() as u64));
    for (id, bytes) in items {
        out.extend_from_slice(&u256_le(bytes.len() as u64));
        out.extend_from_slice(id.as_bytes());
    }
    for (_, bytes) in items {
        out.extend_from_slice(bytes);
    }
    out
}

/// Parses a bundle: every item decodes and matches the id in its header. Signatures are not
/// checked here (see [`verify`]).
pub fn decode(bytes: &[u8]) -> Result<Vec<DataItem>, BundleError> {
    let count = read_u256(bytes, 0, "item count")?;
    let headers_len = count
        .checked_mul(64)
        .and_then(|n| n.checked_add(32))
        .ok_or(BundleError::NumberTooLarge { what: "item count" })?;
    if headers_len > bytes.len() as u64 {
        return Err(BundleError::Truncated {
            what: "item headers",
            needed: headers_len,
            available: bytes.len(),
        });
    }
    let mut items = Vec::with_capacity(count as usize);
    let mut offset = headers_len as usize;
    for index in 0..count as usize {
        let header = 32 + 64 * index;
        let size = read_u256(bytes, header, "item size")?;
        let header_id = Id(bytes[header + 32..header + 64]
            .try_into()
            .expect("header is 64 bytes"));
        let available = bytes.len() - offset;
        if size > available as u64 {
            return Err(BundleError::Truncated {
                what: "item",
                needed: size,
                available,
            });
        }
        let end = offset + size as usize;
        let item = DataItem::decode(&bytes[offset..end])
            .map_err(|source| BundleError::Item { index, source })?;
        if item.id() != header_id {
            return Err(BundleError::IdMismatch {
                index,
                header: header_id,
                actual: item.id(),
            });
        }
        items.push(item);
        offset = end;
    }
    if offset < bytes.len() {
        return Err(BundleError::TrailingBytes {
            count: bytes.len() - offset,
        });
    }
    Ok(items)
}

/// Parses a bundle and verifies every item's signature.
pub fn verify(bytes: &[u8]) -> Result<Vec<DataItem>, BundleError> {
    let items = decode(bytes)?;
    for (index, item) in items.iter().enumerate() {
        item.verify()
            .map_err(|source| BundleError::Signature { index, source })?;
    }
    Ok(items)
}

/// Whether `item` carries a bundle as its data.
pub fn is_bundle(item: &DataItem) -> bool {
    item.tag("Bundle-Format") == Some("binary") && item.tag("Bundle-Version") == Some("2.0.0")
}

/// Parses the bundle nested in `item`'s data.
pub fn decode_nested(item: &DataItem) -> Result<Vec<DataItem>, BundleError> {
    if !is_bundle(item) {
        return Err(BundleError::NotABundle);
    }
    decode(&item.data)
}

/// An item builder whose data is the bundle of `items`, tagged as a bundle.
pub fn nested_builder(items: &[DataItem]) -> ItemBuilder {
    ItemBuilder::new().tags(bundle_tags()).data(encode(items))
}

fn u256_le(n: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&n.to_le_bytes());
    out
}

fn read_u256(bytes: &[u8], at: usize, what: &'static str) -> Result<u64, BundleError> {
    let Some(field) = bytes.get(at..at + 32) else {
        return Err(BundleError::Truncated {
            what,
            needed: 32,
            available: bytes.len().saturating_sub(at),
        });
    };
    if field[8..].iter().any(|&b| b != 0) {
        return Err(BundleError::NumberTooLarge { what });
    }
    Ok(u64::from_le_bytes(field[..8].try_into().expect("8 bytes")))
}
