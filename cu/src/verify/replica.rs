//! A read-only SU serving a schedule rebuilt from permanent storage, so that an unmodified CU
//! evaluates it exactly as it evaluates a live SU's (PROTOCOL.md §4, the reads a CU makes):
//! `GET /`, `/timestamp?process-id=`, `/processes/{pid}`, `/{pid}?from-nonce&to-nonce&limit`,
//! `/{id}?process-id=`, `/{pid}/latest`. Owns: answering those from [`Rebuilt`]. Must
//! never: answer anything it did not rebuild and check (no writes; unknown ids are 404).
//!
//! Its clock is the last assignment's: a CU catching up on crons stops there, so the replay
//! covers exactly what the stored schedule vouches for.

use std::collections::HashMap;
use std::sync::Arc;

use ao_core::wire::{SuEdge, SuInfo, SuMessage, SuPage, SuPageInfo, SuTimestamp};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::rebuild::Rebuilt;

/// Entries per page, at most (as the SU).
const PAGE_LIMIT_MAX: usize = 1000;

struct Replica {
    rebuilt: Rebuilt,
    /// Message id and assignment id → nonce.
    index: HashMap<String, usize>,
    timestamp: u64,
    block_height: String,
}

/// Serves `rebuilt` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    rebuilt: Rebuilt,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut index = HashMap::new();
    for (nonce, m) in rebuilt.messages.iter().enumerate() {
        index.insert(m.assignment.id.clone(), nonce);
        if let Some(message) = &m.message {
            index.entry(message.id.clone()).or_insert(nonce);
        }
    }
    let last = rebuilt.messages.last().map(|m| &m.assignment.tags);
    let tag = |name: &str| {
        last.and_then(|tags| tags.iter().find(|t| t.name == name))
            .map(|t| t.value.clone())
            .unwrap_or_default()
    };
    let timestamp = tag("Timestamp").parse().unwrap_or(0);
    let block_height = tag("Block-Height");
    let replica = Arc::new(Replica {
        rebuilt,
        index,
        timestamp,
        block_height,
    });
    let app = Router::new()
        .route("/", get(info))
        .route("/timestamp", get(timestamp_now))
        .route("/processes/{id}", get(process))
        .route("/{id}", get(get_id))
        .route("/{id}/latest", get(latest))
        .with_state(replica);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

type AppState = State<Arc<Replica>>;

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": format!("{what} not found in the rebuilt schedule") })),
    )
        .into_response()
}

async fn info(State(r): AppState) -> Json<SuInfo> {
    Json(SuInfo {
        timestamp: r.timestamp.to_string(),
        address: r.rebuilt.scheduler.clone(),
    })
}

async fn timestamp_now(State(r): AppState) -> Json<SuTimestamp> {
    Json(SuTimestamp {
        timestamp: r.timestamp.to_string(),
        block_height: r.block_height.clone(),
    })
}

async fn process(State(r): AppState, Path(id): Path<String>) -> Response {
    if id != r.rebuilt.process.process_id {
        return not_found("process");
    }
    Json(r.rebuilt.process.clone()).into_response()
}

async fn latest(State(r): AppState, Path(id): Path<String>) -> Response {
    match r.rebuilt.messages.last() {
        Some(m) if id == r.rebuilt.process.process_id => Json(m.clone()).into_response(),
        _ => not_found("process"),
    }
}

#[derive(Deserialize)]
struct GetQuery {
    #[serde(rename = "from-nonce")]
    from_nonce: Option<usize>,
    #[serde(rename = "to-nonce")]
    to_nonce: Option<usize>,
    limit: Option<usize>,
}

/// `GET /{pid}?from-nonce&to-nonce&limit` pages the schedule; `GET /{id}` finds one entry.
async fn get_id(State(r): AppState, Path(id): Path<String>, Query(q): Query<GetQuery>) -> Response {
    if id == r.rebuilt.process.process_id
        && (q.from_nonce.is_some() || q.to_nonce.is_some() || q.limit.is_some())
    {
        return Json(page(&r.rebuilt.messages, &q)).into_response();
    }
    match r.index.get(&id) {
        Some(nonce) => Json(r.rebuilt.messages[*nonce].clone()).into_response(),
        None if id == r.rebuilt.process.process_id => {
            Json(page(&r.rebuilt.messages, &q)).into_response()
        }
        None => not_found("message"),
    }
}

fn page(messages: &[SuMessage], q: &GetQuery) -> SuPage {
    let from = q.from_nonce.unwrap_or(0);
    let to = q.to_nonce.unwrap_or(usize::MAX);
    let limit = q.limit.unwrap_or(100).clamp(1, PAGE_LIMIT_MAX);
    let end = to.saturating_add(1).min(messages.len());
    let start = from.min(end);
    let taken = (end - start).min(limit);
    let edges = messages[start..start + taken]
        .iter()
        .enumerate()
        .map(|(i, m)| SuEdge {
            node: m.clone(),
            cursor: (start + i).to_string(),
        })
        .collect();
    SuPage {
        page_info: SuPageInfo {
            has_next_page: start + taken < end,
        },
        edges,
    }
}
