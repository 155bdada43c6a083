//! The format-2 transaction and its JSON forms.

use serde::{Deserialize, Serialize};

use super::merkle::{self, ChunkedData};
use crate::b64::{self, Base64Error};
use crate::crypto::{self, SignatureError};
use crate::deep_hash::{deep_hash_blob, deep_hash_list};
use crate::hash::sha256;
use crate::id::Id;
use crate::signature_type::SignatureType;
use crate::tags::Tag;
use crate::{Signer, crypto::rsa::MODULUS_LEN};

/// An amount of AR in winston (10^-12 AR). All AR ever minted (66 million) is about 2^66
/// winston, so 128 bits hold any amount.
pub type Winston = u128;

/// The only format this module writes and reads.
const FORMAT: u8 = 2;
/// Decimal digits in the largest u128.
const WINSTON_DIGITS_MAX: usize = 39;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("Arweave transactions are signed with an RSA wallet, not {0}")]
    NotRsa(SignatureType),
    #[error("transaction format {0} is not supported (only 2)")]
    Format(u8),
    #[error(transparent)]
    Base64(#[from] Base64Error),
    #[error("transaction {field} {value:?} is not a canonical decimal number")]
    Number { field: &'static str, value: String },
    #[error("transaction {field} is {len} bytes, expected {expected}")]
    Length {
        field: &'static str,
        len: usize,
        expected: &'static str,
    },
    #[error("transaction tag {index} {field} is not UTF-8")]
    TagNotUtf8 { index: usize, field: &'static str },
    #[error("transaction id {claimed} is not the SHA-256 of its signature ({actual})")]
    IdMismatch { claimed: String, actual: Id },
    #[error("transaction data is {len} bytes but data_size says {data_size}")]
    DataSize { len: usize, data_size: u64 },
    #[error("transaction data does not hash to its data_root")]
    DataRoot,
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// A format-2 transaction without its data: the data is committed to by `data_size` and
/// `data_root` and travels inline in the JSON or as chunks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transaction {
    /// The anchor: a recent block hash (48 bytes) from `GET /tx_anchor`, or the owner's last
    /// transaction id (32 bytes); empty is allowed for a wallet's first transaction.
    pub last_tx: Vec<u8>,
    /// The RSA modulus (512 bytes); set by [`Transaction::sign`].
    pub owner: Vec<u8>,
    pub tags: Vec<Tag>,
    /// Empty, or the 32-byte address receiving `quantity`.
    pub target: Vec<u8>,
    pub quantity: Winston,
    pub data_size: u64,
    /// Empty when there is no data, else the 32-byte Merkle root ([`merkle::data_root`]).
    pub data_root: Vec<u8>,
    pub reward: Winston,
    pub signature: Vec<u8>,
}

impl Transaction {
    /// An unsigned transaction committing to `data`, and the chunks and proofs to upload it.
    pub fn for_data(data: &[u8]) -> (Transaction, ChunkedData) {
        let chunked = merkle::chunk_data(data);
        let tx = Transaction {
            data_size: data.len() as u64,
            data_root: if data.is_empty() {
                Vec::new()
            } else {
                chunked.data_root.to_vec()
            },
            ..Transaction::default()
        };
        (tx, chunked)
    }

    /// The id: SHA-256 of the signature (meaningful once signed).
    pub fn id(&self) -> Id {
        Id(sha256(&self.signature))
    }

    /// The owner's address: base64url(SHA-256(owner)).
    pub fn owner_address(&self) -> String {
        crypto::owner_address(&self.owner)
    }

    /// What is signed: the deep hash of `["2", owner, target, quantity, reward, last_tx,
    /// [[name, value], …], data_size, data_root]`, numbers as decimal text.
    pub fn signature_data(&self) -> [u8; 48] {
        let tags = self.tags.iter().map(|tag| {
            let pair = [
                deep_hash_blob(tag.name.as_bytes()),
                deep_hash_blob(tag.value.as_bytes()),
            ];
            deep_hash_list(pair.into_iter())
        });
        let parts = [
            deep_hash_blob(FORMAT.to_string().as_bytes()),
            deep_hash_blob(&self.owner),
            deep_hash_blob(&self.target),
            deep_hash_blob(self.quantity.to_string().as_bytes()),
            deep_hash_blob(self.reward.to_string().as_bytes()),
            deep_hash_blob(&self.last_tx),
            deep_hash_list(tags),
            deep_hash_blob(self.data_size.to_string().as_bytes()),
            deep_hash_blob(&self.data_root),
        ];
        deep_hash_list(parts.into_iter())
    }

    /// Sets the owner to the wallet's modulus and signs (RSA-PSS, SHA-256). Refuses any
    /// other key type: Arweave nodes verify only RSA.
    pub fn sign(&mut self, signer: &Signer) -> Result<(), TxError> {
        let Signer::Arweave(rsa) = signer else {
            return Err(TxError::NotRsa(signer.signature_type()));
        };
        self.owner = rsa.owner().to_vec();
        self.signature = rsa.sign(&self.signature_data())?;
        Ok(())
    }

    /// Checks the signature by `owner` over [`Transaction::signature_data`].
    pub fn verify(&self) -> Result<(), TxError> {
        crypto::rsa::verify(&self.owner, &self.signature_data(), &self.signature)?;
        Ok(())
    }

    /// The JSON body of `POST /tx`: with `data` inline when given (it must be the data this
    /// transaction commits to: the caller checks, nodes refuse a mismatch), else with an empty
    /// `data` field, the chunks following at `POST /chunk`.
    pub fn to_json(&self, data: Option<&[u8]>) -> TxJson {
        TxJson {
            format: FORMAT,
            id: self.id().to_string(),
            last_tx: b64::encode(&self.last_tx),
            owner: b64::encode(&self.owner),
            tags: self
                .tags
                .iter()
                .map(|t| TxTagJson {
                    name: b64::encode(t.name.as_bytes()),
                    value: b64::encode(t.value.as_bytes()),
                })
                .collect(),
            target: b64::encode(&self.target),
            quantity: self.quantity.to_string(),
            data: data.map(b64::encode).unwrap_or_default(),
            data_size: self.data_size.to_string(),
            data_root: b64::encode(&self.data_root),
            reward: self.reward.to_string(),
            signature: b64::encode(&self.signature),
        }
    }

    /// Reads a node's JSON (or our own): checks the format, every field's encoding and length,
    /// that the id is the hash of the signature and, when `data` is inline, that it matches
    /// `data_size` and `data_root`. The signature itself is checked by [`Transaction::verify`].
    /// Returns the inline data too (empty when there is none).
    pub fn from_json(json: &TxJson) -> Result<(Transaction, Vec<u8>), TxError> {
        if json.format != FORMAT {
            return Err(TxError::Format(json.format));
        }
        let tags = json
            .tags
            .iter()
            .enumerate()
            .map(|(index, t)| {
                let text = |value: &str, field| {
                    String::from_utf8(b64::decode(value, field)?)
                        .map_err(|_| TxError::TagNotUtf8 { index, field })
                };
                Ok(Tag {
                    name: text(&t.name, "name")?,
                    value: text(&t.value, "value")?,
                })
            })
            .collect::<Result<Vec<_>, TxError>>()?;
        let tx = Transaction {
            last_tx: b64::decode(&json.last_tx, "last_tx")?,
            owner: b64::decode(&json.owner, "owner")?,
            tags,
            target: b64::decode(&json.target, "target")?,
            quantity: winston(&json.quantity, "quantity")?,
            data_size: winston(&json.data_size, "data_size")?
                .try_into()
                .map_err(|_| TxError::Number {
                    field: "data_size",
                    value: json.data_size.clone(),
                })?,
            data_root: b64::decode(&json.data_root, "data_root")?,
            reward: winston(&json.reward, "reward")?,
            signature: b64::decode(&json.signature, "signature")?,
        };
        check_len("owner", tx.owner.len(), &[MODULUS_LEN], "512")?;
        check_len("signature", tx.signature.len(), &[MODULUS_LEN], "512")?;
        check_len("target", tx.target.len(), &[0, 32], "0 or 32")?;
        check_len("data_root", tx.data_root.len(), &[0, 32], "0 or 32")?;
        check_len("last_tx", tx.last_tx.len(), &[0, 32, 48], "0, 32 or 48")?;
        if json.id != tx.id().to_string() {
            return Err(TxError::IdMismatch {
                claimed: json.id.clone(),
                actual: tx.id(),
            });
        }
        let data = b64::decode(&json.data, "data")?;
        if !data.is_empty() {
            if data.len() as u64 != tx.data_size {
                return Err(TxError::DataSize {
                    len: data.len(),
                    data_size: tx.data_size,
                });
            }
            if tx.data_root != merkle::data_root(&data) {
                return Err(TxError::DataRoot);
            }
        }
        Ok((tx, data))
    }

    /// The body of `POST /chunk` for chunk `index` of `chunked` (made from `data` by
    /// [`Transaction::for_data`]); `None` past the last chunk.
    pub fn chunk_body(
        &self,
        chunked: &ChunkedData,
        index: usize,
        data: &[u8],
    ) -> Option<ChunkBody> {
        let chunk = chunked.chunks.get(index)?;
        let proof = chunked.proofs.get(index)?;
        let bytes = data.get(chunk.range.clone())?;
        Some(ChunkBody {
            data_root: b64::encode(&self.data_root),
            data_size: self.data_size.to_string(),
            data_path: b64::encode(&proof.data_path),
            offset: proof.offset.to_string(),
            chunk: b64::encode(bytes),
        })
    }
}

fn check_len(
    field: &'static str,
    len: usize,
    allowed: &[usize],
    expected: &'static str,
) -> Result<(), TxError> {
    if allowed.contains(&len) {
        Ok(())
    } else {
        Err(TxError::Length {
            field,
            len,
            expected,
        })
    }
}

/// A canonical decimal (no sign, no leading zero but in "0"), as the signature hashes the text.
fn winston(text: &str, field: &'static str) -> Result<Winston, TxError> {
    let bad = || TxError::Number {
        field,
        value: text.chars().take(WINSTON_DIGITS_MAX + 1).collect(),
    };
    let canonical = !text.is_empty()
        && text.len() <= WINSTON_DIGITS_MAX
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

/// The transaction JSON nodes take at `POST /tx` and answer at `GET /tx/{id}`; binary fields
/// base64url, numbers as decimal strings but `format`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxJson {
    pub format: u8,
    pub id: String,
    pub last_tx: String,
    pub owner: String,
    pub tags: Vec<TxTagJson>,
    pub target: String,
    pub quantity: String,
    #[serde(default)]
    pub data: String,
    pub data_size: String,
    pub data_root: String,
    pub reward: String,
    pub signature: String,
}

/// A tag in transaction JSON: name and value each base64url of their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxTagJson {
    pub name: String,
    pub value: String,
}

/// The JSON body of `POST /chunk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkBody {
    pub data_root: String,
    pub data_size: String,
    pub data_path: String,
    /// The offset of the chunk's last byte within the data.
    pub offset: String,
    pub chunk: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winston_text_is_canonical() {
        assert_eq!(winston("0", "q"), Ok(0));
        assert_eq!(winston("65595508", "q"), Ok(65_595_508));
        assert_eq!(winston(&u128::MAX.to_string(), "q"), Ok(u128::MAX));
        for bad in [
            "",
            "01",
            "-1",
            "+1",
            "1.0",
            " 1",
            "1e3",
            "340282366920938463463374607431768211456",
        ] {
            assert!(winston(bad, "q").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ed25519_wallets_are_refused() {
        let signer = Signer::from_ed25519_seed(&[1; 32]).unwrap();
        let (mut tx, _) = Transaction::for_data(b"data");
        assert_eq!(
            tx.sign(&signer),
            Err(TxError::NotRsa(SignatureType::Ed25519))
        );
    }
}
