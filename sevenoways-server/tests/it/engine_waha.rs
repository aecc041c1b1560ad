//! The WAHA engine against a fake WAHA that follows WAHA's published contract
//! (`sevenoways_server::testing::fake_waha`): sessions, pairing, the three group-list
//! shapes, sends and their ids, signed events, receipts that overtake the send's answer,
//! lost answers, and WAHA's errors.

use serde_json::json;
use sevenoways_sdk::models::channels::AddChannelRequest;
use sevenoways_sdk::models::groups::RefreshGroups;
use sevenoways_sdk::models::instances::{CreateInstanceRequest, Engine, InstanceStatus};
use sevenoways_sdk::models::messages::{
    SendNumberDocumentRequest, SendNumberImageRequest, SendNumberRequest, SendRequest,
};
use sevenoways_sdk::models::queue::{QueueEntry, QueueStatus};
use sevenoways_sdk::{Client, Endpoint, Error, GroupTarget, InstanceId, Phone, QueueId};
use sevenoways_server::testing::fake_waha::{FakeSend, FakeWaha, Flavour, SendScript};
use sevenoways_server::testing::webhook_sink::WebhookSink;
use sevenoways_server::testing::*;

const PHONE: &str = "971501234567";

/// A relay with WAHA at `fake`, and a subscribed webhook receiver.
async fn relay(fake: &FakeWaha) -> (TestServer, Client, WebhookSink) {
    let t = start_with_waha(&fake.url()).await;
    let c = t.client();
    let sink = WebhookSink::start().await;
    sink.subscribe(&c).await;
    (t, c, sink)
}

/// Creates a WAHA instance; answers its session's name.
async fn create(fake: &FakeWaha, c: &Client, name: &str) -> String {
    let created = c
        .instances()
        .create(&CreateInstanceRequest::new(id(name), "Shop").engine(Engine::Waha))
        .await
        .unwrap();
    assert_eq!(created.instance.engine, Some(Engine::Waha));
    assert_eq!(created.instance.status, InstanceStatus::Pairing);
    assert!(created.sandbox_pair_url.is_none());
    fake.sessions()
        .into_iter()
        .find(|s| s.metadata["sevenoways.instance"] == name)
        .expect("a session for the instance")
        .name
}

/// Creates a WAHA instance in groups Team A and Team B and pairs it.
async fn paired(fake: &FakeWaha, c: &Client, name: &str) -> (InstanceId, String) {
    fake.set_groups(&[(TEAM_A, "Team A"), (TEAM_B, "Team B")]);
    let session = create(fake, c, name).await;
    // The session starts (STARTING, then SCAN_QR_CODE) in the background, as WAHA does.
    eventually(5, || async {
        (fake.session(&session)?.status == "SCAN_QR_CODE").then_some(())
    })
    .await;
    assert_eq!(fake.pair(&session, "971500000001").await, 200);
    let number = id(name);
    eventually(5, || async {
        let groups = c.groups().list(&number).await.unwrap().groups;
        (groups.len() == 2).then_some(())
    })
    .await;
    (number, session)
}

#[tokio::test]
async fn a_late_status_event_does_not_take_a_working_number_offline() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (_t, c, sink) = relay(&fake).await;
    let (number, session) = paired(&fake, &c, "late").await;
    let status = || async {
        let listed = c.instances().list().await.unwrap().instances;
        listed
            .into_iter()
            .find(|i| i.instance_id == number)
            .unwrap()
            .status
    };
    assert_eq!(status().await, InstanceStatus::Online);
    // WAHA redelivers an event from before the pairing (our endpoint had not taken it):
    // the session is WORKING, so the number stays online and nothing is raised.
    let late = json!({"name": session, "status": "SCAN_QR_CODE", "statuses": [], "data": null});
    assert_eq!(fake.emit(&session, "session.status", late).await.0, 200);
    assert_eq!(status().await, InstanceStatus::Online);
    // A change WAHA stands by is applied: the phone logs out.
    assert_eq!(fake.set_status(&session, "FAILED").await, 200);
    assert_eq!(status().await, InstanceStatus::Offline);
    eventually(5, || async {
        sink.names()
            .contains(&"instance.offline".to_owned())
            .then_some(())
    })
    .await;
    let names = sink.names();
    assert_eq!(
        names.iter().filter(|n| *n == "instance.offline").count(),
        1,
        "{names:?}"
    );
}

