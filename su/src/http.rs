//! The HTTP surface of PROTOCOL.md §4: routes, query parsing, body limits, and the layer that
//! turns every non-JSON error (axum's own rejections, 404/405) into `{"error": …}`.
//! Must never order or store anything itself: it parses, delegates and renders.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ao_core::Id;
use ao_core::wire::{SuInfo, SuTimestamp};
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::sequencer::{Sequencer, now_ms};
use crate::views::{self, PageQuery};

pub struct App {
    pub sequencer: Arc<Sequencer>,
    pub metrics: Arc<Metrics>,
    pub body_bytes_max: usize,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(info).post(post_root))
        .route("/timestamp", get(timestamp))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/processes/{id}", get(process))
        .route("/{id}", get(get_id))
        .route("/{id}/latest", get(latest))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), json_errors))
        .with_state(app)
}

type AppState = State<Arc<App>>;

fn parse_id(text: &str, what: &'static str) -> Result<Id, ApiError> {
    Ok(Id::parse(text, what)?)
}

fn parse_u64(text: Option<&str>, name: &'static str) -> Result<Option<u64>, ApiError> {
    text.map(|t| {
        t.parse().map_err(|_| ApiError::BadQuery {
            name,
            why: "not a non-negative integer",
        })
    })
    .transpose()
}

/// Runs a synchronous store read on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::Internal("read task failed"))?
}

async fn info(State(app): AppState) -> Json<SuInfo> {
    Json(SuInfo {
        timestamp: now_ms().to_string(),
        address: app.sequencer.address().to_owned(),
    })
}

#[derive(Deserialize)]
struct TimestampQuery {
    #[serde(rename = "process-id")]
    process_id: Option<String>,
}

async fn timestamp(
    State(app): AppState,
    Query(q): Query<TimestampQuery>,
) -> Result<Json<SuTimestamp>, ApiError> {
    let timestamp = match &q.process_id {
        Some(p) => {
            app.sequencer
                .settled_time(&parse_id(p, "process-id")?)
                .await?
        }
        None => now_ms(),
    };
    Ok(Json(SuTimestamp {
        timestamp: timestamp.to_string(),
        block_height: views::block_text(app.sequencer.block_height()),
    }))
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn metrics(State(app): AppState) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}

#[derive(Deserialize)]
struct PostQuery {
    #[serde(rename = "process-id")]
    process_id: Option<String>,
    assign: Option<String>,
    #[serde(rename = "base-layer")]
    base_layer: Option<String>,
    exclude: Option<String>,
}

async fn post_root(
    State(app): AppState,
    Query(q): Query<PostQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if q.process_id.is_some() || q.assign.is_some() {
        let process = q.process_id.as_deref().ok_or(ApiError::BadQuery {
            name: "process-id",
            why: "required with assign",
        })?;
        let target = q.assign.as_deref().ok_or(ApiError::BadQuery {
            name: "assign",
            why: "required with process-id",
        })?;
        let process = parse_id(process, "process-id")?;
        let target = parse_id(target, "assign")?;
        let exclude = q
            .exclude
            .iter()
            .flat_map(|e| e.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect();
        let posted = app
            .sequencer
            .assign(process, target, q.base_layer.is_some(), exclude)
            .await?;
        return Ok(Json(posted).into_response());
    }
    let max = app.body_bytes_max;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared
        && len > max
    {
        return Err(ApiError::TooLarge {
            what: "request body",
            len,
            max,
        });
    }
    let raw = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| ApiError::BodyUnreadable { max })?;
    if raw.is_empty() {
        return Err(ApiError::EmptyBody);
    }
    let posted = app.sequencer.post(raw).await?;
    Ok(Json(posted).into_response())
}

#[derive(Deserialize)]
struct GetQuery {
    #[serde(rename = "process-id")]
    process_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(rename = "from-nonce")]
    from_nonce: Option<String>,
    #[serde(rename = "to-nonce")]
    to_nonce: Option<String>,
    limit: Option<String>,
}

async fn get_id(
    State(app): AppState,
    Path(id): Path<String>,
    Query(q): Query<GetQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "id")?;
    let process = q
        .process_id
        .as_deref()
        .map(|p| parse_id(p, "process-id"))
        .transpose()?;
    let page = PageQuery {
        from: parse_u64(q.from.as_deref(), "from")?,
        to: parse_u64(q.to.as_deref(), "to")?,
        from_nonce: parse_u64(q.from_nonce.as_deref(), "from-nonce")?,
        to_nonce: parse_u64(q.to_nonce.as_deref(), "to-nonce")?,
        limit: parse_u64(q.limit.as_deref(), "limit")?.map(|l| l as usize),
    };
    let store = app.sequencer.store().clone();
    blocking(move || {
        let is_process = process.is_none_or(|p| p == id) && store.record(&id, 0)?.is_some();
        if is_process {
            Ok(Json(views::page(&store, &id, page)?).into_response())
        } else {
            Ok(Json(views::find(&store, &id, process.as_ref())?).into_response())
        }
    })
    .await
}

async fn latest(State(app): AppState, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "process id")?;
    let store = app.sequencer.store().clone();
    blocking(move || Ok(Json(views::latest(&store, &id)?).into_response())).await
}

async fn process(State(app): AppState, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "process id")?;
    let store = app.sequencer.store().clone();
    blocking(move || Ok(Json(views::process(&store, &id)?).into_response())).await
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound {
        what: "path",
        id: uri.path().to_owned(),
    }
}

/// Gives every error response a JSON body (axum's rejections are plain text or empty) and
/// counts errors for the metrics.
async fn json_errors(State(app): AppState, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() {
        app.metrics.client_errors.fetch_add(1, Ordering::Relaxed);
    } else if status.is_server_error() {
        app.metrics.server_errors.fetch_add(1, Ordering::Relaxed);
    } else {
        return response;
    }
    ao_unit::http::json_error_body(response).await
}
