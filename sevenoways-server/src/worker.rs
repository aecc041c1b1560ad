//! Background work: the queue worker (claim → transport → record), and the sandbox's
//! receipt clock. Each loop stops when the shutdown signal fires, releasing its leases.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sevenoways_sdk::models::webhooks::{MessageEvent, MessageFailed};
use sevenoways_sdk::{EventData, QueueId};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::{Config, QueueConfig};
use crate::store::{Claimed, NewEvent, Pacing, Store};
use crate::transport::{Transport, TransportError};

/// Entries claimed per round. Each number gives at most one per round (pacing), so this
/// bounds how many numbers send in parallel.
const CLAIM_BATCH: u32 = 64;

/// The least time between a claim that found nothing and the next one a send's wake
/// starts: bounds the worker's claims under a burst of sends to 100 a second, at the cost
/// of up to this much delay for a send that arrives just after an empty claim (pacing
/// gaps are a thousand times longer).
const WAKE_SETTLE: Duration = Duration::from_millis(10);

/// Runs the queue until `shutdown` turns true, then waits for in-flight sends and
/// releases any lease it still holds.
pub async fn run_queue(
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    config: Arc<Config>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let q = config.queue;
    let pacing = Pacing {
        min_gap_ms: config.pacing.min_gap_ms as i64,
        jitter_ms: config.pacing.jitter_ms as i64,
    };
    let in_flight: Arc<Mutex<HashSet<QueueId>>> = Arc::default();
    let mut tasks = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = Utc::now();
        let lease_until = now + chrono::Duration::seconds(q.lease_secs as i64);
        let claimed = match store.claim(now, lease_until, pacing, CLAIM_BATCH).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "queue claim failed; retrying");
                Vec::new()
            }
        };
        let busy = !claimed.is_empty();
        for entry in claimed {
            in_flight.lock().expect("not poisoned").insert(entry.id);
            let (store, transport, in_flight) =
                (store.clone(), transport.clone(), in_flight.clone());
            tasks.spawn(async move {
                deliver(&*store, &*transport, &entry, q).await;
                in_flight.lock().expect("not poisoned").remove(&entry.id);
            });
        }
        while tasks.try_join_next().is_some() {}
        if busy {
            // More may be due right away (other numbers, or the same once its gap passes).
            tokio::task::yield_now().await;
            let gap = Duration::from_millis(config.pacing.min_gap_ms.min(q.poll_ms));
            tokio::select! {
                _ = tokio::time::sleep(gap) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let found_nothing = tokio::time::Instant::now();
        tokio::select! {
            _ = wake.notified() => {
                // Every accepted send wakes the worker, and under load almost every wake
                // finds the sender's number inside its pacing gap: claiming once per wake
                // would spend a read (and the claim a writer's turn) per request. Wakes
                // within WAKE_SETTLE of a claim that found nothing wait out the rest of
                // it; a wake's permit is kept meanwhile, so none is lost.
                tokio::select! {
                    _ = tokio::time::sleep_until(found_nothing + WAKE_SETTLE) => {}
                    _ = shutdown.changed() => {}
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(q.poll_ms)) => {}
            _ = shutdown.changed() => {}
        }
    }
    // Give in-flight sends a moment to finish, then hand back whatever is still leased.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let leftover: Vec<QueueId> = in_flight.lock().expect("not poisoned").drain().collect();
    if !leftover.is_empty()
        && let Err(e) = store.release_leases(&leftover).await
    {
        tracing::warn!(error = %e, "could not release leases; they expire on their own");
    }
}

async fn deliver(store: &dyn Store, transport: &dyn Transport, entry: &Claimed, q: QueueConfig) {
    // A send must end well inside its lease: past it another worker may take the entry
    // over and send it again.
    let budget = Duration::from_secs(q.lease_secs)
        .saturating_sub(Duration::from_secs(2))
        .max(Duration::from_millis(500));
    let result = match tokio::time::timeout(budget, transport.send(entry)).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::Transient(format!(
            "the transport did not answer within {budget:?}"
        ))),
    };
    let now = Utc::now();
    let recorded = match result {
        Ok(sent) => {
            let event = NewEvent {
                account_id: entry.account_id,
                instance_id: entry.instance_id.clone(),
                data: EventData::MessageSent(MessageEvent {
                    queue_id: entry.id,
                    to: entry.to.clone(),
                    kind: Some(entry.content.kind().to_owned()),
                }),
            };
            // The engine's id goes in with the sent state, so its receipts find the entry.
            store
                .mark_sent_with_id(entry, now, event, sent.provider_id.as_deref())
                .await
        }
        Err(TransportError::Transient(reason)) if entry.attempts < q.max_attempts => {
            let delay = retry_delay(q.retry_base_ms, entry.attempts);
            tracing::info!(queue_id = %entry.id, attempts = entry.attempts, %reason, "send failed; will retry");
            store.mark_retry(entry, now + delay, &reason).await
        }
        Err(TransportError::Transient(reason) | TransportError::Permanent(reason)) => {
            tracing::info!(queue_id = %entry.id, attempts = entry.attempts, %reason, "send failed for good");
            let event = NewEvent {
                account_id: entry.account_id,
                instance_id: entry.instance_id.clone(),
                data: EventData::MessageFailed(MessageFailed {
                    queue_id: entry.id,
                    to: entry.to.clone(),
                    error: reason.clone(),
                    attempts: entry.attempts,
                }),
            };
            store.mark_failed(entry, now, &reason, event).await
        }
    };
    match recorded {
        Ok(true) => {}
        // Deleted with its instance, or taken over after the lease ran out: the newer
        // state stands and no second event is raised.
        Ok(false) => {
            tracing::info!(queue_id = %entry.id, "lease lost before the outcome was recorded")
        }
        // The lease expires and the entry is tried again: at-least-once, never lost.
        Err(e) => tracing::warn!(queue_id = %entry.id, error = %e, "could not record send outcome"),
    }
}