async fn final_entry(c: &Client, q: QueueId, status: QueueStatus) -> QueueEntry {
    eventually(10, || async {
        let e = c.queue().status(q).await.unwrap();
        (e.status == status).then_some(e)
    })
    .await
}

async fn text_to_phone(c: &Client, number: &InstanceId, text: &str) -> QueueId {
    c.messages()
        .send_number(&SendNumberRequest::new(
            number.clone(),
            Phone::new(PHONE).unwrap(),
            text.try_into().unwrap(),
        ))
        .await
        .unwrap()
        .queue_id
}

async fn sent_through(fake: &FakeWaha, n: usize) -> Vec<FakeSend> {
    eventually(10, || async {
        let sends = fake.sends();
        (sends.len() >= n).then_some(sends)
    })
    .await
}

#[tokio::test]
async fn an_instance_is_one_session_made_once_with_a_signed_webhook() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let dir = tempfile::tempdir().unwrap();
    let make = |base: String| {
        let mut config = fast_config(dir.path());
        config.public_url = Some(base);
        config.engines.waha = Some(waha_config(&fake.url()));
        config
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = sevenoways_server::launch(make(base.clone()), listener)
        .await
        .unwrap();
    let key = server.create_key("t", "default").await.unwrap();
    let c = client(&base, &key, sevenoways_sdk::BodyEncoding::Json);
    let session = create(&fake, &c, "shop.main").await;

    let s = fake.session(&session).unwrap();
    assert!(session.len() <= 54, "{session}");
    assert!(
        session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{session}"
    );
    assert!(
        session.starts_with("svw_") && session.contains("shop-main"),
        "{session}"
    );
    assert_eq!(
        s.webhook_url.as_deref(),
        Some(format!("{base}/engines/waha/events").as_str())
    );
    for event in [
        "session.status",
        "message",
        "message.ack",
        "message.ack.group",
    ] {
        assert!(
            s.events.iter().any(|e| e == event),
            "{event} in {:?}",
            s.events
        );
    }
    let key_len = s.hmac_key.as_deref().map_or(0, str::len);
    assert!(key_len >= 32, "a generated HMAC key");
    // The key is the relay's secret: no answer shows it.
    let listed = reqwest::Client::new()
        .get(format!("{base}/api/instances"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(s.hmac_key.as_deref().unwrap()));
    assert!(listed.contains(r#""engine":"waha""#), "{listed}");

    // A restart creates nothing again.
    server.shutdown().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = sevenoways_server::launch(make(base.clone()), listener)
        .await
        .unwrap();
    let c = client(&base, &key, sevenoways_sdk::BodyEncoding::Json);
    assert_eq!(c.instances().list().await.unwrap().instances.len(), 1);
    assert_eq!(fake.sessions().len(), 1);
    assert_eq!(fake.session(&session).unwrap().created, 1);

    // Two accounts with the same instance id get two sessions.
    let other = client(
        &base,
        &server.create_key("o", "default").await.unwrap(),
        sevenoways_sdk::BodyEncoding::Json,
    );
    other
        .instances()
        .create(&CreateInstanceRequest::new(id("shop.main"), "").engine(Engine::Waha))
        .await
        .unwrap();
    assert_eq!(fake.sessions().len(), 2);

    // Deleting the instance deletes its session.
    c.instances().delete(&id("shop.main")).await.unwrap();
    assert!(fake.session(&session).is_none());
    assert_eq!(fake.sessions().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn the_qr_code_is_waha_s_drawn_by_the_relay_and_the_page_says_paired() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, sink) = relay(&fake).await;
    let session = create(&fake, &c, "n1").await;
    eventually(5, || async {
        (fake.session(&session)?.status == "SCAN_QR_CODE").then_some(())
    })
    .await;
    let n1 = id("n1");
    let qr = c.instances().qr(&n1).await.unwrap();
    assert_eq!(qr.status, InstanceStatus::Pairing);
    assert_eq!(
        qr.pairing_code.as_deref(),
        Some(format!("2@fakeqr,{session},1").as_str())
    );
    // WAHA rotates the code; the relay shows the new one.
    fake.rotate_qr(&session);
    let qr = c.instances().qr(&n1).await.unwrap();
    assert_eq!(
        qr.pairing_code.as_deref(),
        Some(format!("2@fakeqr,{session},2").as_str())
    );
    let http = reqwest::Client::new();
    let base = format!("{}/api/instances/n1/qr", t.base());
    for (format, needle) in [("svg", "<svg".as_bytes()), ("png", b"\x89PNG".as_slice())] {
        let r = http
            .get(format!("{base}?format={format}"))
            .header("x-api-key", &t.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{format}");
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.windows(needle.len()).any(|w| w == needle), "{format}");
    }
    let page = http
        .get(&base)
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("Simulate the scan"),
        "WAHA instances have no simulated scan"
    );

    fake.set_groups(&[(TEAM_A, "Team A")]);
    assert_eq!(fake.pair(&session, "971500000001").await, 200);
    let qr = c.instances().qr(&n1).await.unwrap();
    assert_eq!(qr.status, InstanceStatus::Online);
    assert_eq!(qr.pairing_code, None);
    let page = http
        .get(&base)
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"done\" class=\"ok\" >"),
        "the paired notice shows: {page}"
    );
    let listed = c.instances().list().await.unwrap().instances;
    assert_eq!(listed[0].phone.as_deref(), Some("971500000001"));
    // `instance.online` once, however often WAHA says WORKING.
    assert_eq!(fake.set_status(&session, "WORKING").await, 200);
    eventually(5, || async {
        sink.names()
            .contains(&"instance.online".to_owned())
            .then_some(())
    })
    .await;
    // The phone logs out: offline, once.
    assert_eq!(fake.set_status(&session, "FAILED").await, 200);
    eventually(5, || async {
        sink.names()
            .contains(&"instance.offline".to_owned())
            .then_some(())
    })
    .await;
    assert_eq!(fake.set_status(&session, "STOPPED").await, 200);
    let names = sink.names();
    assert_eq!(
        names.iter().filter(|n| *n == "instance.online").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "instance.offline").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        c.instances().list().await.unwrap().instances[0].status,
        InstanceStatus::Offline
    );
    assert_eq!(sink.forged(), 0);
    t.shutdown().await;
}

