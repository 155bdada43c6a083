//! The MU's HTTP conversations with the units it serves: SUs (order an item, assign, describe a
//! process), the CU (results, cron results) and the gateway (GraphQL, uploads). Every failure
//! is classified once here: [`UpstreamError::Refused`] will not change on retry (the peer named
//! a problem with the request), [`UpstreamError::Unavailable`] might. Must never retry by itself
//! (the push loop decides) or interpret a result.

use std::time::Duration;

use ao_core::wire::{CuResult, CuResultsPage, ErrorBody, SuInfo, SuPosted, SuProcess};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

/// Most bytes of an upstream error body quoted in our own errors.
const QUOTED_BYTES_MAX: usize = 512;

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The peer answered 4xx (other than 408 and 429): the request itself is the problem.
    #[error("{url} answered {status}: {error}")]
    Refused {
        url: String,
        status: u16,
        error: String,
    },
    /// No answer, a timeout, 408, 429 or 5xx, or a body that was not what the protocol says.
    #[error("{url}: {why}")]
    Unavailable { url: String, why: String },
}

impl UpstreamError {
    /// The SU already holds this item (or this pushed message): delivery is done.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, UpstreamError::Refused { status: 409, .. })
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamError::Refused { status, .. } => Some(*status),
            UpstreamError::Unavailable { .. } => None,
        }
    }
}

#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
    cu_url: String,
    gateway_url: Option<String>,
    upload_path: String,
}

impl Upstream {
    pub fn new(
        cu_url: &str,
        gateway_url: Option<&str>,
        upload_path: &str,
        timeout: Duration,
    ) -> Upstream {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(256)
            .build()
            .expect("the HTTP client builds with static settings");
        Upstream {
            client,
            cu_url: cu_url.to_owned(),
            gateway_url: gateway_url.map(str::to_owned),
            upload_path: upload_path.to_owned(),
        }
    }

    pub fn gateway_url(&self) -> Option<&str> {
        self.gateway_url.as_deref()
    }

    // ------------------------------------------------------------ SU

    /// `POST {su}/` with the raw item: the SU ordered it.
    pub async fn su_post(&self, su: &str, item: Vec<u8>) -> Result<SuPosted, UpstreamError> {
        let url = format!("{su}/");
        let request = self
            .client
            .post(&url)
            .header("content-type", "application/octet-stream")
            .header("accept", "application/json")
            .body(item);
        json_answer(&url, request.send().await).await
    }

    /// `POST {su}/?process-id=&assign=[&base-layer][&exclude=]`.
    pub async fn su_assign(
        &self,
        su: &str,
        process: &str,
        message: &str,
        base_layer: bool,
        exclude: &[String],
    ) -> Result<SuPosted, UpstreamError> {
        let mut url = format!("{su}/?process-id={process}&assign={message}");
        if base_layer {
            url.push_str("&base-layer");
        }
        if !exclude.is_empty() {
            url.push_str("&exclude=");
            url.push_str(&exclude.join(","));
        }
        json_answer(&url, self.client.post(&url).send().await).await
    }

