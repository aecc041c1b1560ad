//! Engines: `default_engine` decides the engine of new instances, an engine the server
//! has not configured is a 400 naming its `[engines.*]` table, the sandbox's endpoints,
//! transport and receipt clock act only on sandbox instances, and each real engine end to
//! end against its fake (`waha_end_to_end`, `meta_end_to_end`).

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

/// WAHA end to end: create → pair (QR, scan) → groups read → send to a group by name and
/// to a phone → WAHA's receipts → signed webhooks carrying the right `queueId`.
#[tokio::test]
async fn waha_end_to_end() {
    use sevenoways_sdk::models::instances::Engine;
    use sevenoways_sdk::models::messages::SendRequest;
    use sevenoways_sdk::{EventData, GroupTarget};
    use sevenoways_server::testing::fake_waha::{FakeWaha, Flavour};
    use sevenoways_server::testing::webhook_sink::WebhookSink;

    let waha = FakeWaha::start(Flavour::Gows).await;
    waha.set_groups(&[(TEAM_A, "Team A"), (TEAM_B, "Team B")]);
    let t = start_with_waha(&waha.url()).await;
    let c = t.client();
    let sink = WebhookSink::start().await;
    sink.subscribe(&c).await;

    let created = c
        .instances()
        .create(&CreateInstanceRequest::new(id("shop"), "Shop").engine(Engine::Waha))
        .await
        .unwrap();
    assert_eq!(created.instance.status, InstanceStatus::Pairing);
    let session = waha.sessions()[0].name.clone();
    let shop = id("shop");
    let code = eventually(5, || async {
        c.instances()
            .qr(&shop)
            .await
            .ok()
            .and_then(|q| q.pairing_code)
    })
    .await;
    assert!(code.starts_with("2@"), "{code}");
    assert_eq!(waha.pair(&session, "971500000001").await, 200);
    eventually(5, || async {
        let groups = c.groups().list(&shop).await.unwrap().groups;
        (groups.len() == 2).then_some(())
    })
    .await;

    let to_group = c
        .messages()
        .send(&SendRequest::new(
            shop.clone(),
            GroupTarget::names(["team a"]).unwrap(),
            "Good morning team".try_into().unwrap(),
        ))
        .await
        .unwrap()
        .queue_id;
    let to_phone = c
        .messages()
        .send_number(&SendNumberRequest::new(
            shop.clone(),
            Phone::new("971501234567").unwrap(),
            "Your order is ready".try_into().unwrap(),
        ))
        .await
        .unwrap()
        .queue_id;
    let sends = eventually(10, || async {
        let s = waha.sends();
        (s.len() == 2).then_some(s)
    })
    .await;
    let group_send = sends.iter().find(|s| s.chat_id == TEAM_A).unwrap();
    let phone_send = sends
        .iter()
        .find(|s| s.chat_id == "971501234567@c.us")
        .unwrap();
    for q in [to_group, to_phone] {
        eventually(10, || async {
            (c.queue().status(q).await.unwrap().status == QueueStatus::Sent).then_some(())
        })
        .await;
    }
    assert_eq!(waha.ack(phone_send, 2).await, 200);
    assert_eq!(waha.ack(phone_send, 3).await, 200);
    assert_eq!(waha.ack(group_send, 3).await, 200);
    let order = ["message.sent", "message.delivered", "message.read"];
    eventually(10, || async {
        (sink.for_queue(to_group) == order && sink.for_queue(to_phone) == order).then_some(())
    })
    .await;
    // Every event was signed (the sink verified each) and names its number and entry.
    assert_eq!(sink.forged(), 0);
    for event in sink.events() {
        assert_eq!(event.instance_id, shop);
        if let EventData::MessageDelivered(m) | EventData::MessageRead(m) = &event.data {
            let expected_to = if m.queue_id == to_group {
                TEAM_A
            } else {
                "971501234567"
            };
            assert_eq!(m.to, expected_to);
        }
    }
    assert_eq!(
        sink.names().first().map(String::as_str),
        Some("instance.online")
    );
    // Not a sandbox number: nothing of it reached the sandbox's outbox or clock.
    let (status, _) = raw(&t, "GET", "/api/sandbox/outbox?instanceId=shop", None).await;
    assert_eq!(status, 404);
    t.shutdown().await;
}

