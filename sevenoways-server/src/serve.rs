//! The HTTP listener: accepts connections and serves the router on each, with the limits
//! that keep slow or numerous clients from taking the server away from everyone else.
//!
//! `axum::serve` sets no hyper timer, so hyper's header timeout is off and a client that
//! sends half a request line holds its connection (and a file descriptor) forever; a few
//! hundred such clients exhausted the descriptors and graceful shutdown waited on them
//! for ever (audit F6). Here, from [`HttpConfig`]:
//!
//! - **Header timeout** (`header_read_timeout_secs`, 10): hyper's own, with a Tokio timer.
//!   It runs from the connection's start, and again from each answer on a kept-alive
//!   connection, until the next request's headers are complete.
//! - **Idle timeout** (`idle_timeout_secs`, 60): a connection that moves no byte either
//!   way while no request on it is being handled is closed. That covers a client that
//!   stops reading its answer, which no other limit does. A handler's own time is bounded
//!   by `request_timeout_secs`.
//! - **Connection cap** (`max_connections`, 1024, lowered to fit the open-file limit):
//!   when a connection arrives at the cap, the connection idle the longest (no request in
//!   progress: one still sending its headers, or an idle keep-alive) is closed to make
//!   room, so a flood of slow connections evicts itself and `/healthz` still gets in.
//!   Only when every connection has a request in progress does the listener stop
//!   accepting until one ends; new connections then wait in the kernel's queue, which
//!   costs no descriptor, and are served in order.
//! - **Bounded shutdown** (`shutdown_timeout_secs`, 10): on shutdown the listener closes,
//!   every connection is told to finish its request in progress and close, and whatever
//!   is still open after the timeout is dropped. The background loops stop on the same
//!   signal and release their leases independently, so a stuck client never delays that.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::config::HttpConfig;

/// Descriptors kept free for the database, webhook deliveries and the process itself
/// when the connection cap is fitted to the open-file limit, beyond the webhook slots.
const RESERVED_FDS: u64 = 64;

/// The connection cap for `configured` under this process's open-file limit, keeping
/// 64 plus `other_sockets` descriptors for everything else. At least 16.
pub fn effective_max_connections(configured: usize, other_sockets: usize) -> usize {
    let configured = configured.max(1);
    match open_file_limit() {
        Some(limit) => {
            let room = limit.saturating_sub(RESERVED_FDS + other_sockets as u64);
            configured.min(room.max(16) as usize)
        }
        None => configured,
    }
}

