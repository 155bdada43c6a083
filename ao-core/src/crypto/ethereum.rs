//! Ethereum signatures (type 3): secp256k1 over the EIP-191 personal-sign hash of the message,
//! `keccak256("\x19Ethereum Signed Message:\n" ‖ decimal(len) ‖ message)`, as `r ‖ s ‖ v`. Owns
//! signing, verification by public-key recovery, and Ethereum addresses (EIP-55).
//!
//! Must never: accept `v` other than 27 or 28 or a `v` that recovers another key (arbundles
//! ignores `v`; we do not, so one signed content has one valid signature and one id), accept
//! high-s signatures (libsecp256k1, which arbundles verifies with, rejects them too), or panic on
//! malformed bytes.

use k256::ecdsa::{Signature, SigningKey};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::ops::{Invert, LinearCombination, Reduce};
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::subtle::Choice;
use k256::{AffinePoint, ProjectivePoint, Scalar, U256};
use sha3::{Digest, Keccak256};

use super::SignatureError;

pub const SECRET_LEN: usize = 32;
/// `04 ‖ X ‖ Y`.
pub const PUBLIC_KEY_LEN: usize = 65;
pub const SIGNATURE_LEN: usize = 65;

/// The EIP-191 version 0x45 prefix; the decimal byte length of the message follows it.
const PERSONAL_SIGN_PREFIX: &[u8] = b"\x19Ethereum Signed Message:\n";

fn keccak256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The 32-byte hash an Ethereum wallet's `personal_sign` signs for `message`.
pub fn personal_sign_hash(message: &[u8]) -> [u8; 32] {
    let len = message.len().to_string();
    keccak256(&[PERSONAL_SIGN_PREFIX, len.as_bytes(), message])
}

/// Verifies `signature` (`r ‖ s ‖ v`) by the 65-byte uncompressed key `owner` over `message`:
/// recovers the signer's key from the EIP-191 hash and `v`, and compares it with the owner.
pub fn verify(owner: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    check_owner(owner)?;
    if recover(message, signature)?[..] == *owner {
        Ok(())
    } else {
        Err(SignatureError::Ethereum(
            "recovered key differs from the owner",
        ))
    }
}

/// The 65-byte uncompressed public key that signed `message` (EIP-191) with `r ‖ s ‖ v`.
/// Enforces v ∈ {27, 28}, 0 < r, s < order and low s.
pub fn recover(message: &[u8], signature: &[u8]) -> Result<[u8; PUBLIC_KEY_LEN], SignatureError> {
    let (rs, v) = match signature {
        [rs @ .., v] if rs.len() == 64 => (rs, *v),
        _ => return Err(SignatureError::Ethereum("signature is not 65 bytes")),
    };
    let y_odd = match v {
        27 => false,
        28 => true,
        _ => return Err(SignatureError::Ethereum("v must be 27 or 28")),
    };
    let sig = Signature::from_slice(rs)
        .map_err(|_| SignatureError::Ethereum("r or s is zero or not below the group order"))?;
    if bool::from(sig.s().is_high()) {
        return Err(SignatureError::Ethereum(
            "s is in the upper half of the group order (not low-s)",
        ));
    }
    let hash = personal_sign_hash(message);

    // ecrecover: R is the curve point with x = r and the parity v selects; then
    // Q = r⁻¹·(s·R − z·G). This is k256's `recover_from_prehash` without its final
    // `verify_prehash`, which would repeat the scalar multiplication: a Q recovered this way
    // satisfies s·R = z·G + r·Q with x(R) = r, which is exactly the ECDSA verification equation,
    // so comparing Q with the owner is the whole check (the tests cross-check against k256).
    let (r, s) = sig.split_scalars();
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&hash.into());
    let big_r = Option::<AffinePoint>::from(AffinePoint::decompress(
        &r.to_repr(),
        Choice::from(u8::from(y_odd)),
    ))
    .ok_or(SignatureError::Ethereum(
        "r is not the x coordinate of a curve point",
    ))?;
    let r_inv = *r.invert_vartime();
    let u1 = -(r_inv * z);
    let u2 = r_inv * *s;
    let q = ProjectivePoint::lincomb(
        &ProjectivePoint::GENERATOR,
        &u1,
        &ProjectivePoint::from(big_r),
        &u2,
    );
    // The identity encodes as one byte, so it never passes as a 65-byte key.
    q.to_affine()
        .to_encoded_point(false)
        .as_bytes()
        .try_into()
        .map_err(|_| SignatureError::Ethereum("recovered key is the point at infinity"))
}

