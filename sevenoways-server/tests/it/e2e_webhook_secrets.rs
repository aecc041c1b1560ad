//! Webhook secrets: rotation with an overlap in which both secrets sign, and secrets
//! sealed at rest with `SEVENOWAYS_SECRETS_KEY` (a wrong or missing key is a clear startup
//! error; secrets stored before the key are sealed on the first start with it).

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_sdk::signature::{StandardHeaders, Verifier};
use sevenoways_sdk::{BodyEncoding, WebhookId, WebhookSecret};
use sevenoways_server::secrets::SecretsKey;
use sevenoways_server::testing::{self, fast_config};
use sevenoways_server::{Config, LaunchError, Server};

use crate::e2e_webhooks::{
    Hit, Receiver, SECRET, local_listener, raw, receiver, start_with, subscribe, url,
};

async fn ok_receiver() -> (std::net::SocketAddr, Receiver) {
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let (rx, _task) = receiver(listener, Arc::new(|_, _| (200, None))).await;
    (addr, rx)
}

/// Queues a test event and returns the delivery the receiver got for it.
async fn test_delivery(client: &sevenoways_sdk::Client, hook: &WebhookId, rx: &Receiver) -> Hit {
    let before = rx.hits.lock().unwrap().len();
    client.webhooks().test(hook).await.unwrap();
    testing::eventually(10, || {
        let rx = rx.clone();
        async move { rx.hits.lock().unwrap().get(before).cloned() }
    })
    .await
}

fn standard(hit: &Hit) -> StandardHeaders<'_> {
    StandardHeaders {
        id: hit.webhook_id.as_deref(),
        timestamp: hit.webhook_timestamp.as_deref(),
        signature: hit.webhook_signature.as_deref(),
    }
}

#[tokio::test]
async fn a_rotated_secret_signs_alongside_the_old_one_for_the_overlap() {
    let t = start_with(|c| c.webhooks.rotation_overlap_secs = 2).await;
    let client = t.client();
    let (addr, rx) = ok_receiver().await;
    let (hook, _) = subscribe(&client, &url(addr), &[], Some(SECRET)).await;

    let rotated = client.webhooks().rotate_secret(&hook, None).await.unwrap();
    let new = rotated.secret.expose().to_owned();
    assert!(new.starts_with("whsec_") && new != SECRET, "{new}");
    let left = rotated.previous_secret_expires_at - chrono::Utc::now();
    assert!(left > chrono::Duration::zero() && left <= chrono::Duration::seconds(2));
    let listed = client.webhooks().list().await.unwrap().webhooks.remove(0);
    assert_eq!(
        listed.previous_secret_expires_at,
        Some(rotated.previous_secret_expires_at)
    );
    assert!(!serde_json::to_string(&listed).unwrap().contains(&new));

    // During the overlap: webhook-signature carries both (new first), so a receiver that
    // knows either one verifies; the documented header has room for one: the new one's.
    let during = test_delivery(&client, &hook, &rx).await;
    during.assert_signed(&new, &[&new, SECRET]);
    for secrets in [vec![new.as_str()], vec![SECRET]] {
        let verifier = Verifier::new(secrets.iter().map(|s| WebhookSecret::new(*s)));
        verifier
            .verify_standard(&during.body, &standard(&during))
            .unwrap();
    }
    assert!(
        Verifier::new([WebhookSecret::new(SECRET)])
            .verify(&during.body, during.signature.as_deref())
            .is_err()
    );

    // After it: only the new secret signs, both headers.
    let client2 = client.clone();
    testing::eventually(10, || {
        let client = client2.clone();
        async move {
            let w = client.webhooks().list().await.unwrap().webhooks.remove(0);
            w.previous_secret_expires_at.is_none().then_some(())
        }
    })
    .await;
    let after = test_delivery(&client, &hook, &rx).await;
    after.assert_signed(&new, &[&new]);
    assert!(
        Verifier::new([WebhookSecret::new(SECRET)])
            .verify_standard(&after.body, &standard(&after))
            .is_err()
    );

    // A secret of the caller's choosing; the old one is the previous secret now.
    let mine = "my-own-rotated-secret-0123";
    let rotated = client
        .webhooks()
        .rotate_secret(&hook, Some(WebhookSecret::new(mine)))
        .await
        .unwrap();
    assert_eq!(rotated.secret.expose(), mine);
    let third = test_delivery(&client, &hook, &rx).await;
    third.assert_signed(mine, &[mine, &new]);

    // Bad input and other keys' webhooks.
    let path = format!("/api/webhooks/{}/rotate-secret", hook.as_str());
    let (status, answer) = raw(&t, "POST", &path, Some(json!({"secret": "short"}))).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"],
        "secret: expected a secret of at least 16 characters"
    );
    let (status, _) = raw(&t, "POST", "/api/webhooks/wh_nope/rotate-secret", None).await;
    assert_eq!(status, 404);
    let other = testing::client(
        &t.base(),
        &t.server.create_key("other", "default").await.unwrap(),
        BodyEncoding::Json,
    );
    assert!(matches!(
        other.webhooks().rotate_secret(&hook, None).await,
        Err(sevenoways_sdk::Error::NotFound { .. })
    ));
    // The other key's attempt changed nothing: the caller's secret still signs.
    let fourth = test_delivery(&client, &hook, &rx).await;
    fourth.assert_signed(mine, &[mine, &new]);
    t.shutdown().await;
}

