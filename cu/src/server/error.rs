//! Every way a CU request can fail, with its HTTP status, and the layer that gives axum's own
//! rejections (404, 405, 413) a JSON body too: aoconnect reads the body of `result`, `results`
//! and `dry-run` whatever the status, so every answer is JSON (`{"error": …}`). Must never:
//! hide the cause (the message names what went wrong and where).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ao_core::wire::ErrorBody;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::locate::LocateError;
use crate::store::StoreError;
use crate::su_client::UpstreamError;
use crate::worker::WorkerError;
use crate::worker::registry::CallError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{what} is not valid: {reason}")]
    BadQuery { what: &'static str, reason: String },
    #[error("{what} is required")]
    Missing { what: &'static str },
    #[error("message {message} is not scheduled for process {process} (yet)")]
    MessageNotFound { message: String, process: String },
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Locate(#[from] LocateError),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadQuery { .. } | ApiError::Missing { .. } => StatusCode::BAD_REQUEST,
            ApiError::MessageNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Call(e) => call_status(e),
            ApiError::Upstream(e) => upstream_status(e),
            ApiError::Locate(e) => locate_status(e),
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

fn call_status(e: &CallError) -> StatusCode {
    match e {
        CallError::Worker(e) => worker_status(e),
        CallError::TooManyProcesses { .. }
        | CallError::MemoryBudget { .. }
        | CallError::MailboxFull(_)
        | CallError::ShuttingDown
        | CallError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        CallError::Spawn(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn worker_status(e: &WorkerError) -> StatusCode {
    match e {
        WorkerError::ProcessNotFound(_) => StatusCode::NOT_FOUND,
        WorkerError::TagMissing { .. }
        | WorkerError::ModuleNotFound(_)
        | WorkerError::ModuleFormat { .. }
        | WorkerError::BadId { .. }
        | WorkerError::Cron { .. }
        | WorkerError::ProcessField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        WorkerError::Upstream(e) => upstream_status(e),
        WorkerError::Locate(e) => locate_status(e),
        WorkerError::ScheduleShort { .. } | WorkerError::ShuttingDown => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        WorkerError::StateGone { .. } | WorkerError::Unserializable(_) => StatusCode::CONFLICT,
        WorkerError::Store(_)
        | WorkerError::Schedule(_)
        | WorkerError::Engine(_)
        | WorkerError::CronOvertaken { .. }
        | WorkerError::Stopped { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn locate_status(e: &LocateError) -> StatusCode {
    match e {
        LocateError::NoScheduler { .. }
        | LocateError::UnknownScheduler { .. }
        | LocateError::BadLocation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        LocateError::Upstream(e) => upstream_status(e),
    }
}

fn upstream_status(e: &UpstreamError) -> StatusCode {
    if e.is_not_found() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_GATEWAY
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        (status, Json(ErrorBody::new(&self))).into_response()
    }
}

/// Gives every error response a JSON body and counts errors for the metrics.
pub async fn json_errors(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
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
