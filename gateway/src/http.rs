//! The HTTP surface (PROTOCOL.md §7): GraphQL, raw data, uploads, `/info`, tx status, the
//! arlocal-compatible `/mint` and `/mine`, health and metrics, and the layer that turns every
//! non-JSON error (axum's own rejections, 404/405) into `{"error": …}`.
//! Must never store or search anything itself: it parses, delegates and renders.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ao_core::{DataItem, Id, b64};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::error::ApiError;
use crate::graphql::{self, GraphqlError, GraphqlRequest};
use crate::ingest::ingest;
use crate::metrics::Metrics;
use crate::store::{Applied, Block, Store};
use crate::writer::Writer;

/// Most blocks one `GET /mine/{count}` mines.
pub const MINE_COUNT_MAX: u32 = 10_000;

pub struct App {
    pub store: Arc<Store>,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
    pub upload_bytes_max: usize,
    pub graphql_bytes_max: usize,
    pub network: String,
}

type AppState = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(info))
        .route("/info", get(info))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/graphql", post(graphql_post).get(graphql_get))
        .route("/raw/{id}", get(data))
        .route("/item/{id}", get(item))
        .route("/tx/{id}/status", get(status))
        .route("/tx", post(upload))
        .route("/tx/{currency}", post(upload_to))
        .route("/mint/{address}/{winston}", get(mint))
        .route("/mine", get(mine_one))
        .route("/mine/{count}", get(mine_many))
        .route("/{id}", get(data))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), json_errors))
        .with_state(app)
}

fn parse_id(text: &str) -> Result<Id, ApiError> {
    Ok(Id::parse(text, "id")?)
}

/// Runs a synchronous store read on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::Internal("read task failed"))?
}

fn info_json(network: &str, tip: &Block) -> serde_json::Value {
    json!({
        "network": network,
        "version": 5,
        "release": 0,
        "height": tip.height,
        "current": b64::encode(tip.record.id),
        "blocks": tip.height + 1,
        "peers": 0,
        "queue_length": 0,
        "node_state_latency": 0,
    })
}

async fn info(State(app): AppState) -> Json<serde_json::Value> {
    Json(info_json(&app.network, &app.writer.tip().block))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics(State(app): AppState) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > max as u64
    {
        return Err(ApiError::TooLarge { len, max });
    }
    axum::body::to_bytes(body, max)
        .await
        .map_err(|_| ApiError::BodyUnreadable { max })
}

async fn upload_to(
    state: AppState,
    Path(_currency): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    upload(state, headers, body).await
}

/// `POST /tx` and `POST /tx/{currency}`: one signed data item (a bundle's items are indexed).
async fn upload(
    State(app): AppState,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let raw = read_body(&headers, body, app.upload_bytes_max).await?;
    if raw.is_empty() {
        return Err(ApiError::EmptyBody);
    }
    if is_json || raw.first() == Some(&b'{') {
        return Err(ApiError::NotADataItem);
    }
    let items = blocking(move || Ok(ingest(raw)?)).await?;
    let id = items[0].id;
    let count = items.len();
    let applied = app.writer.upload(items).await?;
    let Applied::Upload {
        timestamp_ms,
        duplicate,
        stored,
    } = applied
    else {
        return Err(ApiError::Internal("an upload was answered with a block"));
    };
    app.metrics.uploads.fetch_add(1, Ordering::Relaxed);
    if duplicate {
        app.metrics
            .duplicate_uploads
            .fetch_add(1, Ordering::Relaxed);
    }
    tracing::debug!(%id, items = count, stored, duplicate, "upload stored");
    Ok(Json(json!({"id": id.to_string(), "timestamp": timestamp_ms})).into_response())
}

/// `GET /raw/{id}` and `GET /{id}`: the item's data, typed by its `Content-Type` tag.
async fn data(State(app): AppState, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let store = app.store.clone();
    let (header, data) = blocking(move || {
        let reader = store.read()?;
        let record = reader.item(&id)?.ok_or_else(|| not_found_item(&id))?;
        let data = reader.data(&id)?.ok_or_else(|| not_found_item(&id))?;
        Ok((record.header, data))
    })
    .await?;
    app.metrics.data_reads.fetch_add(1, Ordering::Relaxed);
    let content_type = DataItem::decode(&header)
        .ok()
        .and_then(|item| {
            item.tag("Content-Type")
                .and_then(|t| HeaderValue::from_str(t).ok())
        })
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        data,
    )
        .into_response())
}

/// `GET /item/{id}`: the whole signed data item, as uploaded (for units that verify it).
async fn item(State(app): AppState, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let store = app.store.clone();
    let raw = blocking(move || {
        let reader = store.read()?;
        let record = reader.item(&id)?.ok_or_else(|| not_found_item(&id))?;
        let data = reader.data(&id)?.ok_or_else(|| not_found_item(&id))?;
        let mut raw = record.header;
        raw.extend_from_slice(&data);
        Ok(raw)
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Bytes::from(raw),
    )
        .into_response())
}

