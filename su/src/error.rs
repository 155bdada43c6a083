//! Every way a request can fail, each with its HTTP status, and the JSON body `{"error": …}`
//! that names it (PROTOCOL.md §4). Must never lose the kind of an error on its way to HTTP.

use ao_core::ao::AoError;
use ao_core::b64::Base64Error;
use ao_core::wire::ErrorBody;
use ao_core::{DecodeError, Id, SignatureError};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;
use crate::writer::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid data item: {0}")]
    Decode(#[from] DecodeError),
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("not an AO item: {0}")]
    Ao(#[from] AoError),
    #[error("invalid id: {0}")]
    BadId(#[from] Base64Error),
    #[error("the process's Scheduler is {found}, not this SU ({ours})")]
    WrongScheduler { found: String, ours: String },
    #[error("items of Type {0} cannot be posted to the SU (only Process or Message)")]
    NotPostable(&'static str),
    #[error("{what} is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("request body is larger than {max} bytes or could not be read")]
    BodyUnreadable { max: usize },
    #[error("the request body is empty: POST a raw data item (application/octet-stream)")]
    EmptyBody,
    #[error("query parameter {name}: {why}")]
    BadQuery {
        name: &'static str,
        why: &'static str,
    },
    #[error("Message already exists")]
    Duplicate,
    #[error("Message already exists: the same pushed message was scheduled as {0}")]
    DuplicatePush(Id),
    #[error("Process already exists")]
    ProcessExists,
    #[error("process {0} not found on this SU")]
    ProcessNotFound(Id),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("item {0} is not on this SU, and the gateway has no raw data item with that id")]
    AssignTargetNotFound(Id),
    #[error("gateway error: {0}")]
    Gateway(String),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            Decode(_)
            | Signature(_)
            | Ao(_)
            | BadId(_)
            | WrongScheduler { .. }
            | NotPostable(_)
            | EmptyBody
            | BadQuery { .. } => StatusCode::BAD_REQUEST,
            TooLarge { .. } | BodyUnreadable { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Duplicate | DuplicatePush(_) | ProcessExists => StatusCode::CONFLICT,
            ProcessNotFound(_) | NotFound { .. } | AssignTargetNotFound(_) => StatusCode::NOT_FOUND,
            Gateway(_) => StatusCode::BAD_GATEWAY,
            Write(_) => StatusCode::SERVICE_UNAVAILABLE,
            Store(_) | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
