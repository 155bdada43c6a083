//! The MU's HTTP API (PROTOCOL.md §5): `POST /` (a signed item, or an assignment by query),
//! `POST`/`DELETE /monitor/{pid}`, `GET /`, `/health`, `/metrics`. An item is acknowledged
//! (202) only after its SU acknowledged it and the crank of its result is on disk.
//! Must never: forward bytes other than the ones received, or answer 2xx before both.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use ao_core::ao::{ItemType, MessageView, ProcessView, item_type};
use ao_core::wire::MuAccepted;
use ao_core::{DataItem, Id};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::monitor::Monitors;
use crate::pusher::Pusher;
use crate::router::{ProcessInfo, Router};
use crate::store::Change;
use crate::task::{Task, Work};
use crate::upstream::Upstream;

pub struct App {
    pub pusher: Arc<Pusher>,
    pub router: Arc<Router>,
    pub upstream: Upstream,
    pub monitors: Arc<Monitors>,
    pub metrics: Arc<Metrics>,
    /// The MU wallet's address (pushed items are signed by it).
    pub address: String,
    pub item_bytes_max: usize,
}

pub fn router(app: Arc<App>) -> axum::Router {
    let body_max = app.item_bytes_max + 1;
    axum::Router::new()
        .route("/", get(info).post(post_root))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/monitor/{process}", post(monitor).delete(unmonitor))
        .layer(DefaultBodyLimit::max(body_max))
        .layer(axum::middleware::map_response(
            ao_unit::http::json_error_body,
        ))
        .with_state(app)
}

async fn info() -> &'static str {
    "ao messenger unit"
}

async fn health(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "address": app.address }))
}

async fn metrics(State(app): State<Arc<App>>) -> String {
    app.metrics.render()
}

/// Counts the outcome of a request.
fn counted(metrics: &Metrics, result: Result<Response, ApiError>) -> Response {
    match result {
        Ok(response) => response,
        Err(e) => {
            if e.status().is_server_error() {
                metrics.server_errors.fetch_add(1, Relaxed);
            } else {
                metrics.client_errors.fetch_add(1, Relaxed);
            }
            e.into_response()
        }
    }
}

async fn post_root(
    State(app): State<Arc<App>>,
    Query(query): Query<Vec<(String, String)>>,
    body: Body,
) -> Response {
    let result = post_root_inner(&app, &query, body).await;
    counted(&app.metrics, result)
}

async fn post_root_inner(
    app: &App,
    query: &[(String, String)],
    body: Body,
) -> Result<Response, ApiError> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if param("process-id").is_some() || param("assign").is_some() {
        return assign(app, query).await;
    }
    let bytes = read_body(body, app.item_bytes_max).await?;
    let item = DataItem::decode(&bytes)?;
    item.verify()?;
    let id = item.id().to_string();
    let (su, process) = match item_type(&item)? {
        ItemType::Process => {
            let view = ProcessView::new(&item)?;
            let info = ProcessInfo {
                scheduler: view.scheduler,
                module: view.module.to_string(),
            };
            let su = app.router.su_url(&info.scheduler).await?;
            app.router.remember(&id, info);
            (su, id.clone())
        }
        ItemType::Message => {
            let view = MessageView::new(&item)?;
            let target = view.target.to_string();
            let (su, _) = app
                .router
                .route(&target)
                .await?
                .ok_or_else(|| ApiError::UnknownProcess(target.clone()))?;
            (su, target)
        }
        other => return Err(ApiError::NotPostable(other.as_str())),
    };
    let posted = app.upstream.su_post(&su, bytes.to_vec()).await;
    // A duplicate is still cranked: the first acknowledgement may have been lost in a crash
    // before its crank was recorded. Cranking twice is harmless (the SU absorbs the pushes).
    let crank = Task::new(
        Work::Crank {
            process,
            message: id.clone(),
        },
        0,
        id.clone(),
    );
    match posted {
        Ok(_) => {}
        Err(e) if e.is_duplicate() => {
            app.pusher.commit(Change::with_task(crank)).await?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    }
    app.pusher.commit(Change::with_task(crank)).await?;
    app.metrics.items_accepted.fetch_add(1, Relaxed);
    Ok(accepted("Processing DataItem", id))
}

