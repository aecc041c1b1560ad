//! Webhook delivery: fan-out, signed POSTs, retries, fairness between tenants, the circuit
//! breaker, and the record of every attempt.
//!
//! # Durability
//!
//! An event row is written in the same transaction as the change that raised it (see
//! [`crate::store`]). This loop then
//! 1. **fans out** ([`Store::dispatch_events`]): each new event becomes one pending
//!    delivery per matching subscription that is not disabled, and is marked dispatched,
//!    in one transaction;
//! 2. **claims** due deliveries with a lease ([`Store::claim_deliveries`]), so two
//!    processes never attempt the same delivery at once, and a crashed worker's
//!    deliveries are due again when its lease expires;
//! 3. **attempts** each: an HTTP POST of the stored payload bytes, exactly as stored;
//! 4. **records** the attempt and its outcome ([`Store::record_attempt`]) if its lease
//!    still holds (a worker that lost its lease records nothing): succeeded on any 2xx,
//!    otherwise retried on the schedule below until three days after the event, then
//!    failed. Failed deliveries can be sent again with
//!    `POST /api/webhooks/:id/deliveries/:deliveryId/redeliver`.
//!
//! Delivery is at least once (an attempt whose answer is lost to a crash is made
//! again); receivers deduplicate on `X-Webhook-Id` (= `webhook-id`), the event id. Order
//! across events is not guaranteed (a retry can overtake); `timestamp` orders them.
//!
//! # Fairness
//!
//! One tenant's slow or dead receivers must not delay another tenant's deliveries (audit
//! finding F4). So:
//! - the claim goes round-robin: one delivery per account in turn (the account served
//!   longest ago first), and within an account one per webhook in turn;
//! - caps on attempts in flight, counted over every process: `max_in_flight_per_account`
//!   (8) per account and `max_in_flight_per_endpoint` (4) per webhook, within this
//!   process's `max_in_flight` (64). With the defaults, eight tenants whose every receiver
//!   hangs are needed to fill the pool, and each attempt holds its slot for at most
//!   `timeout_ms` (10 s), connecting for at most `connect_timeout_ms` (2 s);
//! - the circuit breaker: after `breaker_after_failures` (5) failed attempts in a row, a
//!   webhook rests (no attempt at all) for `retry_base_ms` (5 s), doubling with each further
//!   failure up to `breaker_max_pause_ms` (1 h), then is tried one delivery at a time
//!   until an attempt succeeds, which closes it. After `disable_after_failures` (20)
//!   failures in a row spanning `disable_after_secs` (3 days) the webhook is disabled:
//!   nothing is queued for it or sent to it, `GET /api/webhooks` shows `disabled` and
//!   `disabledReason`, and a `webhook.disabled` event goes to the account's other
//!   webhooks. `POST /api/webhooks/:id/enable` (`svw webhooks enable`) turns it back on and
//!   sends what was pending at once;
//! - `POST /api/webhooks/:id/test` and `.../redeliver` are limited to
//!   `test_and_redeliver_per_minute` (10) calls per API key per sliding minute (429 with
//!   `Retry-After` beyond).
//!
//! # The request
//!
//! `POST <url>` with `Content-Type: application/json`, the body being the event's stored
//! payload, and:
//! - `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, body)>` over exactly the body
//!   bytes; the payload is compact `serde_json` output, which `JSON.stringify` reproduces
//!   byte for byte, so the documented Node.js receiver (which signs
//!   `JSON.stringify(req.body)`) verifies it too (see [`sevenoways_sdk::signature`]).
//!   It holds one signature (the documented receiver compares it as a string), so after
//!   a rotation it is made with the new secret at once;
//! - `X-Webhook-Id`: the event id, the same on every attempt;
//! - `X-Webhook-Timestamp`: the attempt's Unix time in seconds;
//! - the Standard Webhooks headers: `webhook-id` (the event id), `webhook-timestamp` (the
//!   same attempt time) and `webhook-signature: v1,<base64>` over `id.timestamp.body`, with
//!   a second `v1,…` entry for the old secret during a rotation's overlap. Receivers that
//!   refuse timestamps more than five minutes off cannot be replayed old deliveries.
//!
//! Redirects are not followed (a 3xx is a failed attempt), no proxy is used, and the
//! connection goes only to addresses [`crate::ssrf`] allows, checked at connect time.
//!
//! # Retries
//!
//! [`next_attempt`]: exponential backoff from `retry_base_ms`, doubling per attempt up
//! to `retry_max_ms`, with "equal jitter" (a random 50–100 % of the step) so receivers
//! coming back up are not hit by every sender at once; never sooner than the receiver's
//! `Retry-After` (seconds or an HTTP date) on a 429 or 503 or any other answer; the last
//! attempt is made at the give-up time, three days after the event by default.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use sevenoways_sdk::DeliveryId;
use sevenoways_sdk::signature::{
    ID_HEADER, SIGNATURE_HEADER, STANDARD_ID_HEADER, STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER, TIMESTAMP_HEADER, sign, standard_signature_header,
};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::config::{Config, WebhookConfig};
use crate::ssrf;
use crate::store::{
    AttemptOutcome, AttemptRecord, BreakerPolicy, ClaimLimits, ClaimedDelivery, Recorded, Store,
};

