//! The Arweave data root: a transaction's data split into chunks, the Merkle tree over them
//! (SHA-256, 32-byte big-endian offset notes), and the proof (`data_path`) of every chunk that
//! `POST /chunk` needs. Follows `ar_merkle.erl` as arweave-js writes it, quirks included: a
//! trailing empty chunk (data a multiple of 256 KiB) is part of the tree but has no proof and
//! is never uploaded.
//!
//! Must never: read past the data, panic on a malformed proof, or build a tree the reference
//! would hash differently (`tests/arweave.rs` pins roots and proofs made by arweave-js).

use std::ops::Range;

use crate::hash::{sha256, sha256_parts};

/// The largest chunk (256 KiB).
pub const CHUNK_BYTES_MAX: usize = 256 * 1024;
/// A last chunk smaller than this (32 KiB) is avoided by splitting the two last chunks evenly.
pub const CHUNK_BYTES_MIN: usize = 32 * 1024;
const NOTE_LEN: usize = 32;
const HASH_LEN: usize = 32;

/// One chunk of the data: where it lies and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub range: Range<usize>,
    pub data_hash: [u8; 32],
}

/// What `POST /chunk` needs besides the bytes: the chunk's last byte offset within the data and
/// its path from the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub offset: u64,
    pub data_path: Vec<u8>,
}

/// The data root with every non-empty chunk and its proof, in data order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedData {
    pub data_root: [u8; 32],
    pub chunks: Vec<Chunk>,
    pub proofs: Vec<Proof>,
}

/// The chunk boundaries arweave-js chooses: 256 KiB chunks, except that when the bytes left
/// after a full chunk would be fewer than 32 KiB, the remainder is split in two halves (the
/// first rounded up). Data that is a multiple of 256 KiB ends with an empty chunk.
pub fn chunk_ranges(len: usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::with_capacity(len / CHUNK_BYTES_MAX + 1);
    let mut start = 0;
    while len - start >= CHUNK_BYTES_MAX {
        let rest = len - start;
        let next = rest - CHUNK_BYTES_MAX;
        let size = if next > 0 && next < CHUNK_BYTES_MIN {
            rest.div_ceil(2)
        } else {
            CHUNK_BYTES_MAX
        };
        ranges.push(start..start + size);
        start += size;
    }
    ranges.push(start..len);
    ranges
}

/// The data root alone.
pub fn data_root(data: &[u8]) -> [u8; 32] {
    Tree::build(data).root_id()
}

/// The data root, chunks and proofs of `data` (what arweave-js's `generateTransactionChunks`
/// gives). Empty data has no chunk; its root is that of the empty chunk, but a transaction with
/// no data carries an empty `data_root` instead (see [`super::Transaction`]).
pub fn chunk_data(data: &[u8]) -> ChunkedData {
    let tree = Tree::build(data);
    let mut chunks = Vec::with_capacity(tree.leaves);
    let mut proofs = Vec::with_capacity(tree.leaves);
    tree.proofs(tree.root, &mut Vec::new(), &mut chunks, &mut proofs);
    // The trailing empty chunk is hashed into the root but never uploaded.
    if chunks.last().is_some_and(|c| c.range.is_empty()) {
        chunks.pop();
        proofs.pop();
    }
    ChunkedData {
        data_root: tree.root_id(),
        chunks,
        proofs,
    }
}

/// What a valid proof says about its chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenChunk {
    /// The byte range of the chunk within the data.
    pub range: Range<u64>,
    /// The SHA-256 the chunk's bytes must have.
    pub data_hash: [u8; 32],
}