/// The soft limit on open files, where there is one.
fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raises this process's soft open-file limit to its hard limit (as Go's runtime does),
/// so the connection cap is not held down by a conservative default soft limit. Returns
/// the soft limit in force afterwards. Called by the binary, not by [`crate::launch`]: a
/// library should not change process-wide limits.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current.is_some() && limit.current != limit.maximum {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: limit.maximum,
                    maximum: limit.maximum,
                },
            );
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Serves `app` on `listener` until `stop` turns true, then shuts down within
/// `config.shutdown_timeout_secs`.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    config: HttpConfig,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_read_timeout_secs.max(1)));
    let builder = Arc::new(builder);
    let idle = Duration::from_secs(config.idle_timeout_secs.max(1));
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
    let registry = Arc::new(Registry::default());
    let mut connections = JoinSet::new();
    let mut accept_errors = 0u32;
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                accept_errors = 0;
                accepted
            }
            // A client that gave up before being accepted: nothing to wait for.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                continue;
            }
            // Out of descriptors (EMFILE) or memory: wait for some to be freed rather
            // than spin, longer each time in a row (20 ms up to 640 ms).
            Err(e) => {
                accept_errors = (accept_errors + 1).min(6);
                let pause = Duration::from_millis(10 << accept_errors);
                tracing::warn!(error = %e, ?pause, "accept failed; pausing");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                continue;
            }
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // At the cap: make room by closing the connection idle the longest; if
                // every connection is busy with a request, wait for one to finish.
                registry.evict_idlest();
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (id, state) = registry.add();
        let io = TokioIo::new(Tracked {
            inner: stream,
            state: state.clone(),
        });
        let service = {
            let (app, state) = (app.clone(), state.clone());
            tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                let (app, state) = (app.clone(), state.clone());
                // The client's address, for limits per client (the console's sign-in).
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                async move {
                    let _busy = Busy::start(&state);
                    app.oneshot(req.map(axum::body::Body::new)).await
                }
            })
        };
        let (builder, registry, mut stop) = (builder.clone(), registry.clone(), stop.clone());
        connections.spawn(async move {
            let _permit = permit;
            let _registered = Registered { registry, id };
            let conn = builder.serve_connection(io, TowerToHyperService::new(service));
            tokio::pin!(conn);
            let mut stopping = false;
            loop {
                let wake_at = state.idle_deadline(idle);
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop.wait_for(|s| *s), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    _ = state.evict.notified() => {
                        tracing::debug!("closed an idle connection to make room");
                        break;
                    }
                    _ = tokio::time::sleep_until(wake_at.into()) => {
                        if state.is_idle_for(idle) {
                            tracing::debug!("closed a connection idle too long");
                            break;
                        }
                    }
                }
            }
        });
    }
    // Stopped: the listener closes when dropped here; connections finish what they are
    // doing (each was told to on the same signal), within the bound.
    drop(listener);
    let grace = Duration::from_secs(config.shutdown_timeout_secs);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open {grace:?} after shutdown began; dropping them"
        );
        connections.shutdown().await;
    }
}

/// Every open connection's state, for eviction at the cap.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn add(&self) -> (u64, Arc<ConnState>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new());
        self.lock().insert(id, state.clone());
        (id, state)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the connection idle the longest with no request in progress to close; none
    /// when every connection is busy. (The accept loop waits for the freed slot before
    /// accepting again, so one eviction is in progress at a time.)
    fn evict_idlest(&self) {
        let open = self.lock();
        let victim = open
            .values()
            .filter(|s| s.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|s| s.last_active());
        if let Some(state) = victim {
            state.evict.notify_one();
        }
    }
}

/// Removes a connection from the registry when its task ends, however it ends.
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// What the listener knows about one connection.
struct ConnState {
    /// When a byte last moved, in milliseconds since `born`.
    last_active: AtomicU64,
    born: Instant,
    /// Requests being handled.
    in_flight: AtomicUsize,
    evict: Notify,
}

impl ConnState {
    fn new() -> Self {
        Self {
            last_active: AtomicU64::new(0),
            born: Instant::now(),
            in_flight: AtomicUsize::new(0),
            evict: Notify::new(),
        }
    }

    fn touch(&self) {
        let now = self.born.elapsed().as_millis() as u64;
        self.last_active.store(now, Ordering::Release);
    }

    fn last_active(&self) -> Instant {
        self.born + Duration::from_millis(self.last_active.load(Ordering::Acquire))
    }

    /// When to look again whether the connection has been idle for `idle`.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            Instant::now() + idle
        } else {
            self.last_active() + idle
        }
    }

    fn is_idle_for(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.last_active().elapsed() >= idle
    }
}

/// Counts a request as in progress for as long as its handler runs.
struct Busy(Arc<ConnState>);

impl Busy {
    fn start(state: &Arc<ConnState>) -> Self {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        state.touch();
        Self(state.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that records when bytes last moved on it.
struct Tracked {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.touch();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.state.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.state.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_fits_under_the_open_file_limit() {
        let wanted = 10_000_000;
        let cap = effective_max_connections(wanted, 32);
        match open_file_limit() {
            Some(limit) => {
                assert!(cap as u64 <= limit.saturating_sub(RESERVED_FDS + 32).max(16));
                assert!(cap >= 16);
            }
            None => assert_eq!(cap, wanted),
        }
        // A cap below the limit is kept as configured.
        assert_eq!(effective_max_connections(10, 32), 10);
    }
}
