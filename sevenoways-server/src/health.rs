//! Whether this process can do its work: the background loops are running, and a write
//! through the path sends take succeeds. `/readyz` answers from here.
//!
//! # Supervised loops
//!
//! Every background loop (queue, receipts, scheduler, webhooks, retention, checkpoints,
//! key revocations) runs under [`supervise`]. A loop that panics, or returns before
//! shutdown, is logged at error level with its name, marked down (so `/readyz` answers
//! 503), and started again after a backoff: 100 ms, doubling to 30 s, back to 100 ms
//! once a run has lasted a minute. A loop's own errors (a failed claim) are retried inside
//! the loop and do not count as deaths. The restart count of each loop is reported by
//! `/readyz`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::store::{Store, StoreError};

/// The first restart's delay; it doubles per consecutive death.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest delay between restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long resets the backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// How long a write probe's answer is reused, so `/readyz` costs at most one write a
/// second however often it is asked.
const PROBE_REUSE: Duration = Duration::from_secs(1);

/// One loop's state, as `/readyz` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoopHealth {
    /// Running now.
    pub running: bool,
    /// Times it died and was started again since the server started.
    pub restarts: u32,
}

/// Why the server is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// For the client.
    pub message: String,
    /// Seconds until asking again is worthwhile.
    pub retry_after_secs: u64,
    /// For the log.
    pub detail: String,
}

/// The state of this process's loops and of its write path.
#[derive(Debug, Default)]
pub struct Health {
    loops: Mutex<BTreeMap<&'static str, LoopHealth>>,
    last_probe: tokio::sync::Mutex<Option<(Instant, Result<(), NotReady>)>>,
    #[cfg(feature = "testing")]
    injected: Mutex<std::collections::HashMap<&'static str, u32>>,
    #[cfg(feature = "testing")]
    inject_wake: tokio::sync::Notify,
}

impl Health {
    /// Each loop's state, by name.
    pub fn loops(&self) -> BTreeMap<&'static str, LoopHealth> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, LoopHealth>> {
        self.loops.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_running(&self, name: &'static str, running: bool) {
        let mut loops = self.lock();
        let entry = loops.entry(name).or_default();
        if entry.running && !running {
            entry.restarts += 1;
        }
        entry.running = running;
    }

    /// Ready when every loop runs and a write probe succeeds (reused for a second).
    pub async fn check(&self, store: &dyn Store) -> Result<(), NotReady> {
        let down: Vec<&'static str> = self
            .lock()
            .iter()
            .filter(|(_, h)| !h.running)
            .map(|(name, _)| *name)
            .collect();
        if !down.is_empty() {
            let names = down.join(", ");
            return Err(NotReady {
                message: format!(
                    "not ready: background loop(s) {names} stopped and are being restarted"
                ),
                retry_after_secs: 1,
                detail: format!("loops down: {names}"),
            });
        }
        let mut last = self.last_probe.lock().await;
        if let Some((at, result)) = &*last
            && at.elapsed() < PROBE_REUSE
        {
            return result.clone();
        }
        let result = store.probe_write().await.map_err(|e| not_ready(&e));
        *last = Some((Instant::now(), result.clone()));
        result
    }

    /// Makes the loop `name` panic now, inside its task as a bug in it would, and again
    /// at each of its next `times - 1` starts: a test hook for supervision, compiled only
    /// with the `testing` feature.
    #[cfg(feature = "testing")]
    pub fn inject_panics(&self, name: &'static str, times: u32) {
        self.injected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, times);
        self.inject_wake.notify_waiters();
    }

    /// Returns when a panic was injected into `name` (never, unless a test asks).
    #[cfg(feature = "testing")]
    async fn injected_panic(&self, name: &'static str) {
        loop {
            let wake = self.inject_wake.notified();
            tokio::pin!(wake);
            // Registered before the check, so an injection between the two is not missed.
            wake.as_mut().enable();
            if self.take_injected(name) {
                return;
            }
            wake.await;
        }
    }

    #[cfg(feature = "testing")]
    fn take_injected(&self, name: &'static str) -> bool {
        let mut injected = self.injected.lock().unwrap_or_else(|e| e.into_inner());
        match injected.get_mut(name) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

fn not_ready(e: &StoreError) -> NotReady {
    let reason = match e {
        StoreError::Degraded { reason, .. } => reason,
        StoreError::Unavailable(reason) => reason,
        _ => "the database failed",
    };
    NotReady {
        message: format!("not ready: sends cannot be stored now ({reason})"),
        retry_after_secs: e.retry_after_secs().unwrap_or(5),
        detail: e.to_string(),
    }
}

/// Runs the loop `make()` builds on `tasks`, starting it again whenever it dies, until
/// `shutdown` turns true (see the module docs).
pub fn supervise<F, Fut>(
    tasks: &mut JoinSet<()>,
    health: Arc<Health>,
    name: &'static str,
    mut shutdown: watch::Receiver<bool>,
    make: F,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    health.lock().entry(name).or_default().running = true;
    tasks.spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            health.set_running(name, true);
            let run = make();
            #[cfg(feature = "testing")]
            let run = {
                let health = health.clone();
                async move {
                    tokio::select! {
                        () = run => {}
                        () = health.injected_panic(name) => {
                            panic!("injected panic in the {name} loop (testing hook)")
                        }
                    }
                }
            };
            let outcome = tokio::spawn(run).await;
            if *shutdown.borrow() {
                break;
            }
            health.set_running(name, false);
            let why = match outcome {
                Ok(()) => "returned before shutdown".to_owned(),
                Err(e) if e.is_panic() => {
                    let payload = e.into_panic();
                    let text = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a non-text panic".into());
                    format!("panicked: {text}")
                }
                Err(e) => format!("was cancelled: {e}"),
            };
            if started.elapsed() >= HEALTHY_RUN {
                backoff = FIRST_BACKOFF;
            }
            tracing::error!(
                task = name,
                reason = %why,
                restart_in = ?backoff,
                "background loop died; restarting it"
            );
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_loop_that_dies_is_restarted_and_counted_until_shutdown() {
        let health = Arc::new(Health::default());
        let (stop, rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let starts = Arc::new(AtomicU32::new(0));
        let counter = starts.clone();
        let shutdown = rx.clone();
        supervise(&mut tasks, health.clone(), "flaky", rx, move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut shutdown = shutdown.clone();
            async move {
                match n {
                    0 => panic!("first run fails"),
                    1 => {} // returns early: a death too
                    _ => {
                        let _ = shutdown.wait_for(|s| *s).await;
                    }
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while starts.load(Ordering::SeqCst) < 3 {
            assert!(Instant::now() < deadline, "not restarted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let flaky = health.loops()["flaky"].clone();
        assert!(flaky.running);
        assert_eq!(flaky.restarts, 2);
        stop.send(true).unwrap();
        while tasks.join_next().await.is_some() {}
        assert_eq!(
            starts.load(Ordering::SeqCst),
            3,
            "not restarted after shutdown"
        );
    }
}
