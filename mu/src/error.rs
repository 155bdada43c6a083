//! Every way a request to the MU can fail, each with its HTTP status and the JSON body
//! `{"error": …}` that names it. Problems with the request are 4xx; an SU that refused the
//! item keeps its own status and words; a unit that could not be reached is 502, the MU's own
//! faults 500. Must never lose the kind of an error on its way to HTTP.

use ao_core::ao::AoError;
use ao_core::wire::ErrorBody;
use ao_core::{DecodeError, SignatureError};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::router::RouteError;
use crate::store::StoreError;
use crate::upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid data item: {0}")]
    Decode(#[from] DecodeError),
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("not an AO item: {0}")]
    Ao(#[from] AoError),
    #[error("items of Type {0} cannot be sent to the MU (only Process or Message)")]
    NotPostable(&'static str),
    #[error("the request body is empty: POST a raw signed data item (application/octet-stream)")]
    EmptyBody,
    #[error("the item is {len} bytes, over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("request body is larger than {max} bytes or could not be read")]
    BodyUnreadable { max: usize },
    #[error("query parameter {name}: {why}")]
    BadQuery { name: &'static str, why: String },
    #[error(
        "unknown target process {0}: no Process item with that id on the gateway or on a known SU"
    )]
    UnknownProcess(String),
    #[error("the monitor item targets {found}, not the process in the path ({path})")]
    MonitorTarget { found: String, path: String },
    #[error("process {process} is not monitored by {address}")]
    NotMonitored { process: String, address: String },
    #[error("{0}")]
    Route(RouteError),
    #[error("the scheduler unit refused: {error}")]
    SuRefused { status: u16, error: String },
    #[error("{0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> ApiError {
        match e {
            UpstreamError::Refused { status, error, .. } => ApiError::SuRefused { status, error },
            UpstreamError::Unavailable { .. } => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> ApiError {
        match e {
            RouteError::Upstream(e) => ApiError::Unavailable(format!("cannot locate: {e}")),
            other => ApiError::Route(other),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            Decode(_)
            | Signature(_)
            | Ao(_)
            | NotPostable(_)
            | EmptyBody
            | BadQuery { .. }
            | MonitorTarget { .. }
            | Route(_) => StatusCode::BAD_REQUEST,
            TooLarge { .. } | BodyUnreadable { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnknownProcess(_) | NotMonitored { .. } => StatusCode::NOT_FOUND,
            SuRefused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Unavailable(_) => StatusCode::BAD_GATEWAY,
            Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
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
