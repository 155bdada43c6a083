//! Signature verification and signing for ANS-104 data items (PROTOCOL.md §2), and owner
//! addresses. Owns the three key types we sign with (RSA-PSS 4096, ed25519, secp256k1) and the
//! rule that types 4–7 are parsed elsewhere but refused here with a typed error.
//!
//! Must never: do I/O, panic on any input (every malformed key or signature is a
//! [`SignatureError`]), or accept a signature the reference libraries would reject. The message is
//! whatever the caller signs; for data items it is the 48-byte deep hash, which this module does
//! not compute.

pub mod ed25519;
pub mod ethereum;
pub mod rsa;

use crate::b64;
use crate::hash::sha256;
use crate::signature_type::SignatureType;

pub use ed25519::Ed25519Signer;
pub use ethereum::{EthereumSigner, eip55_checksum, ethereum_address};
pub use rsa::RsaSigner;

/// Why a signature did not verify, or why a key or signature could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "{0} signatures are parsed but not verified by this implementation (only types 1, 2 and 3)"
    )]
    Unsupported(SignatureType),
    #[error("RSA-PSS signature does not verify")]
    RsaPss,
    #[error("ed25519 signature does not verify")]
    Ed25519,
    #[error("Ethereum signature does not verify: {0}")]
    Ethereum(&'static str),
    #[error("{kind} owner is {len} bytes, expected {expected}")]
    OwnerLength {
        kind: SignatureType,
        len: usize,
        expected: usize,
    },
    #[error("{kind} signature is {len} bytes, expected {expected}")]
    SignatureLength {
        kind: SignatureType,
        len: usize,
        expected: usize,
    },
    #[error("invalid {what} key: {why}")]
    InvalidKey {
        what: &'static str,
        why: &'static str,
    },
    /// The crypto library refused to sign or generate (no randomness, internal failure).
    #[error("{what} failed: {why}")]
    Backend {
        what: &'static str,
        why: &'static str,
    },
}

/// Verifies `signature` by `owner` over `message` (for data items: the 48-byte deep hash).
///
/// Types 4–7 give [`SignatureError::Unsupported`] whatever the bytes are, so callers can tell
/// "we do not check this kind" from "this signature is bad". Field lengths are checked before any
/// arithmetic.
pub fn verify(
    sig_type: SignatureType,
    owner: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    if !sig_type.is_verifiable() {
        return Err(SignatureError::Unsupported(sig_type));
    }
    if owner.len() != sig_type.owner_len() {
        return Err(SignatureError::OwnerLength {
            kind: sig_type,
            len: owner.len(),
            expected: sig_type.owner_len(),
        });
    }
    if signature.len() != sig_type.signature_len() {
        return Err(SignatureError::SignatureLength {
            kind: sig_type,
            len: signature.len(),
            expected: sig_type.signature_len(),
        });
    }
    match sig_type {
        SignatureType::Arweave => rsa::verify(owner, message, signature),
        SignatureType::Ed25519 => ed25519::verify(owner, message, signature),
        SignatureType::Ethereum => ethereum::verify(owner, message, signature),
        other => Err(SignatureError::Unsupported(other)),
    }
}

/// The address gateways and the SU show for an owner of any type: base64url(SHA-256(owner)).
pub fn owner_address(owner: &[u8]) -> String {
    b64::encode(sha256(owner))
}

/// One signer over the three key types we sign with.
#[derive(Debug)]
pub enum Signer {
    Arweave(RsaSigner),
    Ed25519(Ed25519Signer),
    Ethereum(EthereumSigner),
}

impl Signer {
    pub fn from_ethereum_secret(secret: &[u8; 32]) -> Result<Signer, SignatureError> {
        EthereumSigner::from_secret(secret).map(Signer::Ethereum)
    }

    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Result<Signer, SignatureError> {
        Ed25519Signer::from_seed(seed).map(Signer::Ed25519)
    }

    pub fn signature_type(&self) -> SignatureType {
        match self {
            Signer::Arweave(_) => SignatureType::Arweave,
            Signer::Ed25519(_) => SignatureType::Ed25519,
            Signer::Ethereum(_) => SignatureType::Ethereum,
        }
    }

    /// The item's owner field: RSA `n` (512 bytes), the ed25519 public key (32), or the
    /// uncompressed secp256k1 key `04‖X‖Y` (65).
    pub fn owner(&self) -> &[u8] {
        match self {
            Signer::Arweave(s) => s.owner(),
            Signer::Ed25519(s) => s.owner(),
            Signer::Ethereum(s) => s.owner(),
        }
    }

    /// Signs `message`; the result is exactly `signature_type().signature_len()` bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        match self {
            Signer::Arweave(s) => s.sign(message),
            Signer::Ed25519(s) => s.sign(message).map(|sig| sig.to_vec()),
            Signer::Ethereum(s) => s.sign(message).map(|sig| sig.to_vec()),
        }
    }

    /// base64url(SHA-256(owner)) for every type (the gateway/SU address). For the `0x…` address
    /// of an Ethereum owner use [`ethereum_address`].
    pub fn address(&self) -> String {
        owner_address(self.owner())
    }
}
