//! The ANS-104 deep hash (SHA-384 over a tree of blobs and lists): what a data item's
//! signature covers.

use crate::hash::{sha384, sha384_parts};

/// A node of the tree being hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeepHashItem<'a> {
    Blob(&'a [u8]),
    List(Vec<DeepHashItem<'a>>),
}

pub fn deep_hash(item: &DeepHashItem<'_>) -> [u8; 48] {
    match item {
        DeepHashItem::Blob(bytes) => deep_hash_blob(bytes),
        DeepHashItem::List(items) => deep_hash_list(items.iter().map(deep_hash)),
    }
}

/// `H(H("blob" ++ decimal(len)) ++ H(blob))`.
pub fn deep_hash_blob(bytes: &[u8]) -> [u8; 48] {
    let tag = sha384(format!("blob{}", bytes.len()).as_bytes());
    sha384_parts(&[&tag, &sha384(bytes)])
}

/// A list given by the deep hashes of its items.
pub fn deep_hash_list(item_hashes: impl ExactSizeIterator<Item = [u8; 48]>) -> [u8; 48] {
    let mut acc = sha384(format!("list{}", item_hashes.len()).as_bytes());
    for h in item_hashes {
        acc = sha384_parts(&[&acc, &h]);
    }
    acc
}
