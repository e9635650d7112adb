//! Connections: accepted, held to their timeouts and capped, served with hyper's HTTP/1.1
//! connection builder, and finished on shutdown.
//!
//! axum's `serve` sets no header-read timeout and no cap, so a client that sends a header one
//! byte at a time, or opens sockets and says nothing, holds them for ever. Here:
//!
//! - **Header timeout.** A request's whole header must arrive within
//!   [`Connections::header_timeout`] of the connection being ready for one: opened, or its
//!   previous answer written. A slowloris sender is closed by it, and so is a keep-alive
//!   connection that says nothing. (hyper has a header-read timeout of its own, but it arms a
//!   new timer for every request; the connection's one check below costs nothing per request.)
//! - **Idle timeout.** A connection on which no byte moves for [`Connections::idle_timeout`]
//!   while it waits on its client, with no request in flight or with a write the client does not
//!   take, is closed. A request being worked on is not idle (the request timeout bounds it), and
//!   neither is an event stream with nothing to say: a stream is exempt as long as what it writes
//!   is taken, so a reader that stops reading loses it.
//! - **Cap.** At most [`Connections::max_connections`] are open at once: past it the server
//!   accepts no more until one closes (new ones wait in the kernel's backlog, which refuses them
//!   once full), and an `accept` that fails (out of file descriptors) is tried again after a
//!   pause, never the end of the server.
//! - **Shutdown.** When the server's `closing` signal is set, no more connections are accepted,
//!   each open one finishes the request it is answering and closes (event streams end on the
//!   same signal), and [`serve`] returns once every one has closed.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;

/// The default of [`Connections::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of [`Connections::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default of [`Connections::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10_000;
/// How long to pause after an `accept` that failed for want of resources.
const ACCEPT_PAUSE: Duration = Duration::from_millis(250);

/// What a listener allows its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// How long a request's header may take to arrive, from when the connection is ready for it.
    pub header_timeout: Duration,
    /// How long a connection may move no byte while it waits on its client.
    pub idle_timeout: Duration,
    /// How many connections may be open at once (at least 1).
    pub max_connections: u32,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves `router` on `listener` until `closing` is set, then finishes the open connections;
/// see the module docs.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    mut closing: watch::Receiver<bool>,
) {
    let max = connections.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(usize::try_from(max).unwrap_or(usize::MAX)));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            _ = closing.wait_for(|closing| *closing) => break,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = closing.wait_for(|closing| *closing) => break,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, router.clone(), connections, closing.clone(), permit));
            }
            Err(error) => accept_failed(&error).await,
        }
    }
    drop(listener);
    // Every connection holds a permit until it closes: all of them back means all closed.
    let _ = permits.acquire_many(max).await;
}

/// Errors of one connection (the client went away) are tried again at once; others (out of
/// file descriptors, of memory) after a pause, so that the loop does not spin.
async fn accept_failed(error: &io::Error) {
    use io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection; trying again shortly");
    tokio::time::sleep(ACCEPT_PAUSE).await;
}

/// Serves one connection until it closes, times out, or the server shuts down.
async fn connection(
    stream: TcpStream,
    router: Router,
    connections: Connections,
    mut closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _open = crate::metrics::OpenConnection::new();
    // Answers are written whole by hyper; small ones should not wait for an acknowledgement.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(Watched { stream, activity: Arc::clone(&activity) });
    let service = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let in_flight = InFlight::new(&activity);
            let router = router.clone();
            async move {
                let Ok(response) = router.oneshot(request.map(Body::new)).await;
                Ok::<_, Infallible>(response.map(|body| Body::new(Tracked { body, _in_flight: in_flight })))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);
    // Made once and polled on every wake of the connection, so nothing here is allocated or
    // registered per request: the check runs when its timer fires, and sets the next.
    let closed = closing.wait_for(|closing| *closing);
    tokio::pin!(closed);
    let mut seen = Seen::new(Instant::now());
    let check = tokio::time::sleep(connections.idle_timeout.min(connections.header_timeout));
    tokio::pin!(check);
    let mut finishing = false;
    loop {
        tokio::select! {
            // In order, without drawing a random number on every wake: the connection first.
            biased;
            _ = served.as_mut() => return,
            _ = &mut closed, if !finishing => {
                finishing = true;
                // Finish the request in flight, if any, then close.
                served.as_mut().graceful_shutdown();
            }
            () = &mut check => match seen.next_check(&activity, &connections, Instant::now()) {
                Ok(next) => check.as_mut().reset(next.into()),
                Err(reason) => {
                    crate::metrics::connection_closed(reason);
                    return;
                }
            },
        }
    }
}

/// What a connection does, counted by its socket and its requests; atomics only, so that
/// reading and writing cost no clock.
#[derive(Default)]
struct Activity {
    /// Reads and writes that moved bytes.
    moved: AtomicU64,
    /// Answers written whole (or dropped).
    answered: AtomicU64,
    in_flight: AtomicUsize,
    /// A write could not proceed (the client's window is full) since the last one that did.
    blocked: AtomicBool,
}