    /// `GET {su}/processes/{pid}`; `None` when the SU does not schedule it.
    pub async fn su_process(
        &self,
        su: &str,
        pid: &str,
    ) -> Result<Option<SuProcess>, UpstreamError> {
        let url = format!("{su}/processes/{pid}");
        match json_answer(&url, self.client.get(&url).send().await).await {
            Ok(process) => Ok(Some(process)),
            Err(UpstreamError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET {su}/`: its wallet address.
    pub async fn su_info(&self, su: &str) -> Result<SuInfo, UpstreamError> {
        let url = format!("{su}/");
        json_answer(&url, self.client.get(&url).send().await).await
    }

    // ------------------------------------------------------------ CU

    /// `GET {cu}/result/{message}?process-id={process}`. The CU answers errors as JSON bodies
    /// (aoconnect ignores statuses), so an `{"error"}` body is a failure whatever the status.
    pub async fn cu_result(&self, process: &str, message: &str) -> Result<CuResult, UpstreamError> {
        let url = format!("{}/result/{message}?process-id={process}", self.cu_url);
        let answer: Json = json_answer(&url, self.client.get(&url).send().await).await?;
        if let Some(error) = answer.get("error").and_then(Json::as_str) {
            return Err(UpstreamError::Unavailable {
                url,
                why: format!("the CU has no result yet: {error}"),
            });
        }
        serde_json::from_value(answer).map_err(|e| UpstreamError::Unavailable {
            url,
            why: format!("not a result object: {e}"),
        })
    }

    /// `GET {cu}/cron/{process}?from=&limit=&sort=`: cron results after `from`, ascending
    /// (or newest first with `newest_first`).
    pub async fn cu_cron(
        &self,
        process: &str,
        from: Option<&str>,
        limit: usize,
        newest_first: bool,
    ) -> Result<CuResultsPage, UpstreamError> {
        let sort = if newest_first { "DESC" } else { "ASC" };
        let mut url = format!("{}/cron/{process}?limit={limit}&sort={sort}", self.cu_url);
        if let Some(from) = from {
            url.push_str("&from=");
            url.push_str(from);
        }
        json_answer(&url, self.client.get(&url).send().await).await
    }

    // ------------------------------------------------------------ gateway

    fn gateway(&self) -> Result<&str, UpstreamError> {
        self.gateway_url
            .as_deref()
            .ok_or_else(|| UpstreamError::Unavailable {
                url: "<gateway>".to_owned(),
                why: "no gateway is configured (--gateway-url)".to_owned(),
            })
    }

    /// `POST {gateway}/graphql`; the `data` member of the answer.
    pub async fn graphql(&self, query: &str, variables: Json) -> Result<Json, UpstreamError> {
        let url = format!("{}/graphql", self.gateway()?);
        let body = json!({ "query": query, "variables": variables });
        let answer: Json =
            json_answer(&url, self.client.post(&url).json(&body).send().await).await?;
        match answer.get("data") {
            Some(data) if !data.is_null() => Ok(data.clone()),
            _ => Err(UpstreamError::Unavailable {
                url,
                why: format!(
                    "GraphQL answered without data: {}",
                    quote(&answer.to_string())
                ),
            }),
        }
    }

    /// Uploads a raw data item to permanent storage.
    pub async fn upload(&self, item: Vec<u8>) -> Result<(), UpstreamError> {
        let url = format!("{}{}", self.gateway()?, self.upload_path);
        let request = self
            .client
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(item);
        let response = request.send().await.map_err(|e| unavailable(&url, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(classify(&url, status, &text))
    }
}

async fn json_answer<T: DeserializeOwned>(
    url: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, UpstreamError> {
    let response = sent.map_err(|e| unavailable(url, &e))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| unavailable(url, &e))?;
    if !status.is_success() {
        return Err(classify(url, status, &String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| UpstreamError::Unavailable {
        url: url.to_owned(),
        why: format!(
            "unexpected answer ({e}): {}",
            quote(&String::from_utf8_lossy(&bytes))
        ),
    })
}

fn unavailable(url: &str, e: &reqwest::Error) -> UpstreamError {
    let why = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        e.to_string()
    };
    UpstreamError::Unavailable {
        url: url.to_owned(),
        why,
    }
}

fn classify(url: &str, status: StatusCode, body: &str) -> UpstreamError {
    let error = serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| quote(body));
    let retryable = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    if retryable {
        UpstreamError::Unavailable {
            url: url.to_owned(),
            why: format!("{status}: {error}"),
        }
    } else {
        UpstreamError::Refused {
            url: url.to_owned(),
            status: status.as_u16(),
            error,
        }
    }
}

fn quote(text: &str) -> String {
    let text = text.trim();
    if text.len() <= QUOTED_BYTES_MAX {
        return text.to_owned();
    }
    let mut end = QUOTED_BYTES_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