#[tokio::test]
async fn the_old_secret_signs_for_24_hours_by_default() {
    let t = testing::start().await;
    let client = t.client();
    let (hook, _) = subscribe(&client, "http://127.0.0.1:9/hook", &[], None).await;
    let rotated = client.webhooks().rotate_secret(&hook, None).await.unwrap();
    let overlap = rotated.previous_secret_expires_at - chrono::Utc::now();
    assert!(
        overlap > chrono::Duration::hours(24) - chrono::Duration::minutes(1)
            && overlap <= chrono::Duration::hours(24),
        "{overlap}"
    );
    t.shutdown().await;
}

fn config(dir: &Path, key: Option<&str>, previous: Option<&str>) -> Config {
    Config {
        secrets_key: key.map(|k| SecretsKey::parse(k).unwrap()),
        secrets_key_previous: previous.map(|k| SecretsKey::parse(k).unwrap()),
        ..fast_config(dir)
    }
}

async fn try_launch(dir: &Path, key: Option<&str>) -> Result<Server, LaunchError> {
    launch_rekeying(dir, key, None).await
}

async fn launch_rekeying(
    dir: &Path,
    key: Option<&str>,
    previous: Option<&str>,
) -> Result<Server, LaunchError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sevenoways_server::launch(config(dir, key, previous), listener).await
}

pub(crate) const KEY: &str = "4f1c3a5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";
const OTHER_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_need_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, rx) = ok_receiver().await;
    let first = "whsec_plaintext_must_not_be_on_disk";
    let second = "rotated_plaintext_must_not_be_on_disk";
    let server = try_launch(dir.path(), Some(KEY)).await.unwrap();
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    let (hook, _) = subscribe(&client, &url(addr), &[], Some(first)).await;
    client
        .webhooks()
        .rotate_secret(&hook, Some(WebhookSecret::new(second)))
        .await
        .unwrap();
    // Sealed, they still sign: both, during the overlap.
    test_delivery(&client, &hook, &rx)
        .await
        .assert_signed(second, &[second, first]);
    server.shutdown().await;
    assert!(
        !testing::on_disk(dir.path(), first).await && !testing::on_disk(dir.path(), second).await
    );

    // No key, or another key: a clear startup error naming the variable, no panic.
    let err = try_launch(dir.path(), None).await.err().unwrap();
    assert!(matches!(err, LaunchError::Secrets(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("sealed") && text.contains("SEVENOWAYS_SECRETS_KEY"),
        "{text}"
    );
    let err = try_launch(dir.path(), Some(OTHER_KEY)).await.err().unwrap();
    let text = err.to_string();
    assert!(
        text.contains("SEVENOWAYS_SECRETS_KEY is not the key"),
        "{text}"
    );
    assert!(!text.contains(KEY) && !text.contains(OTHER_KEY));

    // The right key: deliveries are signed as before the restart.
    let server = try_launch(dir.path(), Some(KEY)).await.unwrap();
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    test_delivery(&client, &hook, &rx)
        .await
        .assert_signed(second, &[second, first]);
    server.shutdown().await;
}

#[tokio::test]
async fn secrets_stored_before_the_key_are_sealed_on_the_first_start_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, rx) = ok_receiver().await;
    let secret = "whsec_written_before_the_key_0123";
    let server = try_launch(dir.path(), None).await.unwrap();
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    let (hook, _) = subscribe(&client, &url(addr), &[], Some(secret)).await;
    server.shutdown().await;
    // Stored as given (what this test would see if sealing left a copy).
    assert!(testing::on_disk(dir.path(), secret).await);

    let server = try_launch(dir.path(), Some(KEY)).await.unwrap();
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    test_delivery(&client, &hook, &rx)
        .await
        .assert_signed(secret, &[secret]);
    server.shutdown().await;
    assert!(
        !testing::on_disk(dir.path(), secret).await,
        "a plaintext copy stayed behind"
    );
    // From now on the key is needed.
    assert!(matches!(
        try_launch(dir.path(), None).await,
        Err(LaunchError::Secrets(_))
    ));
}