/// What a connection's check saw when it last looked, kept by the connection's task: since
/// when nothing moved, and since when the connection has been ready for a request. A change
/// seen counts from the check that sees it, so a deadline may come one check late.
struct Seen {
    moved: u64,
    answered: u64,
    quiet_since: Instant,
    ready_since: Instant,
}

impl Seen {
    fn new(now: Instant) -> Seen {
        Seen { moved: 0, answered: 0, quiet_since: now, ready_since: now }
    }

    /// When to look again, or why to close the connection now: `header_timeout` (ready for a
    /// request, and none came whole in time) or `idle` (nothing moved while waiting on its
    /// client). While a request is in flight it looks again within the shorter timeout, so a
    /// connection that says nothing after its answer is closed within twice its timeout.
    fn next_check(
        &mut self,
        activity: &Activity,
        connections: &Connections,
        now: Instant,
    ) -> Result<Instant, &'static str> {
        let moved = activity.moved.load(Ordering::Relaxed);
        if moved != self.moved {
            (self.moved, self.quiet_since) = (moved, now);
        }
        let answered = activity.answered.load(Ordering::Relaxed);
        if answered != self.answered {
            (self.answered, self.ready_since) = (answered, now);
        }
        let in_flight = activity.in_flight.load(Ordering::Relaxed) > 0;
        let mut next = now + connections.idle_timeout.min(connections.header_timeout);
        if !in_flight {
            let deadline = self.ready_since + connections.header_timeout;
            if now >= deadline {
                return Err("header_timeout");
            }
            next = next.min(deadline);
        }
        let quiet = self.quiet_since + connections.idle_timeout;
        if now < quiet {
            return Ok(next.min(quiet));
        }
        // Quiet for long enough: idle unless it is working on an answer its client takes.
        if !in_flight || activity.blocked.load(Ordering::Relaxed) { Err("idle") } else { Ok(next) }
    }
}

/// Counts a request as in flight from when it reaches the router until its answer's body is
/// written whole or dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        // The answer is done: the next header's time counts from here.
        self.0.answered.fetch_add(1, Ordering::Relaxed);
    }
}

/// An answer's body that keeps its request in flight while it is being written.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A socket that records its activity.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn wrote(&self, written: &Poll<io::Result<usize>>) {
        match written {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.activity.blocked.store(false, Ordering::Relaxed);
                self.activity.moved.fetch_add(1, Ordering::Relaxed);
            }
            Poll::Pending => self.activity.blocked.store(true, Ordering::Relaxed),
            Poll::Ready(_) => {}
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.moved.fetch_add(1, Ordering::Relaxed);
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    fn connections() -> Connections {
        Connections { header_timeout: HEADER, idle_timeout: IDLE, max_connections: 1 }
    }

    #[test]
    fn a_request_must_come_whole_within_the_header_timeout_however_busy_its_sender() {
        let opened = Instant::now();
        let (activity, mut seen) = (Arc::new(Activity::default()), Seen::new(opened));
        let at = |seconds: u64| opened + Duration::from_secs(seconds);
        // A byte a second, and never a whole header.
        for second in 1..10 {
            activity.moved.fetch_add(1, Ordering::Relaxed);
            assert_eq!(seen.next_check(&activity, &connections(), at(second)), Ok(at(10)), "{second}");
        }
        assert_eq!(seen.next_check(&activity, &connections(), at(10)), Err("header_timeout"));
    }

    #[test]
    fn a_connection_is_idle_only_while_it_waits_on_its_client() {
        let opened = Instant::now();
        let at = |seconds: u64| opened + Duration::from_secs(seconds);
        let quiet = Connections { header_timeout: Duration::from_secs(600), ..connections() };
        // Opened, and nothing since.
        let (activity, mut seen) = (Arc::new(Activity::default()), Seen::new(opened));
        assert_eq!(seen.next_check(&activity, &quiet, at(59)), Ok(at(60)));
        assert_eq!(seen.next_check(&activity, &quiet, at(60)), Err("idle"));
        // Working on an answer: not idle, however long it takes, while the client takes what
        // is written; idle once it does not.
        let (activity, mut seen) = (Arc::new(Activity::default()), Seen::new(opened));
        let in_flight = InFlight::new(&activity);
        assert_eq!(seen.next_check(&activity, &quiet, at(600)), Ok(at(660)));
        activity.blocked.store(true, Ordering::Relaxed);
        assert_eq!(seen.next_check(&activity, &quiet, at(660)), Err("idle"));
        // Its answer done, the times count from the check that sees it.
        activity.blocked.store(false, Ordering::Relaxed);
        activity.moved.fetch_add(1, Ordering::Relaxed);
        drop(in_flight);
        assert_eq!(seen.next_check(&activity, &connections(), at(700)), Ok(at(710)));
        assert_eq!(seen.next_check(&activity, &connections(), at(710)), Err("header_timeout"));
    }
}
