//! A log sink that fails (stderr on a full disk, here `/dev/full`) costs log lines, never
//! the work: audit F11 saw `tracing::info!` panic inside webhook attempts, after the POST
//! and before the attempt was recorded, so every event was delivered again and again.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_server::testing::{client, eventually};

use crate::server_process::{Spawn, create_key};

#[tokio::test]
async fn a_failing_log_sink_loses_log_lines_not_webhooks() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        println!("SKIPPED a_failing_log_sink_loses_log_lines_not_webhooks: no /dev/full here");
        return;
    };
    // A receiver that records the id of every event POSTed to it.
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", receiver.local_addr().unwrap());
    let recorded = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: Bytes| {
            let recorded = recorded.clone();
            async move {
                let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
                recorded
                    .lock()
                    .unwrap()
                    .push(event["id"].as_str().unwrap().to_owned());
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(receiver, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "t");
    let mut spawn = Spawn::new(
        &data,
        "[network]\nallow_loopback = true\n[webhooks]\npoll_ms = 20\nretry_base_ms = 100\n",
    );
    spawn.stderr = full.into();
    spawn.log = "debug";
    let mut server = spawn.start().await;
    let c = client(&server.base, &key, sevenoways_sdk::BodyEncoding::Json);
    let hook = c
        .webhooks()
        .create(&CreateWebhookRequest {
            url,
            events: Vec::new(),
            secret: None,
        })
        .await
        .unwrap()
        .webhook;
    for _ in 0..5 {
        c.webhooks().test(&hook.id).await.unwrap();
    }
    // Every delivery is recorded as succeeded...
    eventually(20, || async {
        let list = c.webhooks().deliveries(&hook.id).await.unwrap().deliveries;
        (list.len() == 5 && list.iter().all(|d| d.status == "succeeded")).then_some(())
    })
    .await;
    // ...having reached the receiver once each.
    let mut got = hits.lock().unwrap().clone();
    assert_eq!(got.len(), 5, "{got:?}");
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 5, "each event once: {got:?}");

    // The process serves on, and stops cleanly.
    assert!(c.instances().list().await.is_ok());
    server.terminate();
    let status = server.wait_exit(20).expect("the server stops on SIGTERM");
    assert!(status.success(), "{status}");
}
