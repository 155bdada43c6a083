//! The CU's view of one SU over HTTP (PROTOCOL.md §4): its address, a process, one scheduled
//! message, pages of the schedule. Owns: URLs, statuses, body limits and decoding into the
//! `ao_core::wire` types. Must never: check or interpret a schedule (the `schedule` module
//! does), or retry on its own (callers decide; clients retry `/result`).

use std::time::Duration;

use ao_core::Id;
use ao_core::wire::{SuInfo, SuMessage, SuPage, SuProcess, SuTimestamp};
use serde::de::DeserializeOwned;

/// The largest SU answer read (a page of up to 1000 messages of up to 10 MiB each would be
/// more; the CU asks for pages small enough to stay under it).
pub const SU_BODY_BYTES_MAX: usize = 256 << 20;

/// A failed request to the SU or the gateway.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{unit} unreachable at {url}: {source}")]
    Http {
        unit: &'static str,
        url: String,
        source: reqwest::Error,
    },
    #[error("{unit} answered {status} for {url}: {body}")]
    Status {
        unit: &'static str,
        url: String,
        status: u16,
        body: String,
    },
    #[error("{unit} answer for {url} is more than {max} bytes")]
    TooLarge {
        unit: &'static str,
        url: String,
        max: usize,
    },
    #[error("{unit} answer for {url} is not what the protocol says: {reason}")]
    Body {
        unit: &'static str,
        url: String,
        reason: String,
    },
}

impl UpstreamError {
    /// Whether the upstream said the thing does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, UpstreamError::Status { status: 404, .. })
    }
}

/// `GET url`, a 2xx status, and at most `max` bytes of body.
pub(crate) async fn fetch(
    request: reqwest::RequestBuilder,
    unit: &'static str,
    url: &str,
    max: usize,
) -> Result<Vec<u8>, UpstreamError> {
    let http = |source| UpstreamError::Http {
        unit,
        url: url.to_owned(),
        source,
    };
    let mut response = request.send().await.map_err(http)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http)? {
        if body.len() + chunk.len() > max {
            return Err(UpstreamError::TooLarge {
                unit,
                url: url.to_owned(),
                max,
            });
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(UpstreamError::Status {
            unit,
            url: url.to_owned(),
            status: status.as_u16(),
            body: text.chars().take(300).collect(),
        });
    }
    Ok(body)
}

pub(crate) fn decode<T: DeserializeOwned>(
    body: &[u8],
    unit: &'static str,
    url: &str,
) -> Result<T, UpstreamError> {
    serde_json::from_slice(body).map_err(|e| UpstreamError::Body {
        unit,
        url: url.to_owned(),
        reason: e.to_string(),
    })
}

/// The SU's clock and block height, as `GET /timestamp` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuNow {
    pub timestamp: u64,
    pub block_height: u64,
}

#[derive(Debug, Clone)]
pub struct SuClient {
    http: reqwest::Client,
    base: String,
}

impl SuClient {
    /// A client of the SU at `base` (no trailing slash).
    pub fn new(base: &str, timeout: Duration) -> SuClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        SuClient {
            http,
            base: base.to_owned(),
        }
    }

    /// A client of the SU at `base` sharing this one's connections.
    pub fn with_base(&self, base: &str) -> SuClient {
        SuClient {
            http: self.http.clone(),
            base: base.to_owned(),
        }
    }

    /// The SU's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, UpstreamError> {
        let url = format!("{}{path}", self.base);
        let body = fetch(self.http.get(&url), "SU", &url, SU_BODY_BYTES_MAX).await?;
        decode(&body, "SU", &url)
    }

    /// `GET /`: the SU's wallet address.
    pub async fn info(&self) -> Result<SuInfo, UpstreamError> {
        self.get("/").await
    }

    /// `GET /timestamp?process-id=`: the SU's clock (ms) and block height now. The SU gives
    /// every message it orders later a timestamp at or after this one.
    pub async fn timestamp(&self, process: &Id) -> Result<SuNow, UpstreamError> {
        let path = format!("/timestamp?process-id={process}");
        let answer: SuTimestamp = self.get(&path).await?;
        let number = |text: &str, what: &str| {
            text.parse::<u64>().map_err(|_| UpstreamError::Body {
                unit: "SU",
                url: format!("{}{path}", self.base),
                reason: format!("{what} {text:?} is not a non-negative integer"),
            })
        };
        Ok(SuNow {
            timestamp: number(&answer.timestamp, "timestamp")?,
            block_height: number(&answer.block_height, "block_height")?,
        })
    }

    /// `GET /processes/{pid}`; `None` if the SU does not know the process.
    pub async fn process(&self, process: &Id) -> Result<Option<SuProcess>, UpstreamError> {
        none_if_404(self.get(&format!("/processes/{process}")).await)
    }

    /// `GET /{id}?process-id=`: the message with this id (or assignment id) in the process's
    /// schedule; `None` if the SU has not scheduled it.
    pub async fn message(
        &self,
        message: &Id,
        process: &Id,
    ) -> Result<Option<SuMessage>, UpstreamError> {
        none_if_404(self.get(&format!("/{message}?process-id={process}")).await)
    }

    /// `GET /{pid}/latest`: the message with the highest nonce; `None` for an unknown process.
    pub async fn latest(&self, process: &Id) -> Result<Option<SuMessage>, UpstreamError> {
        none_if_404(self.get(&format!("/{process}/latest")).await)
    }

    /// Up to `limit` schedule entries with nonces `from..=to`, ascending.
    pub async fn page(
        &self,
        process: &Id,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<SuPage, UpstreamError> {
        self.get(&format!(
            "/{process}?process-id={process}&from-nonce={from}&to-nonce={to}&limit={limit}"
        ))
        .await
    }
}

fn none_if_404<T>(result: Result<T, UpstreamError>) -> Result<Option<T>, UpstreamError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The `Nonce` tag of a scheduled message's assignment.
pub fn nonce_of(message: &SuMessage) -> Option<u64> {
    message
        .assignment
        .tags
        .iter()
        .find(|t| t.name == "Nonce")
        .and_then(|t| t.value.parse().ok())
}
