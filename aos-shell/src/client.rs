//! The shell's HTTP side: the MU (signed items, monitors), the CU (results, dry runs) and the
//! gateway (GraphQL). Owns: turning every failure into a [`ShellError`] that names the unit,
//! the method and URL, the status and the server's own error text. Must never: retry a POST
//! to the MU (a signed item sent twice is the same message, but the user should see the
//! first failure), or hang (every request has a time limit).

use std::time::Duration;

use ao_core::DataItem;
use serde_json::{Value as Json, json};

/// Which unit a request went to, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Mu,
    Cu,
    Gateway,
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unit::Mu => "MU",
            Unit::Cu => "CU",
            Unit::Gateway => "gateway",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("cannot reach the {unit} at {url} ({method}): {detail}")]
    Unreachable {
        unit: Unit,
        method: &'static str,
        url: String,
        detail: String,
    },
    #[error("the {unit} answered {status} to {method} {url}: {message}")]
    Status {
        unit: Unit,
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    #[error("the {unit} sent an unreadable answer to {method} {url}: {detail}")]
    Body {
        unit: Unit,
        method: &'static str,
        url: String,
        detail: String,
    },
    #[error("no result for message {message} from the CU at {url} after {seconds} s: {last}")]
    ResultTimeout {
        message: String,
        url: String,
        seconds: u64,
        last: String,
    },
    #[error("{0}")]
    Setup(String),
}

impl ShellError {
    /// True when a unit could not be contacted at all (exit status 2 in one-shot mode).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ShellError::Unreachable { .. } | ShellError::ResultTimeout { .. }
        )
    }
}

pub struct Client {
    http: reqwest::blocking::Client,
    pub mu_url: String,
    pub cu_url: String,
    pub gateway_url: String,
    timeout: Duration,
}

impl Client {
    pub fn new(
        mu_url: &str,
        cu_url: &str,
        gateway_url: &str,
        timeout: Duration,
    ) -> Result<Client, ShellError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ShellError::Setup(format!("cannot build the HTTP client: {e}")))?;
        let trim = |url: &str| url.trim_end_matches('/').to_owned();
        Ok(Client {
            http,
            mu_url: trim(mu_url),
            cu_url: trim(cu_url),
            gateway_url: trim(gateway_url),
            timeout,
        })
    }

    /// Posts a signed item to the MU.
    pub fn send(&self, item: &DataItem) -> Result<(), ShellError> {
        let url = format!("{}/", self.mu_url);
        let request = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(item.encode());
        self.call(Unit::Mu, "POST", &url, request).map(drop)
    }

    /// Starts (or, with `on == false`, stops) the MU's cron monitor of `process`.
    pub fn monitor(&self, process: &str, item: &DataItem, on: bool) -> Result<(), ShellError> {
        let url = format!("{}/monitor/{process}", self.mu_url);
        let (method, request) = if on {
            ("POST", self.http.post(&url))
        } else {
            ("DELETE", self.http.delete(&url))
        };
        let request = request
            .header("content-type", "application/octet-stream")
            .body(item.encode());
        self.call(Unit::Mu, method, &url, request).map(drop)
    }

    /// The MU's wallet address (`GET /health`), which processes name as their `Authority`.
    pub fn mu_address(&self) -> Result<Option<String>, ShellError> {
        let url = format!("{}/health", self.mu_url);
        let json = self.call(Unit::Mu, "GET", &url, self.http.get(&url))?;
        Ok(json["address"].as_str().map(str::to_owned))
    }

    /// The result of `message`, waiting while the CU does not have it yet (404).
    pub fn result(&self, process: &str, message: &str) -> Result<Json, ShellError> {
        const POLL: Duration = Duration::from_millis(100);
        let url = format!("{}/result/{message}?process-id={process}", self.cu_url);
        let deadline = std::time::Instant::now() + self.timeout;
        loop {
            match self.call(Unit::Cu, "GET", &url, self.http.get(&url)) {
                Err(ShellError::Status {
                    status: 404,
                    message: last,
                    ..
                }) => {
                    if std::time::Instant::now() + POLL >= deadline {
                        return Err(ShellError::ResultTimeout {
                            message: message.to_owned(),
                            url,
                            seconds: self.timeout.as_secs(),
                            last,
                        });
                    }
                    std::thread::sleep(POLL);
                }
                answer => return answer,
            }
        }
    }

    /// Evaluates a message on the process's current state without keeping anything.
    pub fn dry_run(&self, process: &str, body: &Json) -> Result<Json, ShellError> {
        let url = format!("{}/dry-run?process-id={process}", self.cu_url);
        let request = self.http.post(&url).json(body);
        self.call(Unit::Cu, "POST", &url, request)
    }

    /// One page of results (`sort` ASC or DESC), after `from` when given.
    pub fn results(
        &self,
        process: &str,
        from: Option<&str>,
        sort: &str,
        limit: usize,
    ) -> Result<Json, ShellError> {
        let mut url = format!(
            "{}/results/{process}?sort={sort}&limit={limit}",
            self.cu_url
        );
        if let Some(from) = from {
            url.push_str("&from=");
            url.push_str(from);
        }
        self.call(Unit::Cu, "GET", &url, self.http.get(&url))
    }

    /// A GraphQL query on the gateway; answers `data`.
    pub fn graphql(&self, query: &str, variables: Json) -> Result<Json, ShellError> {
        let url = format!("{}/graphql", self.gateway_url);
        let request = self
            .http
            .post(&url)
            .json(&json!({ "query": query, "variables": variables }));
        let mut json = self.call(Unit::Gateway, "POST", &url, request)?;
        if let Some(errors) = json.get("errors").filter(|e| !e.is_null()) {
            return Err(ShellError::Status {
                unit: Unit::Gateway,
                method: "POST",
                url,
                status: 200,
                message: errors.to_string(),
            });
        }
        Ok(json["data"].take())
    }

    fn call(
        &self,
        unit: Unit,
        method: &'static str,
        url: &str,
        request: reqwest::blocking::RequestBuilder,
    ) -> Result<Json, ShellError> {
        let response = request.send().map_err(|e| ShellError::Unreachable {
            unit,
            method,
            url: url.to_owned(),
            detail: root_cause(&e),
        })?;
        let status = response.status();
        let text = response.text().map_err(|e| ShellError::Body {
            unit,
            method,
            url: url.to_owned(),
            detail: root_cause(&e),
        })?;
        if !status.is_success() {
            // Units answer `{"error": "..."}`; anything else is shown as it came.
            let message = serde_json::from_str::<Json>(&text)
                .ok()
                .and_then(|j| j["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(ShellError::Status {
                unit,
                method,
                url: url.to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        if text.is_empty() {
            return Ok(Json::Null);
        }
        serde_json::from_str(&text).map_err(|e| ShellError::Body {
            unit,
            method,
            url: url.to_owned(),
            detail: e.to_string(),
        })
    }
}

/// The innermost cause of an HTTP error ("Connection refused (os error 111)"), which says more
/// than reqwest's outer "error sending request".
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    cause.to_string()
}
