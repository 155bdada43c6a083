//! The scheduler hash chain (PROTOCOL.md §4): each assignment's `Hash-Chain` tag links it to
//! the previous assignment, so a CU can tell that no message was dropped or reordered.

use crate::hash::{sha256, sha256_parts};
use crate::id::Id;

/// `HC_0 = SHA-256(process id bytes)`: the `Hash-Chain` of the process's own assignment.
pub fn first(process_id: &Id) -> Id {
    Id(sha256(process_id.as_bytes()))
}

/// `HC_n = SHA-256(A_{n-1} ++ HC_{n-1})`, from the previous assignment's id and hash chain.
pub fn next(previous_assignment: &Id, previous_hash_chain: &Id) -> Id {
    Id(sha256_parts(&[
        previous_assignment.as_bytes(),
        previous_hash_chain.as_bytes(),
    ]))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hash chain broken at nonce {nonce}: expected {expected}, the assignment says {found}")]
pub struct ChainBroken {
    pub nonce: u64,
    pub expected: Id,
    pub found: Id,
}

/// Walks a schedule's assignments in nonce order and checks every link.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_nonce: u64,
    expected: Id,
}

impl ChainVerifier {
    pub fn new(process_id: &Id) -> Self {
        ChainVerifier {
            next_nonce: 0,
            expected: first(process_id),
        }
    }

    /// Resumes after the assignment with `nonce`, whose id and hash chain are given.
    pub fn resume(nonce: u64, assignment: &Id, hash_chain: &Id) -> Self {
        ChainVerifier {
            next_nonce: nonce + 1,
            expected: next(assignment, hash_chain),
        }
    }

    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Checks the assignment with the next nonce; on success the verifier moves past it.
    pub fn check(&mut self, assignment: &Id, hash_chain: &Id) -> Result<(), ChainBroken> {
        if *hash_chain != self.expected {
            return Err(ChainBroken {
                nonce: self.next_nonce,
                expected: self.expected,
                found: *hash_chain,
            });
        }
        self.expected = next(assignment, hash_chain);
        self.next_nonce += 1;
        Ok(())
    }
}
