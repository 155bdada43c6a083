//! ed25519 signatures (type 2, arbundles' `SolanaSigner`): a plain ed25519 signature over the
//! message bytes as given (for items, the 48-byte deep hash). Owns signing from a 32-byte seed
//! and verification, both through aws-lc-rs.
//!
//! Must never: sign or verify anything but the raw message (type 4, which signs the hex text, is
//! not this), or panic on malformed keys or signatures.

use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use super::SignatureError;

pub const SEED_LEN: usize = 32;
pub const PUBLIC_KEY_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;

/// Verifies an ed25519 `signature` by the 32-byte public key `owner` over `message`.
pub fn verify(owner: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    if owner.len() != PUBLIC_KEY_LEN || signature.len() != SIGNATURE_LEN {
        return Err(SignatureError::Ed25519);
    }
    UnparsedPublicKey::new(&signature::ED25519, owner)
        .verify(message, signature)
        .map_err(|_| SignatureError::Ed25519)
}

/// Derives the public key (the owner field) from a seed.
pub fn public_key_from_seed(seed: &[u8; SEED_LEN]) -> Result<[u8; PUBLIC_KEY_LEN], SignatureError> {
    Ed25519Signer::from_seed(seed).map(|s| s.public)
}

/// Signs with an ed25519 key held as its 32-byte seed.
pub struct Ed25519Signer {
    key: Ed25519KeyPair,
    public: [u8; PUBLIC_KEY_LEN],
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("address", &super::owner_address(&self.public))
            .finish_non_exhaustive()
    }
}

impl Ed25519Signer {
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Result<Ed25519Signer, SignatureError> {
        let key =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| SignatureError::InvalidKey {
                what: "ed25519",
                why: "aws-lc-rs rejected the seed",
            })?;
        let public =
            key.public_key()
                .as_ref()
                .try_into()
                .map_err(|_| SignatureError::InvalidKey {
                    what: "ed25519",
                    why: "public key is not 32 bytes",
                })?;
        Ok(Ed25519Signer { key, public })
    }

    /// A fresh seed from the system RNG.
    pub fn generate_seed() -> Result<[u8; SEED_LEN], SignatureError> {
        let mut seed = [0u8; SEED_LEN];
        aws_lc_rs::rand::fill(&mut seed).map_err(|_| SignatureError::Backend {
            what: "ed25519 key generation",
            why: "system RNG failed",
        })?;
        Ok(seed)
    }

    /// The 32-byte public key.
    pub fn owner(&self) -> &[u8] {
        &self.public
    }

    /// Deterministic (RFC 8032): the same message always gives the same 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignatureError> {
        let backend = |why| SignatureError::Backend {
            what: "ed25519 signing",
            why,
        };
        let signature = self
            .key
            .try_sign(message)
            .map_err(|_| backend("aws-lc-rs refused"))?;
        signature
            .as_ref()
            .try_into()
            .map_err(|_| backend("signature is not 64 bytes"))
    }
}
