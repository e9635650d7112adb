//! What the server counts and times, in the Prometheus text format at `GET /metrics` of the ops
//! listener (`ops.rs`), through the `metrics` facade and `metrics-exporter-prometheus`.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `tessera_http_requests_total` | counter | `route`, `method`, `status` |
//! | `tessera_http_request_duration_seconds` | histogram | `route`, `status` |
//! | `tessera_snapshot_requests_total` | counter | `answer`: `not_modified`, `hit`, `miss` |
//! | `tessera_snapshot_cut_seconds`, `tessera_snapshot_sign_seconds` | histogram | |
//! | `tessera_revision` | gauge | the revision served |
//! | `tessera_revision_build_seconds` | gauge | how long its build took |
//! | `tessera_revision_renewed_users` | gauge | whose snapshots the revision renewed |
//! | `tessera_revision_build_failures_total` | counter | |
//! | `tessera_snapshot_cache_bytes` | gauge | read when `/metrics` is asked |
//! | `tessera_sight_cache_entries`, `tessera_sight_cache_bytes` | gauge | the verified snapshots kept to decide with, as weighed; read when asked |
//! | `tessera_heap_allocated_bytes`, `tessera_heap_resident_bytes` | gauge | what the allocator has handed out and holds resident, when the program gave a probe ([`set_heap_probe`]) |
//! | `tessera_database_reachable` | gauge | 1, or 0 during an outage (`--database` only) |
//! | `tessera_connections_open` | gauge | |
//! | `tessera_connections_closed_total` | counter | `reason`: `header_timeout`, `idle` |
//! | `tessera_event_streams` | gauge | open event streams |
//! | `tessera_limited_total` | counter | `limit`: `search`, `check`, `edits`, `preview`, `denials`, `streams`, `tickets` |
//!
//! The recorder is the process's global one, installed on first use; if the embedding program
//! installed another, ours still renders (empty) and theirs gets the numbers.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from 100 µs to 10 s.
const BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process's Prometheus handle, installed on first use.
pub(crate) fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new())
        };
        match builder().install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed: render an empty one of our own.
            Err(_) => builder().build_recorder().handle(),
        }
    })
}

/// What the process's allocator holds, as a program that chose it can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heap {
    /// Bytes handed out and not yet freed.
    pub allocated: u64,
    /// Bytes of memory the allocator holds resident (its own bookkeeping included).
    pub resident: u64,
}

static HEAP: OnceLock<fn() -> Option<Heap>> = OnceLock::new();

/// Tells `/metrics` how to read the allocator's figures: the program that sets the global
/// allocator knows it; the library does not. The first probe set stays.
pub fn set_heap_probe(probe: fn() -> Option<Heap>) {
    let _ = HEAP.set(probe);
}

/// The text `/metrics` answers.
pub(crate) fn render(cache_bytes: u64, sights: (u64, u64)) -> String {
    let handle = handle();
    metrics::gauge!("tessera_snapshot_cache_bytes").set(cache_bytes as f64);
    metrics::gauge!("tessera_sight_cache_entries").set(sights.0 as f64);
    metrics::gauge!("tessera_sight_cache_bytes").set(sights.1 as f64);
    if let Some(heap) = HEAP.get().and_then(|probe| probe()) {
        metrics::gauge!("tessera_heap_allocated_bytes").set(heap.allocated as f64);
        metrics::gauge!("tessera_heap_resident_bytes").set(heap.resident as f64);
    }
    handle.run_upkeep();
    handle.render()
}

/// Middleware: counts and times every request by route (the matched API path, `static` for the
/// app's files, `unmatched` for an unknown API path) and status.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        None if request.uri().path().starts_with("/api") => "unmatched".to_owned(),
        None => "static".to_owned(),
    };
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("tessera_http_requests_total", "route" => route.clone(), "method" => method, "status" => status.clone())
        .increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

pub(crate) fn snapshot_answer(answer: &'static str) {
    metrics::counter!("tessera_snapshot_requests_total", "answer" => answer).increment(1);
}

pub(crate) fn cut_and_signed(cut: Duration, sign: Duration) {
    metrics::histogram!("tessera_snapshot_cut_seconds").record(cut.as_secs_f64());
    metrics::histogram!("tessera_snapshot_sign_seconds").record(sign.as_secs_f64());
}

/// A revision now served: its number, how long its build took, how many users it renewed.
pub(crate) fn revision_built(number: u64, build_time: Duration, renewed: usize) {
    metrics::gauge!("tessera_revision").set(number as f64);
    metrics::gauge!("tessera_revision_build_seconds").set(build_time.as_secs_f64());
    metrics::gauge!("tessera_revision_renewed_users").set(renewed as f64);
}

pub(crate) fn build_failed() {
    metrics::counter!("tessera_revision_build_failures_total").increment(1);
}

/// Whether the database can be reached.
pub(crate) fn database_reachable(reachable: bool) {
    metrics::gauge!("tessera_database_reachable").set(if reachable { 1.0 } else { 0.0 });
}

/// Counts an open connection while it lives.
pub(crate) struct OpenConnection;

impl OpenConnection {
    pub(crate) fn new() -> OpenConnection {
        metrics::gauge!("tessera_connections_open").increment(1.0);
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!("tessera_connections_open").decrement(1.0);
    }
}

/// A connection closed by the server for `reason`.
pub(crate) fn connection_closed(reason: &'static str) {
    metrics::counter!("tessera_connections_closed_total", "reason" => reason).increment(1);
}

/// A request refused (429) at `limit`.
pub(crate) fn limited(limit: &'static str) {
    metrics::counter!("tessera_limited_total", "limit" => limit).increment(1);
}
