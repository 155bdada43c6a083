//! The seven ANS-104 signature types and their fixed field sizes. Pure data: no crypto here.

use serde::{Deserialize, Serialize};

/// An ANS-104 signature type (the item's first two bytes, little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SignatureType {
    /// Arweave RSA-PSS (SHA-256), 4096-bit: the owner is the modulus `n`.
    Arweave,
    /// ed25519 over the 48-byte deep hash (arbundles' `SolanaSigner`).
    Ed25519,
    /// secp256k1, EIP-191 personal-sign of the deep hash; the owner is the uncompressed key.
    Ethereum,
    /// ed25519 over the hex text of the deep hash (arbundles' `HexSolanaSigner`).
    Solana,
    InjectedAptos,
    MultiAptos,
    /// EIP-712 typed data; the owner is the address text.
    TypedEthereum,
}

impl SignatureType {
    pub const ALL: [SignatureType; 7] = [
        Self::Arweave,
        Self::Ed25519,
        Self::Ethereum,
        Self::Solana,
        Self::InjectedAptos,
        Self::MultiAptos,
        Self::TypedEthereum,
    ];

    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The u16 written at the start of an item.
    pub fn code(self) -> u16 {
        match self {
            Self::Arweave => 1,
            Self::Ed25519 => 2,
            Self::Ethereum => 3,
            Self::Solana => 4,
            Self::InjectedAptos => 5,
            Self::MultiAptos => 6,
            Self::TypedEthereum => 7,
        }
    }

    pub fn signature_len(self) -> usize {
        match self {
            Self::Arweave => 512,
            Self::Ed25519 | Self::Solana | Self::InjectedAptos => 64,
            Self::Ethereum | Self::TypedEthereum => 65,
            Self::MultiAptos => 2052,
        }
    }

    pub fn owner_len(self) -> usize {
        match self {
            Self::Arweave => 512,
            Self::Ed25519 | Self::Solana | Self::InjectedAptos => 32,
            Self::Ethereum => 65,
            Self::MultiAptos => 1025,
            Self::TypedEthereum => 42,
        }
    }

    /// The name arbundles gives the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Arweave => "arweave",
            Self::Ed25519 => "ed25519",
            Self::Ethereum => "ethereum",
            Self::Solana => "solana",
            Self::InjectedAptos => "injectedAptos",
            Self::MultiAptos => "multiAptos",
            Self::TypedEthereum => "typedEthereum",
        }
    }

    /// Whether our units verify (and sign) this type. The others are parsed and refused.
    pub fn is_verifiable(self) -> bool {
        matches!(self, Self::Arweave | Self::Ed25519 | Self::Ethereum)
    }
}

impl std::fmt::Display for SignatureType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (type {})", self.name(), self.code())
    }
}
