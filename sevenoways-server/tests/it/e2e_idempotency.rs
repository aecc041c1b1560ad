//! `Idempotency-Key` against the real server: a repeat gets the first answer and does
//! nothing else, a reused key is a 422, refusals are not kept, two requests at once have
//! one effect, keys expire, every POST takes one, and the SDK retries a send whose answer
//! a proxy dropped without queuing it twice. (A `kill -9` between the commit and the
//! answer is in `kill_restart`.)

use std::collections::BTreeSet;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use sevenoways_sdk::endpoint::{Method, OPERATIONS};
use sevenoways_sdk::models::channels::{
    AddChannelRequest, SendDocumentToChannelRequest, SendImageToChannelRequest,
    SendToChannelRequest,
};
use sevenoways_sdk::models::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};
use sevenoways_sdk::models::groups::RefreshGroups;
use sevenoways_sdk::models::instances::CreateInstanceRequest;
use sevenoways_sdk::models::messages::{
    SendDocumentRequest, SendImageRequest, SendNumberDocumentRequest, SendNumberImageRequest,
    SendNumberRequest, SendRequest,
};
use sevenoways_sdk::models::sandbox::{
    AddSandboxGroup, PairSandboxInstance, SandboxInbound, UnpairSandboxInstance,
};
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ResumeSchedule};
use sevenoways_sdk::models::webhooks::{
    CreateWebhookRequest, EnableWebhook, Redeliver, RotateSecretRequest, RotateWebhookSecret,
    TestWebhook,
};
use sevenoways_sdk::{BodyEncoding, Endpoint, ScheduleId};
use sevenoways_server::config::PlanConfig;
use sevenoways_server::testing::{
    self, LossyProxy, TEAM_A, TestServer, eventually, paired_instance,
};