fn not_found_item(id: &Id) -> ApiError {
    ApiError::NotFound {
        what: "transaction",
        id: id.to_string(),
    }
}

/// `GET /tx/{id}/status`: 200 with confirmations once mined, 202 `Pending` before, as Arweave.
async fn status(State(app): AppState, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let store = app.store.clone();
    let found = blocking(move || {
        let reader = store.read()?;
        let record = reader.item(&id)?.ok_or_else(|| not_found_item(&id))?;
        Ok((reader.block_of(record.seq)?, reader.tip()?))
    })
    .await?;
    Ok(match found {
        (Some(block), tip) => Json(json!({
            "block_height": block.height,
            "block_indep_hash": b64::encode(block.record.id),
            "number_of_confirmations": tip.height - block.height + 1,
        }))
        .into_response(),
        (None, _) => (StatusCode::ACCEPTED, "Pending").into_response(),
    })
}

/// `GET /mint/{address}/{winston}` (arlocal): there are no balances here; echoes the amount.
async fn mint(Path((_address, winston)): Path<(String, String)>) -> Result<String, ApiError> {
    if winston.is_empty() || !winston.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadParameter {
            what: "winston",
            why: "not a non-negative integer",
        });
    }
    Ok(winston)
}

async fn mine_one(state: AppState) -> Result<Json<serde_json::Value>, ApiError> {
    mine(state, 1).await
}

async fn mine_many(
    state: AppState,
    Path(count): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let count = count
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MINE_COUNT_MAX).contains(n))
        .ok_or(ApiError::BadParameter {
            what: "count",
            why: "must be an integer from 1 to 10000",
        })?;
    mine(state, count).await
}

/// Mines `count` blocks now; answers like `/info`.
async fn mine(State(app): AppState, count: u32) -> Result<Json<serde_json::Value>, ApiError> {
    let block = app.writer.mine(count).await?;
    Ok(Json(info_json(&app.network, &block)))
}

async fn graphql_post(State(app): AppState, headers: HeaderMap, body: Body) -> Response {
    let raw = match read_body(&headers, body, app.graphql_bytes_max).await {
        Ok(raw) => raw,
        Err(e) => return graphql_error(&app, e.status(), e.to_string()),
    };
    match serde_json::from_slice::<GraphqlRequest>(&raw) {
        Ok(request) => run_graphql(app, request).await,
        Err(e) => graphql_error(
            &app,
            StatusCode::BAD_REQUEST,
            format!("the body must be JSON {{\"query\": …, \"variables\": …}}: {e}"),
        ),
    }
}

/// `GET /graphql?query=…&variables=…&operationName=…`.
async fn graphql_get(
    State(app): AppState,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(query) = params.get("query").cloned() else {
        return graphql_error(&app, StatusCode::BAD_REQUEST, "missing ?query=".to_owned());
    };
    let variables = match params.get("variables").map(|v| serde_json::from_str(v)) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            return graphql_error(&app, StatusCode::BAD_REQUEST, format!("variables: {e}"));
        }
    };
    let request = GraphqlRequest {
        query,
        variables,
        operation_name: params.get("operationName").cloned(),
    };
    run_graphql(app, request).await
}

async fn run_graphql(app: Arc<App>, request: GraphqlRequest) -> Response {
    let store = app.store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let reader = store.read().map_err(GraphqlError::Store)?;
        graphql::execute(&reader, &request)
    })
    .await;
    app.metrics.graphql_queries.fetch_add(1, Ordering::Relaxed);
    match result {
        // Serialized directly, not through `json!`, which would sort the fields.
        Ok(Ok(data)) => Json(GraphqlData { data }).into_response(),
        Ok(Err(e)) => {
            let status = match e {
                GraphqlError::Parse(_) | GraphqlError::Invalid(_) => StatusCode::BAD_REQUEST,
                GraphqlError::Store(_) => {
                    tracing::error!(error = %e, "GraphQL query failed");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            graphql_error(&app, status, e.to_string())
        }
        Err(_) => graphql_error(
            &app,
            StatusCode::INTERNAL_SERVER_ERROR,
            "query task failed".to_owned(),
        ),
    }
}

#[derive(serde::Serialize)]
struct GraphqlData {
    data: graphql::Out,
}

fn graphql_error(app: &App, status: StatusCode, message: String) -> Response {
    app.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
    (
        status,
        Json(json!({"data": null, "errors": [{"message": message}]})),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound {
        what: "route",
        id: "(no such endpoint)".to_owned(),
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
