//! Every way a non-GraphQL request can fail, each with its HTTP status and the JSON body
//! `{"error": …}` that names it. GraphQL errors have their own shape (`graphql`).
//! Must never lose the kind of an error on its way to HTTP.

use ao_core::b64::Base64Error;
use ao_core::wire::ErrorBody;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::ingest::IngestError;
use crate::store::StoreError;
use crate::writer::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("invalid id: {0}")]
    BadId(#[from] Base64Error),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("request body is {len} bytes, over the {max}-byte limit")]
    TooLarge { len: u64, max: usize },
    #[error("request body is larger than {max} bytes or could not be read")]
    BodyUnreadable { max: usize },
    #[error("the request body is empty: POST a signed data item (application/octet-stream)")]
    EmptyBody,
    #[error(
        "Arweave transactions (JSON) are not supported: POST a signed ANS-104 data item \
         (application/octet-stream); a bundle goes as the data of a data item"
    )]
    NotADataItem,
    #[error("{what}: {why}")]
    BadParameter {
        what: &'static str,
        why: &'static str,
    },
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
            Ingest(_) | BadId(_) | EmptyBody | NotADataItem | BadParameter { .. } => {
                StatusCode::BAD_REQUEST
            }
            NotFound { .. } => StatusCode::NOT_FOUND,
            TooLarge { .. } | BodyUnreadable { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Write(WriteError::Busy { .. } | WriteError::Closed) => StatusCode::SERVICE_UNAVAILABLE,
            Write(WriteError::Storage(_)) | Store(_) | Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        (status, Json(ErrorBody::new(&self))).into_response()
    }
}
