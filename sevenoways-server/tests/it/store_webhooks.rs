//! The webhook delivery store on SQLite directly, with injected instants: an attempt is
//! recorded only under the lease that claimed it (audit F20), and the claim shares the
//! slots fairly between accounts and webhooks.

use chrono::{Duration, Utc};
use sevenoways_sdk::models::webhooks::Webhook;
use sevenoways_sdk::{EventData, InstanceId, WebhookId, WebhookSecret};
use sevenoways_server::store::sqlite::SqliteStore;
use sevenoways_server::store::{
    AccountId, AttemptOutcome, AttemptRecord, BreakerPolicy, ClaimLimits, ClaimedDelivery,
    NewEvent, PageRequest, Recorded, Store,
};

const BREAKER: BreakerPolicy = BreakerPolicy {
    open_after: 5,
    base_pause_ms: 5_000,
    max_pause_ms: 3_600_000,
    disable_after_failures: 20,
    disable_after_ms: 259_200_000,
};

fn limits(total: u32, per_account: u32, per_endpoint: u32) -> ClaimLimits {
    ClaimLimits {
        total,
        per_account,
        per_endpoint,
        half_open_after: 5,
    }
}

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    (dir, store)
}

async fn account(store: &SqliteStore, name: &str) -> AccountId {
    let mut hash = [0u8; 32];
    hash[..name.len()].copy_from_slice(name.as_bytes());
    store.create_account(name, "default", &hash).await.unwrap()
}

async fn webhook(store: &SqliteStore, account: AccountId, n: u32) -> WebhookId {
    let id: WebhookId = format!("wh_{}_{n}", account.0).parse().unwrap();
    let hook = Webhook::new(
        id.clone(),
        format!("http://127.0.0.1:9/{n}"),
        Vec::new(),
        Utc::now(),
    );
    store
        .create_webhook(
            account,
            &hook,
            &WebhookSecret::new("whsec_store_test_secret"),
            0,
        )
        .await
        .unwrap();
    id
}

/// `n` events of the account, fanned out to each of its webhooks.
async fn events(store: &SqliteStore, account: AccountId, n: usize) {
    for i in 0..n {
        store
            .record_event(NewEvent {
                account_id: account,
                instance_id: InstanceId::new("n1").unwrap(),
                data: EventData::Unknown {
                    event: "message.received".into(),
                    data: serde_json::json!({ "i": i }),
                },
            })
            .await
            .unwrap();
    }
    let now = Utc::now();
    store
        .dispatch_events(now, now + Duration::days(3), 10_000)
        .await
        .unwrap();
}

fn record(d: &ClaimedDelivery, outcome: AttemptOutcome, code: u16) -> AttemptRecord {
    AttemptRecord {
        delivery_id: d.id.clone(),
        lease: d.lease,
        attempt: d.attempt,
        started_at: Utc::now(),
        response_code: Some(code),
        latency_ms: 5,
        error: (code != 200).then(|| format!("HTTP {code}")),
        outcome,
    }
}