/// Events fanned out per transaction.
const DISPATCH_BATCH: u32 = 500;

/// The shortest time between two fan-outs started by [`Store::events_committed`]: events
/// that commit meanwhile share the next one.
const RUNG_GAP: Duration = Duration::from_millis(5);

/// Attempts recorded per transaction at most.
const RECORD_BATCH: usize = 256;

/// What recording one attempt came to; the error as text, as every attempt of a failed
/// batch shares it.
type RecordReply = Result<Recorded, String>;

/// Records attempts in batches: the attempts that finish while one batch commits share
/// the next transaction (and its one fsync) instead of taking one each, as sends share
/// the queue's group commit.
#[derive(Clone)]
struct Recorder {
    tx: mpsc::Sender<(AttemptRecord, oneshot::Sender<RecordReply>)>,
}

impl Recorder {
    /// Starts the recording task; it ends when every `Recorder` is dropped.
    fn start(
        store: Arc<dyn Store>,
        breaker: BreakerPolicy,
        capacity: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) =
            mpsc::channel::<(AttemptRecord, oneshot::Sender<RecordReply>)>(capacity.max(1));
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(RECORD_BATCH);
            while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
                let (records, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                let mut result = store.record_attempts(&records, Utc::now(), &breaker).await;
                // A conflict (a deadlock with another replica, say) is worth one more try
                // while the leases hold; after that they run out and the attempts are
                // made again.
                if result.is_err() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    result = store.record_attempts(&records, Utc::now(), &breaker).await;
                }
                match result {
                    Ok(recorded) => {
                        for (reply, r) in replies.into_iter().zip(recorded) {
                            let _ = reply.send(Ok(r));
                        }
                    }
                    Err(e) => {
                        let e = e.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        (Self { tx }, task)
    }

    /// Records `record` with whatever else is waiting; what that did.
    async fn record(&self, record: AttemptRecord) -> RecordReply {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((record, reply))
            .await
            .map_err(|_| "the recorder stopped".to_owned())?;
        answer
            .await
            .unwrap_or_else(|_| Err("the recorder stopped".into()))
    }
}

/// The claim caps of `cfg`, for `total` free slots.
pub fn claim_limits(cfg: &WebhookConfig, total: u32) -> ClaimLimits {
    ClaimLimits {
        total,
        per_account: cfg.max_in_flight_per_account.clamp(1, u32::MAX as usize) as u32,
        per_endpoint: cfg.max_in_flight_per_endpoint.clamp(1, u32::MAX as usize) as u32,
        half_open_after: cfg.breaker_after_failures.max(1),
    }
}

/// The circuit breaker of `cfg`.
pub fn breaker_policy(cfg: &WebhookConfig) -> BreakerPolicy {
    let ms = |v: u64| v.min(i64::MAX as u64) as i64;
    BreakerPolicy {
        open_after: cfg.breaker_after_failures.max(1),
        base_pause_ms: ms(cfg.retry_base_ms),
        max_pause_ms: ms(cfg.breaker_max_pause_ms),
        disable_after_failures: cfg.disable_after_failures,
        disable_after_ms: ms(cfg.disable_after_secs.saturating_mul(1000)),
    }
}

/// When the next attempt is due after attempt number `attempt` failed at `now`, or
/// `None` to give up. `jitter` is a random number in `[0, 1)`.
pub fn next_attempt(
    cfg: &WebhookConfig,
    attempt: u32,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    if now >= give_up_at {
        return None;
    }
    let step = cfg
        .retry_base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
        .min(cfg.retry_max_ms.max(cfg.retry_base_ms));
    let jittered = (step as f64 * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))) as u64;
    let asked = retry_after.map_or(0, |d| d.as_millis().min(u64::MAX as u128) as u64);
    let wait = jittered.max(asked).max(1);
    let at = now
        .checked_add_signed(chrono::Duration::milliseconds(
            wait.min(i64::MAX as u64) as i64
        ))
        .unwrap_or(give_up_at);
    Some(at.min(give_up_at))
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The webhook HTTP client: time-limited (connecting within `connect_timeout_ms`), no
/// redirects, no proxy, guarded resolver.
pub fn http_client(config: &Config) -> reqwest::Client {
    let timeout = Duration::from_millis(config.webhooks.timeout_ms.max(1));
    let connect = Duration::from_millis(config.webhooks.connect_timeout_ms.max(1));
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect.min(timeout))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(ssrf::GuardedResolver::new(config.network))
        .build()
        .expect("a rustls client always builds")
}

