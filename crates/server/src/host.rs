//! The demo's Host rule: with `--auth demo`, only requests for a loopback name or address are
//! answered (DNS rebinding).

use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::refusal::ApiError;

/// For `--auth demo` (the layer is there only then): only requests for a loopback name or
/// address (`localhost`, 127.0.0.0/8, `[::1]`, any port) are answered, before any handler runs
/// (421 otherwise): a web page of another site whose name an attacker points at 127.0.0.1 (DNS
/// rebinding) would otherwise be answered as if it were the app, and sign in as anyone. A
/// request that names no host at all (HTTP/1.0, or a test driving the router in-process)
/// passes: no browser sends one. A layer of its own rather than `from_fn`, which boxes a future
/// and clones the rest of the stack for every request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoopbackOnly;

impl<S> tower::Layer<S> for LoopbackOnly {
    type Service = LoopbackHost<S>;

    fn layer(&self, inner: S) -> LoopbackHost<S> {
        LoopbackHost(inner)
    }
}

/// The service of [`LoopbackOnly`].
#[derive(Clone, Debug)]
pub(crate) struct LoopbackHost<S>(S);

impl<S> tower::Service<Request> for LoopbackHost<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::Either<
        std::future::Ready<Result<Response, std::convert::Infallible>>,
        S::Future,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::convert::Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let named = match request.headers().get(header::HOST) {
            Some(host) => Some(host.to_str().ok().map(host_of)),
            None => request.uri().host().map(Some),
        };
        match named {
            None => futures_util::future::Either::Right(self.0.call(request)),
            Some(Some(host)) if crate::loopback_host(host) => {
                futures_util::future::Either::Right(self.0.call(request))
            }
            Some(_) => futures_util::future::Either::Left(std::future::ready(Ok(ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected_request",
                "this demo server answers only requests for localhost, 127.0.0.1 or [::1]",
            )
            .into_response()))),
        }
    }
}

/// The host of a `Host` header, without its port: `[::1]` of `[::1]:8080`, `localhost` of
/// `localhost:8080`.
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_read_without_its_port() {
        assert_eq!(host_of("localhost:8080"), "localhost");
        assert_eq!(host_of("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_of("[::1]:8080"), "[::1]");
        assert_eq!(host_of("[::1]"), "[::1]");
        assert_eq!(host_of("localhost:http"), "localhost:http");
        assert_eq!(host_of("rebind.attacker.example:443"), "rebind.attacker.example");
    }
}
