//! Webhooks end to end: subscriptions, the seven events, signed delivery checked by an
//! independent HMAC and by the documentation's Node.js receiver, retries with
//! Retry-After, a receiver that is down for a while, redelivery, and the SSRF guard.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sevenoways_sdk::models::instances::CreateInstanceRequest;
use sevenoways_sdk::models::sandbox::SandboxInboundRequest;
use sevenoways_sdk::models::webhooks::{CreateWebhookRequest, Delivery, EVENT_TYPES};
use sevenoways_sdk::{BodyEncoding, Client, InstanceId, WebhookId, WebhookSecret};
use sevenoways_server::Config;
use sevenoways_server::config::{NetworkConfig, WebhookConfig};
use sevenoways_server::testing::{self, TEAM_A, TestServer, paired_instance};

pub(crate) const SECRET: &str = "whsec_test_0123456789abcdef";

/// A test server whose webhook timings are in milliseconds, so retries happen within
/// the test; `tweak` changes the configuration further.
pub(crate) async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    testing::start_with(|config| {
        config.webhooks = WebhookConfig {
            timeout_ms: 3_000,
            retry_base_ms: 40,
            retry_max_ms: 250,
            breaker_max_pause_ms: 250,
            poll_ms: 10,
            ..WebhookConfig::default()
        };
        tweak(config);
    })
    .await
}

/// One request a test receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) signature: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) timestamp: Option<String>,
    /// The Standard Webhooks headers.
    pub(crate) webhook_id: Option<String>,
    pub(crate) webhook_timestamp: Option<String>,
    pub(crate) webhook_signature: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
    pub(crate) answered: u16,
    pub(crate) at: Instant,
}

impl Hit {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

pub(crate) type Respond = Arc<dyn Fn(&Value, usize) -> (u16, Option<&'static str>) + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) hits: Arc<Mutex<Vec<Hit>>>,
    respond: Respond,
}

/// A receiver on `listener`; `respond(event, attempt_of_this_event)` picks the answer.
pub(crate) async fn receiver(
    listener: tokio::net::TcpListener,
    respond: Respond,
) -> (Receiver, tokio::task::JoinHandle<()>) {
    async fn handle(
        State(r): State<Receiver>,
        headers: HeaderMap,
        body: Bytes,
    ) -> impl IntoResponse {
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut hits = r.hits.lock().unwrap();
        let attempt = 1 + hits
            .iter()
            .filter(|h| h.id.is_some() && h.id == header("x-webhook-id"))
            .count();
        let (status, retry_after) = (r.respond)(&event, attempt);
        hits.push(Hit {
            signature: header("x-webhook-signature"),
            id: header("x-webhook-id"),
            timestamp: header("x-webhook-timestamp"),
            webhook_id: header("webhook-id"),
            webhook_timestamp: header("webhook-timestamp"),
            webhook_signature: header("webhook-signature"),
            content_type: header("content-type"),
            body: body.to_vec(),
            answered: status,
            at: Instant::now(),
        });
        let mut response = StatusCode::from_u16(status).unwrap().into_response();
        if let Some(ra) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", ra.parse().unwrap());
        }
        response
    }
    let r = Receiver {
        hits: Arc::default(),
        respond,
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(handle))
        .with_state(r.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (r, task)
}

pub(crate) async fn local_listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

pub(crate) fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/hook")
}