#[tokio::test]
async fn the_three_group_list_shapes_all_resolve_names() {
    for flavour in [Flavour::Noweb, Flavour::Gows, Flavour::Webjs] {
        let fake = FakeWaha::start(flavour).await;
        let (t, c, _sink) = relay(&fake).await;
        let (number, _) = paired(&fake, &c, "n1").await;
        let groups = c.groups().list(&number).await.unwrap().groups;
        assert_eq!(
            groups
                .iter()
                .map(|g| (g.id.as_str(), g.name.as_str()))
                .collect::<Vec<_>>(),
            vec![(TEAM_A, "Team A"), (TEAM_B, "Team B")],
            "{flavour:?}"
        );
        // On demand: a rename and a group left are picked up.
        fake.set_groups(&[(TEAM_A, "Team Alpha")]);
        let refreshed = c.groups().refresh(&number).await.unwrap().groups;
        assert_eq!(refreshed.len(), 1, "{flavour:?}");
        assert_eq!(refreshed[0].name, "Team Alpha");
        let q = c
            .messages()
            .send(&SendRequest::new(
                number.clone(),
                GroupTarget::names(["team alpha"]).unwrap(),
                "Hi".try_into().unwrap(),
            ))
            .await
            .unwrap();
        let sends = sent_through(&fake, 1).await;
        assert_eq!(sends[0].chat_id, TEAM_A, "{flavour:?}");
        final_entry(&c, q.queue_id, QueueStatus::Sent).await;
        t.shutdown().await;
    }
}

