//! The Meta Cloud API engine against a fake Graph API that follows Meta's published
//! contract (`sevenoways_server::testing::fake_meta`): numbers checked at creation, what
//! the Cloud API cannot deliver refused up front, Meta's error bodies classified, the
//! webhook handshake and signature, statuses that overtake the answer or follow a lost
//! one, and inbound messages.

use serde_json::{Value, json};
use sevenoways_sdk::models::channels::AddChannelRequest;
use sevenoways_sdk::models::communities::SendToCommunityRequest;
use sevenoways_sdk::models::instances::{CreateInstanceRequest, Engine, InstanceStatus};
use sevenoways_sdk::models::messages::{
    SendNumberDocumentRequest, SendNumberImageRequest, SendNumberRequest, SendRequest,
};
use sevenoways_sdk::models::queue::{QueueEntry, QueueStatus};
use sevenoways_sdk::models::schedules::CreateScheduleRequest;
use sevenoways_sdk::{Client, Error, GroupTarget, InstanceId, NewsletterJid, Phone, QueueId};
use sevenoways_server::testing::fake_meta::{self, FakeMeta, SendScript};
use sevenoways_server::testing::webhook_sink::WebhookSink;
use sevenoways_server::testing::*;

const PNID: &str = "106540352242922";
const PHONE: &str = "971501234567";

async fn relay(fake: &FakeMeta) -> (TestServer, Client, WebhookSink) {
    fake.add_number(PNID, "+971 50 000 0000");
    let t = start_with_meta(&fake.graph_url()).await;
    fake.set_webhook(&format!("{}/engines/meta/webhook", t.base()));
    let c = t.client();
    let sink = WebhookSink::start().await;
    sink.subscribe(&c).await;
    (t, c, sink)
}