/// The server binary reads the key from `SEVENOWAYS_SECRETS_KEY`: a malformed one, or one
/// that does not open the stored secrets, stops it at startup with the reason (exit 1, no
/// panic, the value never echoed).
#[tokio::test]
async fn the_server_binary_refuses_a_bad_or_wrong_key_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let server = try_launch(dir.path(), Some(KEY)).await.unwrap();
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    subscribe(&client, "http://127.0.0.1:9/hook", &[], None).await;
    server.shutdown().await;

    let run = |key: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sevenoways-server"))
            .args(["--listen", "127.0.0.1:0"])
            .args(testing::store_args(dir.path()))
            .env("SEVENOWAYS_SECRETS_KEY", key)
            .env("RUST_LOG", "off")
            .output()
            .unwrap()
    };
    for (key, want) in [
        (
            "not-a-key",
            "error: SEVENOWAYS_SECRETS_KEY: expected 32 bytes as 64 hex digits or as base64",
        ),
        (
            OTHER_KEY,
            "error: webhook secrets: SEVENOWAYS_SECRETS_KEY is not the key the webhook secrets in this database were sealed with",
        ),
    ] {
        let out = run(key);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.starts_with(want), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains(key),
            "{stderr}"
        );
    }
}

/// Changing the sealing key: start once with the new key and the old one as
/// `SEVENOWAYS_SECRETS_KEY_PREVIOUS`; the secrets are sealed again, and from then on only
/// the new key opens them.
#[tokio::test]
async fn the_sealing_key_can_be_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, rx) = ok_receiver().await;
    let secret = "whsec_sealed_then_resealed_0123";
    let server = try_launch(dir.path(), Some(KEY)).await.unwrap();
    let key = server.create_key("t", "default").await.unwrap();
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    let (hook, _) = subscribe(&client, &url(addr), &[], Some(secret)).await;
    server.shutdown().await;

    // The new key alone says how to change keys.
    let err = try_launch(dir.path(), Some(OTHER_KEY)).await.err().unwrap();
    assert!(
        err.to_string().contains("SEVENOWAYS_SECRETS_KEY_PREVIOUS"),
        "{err}"
    );
    let server = launch_rekeying(dir.path(), Some(OTHER_KEY), Some(KEY))
        .await
        .unwrap();
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    test_delivery(&client, &hook, &rx)
        .await
        .assert_signed(secret, &[secret]);
    server.shutdown().await;

    assert!(matches!(
        try_launch(dir.path(), Some(KEY)).await,
        Err(LaunchError::Secrets(_))
    ));
    // Starting again with both is harmless; then the new key alone.
    launch_rekeying(dir.path(), Some(OTHER_KEY), Some(KEY))
        .await
        .unwrap()
        .shutdown()
        .await;
    let server = try_launch(dir.path(), Some(OTHER_KEY)).await.unwrap();
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    test_delivery(&client, &hook, &rx)
        .await
        .assert_signed(secret, &[secret]);
    server.shutdown().await;
    assert!(!testing::on_disk(dir.path(), secret).await);
}

/// The answer an `Idempotency-Key` keeps for `POST /api/webhooks` shows the secret (a
/// retry of a create whose answer was lost must get it): it is sealed, and re-sealed, with
/// the secrets, and a retry still gets it back.
#[tokio::test]
async fn a_kept_answer_showing_a_secret_is_sealed_with_the_secrets_and_still_replays() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _rx) = ok_receiver().await;
    let create = CreateWebhookRequest {
        url: url(addr),
        events: Vec::new(),
        secret: None,
    };
    let created = |server: &Server, key: &str| {
        let client = testing::client(&server.base_url(), key, BodyEncoding::Json);
        let create = create.clone();
        async move {
            let created = client
                .call(&create)
                .idempotency_key("hook-1")
                .await
                .unwrap();
            let hooks = client.webhooks().list().await.unwrap().webhooks;
            (created, hooks.len())
        }
    };

    // Without a key the answer is kept as it is, like the secret.
    let server = try_launch(dir.path(), None).await.unwrap();
    let key = server.create_key("t", "default").await.unwrap();
    let (first, _) = created(&server, &key).await;
    let secret = first.secret.expose().to_owned();
    server.shutdown().await;
    assert!(testing::on_disk(dir.path(), &secret).await);

    // The first start with a key seals it; the retry gets the same generated secret, and
    // no second subscription.
    let server = try_launch(dir.path(), Some(KEY)).await.unwrap();
    assert_eq!(created(&server, &key).await, (first.clone(), 1));
    server.shutdown().await;
    assert!(
        !testing::on_disk(dir.path(), &secret).await,
        "the kept answer left a plaintext copy"
    );

    // Changing keys seals it again; only the new key opens it.
    let server = launch_rekeying(dir.path(), Some(OTHER_KEY), Some(KEY))
        .await
        .unwrap();
    server.shutdown().await;
    let server = try_launch(dir.path(), Some(OTHER_KEY)).await.unwrap();
    assert_eq!(created(&server, &key).await, (first, 1));
    server.shutdown().await;
    assert!(!testing::on_disk(dir.path(), &secret).await);
}
