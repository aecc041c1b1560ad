//! Webhooks and media URLs reaching the server's own host are allowed by default only on
//! a development server (the sandbox is the default engine) that itself listens on
//! loopback; anywhere else only through `[network] allow_loopback`.

use sevenoways_sdk::models::messages::SendNumberImageRequest;
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_sdk::{BodyEncoding, Error, MediaUrl, Phone};
use sevenoways_server::config::{EngineKind, NetworkConfig};
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

/// The usual production layout: a reverse proxy on the same host forwards to the relay on
/// `127.0.0.1`. Listening on loopback must not open the host's own services to tenants.
#[tokio::test]
async fn a_production_server_on_loopback_refuses_loopback_targets() {
    for engine in [EngineKind::Waha, EngineKind::Meta] {
        let t = start_with(|c| c.default_engine = engine).await;
        let c = t.client();
        for url in [
            "http://127.0.0.1:3000/hook",
            "http://localhost:9200/_search",
            "http://[::1]/",
        ] {
            let err = c.webhooks().create(&hook(url)).await.unwrap_err();
            assert!(
                matches!(&err, Error::Api { status: 400, message, .. }
                    if message.starts_with("url: refused: ") && message.contains("loopback")
                        && !message.contains("127.0.0.1:")),
                "{engine} {url}: {err:?}"
            );
        }
        // Media URLs too (a sandbox number, which any server may have).
        let account = t.account_id().await;
        t.server
            .store()
            .create_instance(account, &id("dev"), "Dev", EngineKind::Sandbox, 0)
            .await
            .unwrap();
        c.sandbox().pair(&id("dev")).await.unwrap();
        let err = c
            .messages()
            .send_number_image(&SendNumberImageRequest::new(
                id("dev"),
                Phone::new("971501234567").unwrap(),
                MediaUrl::new("http://127.0.0.1:8080/api/usage").unwrap(),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Api { status: 400, message, .. }
                if message.starts_with("imageUrl: refused: 127.0.0.1 is a loopback address")),
            "{engine}: {err:?}"
        );
        t.shutdown().await;
    }

    // The operator may still allow it, explicitly.
    let allowed = start_with(|c| {
        c.default_engine = EngineKind::Waha;
        c.network = NetworkConfig {
            allow_loopback: Some(true),
            ..NetworkConfig::default()
        };
    })
    .await;
    allowed
        .client()
        .webhooks()
        .create(&hook("http://127.0.0.1:3000/hook"))
        .await
        .unwrap();
    allowed.shutdown().await;
}
