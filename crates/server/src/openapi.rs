//! The API described: the OpenAPI 3.1 document served at `GET /api/openapi.json`.
//!
//! It is made from the handlers themselves: each route of `http.rs` carries its description
//! (`#[utoipa::path]`) and is registered by it (`utoipa_axum::routes!`), so a route cannot be
//! served without being described, nor described without being served. What is common to them
//! lives here: the document's heading, the bearer scheme, the refusals every route may answer,
//! and the error body.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// The document's heading and what every route shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera issuer",
        description = "Per-user signed policy snapshots, search and the app's actions decided on \
            the caller's own snapshot, `POST /api/check` for any backend, and administration \
            authorised by the evaluator. Errors are `{\"error\": {\"code\", \"message\", …}}`.",
        license(name = "MIT")
    ),
    modifiers(&Bearer),
    components(schemas(ErrorBody, ErrorObject, ServerSentEvent))
)]
pub(crate) struct ApiDoc;

/// The bearer token every route but the public ones takes: a JWT of the identity provider, or
/// the demo's own.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// A refusal: `{"error": {"code", "message", …}}` (a 403 of the evaluator adds `decision`, a
/// 422 of validation `problems`, a 5xx `request_id`).
#[derive(ToSchema)]
#[expect(dead_code, reason = "described, never built: `http::ApiError` writes this shape")]
pub(crate) struct ErrorBody {
    error: ErrorObject,
}

/// The error object.
#[derive(ToSchema)]
#[expect(dead_code, reason = "described, never built: `http::ApiError` writes this shape")]
pub(crate) struct ErrorObject {
    /// A stable code (`docs/decisions.md`, "Errors").
    code: String,
    /// A sentence.
    message: String,
}

/// One event of `GET /api/events`: its name (`snapshot`, `content`, `revoked`, `expired`) and
/// its JSON data.
#[derive(ToSchema)]
#[expect(dead_code, reason = "described, never built: `events.rs` writes this shape")]
pub(crate) struct ServerSentEvent {
    /// Its name.
    event: String,
    /// Its data: a JSON object, as text.
    data: String,
}

/// What any route may answer when it refuses: the refusals are the server's, not a route's
/// (authentication, limits, timeouts, the body's type and size), so every operation lists them
/// all.
#[derive(IntoResponses)]
#[expect(dead_code, reason = "described, never built: `http::ApiError` answers them")]
pub(crate) enum Refusals {
    /// A parameter or body that does not read.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No token, or one that does not verify.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// Not allowed: an inactive or unknown user, a service off `/api/check`, or the evaluator's
    /// decision.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Nothing there, or nothing the caller may see (the same answer).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Another method.
    #[response(status = 405)]
    MethodNotAllowed(ErrorBody),
    /// Not answered within the request timeout.
    #[response(status = 408)]
    Timeout(ErrorBody),
    /// A stale revision, or a source the server does not write.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// A body over the limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// A body that is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// A `Host` that is not loopback, with `--auth demo`.
    #[response(status = 421)]
    Misdirected(ErrorBody),
    /// A body that reads but may not be made: unknown ids, an invalid organisation, an empty or
    /// too large batch, a reused `Idempotency-Key`.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// A limit of the caller's reached; `Retry-After` says when to ask again.
    #[response(status = 429)]
    TooManyRequests(ErrorBody),
    /// An internal error, with a request id the log carries.
    #[response(status = 500)]
    Internal(ErrorBody),
    /// The database cannot be reached, or this replica is behind its client; `Retry-After`.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}