#[tokio::test]
async fn sends_use_waha_s_chat_ids_and_files_always_have_a_mimetype() {
    let fake = FakeWaha::start(Flavour::Noweb).await;
    let (t, c, _sink) = relay(&fake).await;
    let (number, session) = paired(&fake, &c, "n1").await;
    let m = c.messages();
    let phone = Phone::new(PHONE).unwrap();
    let q1 = text_to_phone(&c, &number, "Your order is ready 🎉").await;
    let q2 = m
        .send_number_image(
            &SendNumberImageRequest::new(
                number.clone(),
                phone.clone(),
                "https://cdn.example.com/banner.png".parse().unwrap(),
            )
            .caption("New!"),
        )
        .await
        .unwrap()
        .queue_id;
    let q3 = m
        .send_number_document(&SendNumberDocumentRequest::new(
            number.clone(),
            phone.clone(),
            "https://cdn.example.com/files/menu.pdf".parse().unwrap(),
            "Menu.pdf",
        ))
        .await
        .unwrap()
        .queue_id;
    let sends = sent_through(&fake, 3).await;
    // With no pacing the three may overlap: find each by its route.
    let by_path = |path: &str| sends.iter().find(|s| s.path == path).unwrap().clone();
    let text = &by_path("/api/sendText");
    assert_eq!(
        (text.path.as_str(), text.session.as_str()),
        ("/api/sendText", session.as_str())
    );
    assert_eq!(text.chat_id, format!("{PHONE}@c.us"));
    assert_eq!(text.body["text"], "Your order is ready 🎉");
    // The relay asked WAHA for the id first, and sent with it.
    assert_eq!(text.body["id"], json!(text.id));
    let image = &by_path("/api/sendImage");
    assert_eq!(
        image.body["file"],
        json!({"mimetype": "image/png", "url": "https://cdn.example.com/banner.png"})
    );
    assert_eq!(image.body["caption"], "New!");
    let doc = &by_path("/api/sendFile");
    assert_eq!(
        doc.body["file"],
        json!({"mimetype": "application/pdf", "url": "https://cdn.example.com/files/menu.pdf", "filename": "Menu.pdf"})
    );
    for q in [q1, q2, q3] {
        final_entry(&c, q, QueueStatus::Sent).await;
    }
    t.shutdown().await;
}

#[tokio::test]
async fn receipts_reach_the_right_queue_id_once_and_in_order() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, sink) = relay(&fake).await;
    let (number, _) = paired(&fake, &c, "n1").await;
    let q1 = text_to_phone(&c, &number, "first").await;
    let q2 = text_to_phone(&c, &number, "second").await;
    let all = sent_through(&fake, 2).await;
    let of = |text: &str| all.iter().find(|s| s.body["text"] == text).unwrap().clone();
    let sends = [of("first"), of("second")];
    final_entry(&c, q1, QueueStatus::Sent).await;
    final_entry(&c, q2, QueueStatus::Sent).await;
    // WAHA's own server ack raises no second message.sent.
    assert_eq!(fake.ack(&sends[0], 1).await, 200);
    assert_eq!(fake.ack(&sends[1], 2).await, 200);
    assert_eq!(fake.ack(&sends[1], 3).await, 200);
    // A read with no delivered before it raises both, delivered first.
    assert_eq!(fake.ack(&sends[0], 4).await, 200);
    // Late and repeated acks change nothing.
    assert_eq!(fake.ack(&sends[0], 2).await, 200);
    assert_eq!(fake.ack(&sends[1], 3).await, 200);
    final_entry(&c, q1, QueueStatus::Read).await;
    final_entry(&c, q2, QueueStatus::Read).await;
    let expected = ["message.sent", "message.delivered", "message.read"];
    eventually(10, || async {
        (sink.for_queue(q1).len() == 3 && sink.for_queue(q2).len() == 3).then_some(())
    })
    .await;
    assert_eq!(sink.for_queue(q1), expected);
    assert_eq!(sink.for_queue(q2), expected);
    t.shutdown().await;
}