/// Runs fan-out and delivery until `shutdown` turns true, then waits briefly for
/// attempts in flight and releases the leases of any still running.
pub async fn run(store: Arc<dyn Store>, config: Arc<Config>, mut shutdown: watch::Receiver<bool>) {
    let cfg = config.webhooks;
    let client = http_client(&config);
    let breaker = breaker_policy(&cfg);
    let poll = Duration::from_millis(cfg.poll_ms.max(5));
    let give_up_after = chrono::Duration::seconds(cfg.give_up_after_secs as i64);
    let lease = chrono::Duration::milliseconds((cfg.timeout_ms as i64).saturating_mul(2) + 5_000);
    // Claims in flight in this process, with their leases, to release at shutdown.
    let in_flight: Arc<Mutex<HashMap<DeliveryId, i64>>> = Arc::default();
    // A finished attempt frees a slot under the caps: claim again at once rather than at
    // the next poll, or a tenant with a fast receiver would get only its cap per poll.
    let finished = Arc::new(Notify::new());
    let mut tasks = JoinSet::new();
    let (recorder, recording) = Recorder::start(store.clone(), breaker, cfg.max_in_flight);
    // Fan-out runs once per poll, and once more when this process commits events (at most
    // once per `RUNG_GAP`, in batches); a wake-up by a finished attempt only claims.
    let mut fanned_out: Option<Instant> = None;
    let raised = store.events_committed();
    let mut rung = false;
    while !*shutdown.borrow() {
        let now = Utc::now();
        let since = fanned_out.map(|at| at.elapsed());
        let polled = since.is_none_or(|s| s >= poll || (rung && s >= RUNG_GAP));
        if polled {
            rung = false;
            fanned_out = Some(Instant::now());
            if let Err(e) = store
                .dispatch_events(now, now + give_up_after, DISPATCH_BATCH)
                .await
            {
                tracing::warn!(error = %e, "webhook fan-out failed; retrying");
            }
        }
        while tasks.try_join_next().is_some() {}
        let room = cfg.max_in_flight.max(1).saturating_sub(tasks.len()) as u32;
        // A claim has a cost of its own, whatever it takes (reading what is due and what
        // is in flight): while most slots are busy, wait for a quarter of them (or the
        // next poll) rather than claiming one at a time.
        let worth_it = polled || tasks.is_empty() || room as usize >= cfg.max_in_flight / 4;
        let claimed = if room == 0 || !worth_it {
            Vec::new()
        } else {
            store
                .claim_deliveries(now, now + lease, claim_limits(&cfg, room))
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed; retrying");
                    Vec::new()
                })
        };
        let busy = claimed.len() as u32 == room && room > 0;
        for delivery in claimed {
            in_flight
                .lock()
                .expect("not poisoned")
                .insert(delivery.id.clone(), delivery.lease);
            let (recorder, client, in_flight) =
                (recorder.clone(), client.clone(), in_flight.clone());
            let finished = finished.clone();
            let policy = config.network;
            tasks.spawn(async move {
                let record = attempt(&client, &policy, &cfg, &delivery).await;
                crate::telemetry::webhook_attempt(
                    record.error.is_none(),
                    Duration::from_millis(record.latency_ms),
                );
                let (code, latency_ms, outcome) =
                    (record.response_code, record.latency_ms, record.outcome);
                let recorded = recorder.record(record).await;
                in_flight.lock().expect("not poisoned").remove(&delivery.id);
                finished.notify_one();
                // Logged after the record, so a failing log cannot cost the record.
                log_attempt(&delivery, code, latency_ms, outcome, recorded);
            });
        }
        if busy {
            tokio::task::yield_now().await;
            continue;
        }
        let until = if rung { RUNG_GAP } else { poll };
        let next_fan_out = fanned_out.map_or(until, |at| until.saturating_sub(at.elapsed()));
        tokio::select! {
            _ = tokio::time::sleep(next_fan_out) => {}
            _ = finished.notified() => {}
            _ = async {
                match &raised {
                    Some(raised) => raised.notified().await,
                    None => std::future::pending().await,
                }
            }, if !rung => rung = true,
            _ = shutdown.changed() => {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    // Attempts still running hold clones of the recorder; they are aborted with `tasks`.
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(recorder);
    let _ = recording.await;
    let leftover: Vec<(DeliveryId, i64)> =
        in_flight.lock().expect("not poisoned").drain().collect();
    if !leftover.is_empty()
        && let Err(e) = store.release_deliveries(&leftover).await
    {
        tracing::warn!(error = %e, "could not release webhook leases; they expire on their own");
    }
}

/// One line per attempt: ids, status and outcome; never the URL, the secret or the body.
fn log_attempt(
    d: &ClaimedDelivery,
    status: Option<u16>,
    latency_ms: u64,
    outcome: AttemptOutcome,
    recorded: RecordReply,
) {
    match recorded {
        Ok(Recorded::Recorded) => tracing::info!(
            delivery = %d.id,
            webhook = %d.webhook_id,
            event = %d.event_id,
            event_type = %d.event_type,
            attempt = d.attempt,
            status = ?status,
            latency_ms,
            outcome = ?outcome,
            "webhook attempt"
        ),
        Ok(Recorded::Disabled) => tracing::warn!(
            webhook = %d.webhook_id,
            account = d.account_id.0,
            "webhook disabled after failing for too long"
        ),
        Ok(Recorded::Stale) => tracing::warn!(
            delivery = %d.id,
            attempt = d.attempt,
            "webhook attempt outlived its lease; another worker owns the delivery now"
        ),
        // The lease expires and the attempt is made again: never lost.
        Err(e) => {
            tracing::warn!(delivery = %d.id, error = %e, "could not record a webhook attempt")
        }
    }
}

/// Makes one attempt and decides what happens next. Never logs the secret or the body.
pub async fn attempt(
    client: &reqwest::Client,
    policy: &crate::config::NetworkConfig,
    cfg: &WebhookConfig,
    d: &ClaimedDelivery,
) -> AttemptRecord {
    let started_at = Utc::now();
    let clock = Instant::now();
    let result = send(client, policy, d, started_at).await;
    let latency_ms = clock.elapsed().as_millis() as u64;
    let finished = Utc::now();
    let (response_code, error, retry_after) = match result {
        Ok((status, _)) if status.is_success() => (Some(status.as_u16()), None, None),
        Ok((status, retry_after)) => (
            Some(status.as_u16()),
            Some(format!(
                "HTTP {}{}",
                status.as_u16(),
                status
                    .canonical_reason()
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default()
            )),
            retry_after,
        ),
        Err(e) => (None, Some(e), None),
    };
    let outcome = match &error {
        None => AttemptOutcome::Succeeded,
        Some(_) => match next_attempt(
            cfg,
            d.attempt,
            finished,
            d.give_up_at,
            retry_after,
            fastrand::f64(),
        ) {
            Some(at) => AttemptOutcome::RetryAt(at),
            None => AttemptOutcome::GaveUp,
        },
    };
    let error = match (error, outcome) {
        (Some(e), AttemptOutcome::GaveUp) => {
            Some(format!("{e} (gave up after {} attempts)", d.attempt))
        }
        (e, _) => e,
    };
    AttemptRecord {
        delivery_id: d.id.clone(),
        lease: d.lease,
        attempt: d.attempt,
        started_at,
        response_code,
        latency_ms,
        error,
        outcome,
    }
}

async fn send(
    client: &reqwest::Client,
    policy: &crate::config::NetworkConfig,
    d: &ClaimedDelivery,
    started_at: DateTime<Utc>,
) -> Result<(reqwest::StatusCode, Option<Duration>), String> {
    let url = url::Url::parse(&d.url).map_err(|e| format!("invalid URL: {e}"))?;
    ssrf::check_literal(policy, &url).map_err(|r| r.to_string())?;
    let timestamp = started_at.timestamp();
    // One signature only (the Node.js example compares the header as a string): the
    // current secret's. The old one signs only webhook-signature during the overlap.
    let legacy = sign(&d.secret, &d.payload);
    let standard = standard_signature_header(
        std::iter::once(&d.secret).chain(d.previous_secret.as_ref()),
        d.event_id.as_str(),
        timestamp,
        &d.payload,
    );
    let response = client
        .post(url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(
            USER_AGENT,
            concat!("Sevenoways-Relay-Webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .header(SIGNATURE_HEADER, legacy)
        .header(ID_HEADER, d.event_id.as_str())
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(STANDARD_ID_HEADER, d.event_id.as_str())
        .header(STANDARD_TIMESTAMP_HEADER, timestamp.to_string())
        .header(STANDARD_SIGNATURE_HEADER, standard)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(describe)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    Ok((status, retry_after))
}

/// A transport error in one line, without the URL (it may carry a token).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut detail = Vec::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !detail.contains(&text) {
            detail.push(text);
        }
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", detail.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn cfg() -> WebhookConfig {
        WebhookConfig {
            retry_base_ms: 5_000,
            retry_max_ms: 3_600_000,
            ..WebhookConfig::default()
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let now = t("2026-01-01T00:00:00Z");
        let far = now + chrono::Duration::days(3);
        let wait = |attempt, jitter| {
            (next_attempt(&cfg(), attempt, now, far, None, jitter).unwrap() - now)
                .num_milliseconds()
        };
        assert_eq!(wait(1, 0.0), 2_500);
        assert_eq!(wait(1, 0.999_999), 4_999);
        assert_eq!(wait(2, 0.0), 5_000);
        assert_eq!(wait(3, 0.0), 10_000);
        // Capped at an hour (30 min to 1 h with jitter), however many attempts.
        assert_eq!(wait(20, 0.0), 1_800_000);
        assert_eq!(wait(500, 1.0), 3_600_000);
    }

    #[test]
    fn retry_after_is_honoured_and_the_deadline_is_kept() {
        let now = t("2026-01-01T00:00:00Z");
        let far = now + chrono::Duration::days(3);
        let at = next_attempt(&cfg(), 1, now, far, Some(Duration::from_secs(120)), 0.5).unwrap();
        assert_eq!(at, t("2026-01-01T00:02:00Z"));
        // A Retry-After shorter than the backoff does not make it sooner.
        let at = next_attempt(&cfg(), 3, now, far, Some(Duration::from_secs(1)), 0.0).unwrap();
        assert_eq!(at, t("2026-01-01T00:00:10Z"));
        // Never past the give-up time: the last attempt is made then.
        let soon = now + chrono::Duration::seconds(3);
        assert_eq!(next_attempt(&cfg(), 5, now, soon, None, 0.0), Some(soon));
        let at = next_attempt(
            &cfg(),
            1,
            now,
            far,
            Some(Duration::from_secs(10 * 86_400)),
            0.0,
        );
        assert_eq!(at, Some(far));
        // At or after it, give up.
        assert_eq!(next_attempt(&cfg(), 9, far, far, None, 0.0), None);
    }

    #[test]
    fn three_days_of_retries_then_give_up() {
        let start = t("2026-01-01T00:00:00Z");
        let give_up = start + chrono::Duration::days(3);
        let (mut now, mut attempts) = (start, 1);
        while let Some(at) = next_attempt(&cfg(), attempts, now, give_up, None, 0.5) {
            assert!(at > now && at <= give_up);
            now = at;
            attempts += 1;
        }
        assert_eq!(now, give_up);
        assert!((60..120).contains(&attempts), "{attempts} attempts");
    }

    #[test]
    fn parses_retry_after() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