/// Walks `data_path` from `data_root` towards the chunk holding byte `offset`; `None` unless
/// every node hashes to the id its parent names and the leaf lies inside the data.
pub fn validate_path(
    data_root: &[u8; 32],
    offset: u64,
    data_size: u64,
    data_path: &[u8],
) -> Option<ProvenChunk> {
    if offset >= data_size {
        return None;
    }
    let mut id = *data_root;
    let (mut left_bound, mut right_bound) = (0u64, data_size);
    let mut path = data_path;
    while path.len() > HASH_LEN + NOTE_LEN {
        let (left, rest) = path.split_at(HASH_LEN);
        let (right, rest) = rest.split_at(HASH_LEN);
        let (note, rest) = rest.split_at_checked(NOTE_LEN)?;
        if branch_id(left, right, note) != id {
            return None;
        }
        let split = read_note(note)?;
        if offset < split {
            id = left.try_into().ok()?;
            right_bound = right_bound.min(split);
        } else {
            id = right.try_into().ok()?;
            left_bound = left_bound.max(split);
        }
        path = rest;
    }
    if path.len() != HASH_LEN + NOTE_LEN {
        return None;
    }
    let (data_hash, note) = path.split_at(HASH_LEN);
    if leaf_id(data_hash, note) != id || read_note(note)? != right_bound {
        return None;
    }
    Some(ProvenChunk {
        range: left_bound..right_bound,
        data_hash: data_hash.try_into().ok()?,
    })
}

/// A 32-byte big-endian offset.
fn note(value: u64) -> [u8; NOTE_LEN] {
    let mut out = [0u8; NOTE_LEN];
    out[NOTE_LEN - 8..].copy_from_slice(&value.to_be_bytes());
    out
}

/// The value of a note, if it fits in 64 bits.
fn read_note(bytes: &[u8]) -> Option<u64> {
    let (high, low) = bytes.split_at_checked(NOTE_LEN - 8)?;
    if high.iter().any(|&b| b != 0) {
        return None;
    }
    Some(u64::from_be_bytes(low.try_into().ok()?))
}

/// `H(H(data hash) ‖ H(note(end)))`.
fn leaf_id(data_hash: &[u8], end_note: &[u8]) -> [u8; 32] {
    sha256_parts(&[&sha256(data_hash), &sha256(end_note)])
}

/// `H(H(left id) ‖ H(right id) ‖ H(note(end of left)))`.
fn branch_id(left: &[u8], right: &[u8], split_note: &[u8]) -> [u8; 32] {
    sha256_parts(&[&sha256(left), &sha256(right), &sha256(split_note)])
}

enum Node {
    Leaf {
        id: [u8; 32],
        range: Range<usize>,
        data_hash: [u8; 32],
    },
    Branch {
        id: [u8; 32],
        left: usize,
        right: usize,
        /// The end of the left subtree: the note hashed into this branch.
        split: u64,
        end: u64,
    },
}

impl Node {
    fn id(&self) -> [u8; 32] {
        match self {
            Node::Leaf { id, .. } | Node::Branch { id, .. } => *id,
        }
    }

    fn end(&self) -> u64 {
        match self {
            Node::Leaf { range, .. } => range.end as u64,
            Node::Branch { end, .. } => *end,
        }
    }
}

/// Every node in one arena; a layer with an odd count carries its last node up unchanged.
struct Tree {
    nodes: Vec<Node>,
    root: usize,
    leaves: usize,
}

impl Tree {
    fn build(data: &[u8]) -> Tree {
        let ranges = chunk_ranges(data.len());
        let leaves = ranges.len();
        let mut nodes = Vec::with_capacity(2 * leaves);
        for range in ranges {
            let data_hash = sha256(&data[range.clone()]);
            let id = leaf_id(&data_hash, &note(range.end as u64));
            nodes.push(Node::Leaf {
                id,
                range,
                data_hash,
            });
        }
        let mut layer: Vec<usize> = (0..leaves).collect();
        while layer.len() > 1 {
            let mut next = Vec::with_capacity(layer.len().div_ceil(2));
            for pair in layer.chunks(2) {
                let [left, right] = *pair else {
                    next.push(pair[0]);
                    continue;
                };
                let split = nodes[left].end();
                let id = branch_id(&nodes[left].id(), &nodes[right].id(), &note(split));
                let end = nodes[right].end();
                nodes.push(Node::Branch {
                    id,
                    left,
                    right,
                    split,
                    end,
                });
                next.push(nodes.len() - 1);
            }
            layer = next;
        }
        // `chunk_ranges` always gives at least one range, so the last layer has one node.
        Tree {
            root: layer[0],
            nodes,
            leaves,
        }
    }

