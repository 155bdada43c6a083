//! ANS-104 data items: byte-exact decoding and encoding, ids, the signed message, signing and
//! verification. Decoding is strict (PROTOCOL.md §2): every limit is enforced and no input
//! makes it panic or allocate more than the input's size.

use std::sync::LazyLock;

use crate::crypto::{self, SignatureError, Signer};
use crate::deep_hash::{deep_hash_blob, deep_hash_list};
use crate::hash::sha256;
use crate::id::Id;
use crate::signature_type::SignatureType;
use crate::tags::{self, TAG_BYTES_MAX, TAGS_COUNT_MAX, Tag, TagError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "data item is truncated: the {field} needs {needed} bytes at offset {offset}, {available} remain"
    )]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: u64,
        available: usize,
    },
    #[error("unknown signature type {0}")]
    UnknownSignatureType(u16),
    #[error("{field} presence byte is {value}, must be 0 or 1")]
    InvalidPresenceByte { field: &'static str, value: u8 },
    #[error("tag count field says {declared} but the tag bytes hold {actual} tags")]
    TagCountMismatch { declared: u64, actual: u64 },
    #[error(transparent)]
    Tags(#[from] TagError),
}

impl DecodeError {
    /// A short stable code, as the test vectors name parse errors.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::UnknownSignatureType(_) => "unknown_signature_type",
            DecodeError::InvalidPresenceByte { .. } => "invalid_presence_byte",
            DecodeError::TagCountMismatch { .. } => "tag_count_mismatch",
            DecodeError::Tags(t) => match t {
                TagError::TooManyTags { .. } => "too_many_tags",
                TagError::NameTooLong { .. } => "tag_name_too_long",
                TagError::ValueTooLong { .. } => "tag_value_too_long",
                TagError::BytesTooLong { .. } => "tag_bytes_too_long",
                TagError::TrailingGarbage { .. } => "tag_bytes_trailing_garbage",
                TagError::EmptyName { .. } => "empty_tag_name",
                TagError::NotUtf8 { .. } => "tag_not_utf8",
                TagError::Malformed { .. } => "malformed_tags",
            },
        }
    }
}

/// Why an item could not be built and signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Tags(#[from] TagError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("{signature_type} {field} must be {expected} bytes, not {len}")]
    FieldLength {
        signature_type: SignatureType,
        field: &'static str,
        len: usize,
        expected: usize,
    },
}

/// A decoded data item. The raw tag bytes are kept so that re-encoding is byte-exact even for
/// Avro forms we would not write ourselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataItem {
    pub signature_type: SignatureType,
    pub signature: Vec<u8>,
    pub owner: Vec<u8>,
    pub target: Option<[u8; 32]>,
    pub anchor: Option<[u8; 32]>,
    pub tags: Vec<Tag>,
    tag_bytes: Vec<u8>,
    pub data: Vec<u8>,
}

impl DataItem {
    pub fn decode(bytes: &[u8]) -> Result<DataItem, DecodeError> {
        let mut r = Cursor { bytes, pos: 0 };
        let code = u16::from_le_bytes(r.array::<2>("signature type")?);
        let signature_type =
            SignatureType::from_code(code).ok_or(DecodeError::UnknownSignatureType(code))?;
        let signature = r
            .take(signature_type.signature_len() as u64, "signature")?
            .to_vec();
        let owner = r.take(signature_type.owner_len() as u64, "owner")?.to_vec();
        let target = r.optional_32("target")?;
        let anchor = r.optional_32("anchor")?;
        let tag_count = u64::from_le_bytes(r.array::<8>("tag count")?);
        let tag_bytes_len = u64::from_le_bytes(r.array::<8>("tag bytes length")?);
        if tag_count > TAGS_COUNT_MAX as u64 {
            return Err(TagError::TooManyTags { count: tag_count }.into());
        }
        if tag_bytes_len > TAG_BYTES_MAX as u64 {
            return Err(TagError::BytesTooLong {
                len: usize::try_from(tag_bytes_len).unwrap_or(usize::MAX),
            }
            .into());
        }
        let tag_bytes = r.take(tag_bytes_len, "tag bytes")?.to_vec();
        let tags = tags::decode(&tag_bytes)?;
        if tags.len() as u64 != tag_count {
            return Err(DecodeError::TagCountMismatch {
                declared: tag_count,
                actual: tags.len() as u64,
            });
        }
        tags::check_limits(&tags, tag_bytes.len())?;
        let data = bytes[r.pos..].to_vec();
        Ok(DataItem {
            signature_type,
            signature,
            owner,
            target,
            anchor,
            tags,
            tag_bytes,
            data,
        })
    }

