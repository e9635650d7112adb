//! Refusals: an API error's status, stable code and sentence, sent as
//! `{"error": {"code", "message", …}}` with `Cache-Control: no-store`, and the JSON answers
//! they share with the routes.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::Decision;

use crate::source::quoted;

/// A refusal: its status, a stable code and a sentence, sent as
/// `{"error": {"code": ..., "message": ...}}`. A backend built on this crate answers its own
/// refusals with it too ([`Enforcer`]).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// More members of the error object (the evaluator's decision, validation problems).
    details: serde_json::Map<String, serde_json::Value>,
    /// `WWW-Authenticate`, for a 401.
    challenge: Option<&'static str>,
    /// `Retry-After`, in seconds, for a 429 or a 503.
    retry_after: Option<u32>,
}

impl ApiError {
    /// A refusal with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: serde_json::Map::new(),
            challenge: None,
            retry_after: None,
        }
    }

    /// With `name: value` in the error object.
    pub(crate) fn with(mut self, name: &str, value: impl Serialize) -> ApiError {
        if let Ok(value) = serde_json::to_value(value) {
            self.details.insert(name.to_owned(), value);
        }
        self
    }

    /// A 429: one of the caller's limits is reached; `Retry-After` says when to ask again.
    pub(crate) fn too_many(code: &'static str, message: impl Into<String>, retry_after: u32) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message).with_retry_after(retry_after)
    }

    /// With `WWW-Authenticate: challenge`, for a 401.
    pub(crate) fn with_challenge(mut self, challenge: &'static str) -> ApiError {
        self.challenge = Some(challenge);
        self
    }

    /// With `Retry-After: seconds`.
    pub(crate) fn with_retry_after(mut self, seconds: u32) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    pub(crate) fn bad_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    /// A 500 that says nothing of its cause but a request id; the log carries the cause with
    /// the same id.
    pub fn internal(cause: impl Into<String>) -> ApiError {
        let cause = cause.into();
        let id = request_id();
        tracing::error!(request_id = %id, %cause, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("internal error (request {id})"))
            .with("request_id", &id)
    }

    /// A 404 for `kind` `id`, exactly as for an id that does not exist: what the caller may not
    /// see answers so too, and names nothing more.
    pub fn not_found(kind: &str, id: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {kind} `{}`", quoted(id)))
    }

    /// A 403 with the caller's own snapshot's decision (its code, sentence and facts).
    pub fn forbidden(decision: &Decision) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("not allowed: {}", decision.message))
            .with("decision", decision)
    }

    /// A 422 for a body that reads but says something not to be done.
    pub fn invalid_body(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// A random id for a request whose cause only the log may tell.
pub(crate) fn request_id() -> String {
    let mut bytes = [0u8; 8];
    // No randomness: the time stands in, an id being only for finding the log line.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_be_bytes();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = self.details;
        error.insert("code".to_owned(), self.code.into());
        error.insert("message".to_owned(), self.message.into());
        let mut response = json_response(self.status, &serde_json::json!({ "error": error }));
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// `value` as a JSON response.
pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(status, bytes.into(), "no-cache"),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write JSON: {e}")).into_response(),
    }
}

/// JSON bytes as a response, with a `Cache-Control`.
pub(crate) fn json_bytes(status: StatusCode, bytes: Bytes, cache_control: &'static str) -> Response {
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    response
}
