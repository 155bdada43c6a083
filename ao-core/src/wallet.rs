//! Wallet files as JSON Web Keys: the Arweave RSA JWK aos keeps at `~/.aos.json` (`kty: RSA`,
//! `n e d p q dp dq qi`, base64url) and the ed25519 JWK (`kty: OKP`, `crv: Ed25519`, `d` = the
//! 32-byte seed, `x` = the public key). Owns parsing, writing, generation and turning a JWK into
//! a [`Signer`].
//!
//! Must never: read or write files (callers pass the text), print private fields (`Debug` shows
//! only the public part), or accept a key whose public part disagrees with its private part.
//! Unknown extra fields (`ext`, `kid`, `alg`, …) are ignored on read and not written back.

use serde::{Deserialize, Serialize};

use crate::b64::{self, Base64Error};
use crate::crypto::ed25519::{self, Ed25519Signer};
use crate::crypto::rsa::{RsaComponents, RsaSigner};
use crate::crypto::{SignatureError, Signer, owner_address};

/// Why a wallet could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("wallet is not valid JWK JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported key type: kty {kty:?}, crv {crv:?} (expected RSA or OKP/Ed25519)")]
    UnsupportedKeyType { kty: String, crv: Option<String> },
    #[error("wallet JWK is missing the {0:?} field")]
    MissingField(&'static str),
    #[error(transparent)]
    Base64(#[from] Base64Error),
    #[error("invalid wallet key: {0}")]
    InvalidKey(#[from] SignatureError),
}

/// An Arweave-format or ed25519 JWK. Binary fields hold the decoded bytes; they are written back
/// as unpadded base64url, so reading and writing a canonical file gives the same field values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawJwk", into = "RawJwk")]
pub enum Jwk {
    /// `kty: RSA`: the eight integers, big-endian.
    Rsa(RsaComponents),
    /// `kty: OKP, crv: Ed25519`.
    Ed25519 { d: [u8; 32], x: [u8; 32] },
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Jwk::Rsa(c) => f.debug_tuple("Jwk::Rsa").field(c).finish(),
            Jwk::Ed25519 { x, .. } => f
                .debug_struct("Jwk::Ed25519")
                .field("x", &b64::encode(x))
                .finish_non_exhaustive(),
        }
    }
}

/// The JSON shape: every field a supported key may carry, all optional, in the order files
/// usually have them. Conversion to [`Jwk`] checks which are required.
#[derive(Serialize, Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dq: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    qi: Option<String>,
}

fn field(value: &Option<String>, name: &'static str) -> Result<Vec<u8>, WalletError> {
    let text = value.as_deref().ok_or(WalletError::MissingField(name))?;
    Ok(b64::decode(text, name)?)
}

fn field_32(value: &Option<String>, name: &'static str) -> Result<[u8; 32], WalletError> {
    field(value, name)?
        .try_into()
        .map_err(|_| WalletError::Base64(Base64Error { what: name }))
}

impl TryFrom<RawJwk> for Jwk {
    type Error = WalletError;

    fn try_from(raw: RawJwk) -> Result<Jwk, WalletError> {
        match (raw.kty.as_str(), raw.crv.as_deref()) {
            ("RSA", _) => Ok(Jwk::Rsa(RsaComponents {
                n: field(&raw.n, "n")?,
                e: field(&raw.e, "e")?,
                d: field(&raw.d, "d")?,
                p: field(&raw.p, "p")?,
                q: field(&raw.q, "q")?,
                dp: field(&raw.dp, "dp")?,
                dq: field(&raw.dq, "dq")?,
                qi: field(&raw.qi, "qi")?,
            })),
            ("OKP", Some("Ed25519")) => Ok(Jwk::Ed25519 {
                d: field_32(&raw.d, "d")?,
                x: field_32(&raw.x, "x")?,
            }),
            _ => Err(WalletError::UnsupportedKeyType {
                kty: raw.kty,
                crv: raw.crv,
            }),
        }
    }
}

impl From<Jwk> for RawJwk {
    fn from(jwk: Jwk) -> RawJwk {
        let some = |bytes: &[u8]| Some(b64::encode(bytes));
        match jwk {
            Jwk::Rsa(c) => RawJwk {
                kty: "RSA".into(),
                crv: None,
                n: some(&c.n),
                e: some(&c.e),
                d: some(&c.d),
                x: None,
                p: some(&c.p),
                q: some(&c.q),
                dp: some(&c.dp),
                dq: some(&c.dq),
                qi: some(&c.qi),
            },
            Jwk::Ed25519 { d, x } => RawJwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                n: None,
                e: None,
                d: some(&d),
                x: some(&x),
                p: None,
                q: None,
                dp: None,
                dq: None,
                qi: None,
            },
        }
    }
}

impl Jwk {
    /// Parses a wallet file's text. Checks shape and base64url only; [`Jwk::signer`] checks
    /// that the key itself is usable.
    pub fn from_json(text: &str) -> Result<Jwk, WalletError> {
        let raw: RawJwk = serde_json::from_str(text)?;
        Jwk::try_from(raw)
    }

    /// Compact JSON with the standard field names (`kty` first).
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings into a String cannot fail.
        serde_json::to_string(&RawJwk::from(self.clone())).unwrap_or_default()
    }

    /// A new Arweave wallet (RSA-4096, e = 65537) from the system RNG.
    pub fn generate_rsa4096() -> Result<Jwk, WalletError> {
        let (_signer, components) = RsaSigner::generate()?;
        Ok(Jwk::Rsa(components))
    }

    /// A new ed25519 wallet from the system RNG.
    pub fn generate_ed25519() -> Result<Jwk, WalletError> {
        let d = Ed25519Signer::generate_seed()?;
        let x = ed25519::public_key_from_seed(&d)?;
        Ok(Jwk::Ed25519 { d, x })
    }

    /// Builds the signer. RSA: aws-lc-rs checks the components are consistent (a few ms);
    /// ed25519: `x` must be the public key of `d`.
    pub fn signer(&self) -> Result<Signer, WalletError> {
        match self {
            Jwk::Rsa(c) => Ok(Signer::Arweave(RsaSigner::from_components(c)?)),
            Jwk::Ed25519 { d, x } => {
                let signer = Ed25519Signer::from_seed(d)?;
                if signer.owner() != x {
                    return Err(SignatureError::InvalidKey {
                        what: "ed25519",
                        why: "x is not the public key of d",
                    }
                    .into());
                }
                Ok(Signer::Ed25519(signer))
            }
        }
    }

    /// The owner field bytes items signed with this key carry: `n` (RSA) or `x` (ed25519).
    pub fn owner(&self) -> &[u8] {
        match self {
            Jwk::Rsa(c) => &c.n,
            Jwk::Ed25519 { x, .. } => x,
        }
    }

    /// base64url(SHA-256(owner)), without building the signer.
    pub fn address(&self) -> Result<String, WalletError> {
        if let Jwk::Rsa(c) = self
            && (c.n.len() != crate::crypto::rsa::MODULUS_LEN || c.n[0] == 0)
        {
            return Err(SignatureError::InvalidKey {
                what: "RSA",
                why: "modulus is not 4096 bits",
            }
            .into());
        }
        Ok(owner_address(self.owner()))
    }
}