#[tokio::test]
async fn a_receipt_that_overtakes_the_send_s_answer_is_kept_for_it() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, sink) = relay(&fake).await;
    let (number, _) = paired(&fake, &c, "n1").await;
    // WAHA posts "read" and waits for the relay's answer before answering the send.
    fake.script_next_send(SendScript::AckBeforeAnswer(3));
    let q = text_to_phone(&c, &number, "fast reader").await;
    final_entry(&c, q, QueueStatus::Read).await;
    eventually(10, || async {
        (sink.for_queue(q).len() == 3).then_some(())
    })
    .await;
    assert_eq!(
        sink.for_queue(q),
        ["message.sent", "message.delivered", "message.read"]
    );
    assert_eq!(fake.sends().len(), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_is_not_sent_twice_and_its_receipts_still_arrive() {
    let fake = FakeWaha::start(Flavour::Webjs).await;
    let (t, c, sink) = relay(&fake).await;
    let (number, _) = paired(&fake, &c, "n1").await;
    // WAHA takes the message, acks it (SERVER), and its answer never comes back.
    fake.script_next_send(SendScript::LoseAnswer);
    let q = text_to_phone(&c, &number, "lost answer").await;
    let sent = final_entry(&c, q, QueueStatus::Sent).await;
    assert_eq!(
        sent.attempts, 2,
        "one timed-out attempt, then recorded without resending"
    );
    assert_eq!(fake.sends().len(), 1, "WhatsApp got it once");
    assert_eq!(fake.ack(&fake.sends()[0], 2).await, 200);
    final_entry(&c, q, QueueStatus::Delivered).await;
    eventually(10, || async {
        (sink.for_queue(q).len() == 2).then_some(())
    })
    .await;
    assert_eq!(sink.for_queue(q), ["message.sent", "message.delivered"]);
    t.shutdown().await;
}

#[tokio::test]
async fn group_receipts_come_from_message_ack_group() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, sink) = relay(&fake).await;
    let (number, _) = paired(&fake, &c, "n1").await;
    let q = c
        .messages()
        .send(&SendRequest::new(
            number.clone(),
            GroupTarget::ids([TEAM_B]).unwrap(),
            "Hi team".try_into().unwrap(),
        ))
        .await
        .unwrap()
        .queue_id;
    let sends = sent_through(&fake, 1).await;
    final_entry(&c, q, QueueStatus::Sent).await;
    // GOWS answers `true_<group>_<ID>_<me>`; the ack names `true_<group>_<ID>_<participant>`.
    assert_eq!(fake.ack(&sends[0], 3).await, 200);
    final_entry(&c, q, QueueStatus::Read).await;
    eventually(10, || async {
        (sink.for_queue(q).len() == 3).then_some(())
    })
    .await;
    t.shutdown().await;
}

#[tokio::test]
async fn unsigned_and_mis_signed_events_are_refused_and_change_nothing() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, sink) = relay(&fake).await;
    let session = create(&fake, &c, "n1").await;
    // The session starts (STARTING, then SCAN_QR_CODE) in the background, as WAHA does:
    // wait for it, or its SCAN_QR_CODE could land after the signed WORKING below and
    // rightly move the number back to pairing.
    eventually(5, || async {
        (fake.session(&session)?.status == "SCAN_QR_CODE").then_some(())
    })
    .await;
    let forged = serde_json::to_vec(&json!({
        "id": "evt_01forged0000000000000000", "timestamp": 1, "event": "session.status",
        "session": session, "me": {"id": "971509999999@c.us", "pushName": "x"},
        "payload": {"name": session, "status": "WORKING", "statuses": []},
        "engine": "GOWS", "environment": {"version": "2026.7.1", "engine": "GOWS", "tier": "CORE", "browser": null}
    }))
    .unwrap();
    assert_eq!(fake.post_raw(&session, &forged, None).await, 401);
    assert_eq!(
        fake.post_raw(&session, &forged, Some(&"ab".repeat(64)))
            .await,
        401
    );
    // Signed with the right key over other bytes (a re-serialised body).
    let mut spaced = forged.clone();
    spaced.push(b' ');
    let signature = fake.sign(&session, &forged);
    assert_eq!(
        fake.post_raw(&session, &spaced, Some(&signature)).await,
        401
    );
    // An unknown session cannot be verified either.
    let mut other = serde_json::from_slice::<serde_json::Value>(&forged).unwrap();
    other["session"] = json!("svw_nobody");
    let other = serde_json::to_vec(&other).unwrap();
    assert_eq!(
        fake.post_raw(&session, &other, Some(&fake.sign(&session, &other)))
            .await,
        401
    );
    assert_eq!(
        c.instances().list().await.unwrap().instances[0].status,
        InstanceStatus::Pairing
    );
    // The same bytes, properly signed, do pair it.
    assert_eq!(
        fake.post_raw(&session, &forged, Some(&signature)).await,
        200
    );
    assert_eq!(
        c.instances().list().await.unwrap().instances[0].status,
        InstanceStatus::Online
    );
    eventually(5, || async {
        sink.names()
            .contains(&"instance.online".to_owned())
            .then_some(())
    })
    .await;
    t.shutdown().await;
}

