//! The HTTP surface of PROTOCOL.md §6: routes, query parsing, body limits and rendering.
//! Must never: evaluate or touch a Lua state (it asks the process's worker), or answer
//! without a JSON body on the paths aoconnect reads (`result`, `results`, `dry-run`).

pub mod error;

use std::sync::Arc;

use ao_core::Id;
use ao_core::wire::{CuInfo, DryRunRequest};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value as Json_, json};

use crate::config::{RESULTS_LIMIT_DEFAULT, RESULTS_LIMIT_MAX};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::su_client::nonce_of;
use crate::worker::registry::CallError;
use crate::worker::{Request, WorkerError, Workers};
pub use error::ApiError;

/// The header carrying the SHA-256 (hex) of the `GET /state` bytes.
pub const STATE_HASH_HEADER: &str = "x-state-hash";
/// The header carrying the nonce of the last message a `GET /state` snapshot includes.
pub const STATE_NONCE_HEADER: &str = "x-state-nonce";

pub struct App {
    pub workers: Workers,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// The CU wallet's address.
    pub address: String,
    /// Milliseconds since the epoch (injected so tests can fix it).
    pub clock: fn() -> u64,
}

type AppState = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    let dry_run_bytes_max = app.workers.shared().config.dry_run_bytes_max;
    Router::new()
        .route("/", get(info))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/result/{message}", get(result))
        .route("/results/{process}", get(results))
        .route("/cron/{process}", get(cron))
        .route(
            "/dry-run",
            post(dry_run).layer(DefaultBodyLimit::max(dry_run_bytes_max)),
        )
        .route("/state/{process}", get(state))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            error::json_errors,
        ))
        .with_state(app)
}

async fn info(State(app): AppState) -> Json<CuInfo> {
    Json(CuInfo {
        address: app.address.clone(),
        timestamp: (app.clock)(),
    })
}

async fn health(State(app): AppState) -> Json<Json_> {
    let (resident, memory) = app.workers.resident();
    Json(json!({
        "status": "ok",
        "processes": app.workers.len(),
        "resident": resident,
        "resident_memory_bytes": memory,
        "evictions": app.metrics.evictions.load(std::sync::atomic::Ordering::Relaxed),
        "eval_threads": app.workers.eval_threads(),
    }))
}

async fn metrics(State(app): AppState) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not found" }))).into_response()
}

fn parse_id(text: &str, what: &'static str) -> Result<Id, ApiError> {
    Id::parse(text, what).map_err(|e| ApiError::BadQuery {
        what,
        reason: e.to_string(),
    })
}

fn parse_u64(text: Option<&str>, what: &'static str) -> Result<Option<u64>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            t.parse().map_err(|_| ApiError::BadQuery {
                what,
                reason: format!("{t:?} is not a non-negative integer"),
            })
        })
        .transpose()
}

fn process_param(q: Option<&str>) -> Result<Id, ApiError> {
    let text = q.ok_or(ApiError::Missing { what: "process-id" })?;
    parse_id(text, "process-id")
}

/// Runs a database read off the async threads.
async fn read<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|_| ApiError::Internal("a database read panicked"))?
        .map_err(ApiError::from)
}

