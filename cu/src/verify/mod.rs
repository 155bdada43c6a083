//! Replay-verify (`ao-cu verify`): the promise of the design, that any CU can rebuild any
//! process from permanent storage alone and check what another CU serves. [`rebuild`] reads
//! the Process item, its Module, every Assignment and Message from a gateway and checks them;
//! [`replica`] serves that schedule as a read-only SU; an ordinary CU ([`crate::run`], on a
//! throw-away data directory) evaluates it; then every message's result, and the state hash
//! after the last one, are compared with the CU under test, and the first divergence is
//! reported. Owns: that procedure and its report. Must never: report agreement on anything it
//! did not compare, or write to the CU under test.

pub mod rebuild;
pub mod replica;

use std::time::{Duration, Instant};

use ao_core::Id;
use serde_json::Value as Json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::RESULTS_LIMIT_MAX;
use crate::server::STATE_HASH_HEADER;

/// Requests to the CU under test in flight at once.
const AGAINST_IN_FLIGHT: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot reach {url}: {detail}")]
    Upstream { url: String, detail: String },
    #[error("the gateway at {url} failed: {detail}")]
    Gateway { url: String, detail: String },
    #[error("{what} {id} is not on the gateway")]
    NotOnGateway { what: &'static str, id: String },
    #[error("item {id} on the gateway: {problem}")]
    BadItem { id: String, problem: String },
    #[error("the scheduler signed two assignments for nonce {nonce}: {first} and {second}")]
    Equivocation {
        nonce: u64,
        first: String,
        second: String,
    },
    #[error("the stored schedule has a gap: nonce {expected} is missing (next found: {found})")]
    Gap { expected: u64, found: u64 },
    #[error("the stored schedule's hash chain breaks at nonce {nonce}: {detail}")]
    Chain { nonce: u64, detail: String },
    #[error("{what} is malformed: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("the replaying CU: {0}")]
    Replay(String),
    #[error("{cu} answered {status} for {path}: {detail}")]
    Cu {
        cu: String,
        path: String,
        status: u16,
        detail: String,
    },
}

impl VerifyError {
    fn upstream(url: &str, e: reqwest::Error) -> VerifyError {
        let mut cause: &dyn std::error::Error = &e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        VerifyError::Upstream {
            url: url.to_owned(),
            detail: cause.to_string(),
        }
    }

    fn malformed(what: &'static str, detail: impl std::fmt::Display) -> VerifyError {
        VerifyError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub process: Id,
    /// The gateway the schedule is rebuilt from.
    pub gateway_url: String,
    /// The CU whose results are checked; `None` only replays and reports the state hash.
    pub against: Option<String>,
    /// Where the replaying CU keeps its (throw-away) database.
    pub data_dir: std::path::PathBuf,
    pub timeout: Duration,
}

/// Where the replay and the CU under test first disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    pub nonce: u64,
    pub message: String,
    /// Top-level result fields that differ (`Output`, `Messages`, …), or `state hash`.
    pub fields: Vec<String>,
    pub replayed: Json,
    pub served: Json,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub process: String,
    pub scheduler: String,
    /// Scheduled messages replayed (nonce 0, the spawn, included).
    pub messages: usize,
    /// Results compared with the CU under test (0 when there is none).
    pub compared: usize,
    /// The replay's state hash after the last message (hex).
    pub state_hash: String,
    /// Whether the CU under test served its state at that nonce to compare (a CU keeps only
    /// some states; the reference CU serves none).
    pub state_compared: bool,
    pub divergence: Option<Divergence>,
    pub rebuild_time: Duration,
    pub replay_time: Duration,
}

/// What the progress display is told.
pub enum Progress {
    Fetching { done: usize, total: usize },
    Comparing { done: usize, total: usize },
}

