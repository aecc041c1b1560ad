//! A worker that lost its lease cannot overwrite a newer state or raise a second event.

use chrono::Utc;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::queue::QueueStatus;
use sevenoways_sdk::models::webhooks::MessageEvent;
use sevenoways_sdk::{Content, EventData, InstanceId};
use sevenoways_server::config::EngineKind;
use sevenoways_server::store::sqlite::SqliteStore;
use sevenoways_server::store::{AccountId, NewEntry, NewEvent, Pacing, RecipientKind, Store};

async fn setup() -> (tempfile::TempDir, SqliteStore, AccountId, InstanceId) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let account = store
        .create_account("t", "default", &[7; 32])
        .await
        .unwrap();
    let entry = number(&store, account, "n1").await;
    let id = entry.instance_id.clone();
    store.enqueue(vec![entry]).await.unwrap();
    (dir, store, account, id)
}

fn sent(account: AccountId, id: &InstanceId, q: sevenoways_sdk::QueueId) -> NewEvent {
    NewEvent {
        account_id: account,
        instance_id: id.clone(),
        data: EventData::MessageSent(MessageEvent {
            queue_id: q,
            to: "971501234567".into(),
            kind: None,
        }),
    }
}

const NO_PACING: Pacing = Pacing {
    min_gap_ms: 0,
    jitter_ms: 0,
};

#[tokio::test]
async fn an_expired_lease_taken_over_cannot_be_recorded_by_the_first_worker() {
    let (_dir, store, account, id) = setup().await;
    let now = Utc::now();
    // Worker A claims with a lease that has already run out...
    let a = store
        .claim(now, now - chrono::Duration::seconds(1), NO_PACING, 10)
        .await
        .unwrap()
        .remove(0);
    // ...so worker B takes the entry over, sends it and records it.
    let b = store
        .claim(now, now + chrono::Duration::seconds(60), NO_PACING, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((a.id, b.attempts), (b.id, 2));
    assert!(
        store
            .mark_sent(&b, Utc::now(), sent(account, &id, b.id))
            .await
            .unwrap()
    );
    // A's late outcome is refused: the entry stays sent, not queued again.
    assert!(!store.mark_retry(&a, Utc::now(), "slow").await.unwrap());
    assert!(
        !store
            .mark_sent(&a, Utc::now(), sent(account, &id, a.id))
            .await
            .unwrap()
    );
    let entry = store.get_entry(account, a.id).await.unwrap().unwrap();
    assert_eq!(entry.status, QueueStatus::Sent);
}

#[tokio::test]
async fn deleting_the_instance_mid_send_wins_over_the_worker() {
    let (_dir, store, account, id) = setup().await;
    let now = Utc::now();
    let claim = store
        .claim(now, now + chrono::Duration::seconds(60), NO_PACING, 10)
        .await
        .unwrap()
        .remove(0);
    assert!(store.delete_instance(account, &id).await.unwrap());
    assert!(
        !store
            .mark_sent(&claim, Utc::now(), sent(account, &id, claim.id))
            .await
            .unwrap()
    );
    let entry = store.get_entry(account, claim.id).await.unwrap().unwrap();
    assert_eq!(entry.status, QueueStatus::Failed);
    assert!(entry.error.unwrap().contains("deleted"));
}

/// An online sandbox number `name` of `account` on `store`, and a text entry to it.
async fn number(store: &dyn Store, account: AccountId, name: &str) -> NewEntry {
    let id = InstanceId::new(name).unwrap();
    store
        .create_instance(account, &id, name, EngineKind::Sandbox, 0)
        .await
        .unwrap();
    store
        .set_instance_status(account, &id, InstanceStatus::Online, None, None)
        .await
        .unwrap();
    NewEntry {
        account_id: account,
        instance_id: id,
        to: "971501234567".into(),
        kind: RecipientKind::Phone,
        content: Content::Text {
            message: "x".try_into().unwrap(),
        },
        schedule_id: None,
    }
}

/// Each claim takes every ready number's oldest due entry (one waiting for its retry is
/// passed over, not a wall), and when the limit leaves some ready numbers out, those that
/// waited longest go first, whatever their names. Both backends.
#[tokio::test]
async fn the_claim_takes_each_numbers_oldest_due_entry_longest_waiting_numbers_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = sevenoways_server::testing::open_store(dir.path()).await;
    let account = store
        .create_account("t", "default", &[9; 32])
        .await
        .unwrap();
    let a = number(&*store, account, "a").await;
    let b = number(&*store, account, "b").await;
    let gap = Pacing {
        min_gap_ms: 1_000,
        jitter_ms: 0,
    };
    let a1 = store.enqueue(vec![a.clone()]).await.unwrap()[0];
    let t0 = Utc::now();
    let lease = t0 + chrono::Duration::seconds(60);
    let first = store.claim(t0, lease, gap, 10).await.unwrap();
    assert_eq!(first.iter().map(|c| c.id).collect::<Vec<_>>(), [a1]);
    // `a1` fails and waits an hour for its retry; then `a` has a2, and `b` (never used,
    // so waiting longest) has b1, queued after a2.
    assert!(
        store
            .mark_retry(&first[0], t0 + chrono::Duration::hours(1), "busy")
            .await
            .unwrap()
    );
    let a2 = store.enqueue(vec![a.clone()]).await.unwrap()[0];
    let b1 = store.enqueue(vec![b.clone()]).await.unwrap()[0];
    let later = t0 + chrono::Duration::seconds(2);
    let lease = later + chrono::Duration::seconds(60);
    let one = store.claim(later, lease, gap, 1).await.unwrap();
    assert_eq!(one.iter().map(|c| c.id).collect::<Vec<_>>(), [b1]);
    let next = store.claim(later, lease, gap, 10).await.unwrap();
    assert_eq!(next.iter().map(|c| c.id).collect::<Vec<_>>(), [a2]);
    // Within its gap, `b` gives nothing more, and `a1` is not due before its hour.
    assert!(store.claim(later, lease, gap, 10).await.unwrap().is_empty());
}
