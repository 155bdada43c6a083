//! base64url without padding, the only text form of bytes in the AO protocol (ids, owners,
//! signatures, JWK fields). Must never accept padding or the standard alphabet silently.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The text form was not valid unpadded base64url.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is not valid unpadded base64url")]
pub struct Base64Error {
    pub what: &'static str,
}

pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url; `what` names the field in the error.
pub fn decode(text: &str, what: &'static str) -> Result<Vec<u8>, Base64Error> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Base64Error { what })
}

/// Decodes a 32-byte id (43 characters), as item ids, process ids and hash-chain links are.
pub fn decode_id(text: &str, what: &'static str) -> Result<[u8; 32], Base64Error> {
    let bytes = decode(text, what)?;
    bytes.try_into().map_err(|_| Base64Error { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        assert_eq!(encode([0xfb, 0xff]), "-_8");
        assert_eq!(decode("-_8", "x").unwrap(), vec![0xfb, 0xff]);
        assert!(decode("+/8=", "x").is_err());
        assert!(decode_id("AAAA", "id").is_err());
        assert_eq!(decode_id(&encode([7u8; 32]), "id").unwrap(), [7u8; 32]);
    }
}