fn json_bytes(bytes: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

#[derive(Deserialize)]
struct ProcessQuery {
    #[serde(rename = "process-id")]
    process_id: Option<String>,
}

/// `GET /result/{message}?process-id=`: the stored result, or the process's worker evaluates
/// up to the message first. A message the SU has not scheduled is a quick 404 (clients retry).
async fn result(
    State(app): AppState,
    Path(message): Path<String>,
    Query(q): Query<ProcessQuery>,
) -> Result<Response, ApiError> {
    let process = process_param(q.process_id.as_deref())?;
    let message = parse_id(&message, "message id")?;
    let nonce = match read(&app.store, move |s| s.message_nonce(&message, &process)).await? {
        Some(nonce) => nonce,
        None if message == process => 0,
        None => match app
            .workers
            .call(process, |reply| Request::Reach { message, reply })
            .await?
        {
            // Evaluated with the rest of the newly scheduled page: no SU lookup per message.
            Some(nonce) => nonce,
            None => scheduled_nonce(&app, &process, &message).await?,
        },
    };
    let stored = read(&app.store, move |s| s.result(&process, nonce)).await?;
    let bytes = match stored {
        Some(bytes) => bytes,
        None => {
            app.workers
                .call(process, |reply| Request::Evaluate {
                    to: Some(nonce),
                    reply,
                })
                .await?;
            read(&app.store, move |s| s.result(&process, nonce))
                .await?
                .ok_or(ApiError::Internal("an evaluated result is missing"))?
        }
    };
    Metrics::add(&app.metrics.results_served, 1);
    Ok(json_bytes(bytes))
}

#[derive(Deserialize)]
struct ResultsQuery {
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    limit: Option<String>,
}

/// `GET /results/{process}?from&to&sort&limit`. Cursors are nonces (as strings). Paging goes on
/// with `from = <last cursor>` in either order: ascending gives nonces in `(from, to]`,
/// descending nonces in `[to, from)`, newest first. The process is evaluated to the SU's latest
/// message first.
async fn results(
    State(app): AppState,
    Path(process): Path<String>,
    Query(q): Query<ResultsQuery>,
) -> Result<Response, ApiError> {
    let process = parse_id(&process, "process id")?;
    let from = parse_u64(q.from.as_deref(), "from")?;
    let to = parse_u64(q.to.as_deref(), "to")?;
    let limit = parse_u64(q.limit.as_deref(), "limit")?
        .map_or(RESULTS_LIMIT_DEFAULT, |l| l as usize)
        .clamp(1, RESULTS_LIMIT_MAX);
    let descending = parse_sort(q.sort.as_deref())?;
    let latest = app
        .workers
        .call(process, |reply| Request::Evaluate { to: None, reply })
        .await?;
    let Some(latest) = latest else {
        return Ok(Json(page(Vec::new(), false)).into_response());
    };
    let (low, high) = if descending {
        (
            to.unwrap_or(0),
            from.map_or(Some(latest), |f| f.checked_sub(1)),
        )
    } else {
        (
            from.map_or(Some(0), |f| f.checked_add(1))
                .unwrap_or(u64::MAX),
            Some(to.unwrap_or(latest).min(latest)),
        )
    };
    let Some(high) = high else {
        return Ok(Json(page(Vec::new(), false)).into_response());
    };
    let (entries, more) = read(&app.store, move |s| {
        s.results_page(&process, low, high.min(latest), descending, limit)
    })
    .await?;
    Ok(Json(page(edges(entries)?, more)).into_response())
}

#[derive(Deserialize)]
struct CronQuery {
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    limit: Option<String>,
}

/// `GET /cron/{process}?from&to&limit[&sort]`: the results of the process's cron messages,
/// after catching up on the ticks due by the SU's clock. A cursor is the cron message's
/// sequence number among the process's cron messages (`"0"`, `"1"`, …; the same on every CU,
/// and never reused or reordered). `from` is exclusive (a cursor), `to` inclusive (a
/// timestamp in ms: only messages whose `Timestamp` is at or before it). Ascending by default;
/// `sort=DESC` pages newest first, going on with `from = <last cursor>` as well.
async fn cron(
    State(app): AppState,
    Path(process): Path<String>,
    Query(q): Query<CronQuery>,
) -> Result<Response, ApiError> {
    let process = parse_id(&process, "process id")?;
    let from = parse_u64(q.from.as_deref(), "from")?;
    let to = parse_u64(q.to.as_deref(), "to")?;
    let limit = parse_u64(q.limit.as_deref(), "limit")?
        .map_or(RESULTS_LIMIT_DEFAULT, |l| {
            l.min(RESULTS_LIMIT_MAX as u64) as usize
        })
        .max(1);
    let descending = parse_sort(q.sort.as_deref())?;
    let count = app
        .workers
        .call(process, |reply| Request::Cron { reply })
        .await?;
    let Some(newest) = count.checked_sub(1) else {
        return Ok(Json(page(Vec::new(), false)).into_response());
    };
    let (low, high) = if descending {
        (Some(0), from.map_or(Some(newest), |f| f.checked_sub(1)))
    } else {
        (from.map_or(Some(0), |f| f.checked_add(1)), Some(newest))
    };
    let (Some(low), Some(high)) = (low, high.map(|h| h.min(newest))) else {
        return Ok(Json(page(Vec::new(), false)).into_response());
    };
    let (entries, more) = read(&app.store, move |s| {
        let high = match to {
            Some(time) => s.cron_seq_through(&process, low, high, time)?,
            None => Some(high),
        };
        match high {
            Some(high) => s.cron_page(&process, low, high, descending, limit),
            None => Ok((Vec::new(), false)),
        }
    })
    .await?;
    Ok(Json(page(edges(entries)?, more)).into_response())
}

fn parse_sort(sort: Option<&str>) -> Result<bool, ApiError> {
    match sort.map(str::to_ascii_uppercase).as_deref() {
        None | Some("ASC") | Some("") => Ok(false),
        Some("DESC") => Ok(true),
        Some(other) => Err(ApiError::BadQuery {
            what: "sort",
            reason: format!("{other:?} is neither ASC nor DESC"),
        }),
    }
}

/// Stored results as page edges, the cursor being the nonce or the cron sequence number.
fn edges(entries: Vec<(u64, Vec<u8>)>) -> Result<Vec<Json_>, ApiError> {
    entries
        .into_iter()
        .map(|(number, bytes)| {
            let node: Json_ = serde_json::from_slice(&bytes)
                .map_err(|_| ApiError::Internal("a stored result is not JSON"))?;
            Ok(json!({ "cursor": number.to_string(), "node": node }))
        })
        .collect()
}

fn page(edges: Vec<Json_>, has_next_page: bool) -> Json_ {
    json!({ "pageInfo": { "hasNextPage": has_next_page }, "edges": edges })
}

/// `POST /dry-run?process-id=`: the body evaluated on the current state; nothing persists.
async fn dry_run(
    State(app): AppState,
    Query(q): Query<ProcessQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let process = process_param(q.process_id.as_deref())?;
    let body: DryRunRequest = serde_json::from_slice(&body).map_err(|e| ApiError::BadQuery {
        what: "dry-run body",
        reason: e.to_string(),
    })?;
    let body = Box::new(body);
    let result = app
        .workers
        .call(process, |reply| Request::DryRun {
            body: body.clone(),
            reply,
        })
        .await?;
    Ok(Json(result).into_response())
}

#[derive(Deserialize)]
struct StateQuery {
    to: Option<String>,
}

/// `GET /state/{process}?to=`: the process state as checkpoint bytes, evaluated to `to` (or
/// the latest message), with its hash and nonce in headers.
async fn state(
    State(app): AppState,
    Path(process): Path<String>,
    Query(q): Query<StateQuery>,
) -> Result<Response, ApiError> {
    let process = parse_id(&process, "process id")?;
    let to = parse_u64(q.to.as_deref(), "to")?;
    let snapshot = app
        .workers
        .call(process, |reply| Request::State { to, reply })
        .await?;
    let hash: String = snapshot.hash.iter().map(|b| format!("{b:02x}")).collect();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::HeaderName::from_static(STATE_HASH_HEADER),
                HeaderValue::from_str(&hash).expect("hex is a header value"),
            ),
            (
                header::HeaderName::from_static(STATE_NONCE_HEADER),
                HeaderValue::from(snapshot.nonce),
            ),
        ],
        snapshot.bytes,
    )
        .into_response())
}

/// The nonce the SU gave `message` in `process`'s schedule; 404 when it has none.
async fn scheduled_nonce(app: &App, process: &Id, message: &Id) -> Result<u64, ApiError> {
    let process = *process;
    let su = app
        .workers
        .shared()
        .locator
        .su(&process)
        .await?
        .ok_or_else(|| {
            ApiError::Call(CallError::Worker(Arc::new(WorkerError::ProcessNotFound(
                process,
            ))))
        })?;
    let scheduled =
        su.message(message, &process)
            .await?
            .ok_or_else(|| ApiError::MessageNotFound {
                message: message.to_string(),
                process: process.to_string(),
            })?;
    nonce_of(&scheduled).ok_or(ApiError::Internal(
        "the SU sent an assignment without Nonce",
    ))
}
