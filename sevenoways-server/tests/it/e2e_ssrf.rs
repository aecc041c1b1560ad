//! Webhooks to the server's own host are allowed by default only while the server itself
//! listens on loopback.

use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_sdk::{BodyEncoding, Error};
use sevenoways_server::testing::*;

fn hook(url: &str) -> CreateWebhookRequest {
    CreateWebhookRequest {
        url: url.into(),
        events: vec![],
        secret: None,
    }
}

#[tokio::test]
async fn loopback_receivers_follow_the_listen_address() {
    // Listening on loopback: local development, a receiver on 127.0.0.1 works.
    let local = start().await;
    local
        .client()
        .webhooks()
        .create(&hook("http://127.0.0.1:3000/hook"))
        .await
        .unwrap();

    // Listening on every interface: the same URL is refused, naming the field.
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = sevenoways_server::launch(fast_config(dir.path()), listener)
        .await
        .unwrap();
    let key = server.create_key("t", "default").await.unwrap();
    let c = client(
        &format!("http://127.0.0.1:{port}"),
        &key,
        BodyEncoding::Json,
    );
    let err = c
        .webhooks()
        .create(&hook("http://127.0.0.1:3000/hook"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 400, message, .. } if message.starts_with("url: ") && message.contains("loopback")),
        "{err:?}"
    );
    server.shutdown().await;
}