/// Meta end to end: create (checked with Meta, online at once) → a group by name is
/// refused (422) → send to a phone → Meta's statuses → signed webhooks with the right
/// `queueId`.
#[tokio::test]
async fn meta_end_to_end() {
    use sevenoways_sdk::GroupTarget;
    use sevenoways_sdk::models::messages::SendRequest;
    use sevenoways_server::testing::fake_meta::FakeMeta;
    use sevenoways_server::testing::webhook_sink::WebhookSink;

    let meta = FakeMeta::start().await;
    meta.add_number("106540352242922", "+971 50 000 0000");
    let t = start_with_meta(&meta.graph_url()).await;
    meta.set_webhook(&format!("{}/engines/meta/webhook", t.base()));
    let c = t.client();
    let sink = WebhookSink::start().await;
    sink.subscribe(&c).await;

    let created = c
        .instances()
        .create(
            &CreateInstanceRequest::new(id("cloud"), "Cloud")
                .meta("106540352242922".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(created.instance.status, InstanceStatus::Online);
    let cloud = id("cloud");
    let err = c
        .messages()
        .send(&SendRequest::new(
            cloud.clone(),
            GroupTarget::names(["Team A"]).unwrap(),
            "Hi".try_into().unwrap(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api { status: 422, .. }), "{err:?}");
    let q = c
        .messages()
        .send_number(&SendNumberRequest::new(
            cloud.clone(),
            Phone::new("971501234567").unwrap(),
            "Thanks for your message".try_into().unwrap(),
        ))
        .await
        .unwrap()
        .queue_id;
    let send = eventually(10, || async { meta.sends().into_iter().next() }).await;
    assert_eq!(send.callback_data, Some(q.to_string()));
    eventually(10, || async {
        (c.queue().status(q).await.unwrap().status == QueueStatus::Sent).then_some(())
    })
    .await;
    assert_eq!(meta.status(&send, "delivered").await, 200);
    assert_eq!(meta.status(&send, "read").await, 200);
    eventually(10, || async {
        (sink.for_queue(q) == ["message.sent", "message.delivered", "message.read"]).then_some(())
    })
    .await;
    assert_eq!(sink.forged(), 0);
    assert_eq!(
        sink.names().first().map(String::as_str),
        Some("instance.online")
    );
    t.shutdown().await;
}

/// The sandbox's receipt clock moves only sandbox entries: a number another engine serves
/// stays `sent` until its engine says more.
#[tokio::test]
async fn the_sandbox_clock_leaves_other_engines_entries_alone() {
    use sevenoways_server::testing::fake_meta::FakeMeta;

    let meta = FakeMeta::start().await;
    meta.add_number("106540352242922", "+971 50 000 0000");
    let t = start_with_meta(&meta.graph_url()).await;
    let c = t.client();
    c.instances()
        .create(
            &CreateInstanceRequest::new(id("cloud"), "").meta("106540352242922".parse().unwrap()),
        )
        .await
        .unwrap();
    let sandbox = paired_instance(&c, "dev").await;
    let to = Phone::new("971501234567").unwrap();
    let cloud_q = c
        .messages()
        .send_number(&SendNumberRequest::new(
            id("cloud"),
            to.clone(),
            "Hi".try_into().unwrap(),
        ))
        .await
        .unwrap()
        .queue_id;
    eventually(10, || async {
        (c.queue().status(cloud_q).await.unwrap().status == QueueStatus::Sent).then_some(())
    })
    .await;
    // A sandbox entry sent after it is read after its 100 + 100 ms of clock...
    let sandbox_q = c
        .messages()
        .send_number(&SendNumberRequest::new(
            sandbox,
            to,
            "Hi".try_into().unwrap(),
        ))
        .await
        .unwrap()
        .queue_id;
    eventually(10, || async {
        (c.queue().status(sandbox_q).await.unwrap().status == QueueStatus::Read).then_some(())
    })
    .await;
    // ...while the Cloud API's, sent earlier, has had no receipt and stays sent.
    let cloud_entry = c.queue().status(cloud_q).await.unwrap();
    assert_eq!(cloud_entry.status, QueueStatus::Sent, "{cloud_entry:?}");
    assert!(cloud_entry.delivered_at.is_none());
    t.shutdown().await;
}