#[tokio::test]
async fn an_attempt_outliving_its_lease_records_nothing() {
    let (_dir, store) = store().await;
    let a = account(&store, "a").await;
    let hook = webhook(&store, a, 1).await;
    events(&store, a, 1).await;
    let now = Utc::now();
    // Worker A claims with a lease that has already run out (it stalled that long)...
    let first = store
        .claim_deliveries(now, now - Duration::seconds(1), limits(10, 10, 10))
        .await
        .unwrap()
        .remove(0);
    // ...so worker B takes the delivery over, delivers it and records it.
    let second = store
        .claim_deliveries(now, now + Duration::seconds(60), limits(10, 10, 10))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((&first.id, second.attempt), (&second.id, 2));
    assert_eq!(
        store
            .record_attempt(
                &record(&second, AttemptOutcome::Succeeded, 200),
                Utc::now(),
                &BREAKER
            )
            .await
            .unwrap(),
        Recorded::Recorded
    );
    // A's late failure is refused: no second attempt on record, the delivery stays
    // succeeded rather than pending again, and the webhook's failure streak is untouched.
    let late = record(
        &first,
        AttemptOutcome::RetryAt(now + Duration::seconds(5)),
        500,
    );
    assert_eq!(
        store
            .record_attempt(&late, Utc::now(), &BREAKER)
            .await
            .unwrap(),
        Recorded::Stale
    );
    // Nor can A's shutdown release B's finished claim.
    store
        .release_deliveries(&[(first.id.clone(), first.lease)])
        .await
        .unwrap();
    let detail = store
        .get_delivery(a, &hook, &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            detail.delivery.status.as_str(),
            detail.delivery.response_code
        ),
        ("succeeded", Some(200))
    );
    assert_eq!(
        detail
            .attempts
            .iter()
            .map(|a| a.attempt)
            .collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(
        store
            .list_webhooks(a, &PageRequest::first(100))
            .await
            .unwrap()
            .items[0]
            .failure_streak,
        0
    );
}

#[tokio::test]
async fn the_claim_is_shared_between_accounts_and_capped_per_account_and_webhook() {
    let (_dir, store) = store().await;
    let noisy = account(&store, "noisy").await;
    let quiet = account(&store, "quiet").await;
    for n in 0..3 {
        webhook(&store, noisy, n).await;
    }
    let quiet_hook = webhook(&store, quiet, 0).await;
    // The noisy account's 30 deliveries are all older than the quiet one's.
    events(&store, noisy, 10).await;
    events(&store, quiet, 1).await;

    let now = Utc::now();
    let lease = now + Duration::seconds(60);
    let claimed = store
        .claim_deliveries(now, lease, limits(5, 3, 2))
        .await
        .unwrap();
    let of = |account: AccountId, list: &[ClaimedDelivery]| {
        list.iter().filter(|d| d.account_id == account).count()
    };
    assert_eq!(
        of(quiet, &claimed),
        1,
        "the quiet account is served at once"
    );
    assert_eq!(of(noisy, &claimed), 3, "the noisy one up to its cap");
    let mut per_hook = std::collections::HashMap::new();
    for d in &claimed {
        *per_hook.entry(d.webhook_id.clone()).or_insert(0) += 1;
    }
    assert!(per_hook.values().all(|&n| n <= 2), "{per_hook:?}");
    assert_eq!(
        per_hook.len(),
        4,
        "round-robin over the noisy account's webhooks"
    );

    // While those are in flight, the noisy account gets nothing more, however many slots.
    let more = store
        .claim_deliveries(now, lease, limits(50, 3, 2))
        .await
        .unwrap();
    assert!(more.is_empty(), "{more:?}");
    // The quiet account's next event is claimed, though the noisy one is at its cap.
    events(&store, quiet, 1).await;
    let now = Utc::now();
    let next = store
        .claim_deliveries(now, now + Duration::seconds(60), limits(50, 3, 2))
        .await
        .unwrap();
    assert_eq!(
        next.iter()
            .map(|d| (d.account_id, d.webhook_id.clone()))
            .collect::<Vec<_>>(),
        [(quiet, quiet_hook)]
    );
}