    /// Assembles an item from its fields (the signature is taken as given, not checked), with
    /// the single-block Avro tag encoding. For tools and tests that need items whose signature
    /// they made elsewhere.
    pub fn from_parts(
        signature_type: SignatureType,
        signature: Vec<u8>,
        owner: Vec<u8>,
        target: Option<[u8; 32]>,
        anchor: Option<[u8; 32]>,
        tags: Vec<Tag>,
        data: Vec<u8>,
    ) -> Result<DataItem, BuildError> {
        for (field, len, expected) in [
            ("signature", signature.len(), signature_type.signature_len()),
            ("owner", owner.len(), signature_type.owner_len()),
        ] {
            if len != expected {
                return Err(BuildError::FieldLength {
                    signature_type,
                    field,
                    len,
                    expected,
                });
            }
        }
        let tag_bytes = tags::encode(&tags);
        tags::check_limits(&tags, tag_bytes.len())?;
        Ok(DataItem {
            signature_type,
            signature,
            owner,
            target,
            anchor,
            tags,
            tag_bytes,
            data,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.signature_type.code().to_le_bytes());
        out.extend_from_slice(&self.signature);
        out.extend_from_slice(&self.owner);
        for field in [&self.target, &self.anchor] {
            match field {
                Some(bytes) => {
                    out.push(1);
                    out.extend_from_slice(bytes);
                }
                None => out.push(0),
            }
        }
        out.extend_from_slice(&(self.tags.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.tag_bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.tag_bytes);
        out.extend_from_slice(&self.data);
        out
    }

    pub fn encoded_len(&self) -> usize {
        2 + self.signature.len()
            + self.owner.len()
            + 2
            + 32 * (self.target.is_some() as usize + self.anchor.is_some() as usize)
            + 16
            + self.tag_bytes.len()
            + self.data.len()
    }

    /// SHA-256 of the signature bytes.
    pub fn id(&self) -> Id {
        Id(sha256(&self.signature))
    }

    /// The raw Avro tag bytes, as signed.
    pub fn tag_bytes(&self) -> &[u8] {
        &self.tag_bytes
    }

    /// The 48-byte deep hash that the signature covers.
    pub fn signing_message(&self) -> [u8; 48] {
        signing_message(
            self.signature_type,
            &self.owner,
            self.target.as_ref(),
            self.anchor.as_ref(),
            &self.tag_bytes,
            &self.data,
        )
    }

    /// Verifies the signature (types 1, 2 and 3; the others are refused with
    /// [`SignatureError::Unsupported`]).
    pub fn verify(&self) -> Result<(), SignatureError> {
        if !self.signature_type.is_verifiable() {
            return Err(SignatureError::Unsupported(self.signature_type));
        }
        crypto::verify(
            self.signature_type,
            &self.owner,
            &self.signing_message(),
            &self.signature,
        )
    }

    /// base64url(SHA-256(owner)): the address gateways and the SU show, for every type.
    pub fn owner_address(&self) -> String {
        crypto::owner_address(&self.owner)
    }

    /// The address a process sees as `Owner`: EIP-55 for Ethereum owners, else as
    /// [`Self::owner_address`].
    pub fn ao_address(&self) -> String {
        if self.signature_type == SignatureType::Ethereum
            && let Ok(address) = crypto::ethereum_address(&self.owner)
        {
            return address;
        }
        self.owner_address()
    }

    /// The value of the first tag named `name`.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.value.as_str())
    }

    /// Every value of the tags named `name`, in order.
    pub fn tag_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter(move |t| t.name == name)
            .map(|t| t.value.as_str())
    }