fn check_owner(owner: &[u8]) -> Result<(), SignatureError> {
    if owner.len() != PUBLIC_KEY_LEN || owner[0] != 0x04 {
        return Err(SignatureError::InvalidKey {
            what: "Ethereum",
            why: "owner is not a 65-byte uncompressed point (04 ‖ X ‖ Y)",
        });
    }
    Ok(())
}

/// The EIP-55 `0x…` address of a 65-byte uncompressed owner: the last 20 bytes of
/// keccak256(X ‖ Y). What the CU gives the process as `msg.Owner`/`From` for type-3 items.
pub fn ethereum_address(owner: &[u8]) -> Result<String, SignatureError> {
    check_owner(owner)?;
    let hash = keccak256(&[&owner[1..]]);
    Ok(eip55_checksum(&hex_lower(&hash[12..])))
}

/// EIP-55 mixed-case checksum of a hex address (with or without `0x`, any case): a letter is
/// upper case when the matching nibble of keccak256(lowercase hex) is 8 or more. Characters that
/// are not hex digits are passed through unchanged (the function has no error case).
pub fn eip55_checksum(lowercase_hex_address: &str) -> String {
    let body = lowercase_hex_address
        .strip_prefix("0x")
        .or_else(|| lowercase_hex_address.strip_prefix("0X"))
        .unwrap_or(lowercase_hex_address)
        .to_ascii_lowercase();
    let hash = keccak256(&[body.as_bytes()]);
    let mut out = String::with_capacity(body.len() + 2);
    out.push_str("0x");
    for (i, c) in body.chars().enumerate() {
        let nibble = hash
            .get(i / 2)
            .map_or(0, |b| if i % 2 == 0 { b >> 4 } else { b & 0x0f });
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Signs with a secp256k1 secret key, as an Ethereum wallet's `personal_sign` does.
pub struct EthereumSigner {
    key: SigningKey,
    owner: [u8; PUBLIC_KEY_LEN],
}

impl std::fmt::Debug for EthereumSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthereumSigner")
            .field("address", &ethereum_address(&self.owner).ok())
            .finish_non_exhaustive()
    }
}

impl EthereumSigner {
    /// Rejects zero and secrets not below the group order.
    pub fn from_secret(secret: &[u8; SECRET_LEN]) -> Result<EthereumSigner, SignatureError> {
        let key = SigningKey::from_slice(secret).map_err(|_| SignatureError::InvalidKey {
            what: "Ethereum",
            why: "secret is zero or not below the secp256k1 group order",
        })?;
        let point = key.verifying_key().to_encoded_point(false);
        let owner = point
            .as_bytes()
            .try_into()
            .map_err(|_| SignatureError::InvalidKey {
                what: "Ethereum",
                why: "public key did not encode to 65 bytes",
            })?;
        Ok(EthereumSigner { key, owner })
    }

    /// The 65-byte uncompressed public key.
    pub fn owner(&self) -> &[u8] {
        &self.owner
    }

    /// The EIP-55 `0x…` address.
    pub fn ethereum_address(&self) -> String {
        // The owner was produced by k256 from a valid key, so it always has the right shape.
        ethereum_address(&self.owner).unwrap_or_default()
    }

    /// `r ‖ s ‖ v` with low s and v ∈ {27, 28}. Deterministic (RFC 6979).
    pub fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignatureError> {
        let backend = |why| SignatureError::Backend {
            what: "Ethereum signing",
            why,
        };
        let hash = personal_sign_hash(message);
        let (sig, recovery_id) = self
            .key
            .sign_prehash_recoverable(&hash)
            .map_err(|_| backend("k256 refused"))?;
        // An x-reduced R (recovery id 2 or 3) happens with probability ~2^-128 and has no
        // v in {27, 28}; refusing is better than writing a signature nobody verifies.
        if recovery_id.is_x_reduced() {
            return Err(backend("r overflowed the group order"));
        }
        let mut out = [0u8; SIGNATURE_LEN];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + recovery_id.to_byte();
        Ok(out)
    }
}
