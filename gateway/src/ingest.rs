//! Turns an uploaded body into the items to store: decode, verify the signature, and when the
//! item carries a bundle (`Bundle-Format: binary`, `Bundle-Version: 2.0.0`), every item inside
//! it, recursively up to [`NESTING_DEPTH_MAX`] levels. Pure: no I/O, no clock.
//!
//! Invariant: every stored item's signature verified, including nested ones. An item tagged as
//! a bundle whose data is not a valid bundle of valid items is refused whole, so what GraphQL
//! shows of a bundle is all of it or none of it. Stored data are slices of the uploaded body,
//! never copies.

use ao_core::bundle::{self, BundleError};
use ao_core::{DataItem, DecodeError, Id, SignatureError};
use bytes::Bytes;

use crate::store::{NewItem, tag_key};

/// Bundles inside bundles deeper than this are refused.
pub const NESTING_DEPTH_MAX: usize = 4;
/// Items (the upload and everything nested in it) one upload may hold.
pub const UPLOAD_ITEMS_MAX: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("invalid data item: {0}")]
    Decode(#[from] DecodeError),
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("item {id} is tagged as a bundle but its data is not a valid bundle: {source}")]
    Bundle { id: Id, source: BundleError },
    #[error("item {id} (nested in {parent}) has an invalid signature: {source}")]
    NestedSignature {
        id: Id,
        parent: Id,
        source: SignatureError,
    },
    #[error("bundles nest deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("the upload holds more than {max} items")]
    TooManyItems { max: usize },
}

/// Decodes and verifies `raw` and every item nested in it. The uploaded item comes first.
pub fn ingest(raw: Bytes) -> Result<Vec<NewItem>, IngestError> {
    let item = DataItem::decode(&raw)?;
    item.verify()?;
    let mut out = Vec::new();
    collect(&item, raw, None, 0, &mut out)?;
    Ok(out)
}

/// Adds `item` (whose encoding is `raw`) and, if it is a bundle, its nested items.
fn collect(
    item: &DataItem,
    raw: Bytes,
    parent: Option<Id>,
    depth: usize,
    out: &mut Vec<NewItem>,
) -> Result<(), IngestError> {
    if out.len() >= UPLOAD_ITEMS_MAX {
        return Err(IngestError::TooManyItems {
            max: UPLOAD_ITEMS_MAX,
        });
    }
    let id = item.id();
    // The data is the rest of the encoding, so everything before it is the header.
    let data_offset = raw.len() - item.data.len();
    debug_assert_eq!(&raw[data_offset..], item.data.as_slice());
    let data = raw.slice(data_offset..);
    out.push(NewItem {
        id,
        header: raw[..data_offset].to_vec(),
        data: data.clone(),
        parent,
        owner_hash: ao_core::hash::sha256(&item.owner),
        target: item.target,
        tag_keys: item
            .tags
            .iter()
            .map(|t| tag_key(&t.name, &t.value))
            .collect(),
    });
    if !bundle::is_bundle(item) {
        return Ok(());
    }
    if depth >= NESTING_DEPTH_MAX {
        return Err(IngestError::TooDeep {
            max: NESTING_DEPTH_MAX,
        });
    }
    let nested = bundle::decode(&item.data).map_err(|source| IngestError::Bundle { id, source })?;
    // `bundle::decode` checked that the headers and items fill the data exactly, and the
    // encoding is byte-exact, so each item's bytes start where the previous one's ended.
    let mut offset = 32 + 64 * nested.len();
    for child in &nested {
        child
            .verify()
            .map_err(|source| IngestError::NestedSignature {
                id: child.id(),
                parent: id,
                source,
            })?;
        let end = offset + child.encoded_len();
        collect(child, data.slice(offset..end), Some(id), depth + 1, out)?;
        offset = end;
    }
    debug_assert_eq!(offset, data.len());
    Ok(())
}