#[tokio::test]
async fn inbound_messages_are_received_once() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, sink) = relay(&fake).await;
    let (_, session) = paired(&fake, &c, "n1").await;
    let (status, body) = fake
        .emit(
            &session,
            "message",
            json!({"id": "false_971502222222@c.us_AAAA", "timestamp": 1767000000, "from": "971502222222@c.us",
                   "fromMe": false, "source": "app", "to": "971500000001@c.us", "participant": null,
                   "body": "Hello?", "hasMedia": false, "ack": 1, "ackName": "SERVER"}),
        )
        .await;
    assert_eq!(status, 200);
    // WAHA retries the same event (same envelope id): no second message.received.
    assert_eq!(
        fake.post_raw(&session, &body, Some(&fake.sign(&session, &body)))
            .await,
        200
    );
    // Our own messages (fromMe) are not "received".
    fake.emit(
        &session,
        "message",
        json!({"id": "true_1@c.us_B", "from": "971500000001@c.us", "fromMe": true, "body": "mine"}),
    )
    .await;
    assert_eq!(
        fake.inbound(&session, "971503333333", "In the group", Some(TEAM_A))
            .await,
        200
    );
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
    let received: Vec<_> = sink
        .events()
        .into_iter()
        .filter_map(|e| match e.data {
            sevenoways_sdk::EventData::MessageReceived(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(
        (received[0].from.as_str(), received[0].message.as_str()),
        ("971502222222", "Hello?")
    );
    assert_eq!(received[1].from, "971503333333");
    assert_eq!(received[1].chat.as_deref(), Some(TEAM_A));
    t.shutdown().await;
}

#[tokio::test]
async fn waha_s_errors_fail_or_retry_with_a_reason() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, sink) = relay(&fake).await;
    let (number, session) = paired(&fake, &c, "n1").await;
    // A 5xx is retried, and the retry goes through.
    fake.script_next_send(SendScript::Fail(
        500,
        json!({"statusCode": 500, "timestamp": "2026-12-01T00:00:00Z",
               "exception": {"message": "socket hang up", "name": "Error"},
               "request": {"path": "/api/sendText", "method": "POST", "body": {}, "query": {}}, "version": "2026.7.1"}),
    ));
    let q = text_to_phone(&c, &number, "after a hiccup").await;
    let e = final_entry(&c, q, QueueStatus::Sent).await;
    assert_eq!(e.attempts, 2);
    // STARTING (WAHA reconnecting) is retried, then given up with the reason.
    assert_eq!(fake.set_status(&session, "STARTING").await, 200);
    let q = text_to_phone(&c, &number, "while reconnecting").await;
    let e = final_entry(&c, q, QueueStatus::Failed).await;
    assert_eq!(e.attempts, 3, "retried up to max_attempts");
    assert!(e.error.as_deref().unwrap().contains("STARTING"), "{e:?}");
    // The instance stayed online through the reconnect.
    assert_eq!(
        c.instances().list().await.unwrap().instances[0].status,
        InstanceStatus::Online
    );
    // Logged out: not paired, at once.
    assert_eq!(fake.set_status(&session, "SCAN_QR_CODE").await, 200);
    let q = text_to_phone(&c, &number, "after logout").await;
    let e = final_entry(&c, q, QueueStatus::Failed).await;
    assert_eq!(e.attempts, 1);
    assert!(e.error.as_deref().unwrap().contains("not paired"), "{e:?}");
    eventually(10, || async {
        sink.for_queue(q)
            .contains(&"message.failed".to_owned())
            .then_some(())
    })
    .await;
    t.shutdown().await;

    // A relay with the wrong API key: permanent, and the reason names the setting.
    let fake = FakeWaha::start(Flavour::Gows).await;
    let t = start_at(|config, base| {
        config.public_url = Some(base.to_owned());
        let mut waha = waha_config(&fake.url());
        waha.api_key = Some(sevenoways_server::config::EngineSecret::new("wrong"));
        config.engines.waha = Some(waha);
    })
    .await;
    let err = t
        .client()
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "").engine(Engine::Waha))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 502, message, .. } if message.contains("[engines.waha] api_key") && !message.contains("wrong")),
        "{err:?}"
    );
    assert!(
        t.client()
            .instances()
            .list()
            .await
            .unwrap()
            .instances
            .is_empty(),
        "nothing half-made stays"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn channels_are_looked_up_through_waha() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, _sink) = relay(&fake).await;
    let (number, _) = paired(&fake, &c, "n1").await;
    fake.add_channel(
        "120363111111111111@newsletter",
        "News",
        "0029VaAbCdEf",
        "OWNER",
    );
    let saved = c
        .channels()
        .add(&AddChannelRequest::new(
            number.clone(),
            "https://whatsapp.com/channel/0029VaAbCdEf",
        ))
        .await
        .unwrap()
        .channel;
    assert_eq!(saved.channel_jid.as_str(), "120363111111111111@newsletter");
    assert_eq!(saved.name, "News");
    assert!(saved.is_admin);
    assert_eq!(saved.subscribers, 12323);
    // By JID too, the same channel.
    let again = c
        .channels()
        .add(&AddChannelRequest::new(
            number.clone(),
            "120363111111111111@newsletter",
        ))
        .await
        .unwrap()
        .channel;
    assert_eq!(again.id, saved.id);
    let err = c
        .channels()
        .add(&AddChannelRequest::new(
            number.clone(),
            "https://whatsapp.com/channel/0029Unknown1",
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn refreshing_groups_needs_a_paired_number() {
    let fake = FakeWaha::start(Flavour::Gows).await;
    let (t, c, _sink) = relay(&fake).await;
    let session = create(&fake, &c, "n1").await;
    eventually(5, || async {
        (fake.session(&session)?.status == "SCAN_QR_CODE").then_some(())
    })
    .await;
    let r = reqwest::Client::new()
        .post(format!(
            "{}{}",
            t.base(),
            RefreshGroups {
                instance_id: id("n1")
            }
            .path()
        ))
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("SCAN_QR_CODE"),
        "{body}"
    );
    t.shutdown().await;
}

/// A session's HMAC key is a secret of the relay's like a webhook secret: stored as given
/// without `SEVENOWAYS_SECRETS_KEY`, sealed on the first start with it (gone from the
/// file), still verifying WAHA's events after that, and a start without the key refused.
#[tokio::test]
async fn session_keys_are_sealed_at_rest_with_the_secrets_key() {
    use crate::e2e_webhook_secrets::KEY;
    use sevenoways_server::secrets::SecretsKey;

    let fake = FakeWaha::start(Flavour::Gows).await;
    let dir = tempfile::tempdir().unwrap();
    // One address throughout: WAHA posts to the URL the session was made with.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let launch = |key: Option<&'static str>| {
        let (fake_url, dir) = (fake.url(), dir.path().to_owned());
        async move {
            let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let mut config = fast_config(&dir);
            config.public_url = Some(base);
            config.engines.waha = Some(waha_config(&fake_url));
            config.secrets_key = key.map(|k| SecretsKey::parse(k).unwrap());
            sevenoways_server::launch(config, listener).await
        }
    };
    let server = launch(None).await.unwrap();
    let key = server.create_key("t", "default").await.unwrap();
    let c = client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    let session = create(&fake, &c, "n1").await;
    let hmac = fake.session(&session).unwrap().hmac_key.unwrap();
    server.shutdown().await;
    assert!(
        on_disk(dir.path(), &hmac).await,
        "stored as given without a key"
    );

    let server = launch(Some(KEY)).await.unwrap();
    server.shutdown().await;
    assert!(
        !on_disk(dir.path(), &hmac).await,
        "sealed on the first start with the key"
    );

    let refused = launch(None)
        .await
        .err()
        .expect("a start without the key is refused");
    assert!(
        refused.to_string().contains("SEVENOWAYS_SECRETS_KEY"),
        "{refused}"
    );

    // Sealed, the key still verifies WAHA's signed events: the number pairs.
    let server = launch(Some(KEY)).await.unwrap();
    let c = client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    assert_eq!(fake.pair(&session, PHONE).await, 200);
    let listed = c.instances().list().await.unwrap().instances;
    assert_eq!(listed[0].status, InstanceStatus::Online);
    server.shutdown().await;
}