/// Rebuilds, replays and compares; `progress` is called as work advances.
pub async fn verify(
    options: &VerifyOptions,
    mut progress: impl FnMut(Progress),
) -> Result<Report, VerifyError> {
    let http = reqwest::Client::builder()
        .timeout(options.timeout)
        .build()
        .map_err(|e| VerifyError::Replay(e.to_string()))?;
    let started = Instant::now();
    let gateway = rebuild::Gateway::new(&options.gateway_url, http.clone());
    let rebuilt = rebuild::rebuild(&gateway, &options.process, |done, total| {
        progress(Progress::Fetching { done, total })
    })
    .await?;
    let rebuild_time = started.elapsed();
    let scheduler = rebuilt.scheduler.clone();
    let schedule: Vec<(u64, String)> = rebuilt
        .messages
        .iter()
        .enumerate()
        .map(|(nonce, m)| {
            let id = m
                .message
                .as_ref()
                .map_or_else(|| m.assignment.id.clone(), |message| message.id.clone());
            (nonce as u64, id)
        })
        .collect();

    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let listener = bind().await?;
    let su_url = format!("http://{}", local(&listener)?);
    tokio::spawn(replica::serve(rebuilt, listener, shutdown.child_token()));
    let listener = bind().await?;
    let cu_url = format!("http://{}", local(&listener)?);
    let mut config = crate::Config::new(&options.data_dir, &su_url, &options.gateway_url);
    config.upstream_timeout = options.timeout;
    let cu_shutdown = shutdown.child_token();
    let cu = tokio::spawn(crate::run(config, listener, cu_shutdown.clone()));

    // Replay everything first (the CU evaluates page by page), then read the replay's
    // results in pages: a message at a time would pay a round trip per message.
    let started = Instant::now();
    let pid = options.process.to_string();
    let total = schedule.len();
    let last = total.saturating_sub(1);
    let state_path = format!("/state/{pid}?to={last}");
    let state_hash = state_hash(&http, &cu_url, &state_path).await?;
    let replay_time = started.elapsed();
    let replayed = replay_results(&http, &cu_url, &pid, total).await?;

    let mut compared = 0;
    let mut divergence = None;
    let mut state_compared = false;
    if let Some(against) = &options.against {
        // The CU under test is asked message by message (`/result` is what every CU serves),
        // `AGAINST_IN_FLIGHT` at a time, and compared in nonce order.
        for window in schedule.chunks(AGAINST_IN_FLIGHT) {
            let mut tasks = tokio::task::JoinSet::new();
            for (nonce, message) in window {
                let (http, against) = (http.clone(), against.clone());
                let path = format!("/result/{message}?process-id={pid}");
                let nonce = *nonce;
                tasks.spawn(async move { (nonce, get_json(&http, &against, &path).await) });
            }
            let mut served = std::collections::BTreeMap::new();
            while let Some(joined) = tasks.join_next().await {
                let (nonce, result) =
                    joined.map_err(|e| VerifyError::Replay(format!("a comparison task: {e}")))?;
                served.insert(nonce, result?);
            }
            for (nonce, served) in served {
                let replayed = &replayed[nonce as usize];
                compared += 1;
                let fields = differing_fields(replayed, &served);
                if !fields.is_empty() {
                    divergence = Some(Divergence {
                        nonce,
                        message: schedule[nonce as usize].1.clone(),
                        fields,
                        replayed: replayed.clone(),
                        served,
                    });
                    break;
                }
            }
            if divergence.is_some() {
                break;
            }
            progress(Progress::Comparing {
                done: compared,
                total,
            });
        }
    }
    if divergence.is_none()
        && let Some(against) = &options.against
    {
        let served = state_hash_lenient(&http, against, &state_path).await?;
        state_compared = served.is_some();
        if let Some(served) = served.filter(|s| *s != state_hash) {
            divergence = Some(Divergence {
                nonce: last as u64,
                message: schedule.last().map(|s| s.1.clone()).unwrap_or_default(),
                fields: vec!["state hash".into()],
                replayed: Json::String(state_hash.clone()),
                served: Json::String(served),
            });
        }
    }
    cu_shutdown.cancel();
    match cu.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(VerifyError::Replay(e.to_string())),
        Err(e) => return Err(VerifyError::Replay(e.to_string())),
    }
    Ok(Report {
        process: pid,
        scheduler,
        messages: total,
        compared,
        state_hash,
        state_compared,
        divergence,
        rebuild_time,
        replay_time,
    })
}