#[tokio::test]
async fn a_failure_streak_rests_the_webhook_and_then_lets_one_probe_through() {
    let (_dir, store) = store().await;
    let a = account(&store, "a").await;
    webhook(&store, a, 1).await;
    events(&store, a, 8).await;
    let policy = BreakerPolicy {
        open_after: 2,
        base_pause_ms: 60_000,
        ..BREAKER
    };
    let limits = |total| ClaimLimits {
        half_open_after: 2,
        ..limits(total, 10, 2)
    };
    let now = Utc::now();
    let claimed = store
        .claim_deliveries(now, now + Duration::seconds(60), limits(10))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    for d in &claimed {
        let r = record(d, AttemptOutcome::RetryAt(now + Duration::seconds(1)), 500);
        store.record_attempt(&r, now, &policy).await.unwrap();
    }
    let listed = store
        .list_webhooks(a, &PageRequest::first(100))
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(listed.failure_streak, 2);
    let rest_until = listed.paused_until.expect("the breaker is open");
    assert!(rest_until > now + Duration::seconds(59), "{rest_until}");
    // Resting: nothing is claimed, although six deliveries are due.
    let later = now + Duration::seconds(30);
    assert!(
        store
            .claim_deliveries(later, later + Duration::seconds(60), limits(10))
            .await
            .unwrap()
            .is_empty()
    );
    // After the rest: one probe at a time (half-open), not two.
    let after = now + Duration::seconds(61);
    let probe = store
        .claim_deliveries(after, after + Duration::seconds(60), limits(10))
        .await
        .unwrap();
    assert_eq!(probe.len(), 1);
    // It succeeds: the breaker closes, the streak is gone.
    store
        .record_attempt(
            &record(&probe[0], AttemptOutcome::Succeeded, 200),
            after,
            &policy,
        )
        .await
        .unwrap();
    let listed = store
        .list_webhooks(a, &PageRequest::first(100))
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!((listed.failure_streak, listed.paused_until), (0, None));
}

#[tokio::test]
async fn attempts_recorded_together_keep_each_webhooks_order_and_their_leases() {
    let (_dir, store) = store().await;
    let a = account(&store, "a").await;
    let (h1, h2) = (webhook(&store, a, 1).await, webhook(&store, a, 2).await);
    events(&store, a, 2).await;
    let now = Utc::now();
    let claimed = store
        .claim_deliveries(now, now + Duration::seconds(60), limits(10, 10, 10))
        .await
        .unwrap();
    let of = |hook: &WebhookId| -> Vec<&ClaimedDelivery> {
        claimed.iter().filter(|d| &d.webhook_id == hook).collect()
    };
    let (one, two) = (of(&h1), of(&h2));
    assert_eq!((one.len(), two.len()), (2, 2));
    let retry = AttemptOutcome::RetryAt(now + Duration::seconds(5));
    // A late record of an earlier claim of the first delivery: same id, another lease.
    let mut late = record(one[0], retry, 500);
    late.lease -= 1;
    let batch = [
        record(one[0], retry, 500),
        record(one[1], AttemptOutcome::Succeeded, 200),
        record(two[0], AttemptOutcome::Succeeded, 200),
        late,
        record(two[1], retry, 503),
    ];
    let recorded = store
        .record_attempts(&batch, Utc::now(), &BREAKER)
        .await
        .unwrap();
    assert_eq!(
        recorded,
        [
            Recorded::Recorded,
            Recorded::Recorded,
            Recorded::Recorded,
            Recorded::Stale,
            Recorded::Recorded
        ]
    );
    // In order, per webhook: the first failed then succeeded (no streak), the second
    // succeeded then failed (a streak of one).
    let streaks: Vec<(String, u32)> = store
        .list_webhooks(a, &PageRequest::first(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|w| (w.id.to_string(), w.failure_streak))
        .collect();
    assert!(streaks.contains(&(h1.to_string(), 0)), "{streaks:?}");
    assert!(streaks.contains(&(h2.to_string(), 1)), "{streaks:?}");
    // Each delivery has its own outcome and one attempt on record; the late one left none.
    for (d, status, code) in [
        (one[0], "pending", 500),
        (one[1], "succeeded", 200),
        (two[0], "succeeded", 200),
        (two[1], "pending", 503),
    ] {
        let detail = store
            .get_delivery(a, &d.webhook_id, &d.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                detail.delivery.status.as_str(),
                detail.delivery.response_code,
                detail.attempts.len()
            ),
            (status, Some(code), 1),
            "{}",
            d.id
        );
    }
}