async fn assign(app: &App, query: &[(String, String)]) -> Result<Response, ApiError> {
    let param = |name: &'static str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let id_param = |name: &'static str| {
        let value = param(name).ok_or_else(|| ApiError::BadQuery {
            name,
            why: "an assignment needs both process-id and assign".into(),
        })?;
        Id::parse(value, name)
            .map(|id| id.to_string())
            .map_err(|e| ApiError::BadQuery {
                name,
                why: e.to_string(),
            })
    };
    let process = id_param("process-id")?;
    let message = id_param("assign")?;
    let base_layer = query.iter().any(|(k, _)| k == "base-layer");
    let exclude: Vec<String> = param("exclude")
        .map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let (su, _) = app
        .router
        .route(&process)
        .await?
        .ok_or_else(|| ApiError::UnknownProcess(process.clone()))?;
    let posted = app
        .upstream
        .su_assign(&su, &process, &message, base_layer, &exclude)
        .await?;
    let crank = Task::new(
        Work::Crank {
            process,
            message: message.clone(),
        },
        0,
        message,
    );
    app.pusher.commit(Change::with_task(crank)).await?;
    app.metrics.assignments_accepted.fetch_add(1, Relaxed);
    Ok(accepted("Processing Assignment", posted.id))
}

fn accepted(message: &str, id: String) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(MuAccepted {
            message: message.to_owned(),
            id,
        }),
    )
        .into_response()
}

async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    let bytes = axum::body::to_bytes(body, max + 1)
        .await
        .map_err(|_| ApiError::BodyUnreadable { max })?;
    if bytes.is_empty() {
        return Err(ApiError::EmptyBody);
    }
    if bytes.len() > max {
        return Err(ApiError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    Ok(bytes)
}

/// The signed item of a monitor request, checked: valid, signed, aimed at `process`, and
/// `process` is a process the MU can find.
async fn monitor_item(app: &App, process: &str, body: Body) -> Result<DataItem, ApiError> {
    let bytes = read_body(body, app.item_bytes_max).await?;
    let item = DataItem::decode(&bytes)?;
    item.verify()?;
    let target = item.target_id().map(|t| t.to_string()).unwrap_or_default();
    if target != process {
        return Err(ApiError::MonitorTarget {
            found: if target.is_empty() {
                "nothing".into()
            } else {
                target
            },
            path: process.to_owned(),
        });
    }
    if app.router.process(process).await?.is_none() {
        return Err(ApiError::UnknownProcess(process.to_owned()));
    }
    Ok(item)
}

async fn monitor(State(app): State<Arc<App>>, Path(process): Path<String>, body: Body) -> Response {
    let result = async {
        let item = monitor_item(&app, &process, body).await?;
        app.monitors
            .subscribe(&app.pusher, &process, &item.ao_address())
            .await?;
        Ok((
            StatusCode::OK,
            Json(json!({ "message": "Process monitored", "id": item.id().to_string() })),
        )
            .into_response())
    }
    .await;
    counted(&app.metrics, result)
}

async fn unmonitor(
    State(app): State<Arc<App>>,
    Path(process): Path<String>,
    body: Body,
) -> Response {
    let result = async {
        let item = monitor_item(&app, &process, body).await?;
        let address = item.ao_address();
        if !app
            .monitors
            .unsubscribe(&app.pusher, &process, &address)
            .await?
        {
            return Err(ApiError::NotMonitored { process, address });
        }
        Ok((
            StatusCode::OK,
            Json(json!({ "message": "Process unmonitored", "id": item.id().to_string() })),
        )
            .into_response())
    }
    .await;
    counted(&app.metrics, result)
}
