//! [`ArweaveStorage`]: the permanent-storage adapter that writes the outbox straight to Arweave.
//! Up to `bundle_items_max` items become one ANS-104 bundle, the data of a format-2
//! transaction tagged `Bundle-Format: binary`, `Bundle-Version: 2.0.0`, anchored by
//! `GET /tx_anchor`, paying what `GET /price/{bytes}` asks, signed with the configured Arweave
//! (RSA) wallet. Small bundles go inline in `POST /tx`; larger ones post the header, then every
//! chunk with its proof to `POST /chunk`. A bundle is confirmed when every request answered 2xx.
//!
//! Must never: confirm a bundle before every part of it was accepted, or pay twice for the same
//! bundle when only its chunks failed: the last signed transaction is kept and posted again
//! (with the same id) until it is accepted or a node refuses its header.

use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;

use ao_core::arweave::merkle::ChunkedData;
use ao_core::arweave::{Transaction, TxError};
use ao_core::{DataItem, DecodeError, Id, SignatureType, Signer, b64, bundle};

use crate::config::ArweaveConfig;
use crate::outbox::{PermanentStorage, UploadFailed};

/// Bundles up to this size travel inline in `POST /tx`, as arweave-js sends a single chunk;
/// larger ones go chunk by chunk.
pub const INLINE_DATA_BYTES_MAX: usize = 256 * 1024;
/// A bundle stops growing at this size (a single larger item still goes, alone).
pub const BUNDLE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The application tag every bundle transaction carries.
pub const APP_NAME: &str = "ao-rs SU";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of a refusal's body an error keeps.
const ERROR_BODY_CHARS_MAX: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ArweaveError {
    #[error(
        "the Arweave wallet must be an RSA key (an Arweave JWK, kty RSA), not {0}: nodes verify only RSA-PSS"
    )]
    WalletNotRsa(SignatureType),
    #[error("{request} failed: {source}")]
    Request {
        request: String,
        source: reqwest::Error,
    },
    #[error("{request} answered {status}: {body}")]
    Status {
        request: String,
        status: u16,
        body: String,
    },
    #[error("GET /tx_anchor answered {0:?}, not a base64url anchor")]
    Anchor(String),
    #[error("GET /price answered {0:?}, not an amount in winston")]
    Price(String),
    #[error("outbox item {index} is not a data item: {source}")]
    Item { index: usize, source: DecodeError },
    #[error(transparent)]
    Tx(#[from] TxError),
}

/// Posts outbox items to an Arweave node as bundle transactions.
pub struct ArweaveStorage {
    client: reqwest::Client,
    url: String,
    signer: Signer,
    bundle_items_max: usize,
    /// The last transaction signed and not yet confirmed: a retry of the same bundle (same
    /// data root) posts it again instead of signing, and paying for, a new one.
    pending: Mutex<Option<Transaction>>,
}

impl ArweaveStorage {
    /// Refuses a wallet that is not RSA.
    pub fn new(config: &ArweaveConfig, signer: Signer) -> Result<ArweaveStorage, ArweaveError> {
        if !matches!(signer, Signer::Arweave(_)) {
            return Err(ArweaveError::WalletNotRsa(signer.signature_type()));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default();
        Ok(ArweaveStorage {
            client,
            url: config.url.clone(),
            signer,
            bundle_items_max: config.bundle_items_max.max(1),
            pending: Mutex::new(None),
        })
    }

    /// The wallet's address (what must hold the AR).
    pub fn address(&self) -> String {
        self.signer.address()
    }

    /// Bundles `items` (with their ids), pays for, signs and posts one transaction; returns its id.
    async fn upload_bundle(&self, items: &[(Id, &[u8])]) -> Result<Id, ArweaveError> {
        let data = bundle::encode_raw(items);
        let (fresh, chunked) = Transaction::for_data(&data);
        let reused = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .filter(|tx| tx.data_root == fresh.data_root && tx.data_size == fresh.data_size);
        let (tx, reused) = match reused {
            Some(tx) => (tx, true),
            None => (self.sign(fresh).await?, false),
        };
        let inline = data.len() <= INLINE_DATA_BYTES_MAX;
        let body = tx.to_json(inline.then_some(&data[..]));
        if let Err(e) = self.post("/tx", &body).await {
            // A node that refuses the header (an expired anchor, a price that rose) will refuse
            // it again: the next try signs a new one. Other failures keep it for the retry.
            let refused = matches!(
                e,
                ArweaveError::Status {
                    status: 400..=499,
                    ..
                }
            );
            if !(reused && refused) {
                self.keep(tx);
            }
            return Err(e);
        }
        if !inline && let Err(e) = self.post_chunks(&tx, &chunked, &data).await {
            self.keep(tx);
            return Err(e);
        }
        Ok(tx.id())
    }

    async fn sign(&self, mut tx: Transaction) -> Result<Transaction, ArweaveError> {
        let anchor = self.get_text("/tx_anchor").await?;
        tx.last_tx =
            b64::decode(anchor.trim(), "anchor").map_err(|_| ArweaveError::Anchor(cut(&anchor)))?;
        let price = self.get_text(&format!("/price/{}", tx.data_size)).await?;
        tx.reward = price
            .trim()
            .parse()
            .map_err(|_| ArweaveError::Price(cut(&price)))?;
        tx.tags = bundle::bundle_tags().into();
        tx.tags.push(ao_core::Tag::new("App-Name", APP_NAME));
        tx.sign(&self.signer)?;
        Ok(tx)
    }

    async fn post_chunks(
        &self,
        tx: &Transaction,
        chunked: &ChunkedData,
        data: &[u8],
    ) -> Result<(), ArweaveError> {
        for index in 0..chunked.chunks.len() {
            let Some(body) = tx.chunk_body(chunked, index, data) else {
                break;
            };
            self.post("/chunk", &body).await?;
        }
        Ok(())
    }

    fn keep(&self, tx: Transaction) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    }