/// One answer, as it came.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn replayed(&self) -> bool {
        self.headers.get("idempotent-replayed") == Some(&HeaderValue::from_static("true"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// POSTs `body` (JSON) to `path` with the `Idempotency-Key` `key`, if any.
async fn post(base: &str, api_key: &str, path: &str, key: Option<&str>, body: &Value) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("x-api-key", api_key)
        .json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

fn send_number(message: &str) -> Value {
    json!({"instanceId": "n1", "phone": "971501234567", "message": message})
}

const QUEUED: &str = "SELECT COUNT(*) FROM queue";
/// Kept answers (the SDK's own calls in the set-up keep theirs too: it keys every POST).
const KEYS: &str = "SELECT COUNT(*) FROM idempotency_keys";

#[tokio::test]
async fn a_repeat_gets_the_first_answer_byte_for_byte_and_does_nothing_else() {
    let t = testing::start().await;
    let client = t.client();
    paired_instance(&client, "n1").await;
    let (base, api_key) = (t.base(), t.key.clone());

    let first = post(
        &base,
        &api_key,
        "/api/send-number",
        Some("order-1"),
        &send_number("Hi 👋"),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.error());
    assert!(!first.replayed(), "the first answer is not a replay");
    for _ in 0..3 {
        let again = post(
            &base,
            &api_key,
            "/api/send-number",
            Some("order-1"),
            &send_number("Hi 👋"),
        )
        .await;
        assert_eq!(again.status, 200);
        assert!(again.replayed(), "Idempotent-Replayed: true");
        assert_eq!(again.body, first.body, "the stored answer, byte for byte");
        assert_eq!(again.headers["content-type"], "application/json");
    }
    assert_eq!(t.count(QUEUED).await, 1, "one queue entry");
    let usage = client.usage().get().await.unwrap();
    assert_eq!(
        usage.rate_limit.used, 1,
        "a replay does not count against the rate limit"
    );
    assert_eq!(usage.daily.used, 1, "nor against the caps");

    // Once sent (its message.sent event is written after the outbox entry), still one
    // message: one outbox entry, one event.
    const SENT: &str = "SELECT COUNT(*) FROM events WHERE event_type = 'message.sent'";
    eventually(10, || async { (t.count(SENT).await > 0).then_some(()) }).await;
    let again = post(
        &base,
        &api_key,
        "/api/send-number",
        Some("order-1"),
        &send_number("Hi 👋"),
    )
    .await;
    assert!(again.replayed());
    assert_eq!(t.count(QUEUED).await, 1);
    assert_eq!(t.count(SENT).await, 1);
    let outbox = client.sandbox().outbox(&testing::id("n1")).await.unwrap();
    assert_eq!(outbox.messages.len(), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_a_422_saying_so() {
    let t = testing::start().await;
    paired_instance(&t.client(), "n1").await;
    let (base, api_key) = (t.base(), t.key.clone());
    let first = post(
        &base,
        &api_key,
        "/api/send-number",
        Some("k1"),
        &send_number("one"),
    )
    .await;
    assert_eq!(first.status, 200);

    let other_body = post(
        &base,
        &api_key,
        "/api/send-number",
        Some("k1"),
        &send_number("two"),
    )
    .await;
    assert_eq!(other_body.status, 422);
    assert_eq!(
        other_body.error(),
        "Idempotency-Key \"k1\" was already used for POST /api/send-number with a different \
         body; a key names one request: use a new key for a changed request"
    );
    let other_endpoint = post(
        &base,
        &api_key,
        "/api/send",
        Some("k1"),
        &json!({"instanceId": "n1", "groupIds": [TEAM_A], "message": "one"}),
    )
    .await;
    assert_eq!(other_endpoint.status, 422);
    assert!(
        other_endpoint
            .error()
            .starts_with("Idempotency-Key \"k1\" was already used for POST /api/send-number;"),
        "{}",
        other_endpoint.error()
    );
    // The same request as a form is another body: the key is compared on the bytes sent.
    let form = reqwest::Client::new()
        .post(format!("{base}/api/send-number"))
        .header("x-api-key", &api_key)
        .header("idempotency-key", "k1")
        .form(&[
            ("instanceId", "n1"),
            ("phone", "971501234567"),
            ("message", "one"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 422);
    assert_eq!(t.count(QUEUED).await, 1, "none of them queued anything");

    // Keys are per account: another key's "k1" is its own.
    let other = t.other_client().await;
    paired_instance(&other, "n1").await;
    let theirs = other
        .call(&SendNumberRequest::new(
            testing::id("n1"),
            "971501234567".parse().unwrap(),
            "two".try_into().unwrap(),
        ))
        .idempotency_key("k1")
        .await
        .unwrap();
    assert_ne!(Some(theirs.queue_id.0), first.json()["queueId"].as_u64());
    assert_eq!(t.count(QUEUED).await, 2);
    t.shutdown().await;
}

#[tokio::test]
async fn a_key_that_is_not_1_to_255_printable_ascii_is_a_400_naming_the_header() {
    let t = testing::start().await;
    paired_instance(&t.client(), "n1").await;
    let url = format!("{}/api/send-number", t.base());
    let long = "k".repeat(256);
    let cases: Vec<(&str, Vec<HeaderValue>)> = vec![
        ("empty", vec![HeaderValue::from_static("")]),
        (
            "256 characters",
            vec![HeaderValue::from_str(&long).unwrap()],
        ),
        ("a tab", vec![HeaderValue::from_static("a\tb")]),
        (
            "not ASCII",
            vec![HeaderValue::from_bytes(b"caf\xe9").unwrap()],
        ),
        (
            "two keys",
            vec![HeaderValue::from_static("a"), HeaderValue::from_static("b")],
        ),
    ];
    for (case, values) in cases {
        let mut request = reqwest::Client::new()
            .post(&url)
            .header("x-api-key", &t.key)
            .json(&send_number("hi"));
        for v in values {
            request = request.header("idempotency-key", v);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 400, "{case}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["success"], false, "{case}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.starts_with("Idempotency-Key: expected "),
            "{case}: {error}"
        );
    }
    let ok = post(
        &t.base(),
        &t.key,
        "/api/send-number",
        Some(&"k".repeat(255)),
        &send_number("hi"),
    )
    .await;
    assert_eq!(ok.status, 200, "255 characters are fine");
    assert_eq!(t.count(QUEUED).await, 1, "only the valid key queued");
    t.shutdown().await;
}

#[tokio::test]
async fn refusals_are_not_kept_so_the_same_key_works_later() {
    let plan = |rpm| PlanConfig {
        name: "default".into(),
        requests_per_minute: rpm,
        ..PlanConfig::default()
    };
    let TestServer { server, dir, key } = testing::start_with(|c| c.plans = vec![plan(1)]).await;
    let client = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    paired_instance(&client, "n1").await;
    let base = server.base_url();
    let kept_before = testing::count(dir.path(), KEYS).await;

    // 404: the instance does not exist yet; once it does, the same key sends.
    let to_n2 = json!({"instanceId": "n2", "phone": "971501234567", "message": "hi"});
    let missing = post(&base, &key, "/api/send-number", Some("n2-hello"), &to_n2).await;
    assert_eq!(missing.status, 404);
    // 429: the plan allows one send a minute.
    let a = post(
        &base,
        &key,
        "/api/send-number",
        Some("a"),
        &send_number("a"),
    )
    .await;
    assert_eq!(a.status, 200);
    let b = post(
        &base,
        &key,
        "/api/send-number",
        Some("b"),
        &send_number("b"),
    )
    .await;
    assert_eq!(b.status, 429);
    assert!(b.headers.contains_key("retry-after"));
    // A replay is not refused: it counts against nothing, and it is answered before the
    // refusal cache, which holds this account refused since `b` (its 429 is below).
    let a_again = post(
        &base,
        &key,
        "/api/send-number",
        Some("a"),
        &send_number("a"),
    )
    .await;
    assert_eq!((a_again.status, a_again.replayed()), (200, true));
    // The refusal was not kept: the same key is refused again, not replayed.
    let b_again = post(
        &base,
        &key,
        "/api/send-number",
        Some("b"),
        &send_number("b"),
    )
    .await;
    assert_eq!((b_again.status, b_again.replayed()), (429, false));
    assert_eq!(
        testing::count(dir.path(), KEYS).await,
        kept_before + 1,
        "only the 200 was kept"
    );

    // Later (a restart with a larger allowance), both refused keys go through, and the
    // answer kept before the restart is still the answer.
    server.shutdown().await;
    let mut config = testing::fast_config(dir.path());
    config.plans = vec![plan(100)];
    let server = testing::launch(config).await;
    let base = server.base_url();
    let client = testing::client(&base, &key, BodyEncoding::Json);
    client
        .instances()
        .create(&CreateInstanceRequest::new(testing::id("n2"), "n2"))
        .await
        .unwrap();
    let sent = post(&base, &key, "/api/send-number", Some("n2-hello"), &to_n2).await;
    assert_eq!((sent.status, sent.replayed()), (200, false));
    let b_later = post(
        &base,
        &key,
        "/api/send-number",
        Some("b"),
        &send_number("b"),
    )
    .await;
    assert_eq!((b_later.status, b_later.replayed()), (200, false));
    let a_later = post(
        &base,
        &key,
        "/api/send-number",
        Some("a"),
        &send_number("a"),
    )
    .await;
    assert_eq!((a_later.status, a_later.replayed()), (200, true));
    assert_eq!(a_later.body, a.body);
    assert_eq!(
        testing::count(dir.path(), QUEUED).await,
        3,
        "a, n2-hello and b, once each"
    );
    server.shutdown().await;
}

/// Sends `n` requests at once, to each of `bases` in turn, and waits for all of them.
async fn at_once(
    n: usize,
    bases: &[&str],
    api_key: &str,
    path: &str,
    key: &str,
    body: impl Fn(usize) -> Value,
) -> Vec<Answer> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (base, api_key, path, key, body) = (
            bases[i % bases.len()].to_owned(),
            api_key.to_owned(),
            path.to_owned(),
            key.to_owned(),
            body(i),
        );
        tasks.spawn(async move { post(&base, &api_key, &path, Some(&key), &body).await });
    }
    tasks.join_all().await
}

#[tokio::test]
async fn requests_with_one_key_at_the_same_time_have_one_effect() {
    let t = testing::start().await;
    let client = t.client();
    paired_instance(&client, "n1").await;
    let (base, api_key) = (t.base(), t.key.clone());

    let answers = at_once(16, &[&base], &api_key, "/api/send-number", "same", |_| {
        send_number("once")
    })
    .await;
    assert!(
        answers.iter().all(|a| a.status == 200),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(
        answers.iter().all(|a| a.body == answers[0].body),
        "one answer for all"
    );
    assert_eq!(
        answers.iter().filter(|a| !a.replayed()).count(),
        1,
        "exactly one ran"
    );
    assert_eq!(t.count(QUEUED).await, 1);
    assert_eq!(client.usage().get().await.unwrap().rate_limit.used, 1);

    // A create whose repeat would fail on its own (the id is taken) answers the first
    // answer too, not 409.
    let answers = at_once(
        8,
        &[&base],
        &api_key,
        "/api/instances",
        "create-x",
        |_| json!({"instanceId": "x", "label": "X"}),
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|a| a.status == 200 && a.body == answers[0].body)
    );
    assert_eq!(answers.iter().filter(|a| !a.replayed()).count(), 1);

    // Different bodies under one key: one wins, the others learn the key is taken.
    let answers = at_once(
        8,
        &[&base],
        &api_key,
        "/api/send-number",
        "contested",
        |i| send_number(&format!("m{i}")),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(t.count(QUEUED).await, 2);
    t.shutdown().await;
}

#[tokio::test]
async fn two_servers_on_one_database_act_once_per_key() {
    let t = testing::start().await;
    paired_instance(&t.client(), "n1").await;
    // A second process on the same database, as a second replica would be.
    let other = testing::launch(testing::fast_config(t.dir.path())).await;
    let (one, two) = (t.base(), other.base_url());
    let answers = at_once(
        16,
        &[&one, &two],
        &t.key,
        "/api/send-number",
        "replicas",
        |_| send_number("once, from either"),
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|a| a.status == 200 && a.body == answers[0].body),
        "{:?}",
        answers
            .iter()
            .map(|a| (a.status, a.error()))
            .collect::<Vec<_>>()
    );
    assert_eq!(answers.iter().filter(|a| !a.replayed()).count(), 1);
    assert_eq!(t.count(QUEUED).await, 1);
    other.shutdown().await;
    t.shutdown().await;
}

#[tokio::test]
async fn keys_expire_and_are_pruned() {
    let t = testing::start_with(|c| c.idempotency.ttl_secs = 1).await;
    paired_instance(&t.client(), "n1").await;
    let (base, api_key) = (t.base(), t.key.clone());
    let first = post(
        &base,
        &api_key,
        "/api/send-number",
        Some("short"),
        &send_number("hi"),
    )
    .await;
    let replay = post(
        &base,
        &api_key,
        "/api/send-number",
        Some("short"),
        &send_number("hi"),
    )
    .await;
    assert!(replay.replayed());
    // After the TTL the key is free: the same request is a new send.
    let fresh = eventually(10, || async {
        let a = post(
            &base,
            &api_key,
            "/api/send-number",
            Some("short"),
            &send_number("hi"),
        )
        .await;
        (!a.replayed()).then_some(a)
    })
    .await;
    assert_eq!(fresh.status, 200);
    assert_ne!(fresh.json()["queueId"], first.json()["queueId"]);
    assert_eq!(t.count(QUEUED).await, 2);

    // Pruning deletes what expired, a bounded batch per transaction.
    let kept = t.count(KEYS).await;
    let store = t.server.store();
    let pruned = store
        .prune_idempotency_keys(chrono::Utc::now() + chrono::Duration::days(1), 2)
        .await
        .unwrap();
    assert_eq!(pruned as i64, kept, "every key had expired a day later");
    assert_eq!(t.count(KEYS).await, 0);
    t.shutdown().await;
}

/// A key whose first use showed a webhook secret (sealed at rest with the secrets key),
/// expired and used again for a send, answers with the send's answer on replay, never the
/// old webhook's sealed one.
#[tokio::test]
async fn an_expired_key_that_showed_a_secret_replays_its_new_answer() {
    let t = testing::start_with(|c| {
        c.idempotency.ttl_secs = 1;
        c.secrets_key = Some(
            sevenoways_server::secrets::SecretsKey::parse(
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            )
            .unwrap(),
        );
    })
    .await;
    paired_instance(&t.client(), "n1").await;
    let (base, api_key) = (t.base(), t.key.clone());
    let hook = post(
        &base,
        &api_key,
        "/api/webhooks",
        Some("reused"),
        &json!({"url": "https://example.com/hook"}),
    )
    .await;
    assert_eq!(hook.status, 200, "{}", hook.error());
    // Once the key has expired, the group commit takes it over for a send.
    let sent = eventually(10, || async {
        let a = post(
            &base,
            &api_key,
            "/api/send-number",
            Some("reused"),
            &send_number("hi"),
        )
        .await;
        (a.status == 200 && !a.replayed()).then_some(a)
    })
    .await;
    let replay = post(
        &base,
        &api_key,
        "/api/send-number",
        Some("reused"),
        &send_number("hi"),
    )
    .await;
    assert!(replay.replayed());
    assert_eq!(
        replay.body, sent.body,
        "the send's own answer, not the webhook's"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn every_post_records_its_answer_and_replays_it() {
    let t = testing::start().await;
    let client = t.client();
    paired_instance(&client, "n1").await;
    let (base, api_key) = (t.base(), t.key.clone());
    let image = "https://example.com/a.jpg";
    let pdf = "https://example.com/r.pdf";
    let community = "120363111111111111@newsletter";

    // A delivery to redeliver.
    let hook = client
        .webhooks()
        .create(&CreateWebhookRequest {
            url: "http://127.0.0.1:9/hook".into(),
            events: Vec::new(),
            secret: None,
        })
        .await
        .unwrap()
        .webhook
        .id;
    client.webhooks().test(&hook).await.unwrap();
    let delivery = client
        .webhooks()
        .deliveries(&hook)
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();

    // A schedule to resume (one that is not paused is answered as it is).
    let schedule = post(
        &base,
        &api_key,
        "/api/schedules",
        None,
        &json!({"instanceId": "n1", "label": "weekly", "cronExpr": "0 9 * * 1", "timezone": "UTC", "groupIds": [TEAM_A], "message": "hi"}),
    )
    .await
    .json()["schedule"]["id"]
        .as_str()
        .unwrap()
        .parse::<ScheduleId>()
        .unwrap();

    let n1 = || testing::id("n1");
    let cases: Vec<(&str, String, Value)> = vec![
        (
            CreateInstanceRequest::ROUTE,
            "/api/instances".into(),
            json!({"instanceId": "fresh", "label": "Fresh"}),
        ),
        (
            SendRequest::ROUTE,
            "/api/send".into(),
            json!({"instanceId": "n1", "groupIds": [TEAM_A], "message": "hi"}),
        ),
        (
            SendImageRequest::ROUTE,
            "/api/send-image".into(),
            json!({"instanceId": "n1", "groups": ["team a"], "imageUrl": image}),
        ),
        (
            SendDocumentRequest::ROUTE,
            "/api/send-document".into(),
            json!({"instanceId": "n1", "sendAll": true, "fileUrl": pdf, "filename": "r.pdf"}),
        ),
        (
            SendNumberRequest::ROUTE,
            "/api/send-number".into(),
            send_number("hi"),
        ),
        (
            SendNumberImageRequest::ROUTE,
            "/api/send-number-image".into(),
            json!({"instanceId": "n1", "phone": "971501234567", "imageUrl": image}),
        ),
        (
            SendNumberDocumentRequest::ROUTE,
            "/api/send-number-document".into(),
            json!({"instanceId": "n1", "phone": "971501234567", "fileUrl": pdf, "filename": "r.pdf"}),
        ),
        (
            SendToCommunityRequest::ROUTE,
            "/api/send-to-community".into(),
            json!({"instanceId": "n1", "communityId": community, "message": "hi"}),
        ),
        (
            SendImageToCommunityRequest::ROUTE,
            "/api/send-image-to-community".into(),
            json!({"instanceId": "n1", "communityId": community, "imageUrl": image}),
        ),
        (
            SendDocumentToCommunityRequest::ROUTE,
            "/api/send-document-to-community".into(),
            json!({"instanceId": "n1", "communityId": community, "fileUrl": pdf, "filename": "r.pdf"}),
        ),
        (
            AddChannelRequest::ROUTE,
            "/api/channels".into(),
            json!({"instanceId": "n1", "inviteLink": "https://whatsapp.com/channel/0029VaKey"}),
        ),
        (
            SendToChannelRequest::ROUTE,
            "/api/send-to-channel".into(),
            json!({"instanceId": "n1", "channelJid": community, "message": "hi"}),
        ),
        (
            SendImageToChannelRequest::ROUTE,
            "/api/send-image-to-channel".into(),
            json!({"instanceId": "n1", "channelJid": community, "imageUrl": image}),
        ),
        (
            SendDocumentToChannelRequest::ROUTE,
            "/api/send-document-to-channel".into(),
            json!({"instanceId": "n1", "channelJid": community, "fileUrl": pdf, "filename": "r.pdf"}),
        ),
        (
            CreateScheduleRequest::ROUTE,
            "/api/schedules".into(),
            json!({"instanceId": "n1", "label": "daily", "cronExpr": "0 9 * * *", "timezone": "UTC", "groupIds": [TEAM_A], "message": "hi"}),
        ),
        (
            CreateWebhookRequest::ROUTE,
            "/api/webhooks".into(),
            json!({"url": "http://127.0.0.1:9/other"}),
        ),
        (
            TestWebhook::ROUTE,
            TestWebhook { id: hook.clone() }.path().into_owned(),
            json!({}),
        ),
        (
            Redeliver::ROUTE,
            Redeliver {
                id: hook.clone(),
                delivery_id: delivery,
            }
            .path()
            .into_owned(),
            json!({}),
        ),
        (
            RefreshGroups::ROUTE,
            RefreshGroups { instance_id: n1() }.path().into_owned(),
            json!({}),
        ),
        (
            EnableWebhook::ROUTE,
            EnableWebhook { id: hook.clone() }.path().into_owned(),
            json!({}),
        ),
        (
            RotateWebhookSecret::ROUTE,
            RotateWebhookSecret {
                id: hook.clone(),
                request: RotateSecretRequest::default(),
            }
            .path()
            .into_owned(),
            json!({}),
        ),
        (
            ResumeSchedule::ROUTE,
            ResumeSchedule { id: schedule }.path().into_owned(),
            json!({}),
        ),
        (
            UnpairSandboxInstance::ROUTE,
            UnpairSandboxInstance { id: n1() }.path().into_owned(),
            json!({}),
        ),
        (
            PairSandboxInstance::ROUTE,
            PairSandboxInstance { id: n1() }.path().into_owned(),
            json!({}),
        ),
        (
            AddSandboxGroup::ROUTE,
            "/api/sandbox/instances/n1/groups".into(),
            json!({"name": "Team C"}),
        ),
        (
            SandboxInbound::ROUTE,
            "/api/sandbox/instances/n1/inbound".into(),
            json!({"from": "971501234567", "message": "hello"}),
        ),
    ];
    let mut covered = BTreeSet::new();
    let kept_before = t.count(KEYS).await;
    for (i, (route, path, body)) in cases.into_iter().enumerate() {
        let key = format!("case-{i}");
        let first = post(&base, &api_key, &path, Some(&key), &body).await;
        assert_eq!(first.status, 200, "{path}: {}", first.error());
        assert!(!first.replayed(), "{path}");
        assert_eq!(
            t.count(KEYS).await,
            kept_before + i as i64 + 1,
            "{path}: the answer is kept"
        );
        let again = post(&base, &api_key, &path, Some(&key), &body).await;
        assert_eq!(again.status, 200, "{path}");
        assert!(again.replayed(), "{path}");
        assert_eq!(again.body, first.body, "{path}");
        covered.insert(route);
    }
    // The group "Team C" was added once, with one generated id; the inbound message raised
    // one event.
    let groups = client.groups().list(&n1()).await.unwrap().groups;
    assert_eq!(groups.iter().filter(|g| g.name == "Team C").count(), 1);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM events WHERE event_type = 'message.received'")
            .await,
        1
    );
    let posts: BTreeSet<&str> = OPERATIONS
        .iter()
        .filter(|op| op.method == Method::Post)
        .map(|op| op.route)
        .collect();
    assert_eq!(covered, posts, "every POST of the API is covered");
    t.shutdown().await;
}

#[tokio::test]
async fn the_sdk_retries_a_send_whose_answer_was_lost_and_it_is_queued_once() {
    let t = testing::start().await;
    paired_instance(&t.client(), "n1").await;
    // The server queues the first attempt; the proxy hangs up instead of answering it.
    let proxy = LossyProxy::start(t.server.local_addr(), |n| n == 1).await;
    // The SDK as users build it: its default retries.
    let through_proxy = sevenoways_sdk::Client::builder()
        .api_key(t.key.clone())
        .base_url(&proxy.url)
        .build()
        .unwrap();
    let queued = through_proxy
        .messages()
        .send_number(&SendNumberRequest::new(
            testing::id("n1"),
            "971501234567".parse().unwrap(),
            "Your order is ready 🎉".try_into().unwrap(),
        ))
        .await
        .expect("the retry gets the answer the proxy dropped");

    let requests = proxy.requests();
    assert_eq!(
        requests.len(),
        2,
        "the lost attempt and its retry: {requests:?}"
    );
    assert!(
        !requests[0].answered && requests[1].answered,
        "{requests:?}"
    );
    assert!(
        requests[0].idempotency_key.is_some()
            && requests[0].idempotency_key == requests[1].idempotency_key,
        "one key for both: {requests:?}"
    );
    let outbox = eventually(10, || async {
        let outbox = t
            .client()
            .sandbox()
            .outbox(&testing::id("n1"))
            .await
            .unwrap();
        (!outbox.messages.is_empty()).then_some(outbox)
    })
    .await;
    assert_eq!(outbox.messages.len(), 1);
    assert_eq!(
        outbox.messages[0].queue_id, queued.queue_id,
        "the answer names the one entry"
    );
    assert_eq!(
        t.count(QUEUED).await,
        1,
        "one queue entry, so one outbox entry for good"
    );
    t.shutdown().await;
}

/// An instance an engine makes after the store inserts it (a WAHA session) has its answer
/// recorded once the engine has made it: the repeat gets that answer and WAHA one session.
#[tokio::test]
async fn an_engine_instance_created_with_a_key_is_made_once() {
    use sevenoways_server::testing::fake_waha::{FakeWaha, Flavour};

    let waha = FakeWaha::start(Flavour::Gows).await;
    let t = testing::start_with_waha(&waha.url()).await;
    let (base, api_key) = (t.base(), t.key.clone());
    let body = json!({"instanceId": "shop", "label": "Shop", "engine": "waha"});
    let first = post(&base, &api_key, "/api/instances", Some("shop-1"), &body).await;
    assert_eq!(first.status, 200, "{}", first.error());
    assert!(!first.replayed());
    assert_eq!(first.json()["instance"]["engine"], "waha");
    let again = post(&base, &api_key, "/api/instances", Some("shop-1"), &body).await;
    assert_eq!((again.status, again.replayed()), (200, true));
    assert_eq!(again.body, first.body, "the first answer, byte for byte");
    assert_eq!(waha.sessions().len(), 1, "one session on WAHA");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM idempotency_keys WHERE key = 'shop-1'")
            .await,
        1
    );
    t.shutdown().await;
}