async fn cloud(c: &Client, name: &str) -> InstanceId {
    let created = c
        .instances()
        .create(&CreateInstanceRequest::new(id(name), "Cloud").meta(PNID.parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(created.instance.engine, Some(Engine::Meta));
    id(name)
}

async fn entry(c: &Client, q: QueueId, status: QueueStatus) -> QueueEntry {
    eventually(10, || async {
        let e = c.queue().status(q).await.unwrap();
        (e.status == status).then_some(e)
    })
    .await
}

async fn to_phone(c: &Client, number: &InstanceId, to: &str, text: &str) -> QueueId {
    c.messages()
        .send_number(&SendNumberRequest::new(
            number.clone(),
            Phone::new(to).unwrap(),
            text.try_into().unwrap(),
        ))
        .await
        .unwrap()
        .queue_id
}

async fn raw(t: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", t.base()))
        .header("x-api-key", &t.key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_number_is_checked_with_meta_when_created_and_is_online() {
    let fake = FakeMeta::start().await;
    let (t, c, sink) = relay(&fake).await;
    let number = cloud(&c, "cloud").await;
    let listed = c.instances().list().await.unwrap().instances;
    assert_eq!(listed[0].status, InstanceStatus::Online);
    assert_eq!(listed[0].phone.as_deref(), Some("971500000000"));
    eventually(5, || async {
        sink.names()
            .contains(&"instance.online".to_owned())
            .then_some(())
    })
    .await;

    // The same phone number id serves one instance only: webhooks are routed by it.
    let err = c
        .instances()
        .create(&CreateInstanceRequest::new(id("again"), "").meta(PNID.parse().unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api { status: 409, .. }), "{err:?}");
    // An id Meta does not know is the caller's mistake.
    let err = c
        .instances()
        .create(&CreateInstanceRequest::new(id("typo"), "").meta("999".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 400, message, .. }
            if message.starts_with("phoneNumberId: ") && message.contains("Phone number not found")),
        "{err:?}"
    );
    // Without the id, before anything is asked of Meta.
    let (status, body) = raw(
        &t,
        "POST",
        "/api/instances",
        Some(json!({"instanceId": "x", "engine": "meta"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("phoneNumberId: is required"),
        "{body}"
    );
    let (status, body) = raw(
        &t,
        "POST",
        "/api/instances",
        Some(json!({"instanceId": "x", "engine": "sandbox", "phoneNumberId": PNID})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = raw(
        &t,
        "POST",
        "/api/instances",
        Some(json!({"instanceId": "x", "engine": "telegram"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("engine: "),
        "{body}"
    );
    assert_eq!(c.instances().list().await.unwrap().instances.len(), 1);
    c.instances().delete(&number).await.unwrap();
    t.shutdown().await;
}

#[tokio::test]
async fn what_the_cloud_api_cannot_deliver_is_refused_when_asked() {
    let fake = FakeMeta::start().await;
    let (t, c, _sink) = relay(&fake).await;
    let number = cloud(&c, "cloud").await;
    let unprocessable = |err: Error, what: &str| {
        assert!(
            matches!(&err, Error::Api { status: 422, message, .. } if message.contains("Cloud API") && message.contains(what)),
            "{what}: {err:?}"
        );
    };
    let err = c
        .messages()
        .send(&SendRequest::new(
            number.clone(),
            GroupTarget::names(["Team A"]).unwrap(),
            "Hi".try_into().unwrap(),
        ))
        .await
        .unwrap_err();
    unprocessable(err, "groups");
    let err = c
        .messages()
        .send(&SendRequest::new(
            number.clone(),
            GroupTarget::ids([TEAM_A]).unwrap(),
            "Hi".try_into().unwrap(),
        ))
        .await
        .unwrap_err();
    unprocessable(err, "groups");
    let community = NewsletterJid::new("120363222222222222@newsletter").unwrap();
    let err = c
        .communities()
        .send(&SendToCommunityRequest::new(
            number.clone(),
            community,
            "Hi".try_into().unwrap(),
        ))
        .await
        .unwrap_err();
    unprocessable(err, "communities");
    let (status, body) = raw(
        &t,
        "POST",
        "/api/send-to-channel",
        Some(json!({"instanceId": "cloud", "channelJid": "120363111111111111@newsletter", "message": "Hi"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let err = c
        .channels()
        .add(&AddChannelRequest::new(
            number.clone(),
            "https://whatsapp.com/channel/0029VaAbCdEf",
        ))
        .await
        .unwrap_err();
    unprocessable(err, "channels");
    let err = c.groups().refresh(&number).await.unwrap_err();
    unprocessable(err, "groups");
    let schedule = CreateScheduleRequest::new(
        number.clone(),
        "Daily",
        "0 9 * * *".parse().unwrap(),
        "UTC".parse().unwrap(),
        GroupTarget::all(),
        sevenoways_sdk::Content::Text {
            message: "Daily".try_into().unwrap(),
        },
    )
    .unwrap();
    let err = c.schedules().create(&schedule).await.unwrap_err();
    unprocessable(err, "groups");
    // Nothing was queued or sent.
    assert!(fake.sends().is_empty());

    // No QR code, in any format: the number is registered in Meta Business Manager.
    let http = reqwest::Client::new();
    for format in ["html", "json", "png", "svg"] {
        let r = http
            .get(format!(
                "{}/api/instances/cloud/qr?format={format}",
                t.base()
            ))
            .header("x-api-key", &t.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{format}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("Meta Business Manager"),
            "{body}"
        );
    }
    t.shutdown().await;
}

#[tokio::test]
async fn sends_are_the_documented_bodies_with_the_queue_id() {
    let fake = FakeMeta::start().await;
    let (t, c, _sink) = relay(&fake).await;
    let number = cloud(&c, "cloud").await;
    let phone = Phone::new(PHONE).unwrap();
    let q1 = to_phone(&c, &number, PHONE, "Your order is ready 🎉").await;
    let q2 = c
        .messages()
        .send_number_image(
            &SendNumberImageRequest::new(
                number.clone(),
                phone.clone(),
                "https://cdn.example.com/a.jpg".parse().unwrap(),
            )
            .caption("Today's offer"),
        )
        .await
        .unwrap()
        .queue_id;
    let q3 = c
        .messages()
        .send_number_document(&SendNumberDocumentRequest::new(
            number.clone(),
            phone,
            "https://cdn.example.com/menu.pdf".parse().unwrap(),
            "menu.pdf",
        ))
        .await
        .unwrap()
        .queue_id;
    for q in [q1, q2, q3] {
        entry(&c, q, QueueStatus::Sent).await;
    }
    let all = fake.sends();
    assert_eq!(all.len(), 3);
    // Sends of one number may overlap without pacing: match them by their queue id.
    let of = |q: QueueId| {
        all.iter()
            .find(|s| s.callback_data.as_deref() == Some(q.to_string().as_str()))
            .unwrap()
            .clone()
    };
    let sends = [of(q1), of(q2), of(q3)];
    assert_eq!(
        sends[0].body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": PHONE,
               "biz_opaque_callback_data": q1.to_string(), "type": "text",
               "text": {"preview_url": false, "body": "Your order is ready 🎉"}})
    );
    assert_eq!(
        sends[1].body["image"],
        json!({"link": "https://cdn.example.com/a.jpg", "caption": "Today's offer"})
    );
    assert_eq!(
        sends[2].body["document"],
        json!({"link": "https://cdn.example.com/menu.pdf", "filename": "menu.pdf"})
    );
    assert_eq!(
        sends[2].callback_data.as_deref(),
        Some(q3.to_string().as_str())
    );
    t.shutdown().await;
}

#[tokio::test]
async fn meta_s_error_codes_are_retried_or_failed_with_meta_s_title() {
    let fake = FakeMeta::start().await;
    fake.add_number(PNID, "+971 50 000 0000");
    // Enough attempts that a limit lifted after the first one is always seen.
    let t = start_at(|config, base| {
        config.public_url = Some(base.to_owned());
        config.engines.meta = Some(meta_config(&fake.graph_url()));
        config.queue.max_attempts = 12;
        ordered_webhooks(config);
    })
    .await;
    fake.set_webhook(&format!("{}/engines/meta/webhook", t.base()));
    let c = t.client();
    let sink = WebhookSink::start().await;
    sink.subscribe(&c).await;
    let number = cloud(&c, "cloud").await;
    // Outside the 24-hour window: permanent, Meta's title and details in the reason.
    fake.fail_recipient("971500000047", 131047);
    let q = to_phone(&c, &number, "971500000047", "late reply").await;
    let e = entry(&c, q, QueueStatus::Failed).await;
    assert_eq!(e.attempts, 1);
    let reason = e.error.unwrap();
    assert!(
        reason.contains("(#131047) Re-engagement message") && reason.contains("24 hours"),
        "{reason}"
    );
    eventually(10, || async {
        (sink.for_queue(q) == ["message.failed"]).then_some(())
    })
    .await;
    // Undeliverable: permanent.
    fake.fail_recipient("971500000026", 131026);
    let q = to_phone(&c, &number, "971500000026", "nobody").await;
    let e = entry(&c, q, QueueStatus::Failed).await;
    assert!(e.error.unwrap().contains("Message Undeliverable"));
    // Throughput and pair-rate limits: retried until they pass.
    for code in [130429, 131056, 1] {
        let to = format!("97150{code:07}");
        fake.fail_recipient(&to, code);
        let q = to_phone(&c, &number, &to, "busy").await;
        eventually(10, || async {
            let e = c.queue().status(q).await.unwrap();
            (e.attempts >= 1 && e.status == QueueStatus::Queued).then_some(())
        })
        .await;
        fake.heal_recipient(&to);
        let e = entry(&c, q, QueueStatus::Sent).await;
        assert!(e.attempts >= 2, "{code}: {e:?}");
    }
    t.shutdown().await;

    // A token Meta refuses: the send fails for good, naming the setting, not the token.
    let fake = FakeMeta::start().await;
    fake.add_number(PNID, "+971 50 000 0000");
    let t = start_at(|config, base| {
        config.public_url = Some(base.to_owned());
        config.engines.meta = Some(meta_config(&fake.graph_url()));
    })
    .await;
    let c = t.client();
    let number = cloud(&c, "cloud").await;
    fake.fail_recipient(PHONE, 190);
    let q = to_phone(&c, &number, PHONE, "x").await;
    let e = entry(&c, q, QueueStatus::Failed).await;
    let reason = e.error.unwrap();
    assert!(reason.contains("[engines.meta] access_token"), "{reason}");
    assert!(!reason.contains(fake_meta::ACCESS_TOKEN));
    t.shutdown().await;
}

#[tokio::test]
async fn statuses_reach_the_right_queue_id_once_and_in_order() {
    let fake = FakeMeta::start().await;
    let (t, c, sink) = relay(&fake).await;
    let number = cloud(&c, "cloud").await;
    let q1 = to_phone(&c, &number, PHONE, "one").await;
    let q2 = to_phone(&c, &number, PHONE, "two").await;
    let q3 = to_phone(&c, &number, "971502222222", "three").await;
    for q in [q1, q2, q3] {
        entry(&c, q, QueueStatus::Sent).await;
    }
    let all = fake.sends();
    let of = |q: QueueId| {
        all.iter()
            .find(|s| s.callback_data.as_deref() == Some(q.to_string().as_str()))
            .unwrap()
            .clone()
    };
    let sends = [of(q1), of(q2), of(q3)];
    // Meta's own `sent` raises no second message.sent.
    assert_eq!(fake.status(&sends[0], "sent").await, 200);
    assert_eq!(fake.status(&sends[0], "delivered").await, 200);
    assert_eq!(fake.status(&sends[0], "read").await, 200);
    // "In some cases ... the delivered webhook is not sent": read alone raises both.
    assert_eq!(fake.status(&sends[1], "read").await, 200);
    assert_eq!(fake.status(&sends[1], "delivered").await, 200);
    // Failed after it was accepted: message.failed with Meta's title.
    assert_eq!(fake.failed(&sends[2], 131047).await, 200);
    entry(&c, q1, QueueStatus::Read).await;
    entry(&c, q2, QueueStatus::Read).await;
    let failed = entry(&c, q3, QueueStatus::Failed).await;
    assert!(failed.error.unwrap().contains("Re-engagement message"));
    eventually(10, || async {
        (sink.for_queue(q1).len() == 3
            && sink.for_queue(q2).len() == 3
            && sink.for_queue(q3).len() == 2)
            .then_some(())
    })
    .await;
    let order = ["message.sent", "message.delivered", "message.read"];
    assert_eq!(sink.for_queue(q1), order);
    assert_eq!(sink.for_queue(q2), order);
    assert_eq!(sink.for_queue(q3), ["message.sent", "message.failed"]);
    t.shutdown().await;
}

#[tokio::test]
async fn a_status_that_overtakes_the_answer_and_a_lost_answer() {
    let fake = FakeMeta::start().await;
    let (t, c, sink) = relay(&fake).await;
    let number = cloud(&c, "cloud").await;
    // Meta posts `delivered` before it answers the send.
    fake.script_next_send(SendScript::StatusBeforeAnswer("delivered"));
    let q = to_phone(&c, &number, PHONE, "quick").await;
    entry(&c, q, QueueStatus::Delivered).await;
    eventually(10, || async {
        (sink.for_queue(q).len() == 2).then_some(())
    })
    .await;
    assert_eq!(sink.for_queue(q), ["message.sent", "message.delivered"]);

    // Meta takes the message and posts `sent`, but its answer is lost: the retry finds the
    // entry already known to Meta (by biz_opaque_callback_data) and sends nothing again.
    fake.script_next_send(SendScript::LoseAnswer);
    let q = to_phone(&c, &number, PHONE, "lost").await;
    let e = entry(&c, q, QueueStatus::Sent).await;
    assert_eq!(e.attempts, 2);
    let sends: Vec<_> = fake
        .sends()
        .into_iter()
        .filter(|s| s.body["text"]["body"] == "lost")
        .collect();
    assert_eq!(sends.len(), 1, "sent to WhatsApp once");
    assert_eq!(fake.status(&sends[0], "read").await, 200);
    entry(&c, q, QueueStatus::Read).await;
    eventually(10, || async {
        (sink.for_queue(q).len() == 3).then_some(())
    })
    .await;
    assert_eq!(
        sink.for_queue(q),
        ["message.sent", "message.delivered", "message.read"]
    );
    t.shutdown().await;
}

#[tokio::test]
async fn the_webhook_handshake_and_signature() {
    let fake = FakeMeta::start().await;
    let (t, c, sink) = relay(&fake).await;
    cloud(&c, "cloud").await;
    let http = reqwest::Client::new();
    let hook = format!("{}/engines/meta/webhook", t.base());
    let r = http
        .get(format!(
            "{hook}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={}",
            fake_meta::VERIFY_TOKEN
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), "1158201444");
    for query in [
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock",
        "hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=fake-verify-token",
        "hub.mode=subscribe&hub.challenge=%3Cscript%3E&hub.verify_token=fake-verify-token",
        "hub.mode=subscribe&hub.challenge=1",
    ] {
        let r = http.get(format!("{hook}?{query}")).send().await.unwrap();
        assert_eq!(r.status(), 403, "{query}");
    }

    // An inbound message, signed: message.received.
    assert_eq!(
        fake.inbound_text(PNID, "16505551234", "Does it come in another color?")
            .await,
        200
    );
    // The same bytes unsigned, mis-signed, or re-serialised: 401, nothing raised.
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": fake_meta::WABA_ID,
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "971500000000", "phone_number_id": PNID},
        "contacts": [{"profile": {"name": "Mallory"}, "wa_id": "1"}],
        "messages": [{"from": "1", "id": "wamid.FORGED", "timestamp": "1", "type": "text", "text": {"body": "forged"}}]}}]}]}))
    .unwrap();
    assert_eq!(fake.post_with_signature(&body, None).await, 401);
    assert_eq!(
        fake.post_with_signature(&body, Some("sha256=00")).await,
        401
    );
    let good = fake_meta::sign(fake_meta::APP_SECRET, &body);
    let mut spaced = body.clone();
    spaced.push(b'\n');
    assert_eq!(fake.post_with_signature(&spaced, Some(&good)).await, 401);
    assert_eq!(
        fake.post_with_signature(&body, Some(&good.replace("sha256=", "sha1=")))
            .await,
        401
    );
    // A number this server does not serve is skipped, and Meta is told all is well.
    let elsewhere = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "1", "phone_number_id": "555"},
        "messages": [{"from": "1", "id": "wamid.ELSEWHERE", "timestamp": "1", "type": "text", "text": {"body": "hi"}}]}}]}]}))
    .unwrap();
    assert_eq!(fake.post_signed(&elsewhere).await, 200);
    // A redelivery of a message changes nothing.
    assert_eq!(fake.post_signed(&body).await, 200);
    assert_eq!(fake.post_signed(&body).await, 200);
    eventually(10, || async {
        (sink
            .names()
            .iter()
            .filter(|n| *n == "message.received")
            .count()
            == 2)
            .then_some(())
    })
    .await;
    let texts: Vec<String> = sink
        .events()
        .into_iter()
        .filter_map(|e| match e.data {
            sevenoways_sdk::EventData::MessageReceived(m) => {
                Some(format!("{}:{}", m.from, m.message))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        ["16505551234:Does it come in another color?", "1:forged"]
    );
    t.shutdown().await;
}
