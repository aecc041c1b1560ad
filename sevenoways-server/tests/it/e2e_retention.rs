//! Old bookkeeping is pruned; anything still in flight is not.

use sevenoways_sdk::models::sandbox::SandboxInboundRequest;
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_server::config::WebhookConfig;
use sevenoways_server::testing::*;

async fn receiver() -> String {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

#[tokio::test]
async fn finished_deliveries_are_pruned_and_pending_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = sevenoways_server::Config {
        webhooks: WebhookConfig {
            poll_ms: 10,
            retry_base_ms: 60_000,
            ..WebhookConfig::default()
        },
        ..fast_config(dir.path())
    };
    let server = launch(config).await;
    let key = server.create_key("t", "default").await.unwrap();
    let c = client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    let inst = paired_instance(&c, "n1").await;
    let hook = |url: String| CreateWebhookRequest {
        url,
        events: vec!["message.received".into()],
        secret: None,
    };
    let up = c
        .webhooks()
        .create(&hook(receiver().await))
        .await
        .unwrap()
        .webhook;
    // A receiver that is down: its delivery stays pending (next retry in a minute).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = c
        .webhooks()
        .create(&hook(format!("http://{closed}/hook")))
        .await
        .unwrap()
        .webhook;
    c.sandbox()
        .inbound(
            &inst,
            &SandboxInboundRequest {
                from: "971501234567".into(),
                message: "hi".into(),
            },
        )
        .await
        .unwrap();
    eventually(10, || async {
        let ok = c.webhooks().deliveries(&up.id).await.unwrap().deliveries;
        let pending = c.webhooks().deliveries(&down.id).await.unwrap().deliveries;
        let done = ok.len() == 1
            && ok[0].status == "succeeded"
            && pending.len() == 1
            && pending[0].attempts >= 1;
        done.then_some(())
    })
    .await;

    // Pruning with a cutoff in the future: the finished delivery goes, the pending one stays.
    let now = chrono::Utc::now();
    let deleted = server
        .store()
        .prune(now, now + chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(deleted >= 1, "{deleted}");
    assert!(
        c.webhooks()
            .deliveries(&up.id)
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    let pending = c.webhooks().deliveries(&down.id).await.unwrap().deliveries;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, "pending");
    // Its event is still there to be sent: redelivering it works.
    c.webhooks()
        .redeliver(&down.id, &pending[0].id)
        .await
        .unwrap();
    server.shutdown().await;
}

/// Queue history and the outbox are pruned too, once finished: an entry still queued
/// (here, waiting for its number's pacing slot) is kept however old, and so is anything
/// newer than the cutoff.
#[tokio::test]
async fn finished_queue_entries_and_the_outbox_are_pruned_and_waiting_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config(dir.path());
    // One send an hour from a number: the second entry waits, queued.
    config.pacing.min_gap_ms = 3_600_000;
    let server = launch(config).await;
    let key = server.create_key("t", "default").await.unwrap();
    let c = client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    let inst = paired_instance(&c, "n1").await;
    let send = |text: &'static str| {
        let c = c.clone();
        let inst = inst.clone();
        async move {
            c.messages()
                .send_number(&sevenoways_sdk::models::messages::SendNumberRequest::new(
                    inst,
                    "971501234567".parse().unwrap(),
                    text.try_into().unwrap(),
                ))
                .await
                .unwrap()
                .queue_id
        }
    };
    let done = send("first").await;
    eventually(10, || async {
        let entry = c.queue().status(done).await.unwrap();
        (entry.status == sevenoways_sdk::models::queue::QueueStatus::Read).then_some(())
    })
    .await;
    let waiting = send("second").await;
    assert_eq!(c.sandbox().outbox(&inst).await.unwrap().messages.len(), 1);

    // A cutoff in the past prunes nothing of today's.
    let now = chrono::Utc::now();
    let store = server.store();
    store
        .prune(now, now - chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(c.queue().status(done).await.is_ok());
    assert_eq!(c.sandbox().outbox(&inst).await.unwrap().messages.len(), 1);

    // A cutoff in the future: the finished entry and its outbox row go, the queued one stays.
    store
        .prune(now, now + chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(matches!(
        c.queue().status(done).await,
        Err(sevenoways_sdk::Error::NotFound { .. })
    ));
    assert!(c.sandbox().outbox(&inst).await.unwrap().messages.is_empty());
    let kept = c.queue().status(waiting).await.unwrap();
    assert_eq!(
        kept.status,
        sevenoways_sdk::models::queue::QueueStatus::Queued
    );
    server.shutdown().await;
}