/// Exponential backoff with jitter: base × 2^(attempt-1), capped at 10 minutes, ±25 %.
pub fn retry_delay(base_ms: u64, attempt: u32) -> chrono::Duration {
    let exp = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(10 * 60 * 1000) as f64;
    let jittered = capped * (0.75 + fastrand::f64() * 0.5);
    chrono::Duration::milliseconds(jittered as i64)
}

/// The sandbox's receipt clock: `sent` becomes `delivered`, then `read`, on the
/// configured timings, for sandbox instances only (the other engines' entries move on
/// their own receipts). It reads times from the store, so it is correct across restarts.
pub async fn run_receipts(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    mut shutdown: watch::Receiver<bool>,
) {
    let delivered = chrono::Duration::milliseconds(config.sandbox.delivered_after_ms as i64);
    let read = chrono::Duration::milliseconds(config.sandbox.read_after_ms as i64);
    let tick = Duration::from_millis((config.sandbox.delivered_after_ms / 4).clamp(50, 1000));
    while !*shutdown.borrow() {
        let now = Utc::now();
        match store
            .advance_receipts(now, now - delivered, now - read)
            .await
        {
            // A full batch: more are due (after a pause, or a burst); go on at once.
            Ok(n) if n >= u64::from(crate::store::RECEIPT_BATCH) => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "receipt update failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Prunes old bookkeeping (see [`Store::prune`]) at start-up and then hourly, so the
/// database does not grow for ever with delivered webhooks and spent counters.
pub async fn run_retention(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    mut shutdown: watch::Receiver<bool>,
) {
    if config.retention_days == 0 {
        return;
    }
    let keep = chrono::Duration::days(config.retention_days as i64);
    while !*shutdown.borrow() {
        let now = Utc::now();
        match store.prune(now, now - keep).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                rows = n,
                "pruned finished queue entries, outbox rows, webhook deliveries, events and counters"
            ),
            Err(e) => tracing::warn!(error = %e, "pruning failed; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Deletes expired `Idempotency-Key` answers at start-up and then hourly. Lookups ignore
/// them already; this keeps the table at about a day of keyed requests.
pub async fn run_idempotency_pruning(store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        match store.prune_idempotency_keys(Utc::now(), 1000).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys = n, "pruned expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Prunes the engines' bookkeeping (receipts never matched, event ids kept to drop
/// redeliveries) a day after it came, hourly. Separate from [`run_retention`], which an
/// operator may turn off: this bookkeeping is never worth keeping.
pub async fn run_engine_pruning(store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        let before = Utc::now() - chrono::Duration::days(1);
        if let Err(e) = store.prune_engine_state(before).await {
            tracing::warn!(error = %e, "pruning engine bookkeeping failed; will try again");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Checkpoints the database's write-ahead log every `database.checkpoint_secs` (see
/// [`Store::checkpoint`]), so the log file shrinks back after a burst of writes.
pub async fn run_checkpoints(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(config.database.checkpoint_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if let Err(e) = store.checkpoint().await {
            tracing::warn!(error = %e, "WAL checkpoint failed; will try again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_and_caps() {
        for attempt in 1..30 {
            let d = retry_delay(1000, attempt).num_milliseconds();
            let base = (1000u64 << (attempt - 1).min(20)).min(600_000) as i64;
            assert!(d >= base * 3 / 4 && d <= base * 5 / 4, "{attempt}: {d}");
        }
    }
}