/// The replay's results, one per scheduled message, in nonce order.
async fn replay_results(
    http: &reqwest::Client,
    cu_url: &str,
    pid: &str,
    total: usize,
) -> Result<Vec<Json>, VerifyError> {
    let mut results = Vec::with_capacity(total);
    let mut from: Option<String> = None;
    while results.len() < total {
        let mut path = format!("/results/{pid}?sort=ASC&limit={RESULTS_LIMIT_MAX}");
        if let Some(from) = &from {
            path.push_str(&format!("&from={from}"));
        }
        let mut page = get_json(http, cu_url, &path).await?;
        let Some(edges) = page["edges"].as_array_mut().filter(|e| !e.is_empty()) else {
            break;
        };
        for edge in edges.iter_mut() {
            from = edge["cursor"].as_str().map(str::to_owned);
            results.push(edge["node"].take());
        }
    }
    if results.len() != total {
        return Err(VerifyError::Replay(format!(
            "the replay has {} results for {total} scheduled messages",
            results.len()
        )));
    }
    Ok(results)
}

async fn bind() -> Result<TcpListener, VerifyError> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| VerifyError::Replay(format!("cannot listen on loopback: {e}")))
}

fn local(listener: &TcpListener) -> Result<std::net::SocketAddr, VerifyError> {
    listener
        .local_addr()
        .map_err(|e| VerifyError::Replay(e.to_string()))
}

async fn get(
    http: &reqwest::Client,
    base: &str,
    path: &str,
) -> Result<reqwest::Response, VerifyError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| VerifyError::upstream(&url, e))?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<Json>(&text)
            .ok()
            .and_then(|j| j["error"].as_str().map(str::to_owned))
            .unwrap_or(text);
        return Err(VerifyError::Cu {
            cu: base.to_owned(),
            path: path.to_owned(),
            status,
            detail,
        });
    }
    Ok(response)
}

async fn get_json(http: &reqwest::Client, base: &str, path: &str) -> Result<Json, VerifyError> {
    let url = format!("{base}{path}");
    get(http, base, path)
        .await?
        .json()
        .await
        .map_err(|e| VerifyError::upstream(&url, e))
}

async fn state_hash(http: &reqwest::Client, base: &str, path: &str) -> Result<String, VerifyError> {
    let response = get(http, base, path).await?;
    response
        .headers()
        .get(STATE_HASH_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| VerifyError::malformed("the state answer", "no state hash header"))
}

/// The state hash another CU serves, or `None` when it does not serve states (the reference
/// CU has no `/state`): results are then all that is compared.
async fn state_hash_lenient(
    http: &reqwest::Client,
    base: &str,
    path: &str,
) -> Result<Option<String>, VerifyError> {
    match state_hash(http, base, path).await {
        Ok(hash) => Ok(Some(hash)),
        // 404: no `/state` at all (the reference CU); 409: that nonce's state is not kept.
        Err(VerifyError::Cu {
            status: 404 | 409, ..
        })
        | Err(VerifyError::Malformed { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The top-level fields of two result objects that differ, in a stable order.
fn differing_fields(a: &Json, b: &Json) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| a.get(*name) != b.get(*name))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differing_fields_are_named_once_in_order() {
        let a = json!({ "Output": { "data": "1" }, "Messages": [], "GasUsed": 3 });
        let b = json!({ "Output": { "data": "2" }, "Messages": [], "Error": "x" });
        assert_eq!(differing_fields(&a, &b), ["Error", "GasUsed", "Output"]);
        assert!(differing_fields(&a, &a).is_empty());
    }
}
