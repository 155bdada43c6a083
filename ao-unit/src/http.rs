//! HTTP plumbing every unit's server shares: whatever went wrong, an error response carries the
//! protocol's JSON body `{"error": "…"}`. Must never: decide statuses (the units' own error
//! types do) or touch a successful response.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use ao_core::wire::ErrorBody;

/// Most bytes of a non-JSON error body kept as the message.
pub const ERROR_BODY_BYTES_MAX: usize = 16 * 1024;

/// Rewrites an error response whose body is not JSON (axum's own rejections are plain text or
/// empty) into `{"error": <its text, or a description of the status>}`. Other responses pass
/// through untouched.
pub async fn json_error_body(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, ERROR_BODY_BYTES_MAX)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let error = if text.is_empty() {
        describe(status)
    } else {
        text
    };
    let body = serde_json::to_vec(&ErrorBody::new(error)).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

fn describe(status: StatusCode) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this path".to_owned(),
        StatusCode::NOT_FOUND => "not found".to_owned(),
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn plain_and_empty_errors_become_json() {
        let plain = Response::builder()
            .status(StatusCode::PAYLOAD_TOO_LARGE)
            .body(Body::from("length limit exceeded"))
            .unwrap();
        let rewritten = json_error_body(plain).await;
        assert_eq!(rewritten.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            rewritten.headers()[header::CONTENT_TYPE],
            "application/json"
        );
        assert_eq!(body_of(rewritten).await["error"], "length limit exceeded");

        let empty = Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            body_of(json_error_body(empty).await).await["error"],
            "method not allowed on this path"
        );
    }

    #[tokio::test]
    async fn json_errors_and_successes_pass_through() {
        let ok = Response::builder().body(Body::from("fine")).unwrap();
        let ok = json_error_body(ok).await;
        let bytes = axum::body::to_bytes(ok.into_body(), 100).await.unwrap();
        assert_eq!(&bytes[..], b"fine");
        let json = Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"error":"mine"}"#))
            .unwrap();
        assert_eq!(body_of(json_error_body(json).await).await["error"], "mine");
    }
}