    fn root_id(&self) -> [u8; 32] {
        self.nodes[self.root].id()
    }

    /// Depth-first, left before right, so proofs come out in data order. The depth is the
    /// tree's height, about log2(chunks).
    fn proofs(
        &self,
        node: usize,
        prefix: &mut Vec<u8>,
        chunks: &mut Vec<Chunk>,
        proofs: &mut Vec<Proof>,
    ) {
        let mark = prefix.len();
        match &self.nodes[node] {
            Node::Leaf {
                range, data_hash, ..
            } => {
                prefix.extend_from_slice(data_hash);
                prefix.extend_from_slice(&note(range.end as u64));
                chunks.push(Chunk {
                    range: range.clone(),
                    data_hash: *data_hash,
                });
                proofs.push(Proof {
                    offset: (range.end as u64).saturating_sub(1),
                    data_path: prefix.clone(),
                });
            }
            Node::Branch {
                left, right, split, ..
            } => {
                prefix.extend_from_slice(&self.nodes[*left].id());
                prefix.extend_from_slice(&self.nodes[*right].id());
                prefix.extend_from_slice(&note(*split));
                self.proofs(*left, prefix, chunks, proofs);
                self.proofs(*right, prefix, chunks, proofs);
            }
        }
        prefix.truncate(mark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_balance_a_small_remainder() {
        assert_eq!(chunk_ranges(0), vec![0..0]);
        assert_eq!(chunk_ranges(10), vec![0..10]);
        let max = CHUNK_BYTES_MAX;
        assert_eq!(chunk_ranges(max), vec![0..max, max..max]);
        assert_eq!(chunk_ranges(max + 1), vec![0..131_073, 131_073..max + 1]);
        let min = CHUNK_BYTES_MIN;
        assert_eq!(chunk_ranges(max + min), vec![0..max, max..max + min]);
    }

    #[test]
    fn every_proof_validates_and_covers_its_chunk() {
        for len in [
            1usize,
            5000,
            CHUNK_BYTES_MAX,
            3 * CHUNK_BYTES_MAX + 17,
            700_001,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let chunked = chunk_data(&data);
            assert_eq!(chunked.data_root, data_root(&data));
            let mut covered = 0;
            for (chunk, proof) in chunked.chunks.iter().zip(&chunked.proofs) {
                assert_eq!(chunk.range.start, covered);
                covered = chunk.range.end;
                let proven = validate_path(
                    &chunked.data_root,
                    proof.offset,
                    len as u64,
                    &proof.data_path,
                )
                .unwrap();
                assert_eq!(
                    proven.range,
                    chunk.range.start as u64..chunk.range.end as u64
                );
                assert_eq!(proven.data_hash, sha256(&data[chunk.range.clone()]));
                // Any byte of the chunk leads to the same leaf.
                let first = chunk.range.start as u64;
                assert!(
                    validate_path(&chunked.data_root, first, len as u64, &proof.data_path)
                        .is_some()
                );
            }
            assert_eq!(covered, len);
        }
    }

    #[test]
    fn damaged_proofs_are_refused_without_panicking() {
        let data = vec![7u8; 600_000];
        let chunked = chunk_data(&data);
        let proof = &chunked.proofs[1];
        let root = chunked.data_root;
        let size = data.len() as u64;
        let mut flipped = proof.data_path.clone();
        flipped[40] ^= 1;
        assert!(validate_path(&root, proof.offset, size, &flipped).is_none());
        for cut in 0..proof.data_path.len() {
            assert!(validate_path(&root, proof.offset, size, &proof.data_path[..cut]).is_none());
        }
        // The proof of chunk 1 does not prove a byte of chunk 0.
        assert!(validate_path(&root, 0, size, &proof.data_path).is_none());
        assert!(validate_path(&root, size, size, &proof.data_path).is_none());
    }
}
