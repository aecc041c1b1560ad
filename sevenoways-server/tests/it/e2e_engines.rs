//! Engines as far as this server has them: `default_engine` decides the engine of new
//! instances, an engine the server has not configured is a 400 naming its `[engines.*]`
//! table, and the sandbox's endpoints and transport act only on sandbox instances.

use serde_json::{Value, json};
use sevenoways_sdk::models::instances::{CreateInstanceRequest, InstanceStatus};
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::models::queue::QueueStatus;
use sevenoways_sdk::{Error, Phone};
use sevenoways_server::config::EngineKind;
use sevenoways_server::testing::*;

async fn raw(t: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut req = http
        .request(method.parse().unwrap(), format!("{}{path}", t.base()))
        .header("x-api-key", &t.key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn an_engine_that_is_not_configured_cannot_get_instances() {
    for (engine, table) in [
        (EngineKind::Waha, "[engines.waha]"),
        (EngineKind::Meta, "[engines.meta]"),
    ] {
        let t = start_with(|c| c.default_engine = engine).await;
        let err = t
            .client()
            .instances()
            .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Api { status: 400, message, .. }
                if message.starts_with("engine: ") && message.contains(table)),
            "{engine}: {err:?}"
        );
        assert!(
            t.client()
                .instances()
                .list()
                .await
                .unwrap()
                .instances
                .is_empty(),
            "{engine}: nothing was created"
        );
        t.shutdown().await;
    }
}

#[tokio::test]
async fn sandbox_endpoints_act_only_on_sandbox_instances() {
    let t = start().await;
    let account = t.account_id().await;
    // What the engines will create: a number another engine serves, already online.
    let store = t.server.store();
    let n1 = id("n1");
    store
        .create_instance(account, &n1, "Real number", EngineKind::Waha, 0)
        .await
        .unwrap();
    store
        .set_instance_status(
            account,
            &n1,
            InstanceStatus::Online,
            Some("971509999999"),
            None,
        )
        .await
        .unwrap();
    for (method, path, body) in [
        ("POST", "/api/sandbox/instances/n1/pair", None),
        ("POST", "/api/sandbox/instances/n1/unpair", None),
        (
            "POST",
            "/api/sandbox/instances/n1/groups",
            Some(json!({"name": "Team A"})),
        ),
        (
            "POST",
            "/api/sandbox/instances/n1/inbound",
            Some(json!({"from": "971501234567", "message": "forged"})),
        ),
        ("GET", "/api/sandbox/outbox?instanceId=n1", None),
    ] {
        let (status, v) = raw(&t, method, path, body).await;
        assert_eq!(status, 404, "{method} {path}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("sandbox instances"),
            "{path}: {v}"
        );
    }
    // Nothing changed: still online, no groups.
    let c = t.client();
    let listed = c.instances().list().await.unwrap().instances;
    assert_eq!(listed[0].status, InstanceStatus::Online);
    assert!(c.groups().list(&n1).await.unwrap().groups.is_empty());

    // The simulation does not deliver for it either: the send fails with the reason.
    let queued = c
        .messages()
        .send_number(&SendNumberRequest::new(
            n1.clone(),
            Phone::new("971501234567").unwrap(),
            "Hi".try_into().unwrap(),
        ))
        .await
        .unwrap();
    let failed = eventually(10, || async {
        let e = c.queue().status(queued.queue_id).await.unwrap();
        (e.status == QueueStatus::Failed).then_some(e)
    })
    .await;
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("waha engine"),
        "{failed:?}"
    );

    // Its QR page has no scan button to offer.
    let html = reqwest::Client::new()
        .get(format!("{}/api/instances/n1/qr", t.base()))
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Simulate the scan"), "{html}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_production_server_still_serves_sandbox_instances_it_has() {
    // Sandbox instances keep working on a production server (created before the switch,
    // or explicitly once the engines let a request choose).
    let t = start_with(|c| c.default_engine = EngineKind::Waha).await;
    let account = t.account_id().await;
    t.server
        .store()
        .create_instance(account, &id("dev"), "Dev", EngineKind::Sandbox, 0)
        .await
        .unwrap();
    let c = t.client();
    c.sandbox().pair(&id("dev")).await.unwrap();
    assert_eq!(
        c.instances().list().await.unwrap().instances[0].status,
        InstanceStatus::Online
    );
    t.shutdown().await;
}