    async fn get_text(&self, path: &str) -> Result<String, ArweaveError> {
        let url = format!("{}{path}", self.url);
        self.send(format!("GET {url}"), self.client.get(url)).await
    }

    async fn post(&self, path: &str, body: &impl serde::Serialize) -> Result<(), ArweaveError> {
        let url = format!("{}{path}", self.url);
        let request = self.client.post(&url).json(body);
        self.send(format!("POST {url}"), request).await.map(drop)
    }

    /// Sends `builder` (described as `request` in errors) and reads a 2xx answer's text.
    async fn send(
        &self,
        request: String,
        builder: reqwest::RequestBuilder,
    ) -> Result<String, ArweaveError> {
        match builder.send().await {
            Ok(response) => read_answer(request, response).await,
            Err(source) => Err(ArweaveError::Request { request, source }),
        }
    }
}

impl PermanentStorage for ArweaveStorage {
    async fn upload(&self, items: &[Vec<u8>]) -> Result<(), UploadFailed> {
        // Every item was verified when it was ordered; one that no longer decodes stops the
        // upload there (the items before it still go), and the drain retries from it.
        let mut parts = Vec::with_capacity(items.len());
        let mut bad = None;
        for (index, raw) in items.iter().enumerate() {
            match DataItem::decode(raw) {
                Ok(item) => parts.push((item.id(), &raw[..])),
                Err(source) => {
                    bad = Some(ArweaveError::Item { index, source });
                    break;
                }
            }
        }
        let mut confirmed = 0;
        for group in groups(&parts, self.bundle_items_max, BUNDLE_BYTES_MAX) {
            match self.upload_bundle(&parts[group.clone()]).await {
                Ok(id) => {
                    tracing::info!(tx = %id, items = group.len(), "bundle posted to Arweave");
                    confirmed = group.end;
                }
                Err(e) => {
                    return Err(UploadFailed {
                        confirmed,
                        error: e.into(),
                    });
                }
            }
        }
        match bad {
            Some(e) => Err(UploadFailed {
                confirmed,
                error: e.into(),
            }),
            None => Ok(()),
        }
    }
}

/// Consecutive ranges of at most `items_max` items and, unless one item alone is larger,
/// `bytes_max` bytes.
fn groups(parts: &[(Id, &[u8])], items_max: usize, bytes_max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, (_, raw)) in parts.iter().enumerate() {
        let full = index - start == items_max || (index > start && bytes + raw.len() > bytes_max);
        if full {
            out.push(start..index);
            start = index;
            bytes = 0;
        }
        bytes += raw.len();
    }
    if start < parts.len() {
        out.push(start..parts.len());
    }
    out
}

async fn read_answer(request: String, response: reqwest::Response) -> Result<String, ArweaveError> {
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|source| ArweaveError::Request {
            request: request.clone(),
            source,
        })?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(ArweaveError::Status {
            request,
            status: status.as_u16(),
            body: cut(&body),
        })
    }
}

fn cut(text: &str) -> String {
    text.chars().take(ERROR_BODY_CHARS_MAX).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_respect_both_limits() {
        let raw = [
            vec![0u8; 10],
            vec![0u8; 10],
            vec![0u8; 50],
            vec![0u8; 10],
            vec![0u8; 10],
        ];
        let parts: Vec<(Id, &[u8])> = raw.iter().map(|r| (Id([0; 32]), &r[..])).collect();
        assert_eq!(groups(&parts, 64, 1000), vec![0..5]);
        assert_eq!(groups(&parts, 2, 1000), vec![0..2, 2..4, 4..5]);
        // The 50-byte item is alone over a 40-byte limit, and still goes.
        assert_eq!(groups(&parts, 64, 40), vec![0..2, 2..3, 3..5]);
        assert_eq!(groups(&[], 64, 40), Vec::<Range<usize>>::new());
    }

    #[test]
    fn ed25519_wallets_are_refused() {
        let config = ArweaveConfig {
            url: "http://127.0.0.1:1".into(),
            wallet: "w.json".into(),
            bundle_items_max: 8,
        };
        let signer = Signer::from_ed25519_seed(&[3; 32]).unwrap();
        let error = ArweaveStorage::new(&config, signer).err().unwrap();
        assert!(matches!(
            error,
            ArweaveError::WalletNotRsa(SignatureType::Ed25519)
        ));
        assert!(error.to_string().contains("RSA"));
    }
}
