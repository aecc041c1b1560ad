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
    let id = InstanceId::new("n1").unwrap();
    store
        .create_instance(account, &id, "n1", EngineKind::Sandbox, 0)
        .await
        .unwrap();
    store
        .set_instance_status(account, &id, InstanceStatus::Online, None, None)
        .await
        .unwrap();
    let entry = NewEntry {
        account_id: account,
        instance_id: id.clone(),
        to: "971501234567".into(),
        kind: RecipientKind::Phone,
        content: Content::Text {
            message: "x".try_into().unwrap(),
        },
        schedule_id: None,
    };
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
