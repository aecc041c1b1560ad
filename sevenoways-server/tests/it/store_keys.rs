//! API keys in the store: what a key hash is at a given instant through rotation and
//! revocation, and what revoking an account stops. The same through the binary and
//! running servers is in `keys_cli` and `e2e_keys`.

use chrono::Duration;
use sevenoways_sdk::models::webhooks::Webhook;
use sevenoways_sdk::{Content, InstanceId, WebhookId, WebhookSecret};
use sevenoways_server::auth::hash_key;
use sevenoways_server::store::sqlite::SqliteStore;
use sevenoways_server::store::{KeyLookup, NewEntry, PageRequest, RecipientKind, Store};
use sevenoways_server::testing::at;

#[tokio::test]
async fn rotation_keeps_the_old_key_for_its_grace_period_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let account = store
        .create_account("ops", "default", &hash_key("old"))
        .await
        .unwrap();
    let t0 = at("2026-12-01T10:00:00Z");
    let generation = store.key_generation().await.unwrap();
    assert!(matches!(
        store.key_lookup(&hash_key("old"), t0).await.unwrap(),
        KeyLookup::Valid {
            expires_at: None,
            ..
        }
    ));
    assert_eq!(
        store.key_lookup(&hash_key("nope"), t0).await.unwrap(),
        KeyLookup::Unknown
    );

    assert!(
        store
            .rotate_key(account, &hash_key("new"), t0 + Duration::hours(24), t0)
            .await
            .unwrap()
    );
    assert!(
        store.key_generation().await.unwrap() > generation,
        "servers are told"
    );
    let in_grace = t0 + Duration::hours(23);
    match store.key_lookup(&hash_key("old"), in_grace).await.unwrap() {
        KeyLookup::Valid {
            account: a,
            expires_at,
            ..
        } => {
            assert_eq!(a.id, account);
            assert_eq!(expires_at, Some(t0 + Duration::hours(24)));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.key_lookup(&hash_key("new"), in_grace).await.unwrap(),
        KeyLookup::Valid {
            expires_at: None,
            ..
        }
    ));
    let after = t0 + Duration::hours(25);
    assert_eq!(
        store.key_lookup(&hash_key("old"), after).await.unwrap(),
        KeyLookup::Expired
    );

    // Rotating again never lengthens an old key's life, and can end it at once.
    let t1 = t0 + Duration::hours(1);
    assert!(
        store
            .rotate_key(account, &hash_key("newer"), t1 + Duration::days(30), t1)
            .await
            .unwrap()
    );
    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(
        keys[0].expires_at,
        Some(t0 + Duration::hours(24)),
        "{keys:?}"
    );
    assert_eq!(keys[1].expires_at, Some(t1 + Duration::days(30)));
    assert_eq!(keys[2].expires_at, None);
    assert!(keys.iter().all(|k| k.name == "ops" && k.plan == "default"));
    assert_eq!(
        store.account_of_key(&hash_key("old")).await.unwrap(),
        Some(account)
    );
}

#[tokio::test]
async fn revoking_an_account_refuses_its_keys_and_stops_its_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let account = store
        .create_account("gone", "default", &hash_key("k1"))
        .await
        .unwrap();
    let other = store
        .create_account("stays", "default", &hash_key("k2"))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    store
        .rotate_key(account, &hash_key("k1b"), now + Duration::hours(1), now)
        .await
        .unwrap();
    let entry = |account| NewEntry {
        account_id: account,
        instance_id: InstanceId::new("n1").unwrap(),
        to: "971501234567".into(),
        kind: RecipientKind::Phone,
        content: Content::Text {
            message: "hi".try_into().unwrap(),
        },
        schedule_id: None,
    };
    let mine = store
        .enqueue(vec![entry(account), entry(account)])
        .await
        .unwrap();
    let theirs = store.enqueue(vec![entry(other)]).await.unwrap();
    for (owner, id) in [(account, "wh_1"), (other, "wh_2")] {
        let hook = Webhook::new(
            WebhookId::new(id).unwrap(),
            format!("https://example.com/{id}"),
            Vec::new(),
            now,
        );
        store
            .create_webhook(owner, &hook, &WebhookSecret::new("0123456789abcdef0123"), 0)
            .await
            .unwrap();
    }

    let revoked = store
        .revoke_account(account, now, "API key revoked")
        .await
        .unwrap()
        .expect("revoked");
    assert_eq!(revoked.keys, 2);
    assert_eq!(revoked.failed_entries, 2);
    assert_eq!(revoked.webhooks.len(), 1);
    assert_eq!(revoked.webhooks[0].1, "https://example.com/wh_1");
    for key in ["k1", "k1b"] {
        assert_eq!(
            store.key_lookup(&hash_key(key), now).await.unwrap(),
            KeyLookup::Revoked,
            "{key}"
        );
    }
    for id in mine {
        let e = store.get_entry(account, id).await.unwrap().unwrap();
        assert_eq!(e.error.as_deref(), Some("API key revoked"));
    }
    assert!(
        store
            .list_webhooks(account, &PageRequest::first(1000))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // The other account is untouched.
    assert!(matches!(
        store.key_lookup(&hash_key("k2"), now).await.unwrap(),
        KeyLookup::Valid { .. }
    ));
    let e = store.get_entry(other, theirs[0]).await.unwrap().unwrap();
    assert!(e.error.is_none());
    assert_eq!(
        store
            .list_webhooks(other, &PageRequest::first(1000))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    // Revoking twice, or rotating a revoked account, does nothing.
    assert!(
        store
            .revoke_account(account, now, "again")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .rotate_key(account, &hash_key("k1c"), now, now)
            .await
            .unwrap()
    );
    let listed = store.list_keys().await.unwrap();
    assert!(
        listed
            .iter()
            .filter(|k| k.account_id == account)
            .all(|k| k.revoked_at.is_some())
    );
}