/// The signature computed here, with the hmac crate, not the SDK's signer.
pub(crate) fn expected_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The Standard Webhooks signature computed here, from the rule in
/// `sevenoways_sdk::signature` (the `whsec_<base64>` key decoded, any other secret as
/// text) with the hmac and base64 crates, not the SDK's signer.
pub(crate) fn expected_standard_signature(secret: &str, id: &str, ts: &str, body: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|rest| b64.decode(rest).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

impl Hit {
    /// Asserts both signatures: the documented header with `legacy`, and the Standard
    /// Webhooks one with exactly `standard`, in that order, over the same id and time.
    pub(crate) fn assert_signed(&self, legacy: &str, standard: &[&str]) {
        assert_eq!(
            self.signature.as_deref(),
            Some(expected_signature(legacy, &self.body).as_str())
        );
        let id = self.webhook_id.as_deref().expect("a webhook-id header");
        let ts = self
            .webhook_timestamp
            .as_deref()
            .expect("a webhook-timestamp header");
        assert_eq!(self.id.as_deref(), Some(id));
        assert_eq!(self.timestamp.as_deref(), Some(ts));
        let want: Vec<String> = standard
            .iter()
            .map(|s| expected_standard_signature(s, id, ts, &self.body))
            .collect();
        assert_eq!(
            self.webhook_signature.as_deref(),
            Some(want.join(" ").as_str())
        );
    }
}

pub(crate) async fn subscribe(
    client: &Client,
    url: &str,
    events: &[&str],
    secret: Option<&str>,
) -> (WebhookId, WebhookSecret) {
    let created = client
        .webhooks()
        .create(&CreateWebhookRequest {
            url: url.to_owned(),
            events: events.iter().map(|e| e.to_string()).collect(),
            secret: secret.map(WebhookSecret::new),
        })
        .await
        .unwrap();
    (created.webhook.id, created.secret)
}

pub(crate) async fn raw(
    r: &TestServer,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", r.server.base_url());
    let req = match method {
        "GET" => client.get(url),
        "DELETE" => client.delete(url),
        _ => client.post(url).json(&body.unwrap_or(json!({}))),
    };
    let resp = req.header("x-api-key", &r.key).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

pub(crate) async fn inbound(client: &Client, instance: &str, message: &str) {
    client
        .sandbox()
        .inbound(
            &InstanceId::new(instance).unwrap(),
            &SandboxInboundRequest {
                from: "971509876543".into(),
                message: message.into(),
            },
        )
        .await
        .unwrap();
}

pub(crate) async fn deliveries(client: &Client, id: &WebhookId) -> Vec<Delivery> {
    client.webhooks().deliveries(id).await.unwrap().deliveries
}

/// Raises all seven documented events on a new instance `name`; returns the queue ids
/// of the send that succeeds and of the one that fails.
async fn raise_all_seven(r: &TestServer, name: &str) -> (u64, u64) {
    let (_, v) = raw(
        r,
        "POST",
        "/api/instances",
        Some(json!({"instanceId": name, "label": "Line"})),
    )
    .await;
    assert_eq!(v["success"], true);
    r.client()
        .sandbox()
        .pair(&InstanceId::new(name).unwrap())
        .await
        .unwrap(); // instance.online
    let (s, v) = raw(
        r,
        "POST",
        "/api/send-number",
        Some(json!({"instanceId": name, "phone": "971501234567", "message": "Hello 👋"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let sent = v["queueId"].as_u64().unwrap(); // message.sent, .delivered, .read
    inbound(
        &r.client(),
        name,
        "Hi there 👋 \"quoted\" back\\slash\nnew line — مرحبا 你好",
    )
    .await; // message.received
    // Wait for the read receipt before the number goes away.
    let client = r.client();
    testing::eventually(10, || {
        let client = client.clone();
        async move {
            let e = client
                .queue()
                .status(sevenoways_sdk::QueueId(sent))
                .await
                .unwrap();
            (e.status.as_str() == "read").then_some(())
        }
    })
    .await;
    r.client()
        .sandbox()
        .unpair(&InstanceId::new(name).unwrap())
        .await
        .unwrap(); // instance.offline
    let (s, v) = raw(
        r,
        "POST",
        "/api/send-number",
        Some(json!({"instanceId": name, "phone": "971501234567", "message": "to nobody"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    (sent, v["queueId"].as_u64().unwrap()) // message.failed: the number is offline
}

#[tokio::test]
async fn all_seven_events_are_signed_and_retried_until_the_receiver_accepts() {
    let r = start_with(|_| {}).await;
    // Each event: 500, then 503 asking for a second's pause, then 200.
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let (rx, _task) = receiver(
        listener,
        Arc::new(|_, attempt| match attempt {
            1 => (500, None),
            2 => (503, Some("1")),
            _ => (200, None),
        }),
    )
    .await;
    let (hook, secret) = subscribe(&r.client(), &url(addr), &[], Some(SECRET)).await;
    assert_eq!(secret.expose(), SECRET);

    let (sent_qid, failed_qid) = raise_all_seven(&r, "n1").await;

    let hits = rx.hits.clone();
    testing::eventually(20, || {
        let hits = hits.clone();
        async move {
            let hits = hits.lock().unwrap();
            let ok: BTreeSet<String> = hits
                .iter()
                .filter(|h| h.answered == 200)
                .map(|h| h.json()["event"].as_str().unwrap().to_owned())
                .collect();
            (ok.len() == 7).then_some(())
        }
    })
    .await;
    let hits = rx.hits.lock().unwrap().clone();
    let mut by_event: BTreeMap<String, Vec<Hit>> = BTreeMap::new();
    for h in &hits {
        by_event
            .entry(h.id.clone().unwrap())
            .or_default()
            .push(h.clone());
    }
    assert_eq!(by_event.len(), 7, "one event id per event");
    let mut types = BTreeSet::new();
    for (id, attempts) in &by_event {
        assert_eq!(
            attempts.iter().map(|h| h.answered).collect::<Vec<_>>(),
            [500, 503, 200],
            "{id}"
        );
        // The Retry-After of the 503 was honoured.
        assert!(
            attempts[2].at - attempts[1].at >= Duration::from_millis(990),
            "{id}: retried too soon"
        );
        for h in attempts {
            // Same bytes every attempt, signed over exactly those bytes, both ways.
            assert_eq!(h.body, attempts[0].body);
            h.assert_signed(SECRET, &[SECRET]);
            assert_eq!(h.content_type.as_deref(), Some("application/json"));
            let ts: i64 = h.timestamp.as_deref().unwrap().parse().unwrap();
            assert!((ts - chrono::Utc::now().timestamp()).abs() < 60);
        }
        let event = attempts[0].json();
        assert_eq!(event["id"], id.as_str());
        assert_eq!(event["instanceId"], "n1");
        assert!(
            event["timestamp"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .is_ok()
        );
        // The SDK's types read every body.
        let parsed: sevenoways_sdk::Event = serde_json::from_slice(&attempts[0].body).unwrap();
        assert_eq!(parsed.id, *id);
        let kind = event["event"].as_str().unwrap().to_owned();
        match kind.as_str() {
            "message.sent" | "message.delivered" | "message.read" => {
                assert_eq!(event["data"]["queueId"], sent_qid)
            }
            "message.failed" => {
                assert_eq!(event["data"]["queueId"], failed_qid);
                assert!(
                    event["data"]["error"]
                        .as_str()
                        .unwrap()
                        .contains("not paired")
                );
            }
            "message.received" => {
                assert_eq!(
                    event["data"]["message"],
                    "Hi there 👋 \"quoted\" back\\slash\nnew line — مرحبا 你好"
                )
            }
            "instance.online" => assert_eq!(event["data"]["status"], "online"),
            "instance.offline" => assert_eq!(event["data"]["status"], "offline"),
            other => panic!("unexpected event {other}"),
        }
        types.insert(kind);
    }
    assert_eq!(types, EVENT_TYPES.iter().map(|s| s.to_string()).collect());

    // Every attempt is on record (the receiver answers before the server records).
    let client = r.client();
    let hook2 = hook.clone();
    let list = testing::eventually(10, || {
        let (client, hook) = (client.clone(), hook2.clone());
        async move {
            let list = deliveries(&client, &hook).await;
            list.iter().all(|d| d.status == "succeeded").then_some(list)
        }
    })
    .await;
    assert_eq!(list.len(), 7);
    for d in &list {
        assert_eq!(
            (d.status.as_str(), d.attempts, d.response_code),
            ("succeeded", 3, Some(200)),
            "{d:?}"
        );
        assert!(d.latency_ms.is_some() && d.next_attempt_at.is_none() && d.last_error.is_none());
    }
    let detail = r
        .client()
        .webhooks()
        .delivery(&hook, &list[0].id)
        .await
        .unwrap();
    let codes: Vec<_> = detail
        .attempts
        .iter()
        .map(|a| (a.attempt, a.response_code, a.error.clone()))
        .collect();
    assert_eq!(
        codes,
        [
            (1, Some(500), Some("HTTP 500 Internal Server Error".into())),
            (2, Some(503), Some("HTTP 503 Service Unavailable".into())),
            (3, Some(200), None)
        ]
    );
    r.server.shutdown().await;
}

const NODE_RECEIVER: &str = r#"
// The documentation's receiver: Express-style req.body (the parsed JSON), then
// JSON.stringify(req.body) signed with the secret, compared as strings.
const http = require('http');
const crypto = require('crypto');
const YOUR_WEBHOOK_SECRET = process.argv[2];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    req.body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const sig = req.headers['x-webhook-signature'];
    const expected = 'sha256=' + crypto
      .createHmac('sha256', YOUR_WEBHOOK_SECRET)
      .update(JSON.stringify(req.body))
      .digest('hex');
    const ok = sig === expected;
    console.log(JSON.stringify({ ok, id: req.body.id, event: req.body.event, data: req.body.data }));
    if (!ok) { res.statusCode = 401; res.end('Unauthorized'); return; }
    res.statusCode = 200;
    res.end('ok');
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
"#;

/// Texts that JSON escaping gets wrong when two serialisers disagree.
const TRICKY: &[&str] = &[
    "Hello everyone! 👋\nSee you at 9 ☀️",
    "\"double\" and 'single' quotes",
    "back\\slash \\n not a newline \\u0041",
    "tab\there\r\nwindows line, form\u{c}feed, bell\u{7} and nul\u{1}",
    "مرحبا بالعالم — Arabic, עברית, 日本語のテキスト, 中文, 한국어, кириллица, Ελληνικά",
    "emoji mix 😀👍🏽👨‍👩‍👧‍👦🇦🇪 and ZWJ",
    "line separator \u{2028} and paragraph separator \u{2029}",
    "</script><script>alert(1)</script> & < > =",
    "\u{feff}BOM, \u{fffd} replacement, \u{10ffff} last plane, del\u{7f}",
    "   leading and trailing spaces   ",
    "{\"looks\":\"like json\",\"n\":1.0}",
];

#[tokio::test]
async fn the_documented_nodejs_receiver_accepts_every_delivery() {
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(o) if o.status.success()),
        "this test needs Node.js (`node`) on PATH to run the documentation's receiver"
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("receiver.js");
    std::fs::write(&script, NODE_RECEIVER).unwrap();
    let mut child = KillOnDrop(
        std::process::Command::new("node")
            .arg(&script)
            .arg(SECRET)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.0.stdout.take().unwrap()).lines();
    let port: u16 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    let log: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log2 = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            log2.lock()
                .unwrap()
                .push(serde_json::from_str(&line).unwrap());
        }
    });

    let r = start_with(|_| {}).await;
    let (hook, _) = subscribe(
        &r.client(),
        &format!("http://127.0.0.1:{port}/webhook"),
        &[],
        Some(SECRET),
    )
    .await;
    paired_instance(&r.client(), "n1").await;
    for text in TRICKY {
        inbound(&r.client(), "n1", text).await;
        let (s, v) = raw(
            &r,
            "POST",
            "/api/send",
            Some(json!({"instanceId": "n1", "groupIds": [TEAM_A], "message": text})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let send_number = json!({"instanceId": "n1", "phone": "971501234567", "message": "x"});
    let (s, _) = raw(&r, "POST", "/api/send-number", Some(send_number.clone())).await;
    assert_eq!(s, 200);
    r.client().webhooks().test(&hook).await.unwrap();
    // All twelve sent before the number logs out; then one more send fails.
    let n1 = InstanceId::new("n1").unwrap();
    let client = r.client();
    testing::eventually(20, || {
        let (client, n1) = (client.clone(), n1.clone());
        async move { (client.sandbox().outbox(&n1).await.unwrap().messages.len() == 12).then_some(()) }
    })
    .await;
    r.client().sandbox().unpair(&n1).await.unwrap();
    let (s, _) = raw(&r, "POST", "/api/send-number", Some(send_number)).await;
    assert_eq!(s, 200);

    // online + 11 received + 12 × (sent, delivered, read) + test + offline + failed.
    let expected = 1 + 11 + 36 + 1 + 1 + 1;
    let hook2 = hook.clone();
    let all = testing::eventually(30, || {
        let (client, hook) = (client.clone(), hook2.clone());
        async move {
            let list = deliveries(&client, &hook).await;
            (list.len() >= expected && list.iter().all(|d| d.status != "pending")).then_some(list)
        }
    })
    .await;
    assert_eq!(all.len(), expected);
    let kinds: BTreeSet<&str> = all.iter().map(|d| d.event.as_str()).collect();
    assert!(EVENT_TYPES.iter().all(|e| kinds.contains(e)), "{kinds:?}");
    for d in &all {
        assert_eq!(
            (d.status.as_str(), d.attempts, d.response_code),
            ("succeeded", 1, Some(200)),
            "{d:?}"
        );
    }
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), all.len());
    assert!(
        log.iter().all(|l| l["ok"] == true),
        "Node.js refused: {:?}",
        log.iter().filter(|l| l["ok"] != true).collect::<Vec<_>>()
    );
    // Node read back exactly the texts that were sent.
    let received: BTreeSet<String> = log
        .iter()
        .filter(|l| l["event"] == "message.received")
        .map(|l| l["data"]["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received, TRICKY.iter().map(|s| s.to_string()).collect());
    assert!(log.iter().any(|l| l["event"] == "webhook.test"));
    r.server.shutdown().await;
    drop(child);
}

/// Stops the Node.js receiver however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_receiver_down_for_a_while_loses_nothing() {
    let r = start_with(|_| {}).await;
    paired_instance(&r.client(), "n1").await;
    // A port with nothing listening: the receiver is down. The port stays bound (but not
    // listening, so connections are refused) until the receiver comes back: a freed port
    // could be handed to another test's receiver, which would answer 200.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reserved.local_addr().unwrap();
    let (hook, _) = subscribe(&r.client(), &url(addr), &["message.received"], Some(SECRET)).await;
    let texts: Vec<String> = (0..20).map(|i| format!("message {i} 📨")).collect();
    for t in &texts {
        inbound(&r.client(), "n1", t).await;
    }
    // Every delivery fails, with the reason on record; the circuit breaker then rests
    // the endpoint between probes rather than trying every delivery in turn, and says so.
    let client = r.client();
    let hook2 = hook.clone();
    testing::eventually(20, || {
        let (client, hook) = (client.clone(), hook2.clone());
        async move {
            let list = deliveries(&client, &hook).await;
            // A claim counts the attempt before it is made: wait for each one's outcome.
            (list.len() == 20
                && list
                    .iter()
                    .all(|d| d.attempts >= 1 && d.status == "pending" && d.last_error.is_some()))
            .then_some(())
        }
    })
    .await;
    let listed = r.client().webhooks().list().await.unwrap().webhooks;
    assert!(listed[0].failure_streak >= 20, "{listed:?}");
    assert!(!listed[0].disabled, "{listed:?}");
    let list = deliveries(&r.client(), &hook).await;
    assert!(
        list.iter().all(|d| d
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("connection failed")),
        "{list:?}"
    );
    assert!(
        list.iter()
            .all(|d| d.next_attempt_at.is_some() && d.response_code.is_none())
    );

    // Back up, on the same address.
    drop(reserved);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (rx, _task) = receiver(listener, Arc::new(|_, _| (200, None))).await;
    let hits = rx.hits.clone();
    testing::eventually(20, || {
        let hits = hits.clone();
        async move {
            (hits
                .lock()
                .unwrap()
                .iter()
                .filter_map(|h| h.id.clone())
                .collect::<BTreeSet<_>>()
                .len()
                == 20)
                .then_some(())
        }
    })
    .await;
    let hits = rx.hits.lock().unwrap().clone();
    let got: BTreeSet<String> = hits
        .iter()
        .map(|h| h.json()["data"]["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, texts.iter().cloned().collect());
    for h in &hits {
        h.assert_signed(SECRET, &[SECRET]);
    }
    testing::eventually(10, || {
        let (client, hook) = (r.client(), hook.clone());
        async move {
            deliveries(&client, &hook)
                .await
                .iter()
                .all(|d| d.status == "succeeded")
                .then_some(())
        }
    })
    .await;
    // A success closed the breaker.
    let listed = r.client().webhooks().list().await.unwrap().webhooks;
    assert_eq!(
        (listed[0].failure_streak, listed[0].paused_until),
        (0, None),
        "{listed:?}"
    );
    r.server.shutdown().await;
}

#[tokio::test]
async fn subscriptions_filters_test_events_and_redelivery() {
    let r = start_with(|_| {}).await;
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let (rx, _task) = receiver(listener, Arc::new(|_, _| (200, None))).await;

    // A generated secret, shown once.
    let (received_only, generated) =
        subscribe(&r.client(), &url(addr), &["message.received"], None).await;
    let secret = generated.expose().to_owned();
    // The Standard Webhooks form: whsec_ and 32 random bytes in base64.
    let key = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        secret.strip_prefix("whsec_").unwrap(),
    );
    assert_eq!(key.map(|k| k.len()).ok(), Some(32), "{secret}");
    let (everything, _) = subscribe(&r.client(), &url(addr), &[], Some(SECRET)).await;
    let (s, list) = raw(&r, "GET", "/api/webhooks", None).await;
    assert_eq!(s, 200);
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 2);
    assert!(
        !list.to_string().contains("whsec_"),
        "secrets are never listed: {list}"
    );
    assert_eq!(list["webhooks"][0]["events"], json!(["message.received"]));

    paired_instance(&r.client(), "n1").await; // instance.online: only `everything`
    inbound(&r.client(), "n1", "hello").await; // both
    r.client().webhooks().test(&received_only).await.unwrap(); // only `received_only`
    let hits = rx.hits.clone();
    testing::eventually(10, || {
        let hits = hits.clone();
        async move { (hits.lock().unwrap().len() == 4).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let hits = rx.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 4);
    let mut by_secret: HashMap<&str, Vec<String>> = HashMap::new();
    for h in &hits {
        let body = h.json();
        let s = if h.signature.as_deref() == Some(expected_signature(&secret, &h.body).as_str()) {
            h.assert_signed(&secret, &[&secret]);
            "generated"
        } else {
            h.assert_signed(SECRET, &[SECRET]);
            "given"
        };
        by_secret
            .entry(s)
            .or_default()
            .push(body["event"].as_str().unwrap().to_owned());
        if body["event"] == "webhook.test" {
            assert_eq!(body["data"]["webhookId"], received_only.as_str());
            let parsed: sevenoways_sdk::Event = serde_json::from_slice(&h.body).unwrap();
            assert_eq!(
                parsed.event_type(),
                sevenoways_sdk::models::webhooks::TEST_EVENT
            );
        }
    }
    let mut generated_events = by_secret["generated"].clone();
    generated_events.sort();
    assert_eq!(generated_events, ["message.received", "webhook.test"]);
    let mut given_events = by_secret["given"].clone();
    given_events.sort();
    assert_eq!(given_events, ["instance.online", "message.received"]);

    // Redelivery: the same event id again, one more attempt on record.
    let list = deliveries(&r.client(), &everything).await;
    let first = list
        .iter()
        .find(|d| d.event == "instance.online")
        .unwrap()
        .clone();
    r.client()
        .webhooks()
        .redeliver(&everything, &first.id)
        .await
        .unwrap();
    let hits2 = rx.hits.clone();
    let event_id = first.event_id.clone();
    testing::eventually(10, || {
        let (hits, event_id) = (hits2.clone(), event_id.clone());
        async move {
            (hits
                .lock()
                .unwrap()
                .iter()
                .filter(|h| h.id.as_deref() == Some(event_id.as_str()))
                .count()
                == 2)
                .then_some(())
        }
    })
    .await;
    let client = r.client();
    let (everything2, first_id) = (everything.clone(), first.id.clone());
    let detail = testing::eventually(10, || {
        let (client, hook, id) = (client.clone(), everything2.clone(), first_id.clone());
        async move {
            let d = client.webhooks().delivery(&hook, &id).await.unwrap();
            (d.attempts.len() == 2 && d.delivery.status == "succeeded").then_some(d)
        }
    })
    .await;
    assert_eq!(detail.delivery.attempts, 2);

    // Deleting a connected instance disconnects it: instance.offline.
    let n2 = InstanceId::new("n2").unwrap();
    r.client()
        .instances()
        .create(&CreateInstanceRequest::new(n2.clone(), "two"))
        .await
        .unwrap();
    r.client().sandbox().pair(&n2).await.unwrap();
    r.client().instances().delete(&n2).await.unwrap();
    let hits3 = rx.hits.clone();
    testing::eventually(10, || {
        let hits = hits3.clone();
        async move {
            hits.lock()
                .unwrap()
                .iter()
                .any(|h| {
                    let b = h.json();
                    b["event"] == "instance.offline" && b["instanceId"] == "n2"
                })
                .then_some(())
        }
    })
    .await;

    // Errors: in the envelope, naming the field; other keys' webhooks are not found.
    for (body, want) in [
        (json!({"url": "ftp://example.com/hook"}), "url: "),
        (
            json!({"url": "https://example.com/hook", "events": ["message.sent", "message.typo"]}),
            "events[1]: ",
        ),
        (
            json!({"url": "https://example.com/hook", "secret": "short"}),
            "secret: ",
        ),
        (json!({"events": []}), "url"),
    ] {
        let (s, v) = raw(&r, "POST", "/api/webhooks", Some(body.clone())).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with(want),
            "{body}: {v}"
        );
    }
    let other = testing::client(
        &r.server.base_url(),
        &r.server.create_key("o", "default").await.unwrap(),
        BodyEncoding::Json,
    );
    assert!(other.webhooks().delete(&everything).await.is_err());
    assert!(other.webhooks().deliveries(&everything).await.is_err());
    assert!(other.webhooks().test(&everything).await.is_err());
    assert!(
        other
            .webhooks()
            .redeliver(&everything, &first.id)
            .await
            .is_err()
    );
    for (method, path) in [
        (
            "GET",
            format!("/api/webhooks/{}/deliveries/dlv_nope", everything.as_str()),
        ),
        (
            "POST",
            format!(
                "/api/webhooks/{}/deliveries/dlv_nope/redeliver",
                everything.as_str()
            ),
        ),
        ("GET", "/api/webhooks/wh_nope/deliveries".to_owned()),
        ("POST", "/api/webhooks/wh_nope/test".to_owned()),
        ("DELETE", "/api/webhooks/wh_nope".to_owned()),
    ] {
        let (s, v) = raw(&r, method, &path, None).await;
        assert_eq!(s, 404, "{method} {path}: {v}");
        assert_eq!(v["success"], false);
    }
    r.client().webhooks().delete(&everything).await.unwrap();
    assert_eq!(
        raw(
            &r,
            "DELETE",
            &format!("/api/webhooks/{}", everything.as_str()),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        r.client().webhooks().list().await.unwrap().webhooks.len(),
        1
    );
    r.server.shutdown().await;
}

#[tokio::test]
async fn urls_reaching_private_or_metadata_addresses_are_refused() {
    let r = start_with(|_| {}).await;
    paired_instance(&r.client(), "n1").await;
    let refused = [
        (
            "/api/webhooks",
            json!({"url": "http://169.254.169.254/latest/meta-data/"}),
            "url: refused: 169.254.169.254 is a cloud metadata address",
        ),
        (
            "/api/webhooks",
            json!({"url": "http://10.0.0.7:8080/hook"}),
            "url: refused: 10.0.0.7 is a private-network address",
        ),
        (
            "/api/webhooks",
            json!({"url": "http://[fd00:ec2::254]/"}),
            "url: refused: [fd00:ec2::254] is a cloud metadata address",
        ),
        (
            "/api/webhooks",
            json!({"url": "http://0.0.0.0:3000/hook"}),
            "url: refused: 0.0.0.0 is a reserved address",
        ),
        (
            "/api/send-number-image",
            json!({"instanceId": "n1", "phone": "971501234567", "imageUrl": "http://192.168.1.10/a.jpg"}),
            "imageUrl: refused: 192.168.1.10 is a private-network address",
        ),
        (
            "/api/send-document",
            json!({"instanceId": "n1", "groupIds": [TEAM_A], "fileUrl": "http://169.254.10.10/a.pdf", "filename": "a.pdf"}),
            "fileUrl: refused: 169.254.10.10 is a link-local address",
        ),
        (
            "/api/schedules",
            json!({"instanceId": "n1", "cronExpr": "0 9 * * *", "phone": "971501234567", "imageUrl": "http://[::ffff:10.1.1.1]/x.jpg"}),
            "imageUrl: refused: ",
        ),
    ];
    for (path, body, want) in refused {
        let (s, v) = raw(&r, "POST", path, Some(body.clone())).await;
        assert_eq!(s, 400, "{path} {body}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with(want),
            "{path}: {v}"
        );
    }
    // Loopback is allowed by default (the sandbox is for local development)…
    let (s, v) = raw(
        &r,
        "POST",
        "/api/webhooks",
        Some(json!({"url": "http://localhost:3000/hook"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = raw(&r, "POST", "/api/send-number-image", Some(json!({"instanceId": "n1", "phone": "971501234567", "imageUrl": "http://127.0.0.1:8000/a.jpg"}))).await;
    assert_eq!(s, 200);
    r.server.shutdown().await;

    // …and refused when the operator turns it off.
    let strict = start_with(|c| {
        c.network = NetworkConfig {
            allow_loopback: Some(false),
            ..NetworkConfig::default()
        }
    })
    .await;
    paired_instance(&strict.client(), "n1").await;
    for (path, body, want) in [
        (
            "/api/webhooks",
            json!({"url": "http://127.0.0.1:3000/hook"}),
            "url: refused: 127.0.0.1 is a loopback address",
        ),
        (
            "/api/webhooks",
            json!({"url": "http://localhost:3000/hook"}),
            "url: refused: host \"localhost\" resolves to a private address (loopback)",
        ),
        (
            "/api/webhooks",
            json!({"url": "http://[::1]:3000/hook"}),
            "url: refused: [::1] is a loopback address",
        ),
        (
            "/api/send-number-image",
            json!({"instanceId": "n1", "phone": "971501234567", "imageUrl": "http://127.0.0.1/a.jpg"}),
            "imageUrl: refused: 127.0.0.1 is a loopback",
        ),
    ] {
        let (s, v) = raw(&strict, "POST", path, Some(body.clone())).await;
        assert_eq!(s, 400, "{path} {body}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with(want),
            "{path}: {v}"
        );
    }
    // Allowing private networks lets them through.
    let open = start_with(|c| {
        c.network = NetworkConfig {
            allow_private: true,
            ..NetworkConfig::default()
        }
    })
    .await;
    let (s, v) = raw(
        &open,
        "POST",
        "/api/webhooks",
        Some(json!({"url": "http://10.0.0.7:8080/hook"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    strict.server.shutdown().await;
    open.server.shutdown().await;
}

#[tokio::test]
async fn gives_up_after_the_retry_window_and_redelivers_on_request() {
    // A one-second retry window instead of three days.
    let r = start_with(|c| c.webhooks.give_up_after_secs = 1).await;
    paired_instance(&r.client(), "n1").await;
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let flag = healthy.clone();
    let (rx, _task) = receiver(
        listener,
        Arc::new(move |_, _| {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                (200, None)
            } else {
                (500, None)
            }
        }),
    )
    .await;
    let (hook, _) = subscribe(&r.client(), &url(addr), &["message.received"], Some(SECRET)).await;
    inbound(&r.client(), "n1", "will be retried, then given up").await;
    let client = r.client();
    let hook2 = hook.clone();
    let failed = testing::eventually(10, || {
        let (client, hook) = (client.clone(), hook2.clone());
        async move {
            let list = deliveries(&client, &hook).await;
            (list.len() == 1 && list[0].status == "failed").then(|| list[0].clone())
        }
    })
    .await;
    assert!(failed.attempts >= 3, "{failed:?}");
    assert_eq!(failed.response_code, Some(500));
    assert!(failed.next_attempt_at.is_none());
    let error = failed.last_error.clone().unwrap();
    assert!(
        error.starts_with("HTTP 500") && error.contains("gave up after"),
        "{error}"
    );
    let before = rx.hits.lock().unwrap().len();
    assert_eq!(before as u32, failed.attempts);

    // The receiver is fixed; redeliver: same event, accepted, one more attempt recorded.
    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    r.client()
        .webhooks()
        .redeliver(&hook, &failed.id)
        .await
        .unwrap();
    let hook3 = hook.clone();
    let done = testing::eventually(10, || {
        let (client, hook) = (client.clone(), hook3.clone());
        async move {
            let list = deliveries(&client, &hook).await;
            (list[0].status == "succeeded").then(|| list[0].clone())
        }
    })
    .await;
    assert_eq!(done.attempts, failed.attempts + 1);
    let hits = rx.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), before + 1);
    assert_eq!(
        hits.last().unwrap().id.as_deref(),
        Some(failed.event_id.as_str())
    );
    assert_eq!(hits.last().unwrap().answered, 200);
    r.server.shutdown().await;
}

/// Events are fanned out as they commit, not at the next poll: with a poll of ten
/// minutes, an inbound message's webhook still arrives at once (SQLite: the writer's
/// turn; Postgres: `LISTEN`/`NOTIFY`, see docs/architecture.md).
#[tokio::test]
async fn an_event_is_delivered_as_it_commits_not_at_the_next_poll() {
    let r = start_with(|c| c.webhooks.poll_ms = 600_000).await;
    paired_instance(&r.client(), "n1").await;
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let (got, _task) = receiver(listener, Arc::new(|_, _| (200, None))).await;
    subscribe(&r.client(), &url(addr), &["message.received"], Some(SECRET)).await;
    // The loop polled as the server started; the next poll is ten minutes away.
    inbound(&r.client(), "n1", "now, please").await;
    let hits = got.hits.clone();
    testing::eventually(20, || {
        let hits = hits.clone();
        async move { (hits.lock().unwrap().len() == 1).then_some(()) }
    })
    .await;
    assert_eq!(
        got.hits.lock().unwrap()[0].json()["data"]["message"],
        "now, please"
    );
}
