//! Connections: accepted, held to their timeouts and capped, served with hyper's HTTP/1.1
//! connection builder, and finished on shutdown.
//!
//! axum's `serve` sets no header-read timeout and no cap, so a client that sends a header one
//! byte at a time, or opens sockets and says nothing, holds them for ever. Here:
//!
//! - **Header timeout.** A request's whole header must arrive within
//!   [`Connections::header_timeout`] of the connection being ready for one: opened, or its
//!   previous answer sent (hyper's own timer, which runs again for each request of a keep-alive
//!   connection). A slowloris sender is closed by it, and so is a keep-alive connection that
//!   says nothing.
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
use hyper_util::rt::{TokioIo, TokioTimer};
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
    let activity = Arc::new(Activity::new());
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
    builder.timer(TokioTimer::new()).header_read_timeout(connections.header_timeout).keep_alive(true);
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);
    let mut finishing = false;
    loop {
        let Some(check) = activity.next_check(connections.idle_timeout) else {
            crate::metrics::connection_closed("idle");
            return;
        };
        tokio::select! {
            // In order, without drawing a random number on every wake: the connection first.
            biased;
            result = served.as_mut() => {
                if let Err(error) = result
                    && error.is_timeout()
                {
                    crate::metrics::connection_closed("header_timeout");
                }
                return;
            }
            _ = closing.wait_for(|closing| *closing), if !finishing => {
                finishing = true;
                // Finish the request in flight, if any, then close.
                served.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(check.into()) => {}
        }
    }
}

/// When a connection last moved a byte, whether it is answering a request, and whether its
/// client is taking what is written.
struct Activity {
    opened: Instant,
    /// Milliseconds from `opened` to the last byte read or written.
    last: AtomicU64,
    in_flight: AtomicUsize,
    /// A write could not proceed (the client's window is full) since the last one that did.
    blocked: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        let since = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(since, Ordering::Relaxed);
    }

    /// When to look again, or `None` when the connection has been idle for `idle` (nothing
    /// moved while waiting on its client).
    fn next_check(&self, idle: Duration) -> Option<Instant> {
        let last = self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed));
        let now = Instant::now();
        let waiting_on_client =
            self.in_flight.load(Ordering::Relaxed) == 0 || self.blocked.load(Ordering::Relaxed);
        if now < last + idle {
            return Some(last + idle);
        }
        // Quiet for long enough: idle unless it is working on an answer.
        if waiting_on_client { None } else { Some(now + idle) }
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
        // The answer is done: the idle time counts from here.
        self.0.touch();
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
                self.activity.touch();
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
            self.activity.touch();
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

    #[test]
    fn a_connection_is_idle_only_while_it_waits_on_its_client() {
        let activity = Arc::new(Activity::new());
        let idle = Duration::from_millis(20);
        assert!(activity.next_check(idle).is_some(), "just opened");
        std::thread::sleep(Duration::from_millis(30));
        assert!(activity.next_check(idle).is_none(), "opened, and nothing since");
        let in_flight = InFlight::new(&activity);
        std::thread::sleep(Duration::from_millis(30));
        assert!(activity.next_check(idle).is_some(), "working on an answer");
        activity.blocked.store(true, Ordering::Relaxed);
        assert!(activity.next_check(idle).is_none(), "its client does not take the answer");
        activity.blocked.store(false, Ordering::Relaxed);
        drop(in_flight);
        assert!(activity.next_check(idle).is_some(), "the answer was just finished");
    }
}