    pub fn target_id(&self) -> Option<Id> {
        self.target.map(Id)
    }
}

/// `deep_hash(["dataitem", "1", type, owner, target, anchor, tag_bytes, data])`.
pub fn signing_message(
    signature_type: SignatureType,
    owner: &[u8],
    target: Option<&[u8; 32]>,
    anchor: Option<&[u8; 32]>,
    tag_bytes: &[u8],
    data: &[u8],
) -> [u8; 48] {
    // The first three list items are constants per signature type: hash them once.
    static PREFIX: LazyLock<[[u8; 48]; 8]> = LazyLock::new(|| {
        std::array::from_fn(|code| deep_hash_blob((code as u16).to_string().as_bytes()))
    });
    static DATAITEM: LazyLock<[u8; 48]> = LazyLock::new(|| deep_hash_blob(b"dataitem"));
    let code = usize::from(signature_type.code());
    let parts = [
        *DATAITEM,
        PREFIX[1],
        PREFIX[code],
        deep_hash_blob(owner),
        deep_hash_blob(target.map_or(&[][..], |t| &t[..])),
        deep_hash_blob(anchor.map_or(&[][..], |a| &a[..])),
        deep_hash_blob(tag_bytes),
        deep_hash_blob(data),
    ];
    deep_hash_list(parts.into_iter())
}

/// What a new item holds before it is signed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemBuilder {
    pub target: Option<[u8; 32]>,
    pub anchor: Option<[u8; 32]>,
    pub tags: Vec<Tag>,
    pub data: Vec<u8>,
}

impl ItemBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn target(mut self, target: Id) -> Self {
        self.target = Some(target.0);
        self
    }

    pub fn anchor(mut self, anchor: [u8; 32]) -> Self {
        self.anchor = Some(anchor);
        self
    }

    pub fn tag(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push(Tag::new(name, value));
        self
    }

    pub fn tags(mut self, tags: impl IntoIterator<Item = Tag>) -> Self {
        self.tags.extend(tags);
        self
    }

    pub fn data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// Checks the tag limits, signs with `signer` and returns the finished item.
    pub fn sign(self, signer: &Signer) -> Result<DataItem, BuildError> {
        let tag_bytes = tags::encode(&self.tags);
        tags::check_limits(&self.tags, tag_bytes.len())?;
        let signature_type = signer.signature_type();
        let owner = signer.owner().to_vec();
        let message = signing_message(
            signature_type,
            &owner,
            self.target.as_ref(),
            self.anchor.as_ref(),
            &tag_bytes,
            &self.data,
        );
        let signature = signer.sign(&message)?;
        debug_assert_eq!(signature.len(), signature_type.signature_len());
        Ok(DataItem {
            signature_type,
            signature,
            owner,
            target: self.target,
            anchor: self.anchor,
            tags: self.tags,
            tag_bytes,
            data: self.data,
        })
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: u64, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let available = self.bytes.len() - self.pos;
        if len > available as u64 {
            return Err(DecodeError::Truncated {
                field,
                offset: self.pos,
                needed: len,
                available,
            });
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N as u64, field)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    fn optional_32(&mut self, field: &'static str) -> Result<Option<[u8; 32]>, DecodeError> {
        match self.array::<1>(field)?[0] {
            0 => Ok(None),
            1 => self.array::<32>(field).map(Some),
            value => Err(DecodeError::InvalidPresenceByte { field, value }),
        }
    }
}
