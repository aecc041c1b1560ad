//! A stateful fake of Meta's WhatsApp Cloud API (the Graph API's phone number and
//! messages endpoints) and of the webhook Meta posts, for offline tests.
//!
//! Every route and canned body follows Meta's published contract, as read in the team's
//! engine contracts note (§2 and the route table of §4.2), never a guess:
//! - `GET /v23.0/{Phone-Number-ID}` (`getPhoneNumberById`, 200 `PhoneNumberInfo`, 404
//!   `GraphAPIError` code 803 "Phone number not found") and `POST
//!   /v23.0/{Phone-Number-ID}/messages` (`sendMessage`, 200 `MessageResponsePayload` as in
//!   the spec's "Example response"): `facebook/openapi` `business-messaging-api_v23.0.yaml`;
//! - request checks: `BaseMessageProperties`'s required fields and enums, the content
//!   object (`text.body` ≤ 4096; media: exactly one of `id`/`link`, `caption` ≤ 1024,
//!   document `filename`), `biz_opaque_callback_data` ≤ 512 (contracts note §2.9: the
//!   spec's own `Message` schema rejects Meta's own examples, so it is not run literally);
//! - 401: the spec's `Unauthorized` example (code 190); 400 for bad parameters: code 100
//!   with `error_data.details`, the shape of Meta's "WhatsApp error codes" page;
//! - scripted errors: titles and codes from Meta's error-codes page (130429, 131056,
//!   131047, 131026, 190, 10, 4, 1, 2); the HTTP status is the page's where known, else
//!   400 (a fake choice, which the relay must not depend on);
//! - webhooks: `WebhookPayload` → `Entry` → `Change{field:"messages"}` with
//!   `metadata.phone_number_id`; statuses per Meta's "Status messages webhook reference"
//!   (`biz_opaque_callback_data` echoed, `timestamp` a string, `errors[]` for `failed`);
//!   inbound messages per the spec's "Text Message" example; signed with
//!   `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>` (Graph API
//!   "Webhooks – Getting Started", "Validating Payloads").

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The access token the fake accepts.
pub const ACCESS_TOKEN: &str = "fake-meta-token";
/// The app secret the fake signs its webhooks with.
pub const APP_SECRET: &str = "test-app-secret";
/// The verify token a relay under test is configured with.
pub const VERIFY_TOKEN: &str = "fake-verify-token";
/// The WhatsApp Business Account id in the fake's webhooks.
pub const WABA_ID: &str = "419561257915477";

/// What the fake does with the next send.
#[derive(Debug, Clone)]
pub enum SendScript {
    /// Accept it, post this status (`sent`, `delivered`, `read`) for it and wait for the
    /// relay's answer, and only then answer the send: a status that overtakes the answer.
    StatusBeforeAnswer(&'static str),
    /// Accept and record it, post the `sent` status as Meta would, then never answer in
    /// time: the answer is lost.
    LoseAnswer,
}

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct MetaSend {
    /// The sending number's phone number id.
    pub phone_number_id: String,
    /// `to`.
    pub to: String,
    /// The `wamid` answered.
    pub wamid: String,
    /// `biz_opaque_callback_data`, as sent.
    pub callback_data: Option<String>,
    /// The request body.
    pub body: Value,
}

struct Inner {
    numbers: Mutex<HashMap<String, String>>,
    sends: Mutex<Vec<MetaSend>>,
    errors: Mutex<HashMap<String, i64>>,
    scripts: Mutex<VecDeque<SendScript>>,
    webhook: Mutex<Option<String>>,
    counter: AtomicU64,
    http: reqwest::Client,
}

/// A running fake Graph API on `127.0.0.1`.
pub struct FakeMeta {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMeta {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Graph API error body as Meta's error-codes page shows it.
pub fn error_body(code: i64, title: &str, details: Option<&str>) -> Value {
    let mut error = json!({
        // The spec's 190 example has no "(#code)" prefix; WhatsApp errors do.
        "message": if code == 190 { title.to_owned() } else { format!("(#{code}) {title}") },
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "Afake"
    });
    if let Some(details) = details {
        error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
    }
    json!({"error": error})
}

/// The status and body the fake answers for a scripted error code.
pub fn scripted_error(code: i64) -> (u16, Value) {
    let (status, title, details) = match code {
        130429 => (
            400,
            "Rate limit hit",
            Some("Cloud API message throughput has been reached."),
        ),
        131056 => (
            400,
            "(Business Account, Consumer Account) pair rate limit hit",
            Some(
                "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
            ),
        ),
        131047 => (
            400,
            "Re-engagement message",
            Some(
                "More than 24 hours have passed since the recipient last replied to the sender number.",
            ),
        ),
        131026 => (
            400,
            "Message Undeliverable",
            Some(
                "Unable to deliver message. Reasons can include: The recipient phone number is not a WhatsApp phone number.",
            ),
        ),
        190 => (401, "Invalid OAuth access token", None),
        10 => (
            403,
            "Permission Denied",
            Some("Permission is either not granted or has been removed."),
        ),
        4 => (
            429,
            "API Too Many Calls",
            Some("The app has reached its API call rate limit."),
        ),
        1 => (
            500,
            "API Unknown",
            Some("Invalid request or possible server error."),
        ),
        2 => (
            503,
            "API Service",
            Some("Temporary due to downtime or due to being overloaded."),
        ),
        other => (
            400,
            "Error",
            Some(if other == 100 {
                "Invalid parameter"
            } else {
                "error"
            }),
        ),
    };
    (status, error_body(code, title, details))
}

fn error(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(body),
    )
        .into_response()
}

fn invalid(details: &str) -> Response {
    error(400, error_body(100, "Invalid parameter", Some(details)))
}

async fn check_token(req: Request, next: Next) -> Response {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        // The spec's `Unauthorized` example, with an fbtrace_id.
        return error(
            401,
            json!({"error": {"message": "Invalid OAuth access token", "type": "OAuthException",
                             "code": 190, "fbtrace_id": "Afake"}}),
        );
    }
    next.run(req).await
}

impl FakeMeta {
    /// Starts a fake Graph API; its base for `[engines.meta] graph_url` is [`FakeMeta::graph_url`].
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            numbers: Mutex::default(),
            sends: Mutex::default(),
            errors: Mutex::default(),
            scripts: Mutex::default(),
            webhook: Mutex::default(),
            counter: AtomicU64::new(1),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a client"),
        });
        let app = Router::new()
            .route("/v23.0/{pnid}", get(phone_number))
            .route("/v23.0/{pnid}/messages", post(messages))
            .layer(axum::middleware::from_fn(check_token))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("an address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    /// `http://127.0.0.1:PORT/v23.0`.
    pub fn graph_url(&self) -> String {
        format!("http://{}/v23.0", self.addr)
    }

    /// Registers a number: its phone number id and display number (`+971 50 000 0000`).
    pub fn add_number(&self, phone_number_id: &str, display: &str) {
        self.inner
            .numbers
            .lock()
            .unwrap()
            .insert(phone_number_id.to_owned(), display.to_owned());
    }

    /// Where the fake posts webhooks (the App Dashboard's callback URL).
    pub fn set_webhook(&self, url: &str) {
        *self.inner.webhook.lock().unwrap() = Some(url.to_owned());
    }

    /// Sends to `to` answer the scripted error `code` from now on.
    pub fn fail_recipient(&self, to: &str, code: i64) {
        self.inner
            .errors
            .lock()
            .unwrap()
            .insert(to.to_owned(), code);
    }

    /// Sends to `to` succeed again.
    pub fn heal_recipient(&self, to: &str) {
        self.inner.errors.lock().unwrap().remove(to);
    }

    /// What to do with the next send.
    pub fn script_next_send(&self, script: SendScript) {
        self.inner.scripts.lock().unwrap().push_back(script);
    }

    /// Every accepted send, oldest first.
    pub fn sends(&self) -> Vec<MetaSend> {
        self.inner.sends.lock().unwrap().clone()
    }

    /// Posts a status (`sent`, `delivered`, `read`) for `send`; answers the relay's status.
    pub async fn status(&self, send: &MetaSend, status: &str) -> u16 {
        self.inner.status(send, status, None).await
    }

    /// Posts a `failed` status for `send` with Meta's error `code`.
    pub async fn failed(&self, send: &MetaSend, code: i64) -> u16 {
        let (_, body) = scripted_error(code);
        let title = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_start_matches(&format!("(#{code}) "))
            .to_owned();
        let error = json!({
            "code": code, "title": title, "message": title,
            "error_data": {"details": body.pointer("/error/error_data/details").cloned().unwrap_or(Value::Null)},
            "href": "/documentation/business-messaging/whatsapp/support/error-codes"
        });
        self.inner.status(send, "failed", Some(error)).await
    }

    /// Someone writes to `phone_number_id` (the spec's "Text Message" example).
    pub async fn inbound_text(&self, phone_number_id: &str, from: &str, text: &str) -> u16 {
        let id = format!(
            "wamid.IN{}",
            self.inner.counter.fetch_add(1, Ordering::Relaxed)
        );
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": self.inner.metadata(phone_number_id),
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": from}],
            "messages": [{"from": from, "id": id, "timestamp": "1749416383", "type": "text",
                          "text": {"body": text}}]
        });
        self.inner.post_value(value).await.0
    }

    /// Posts a webhook body signed with [`APP_SECRET`]; answers the relay's status.
    pub async fn post_signed(&self, body: &[u8]) -> u16 {
        self.inner
            .post(body.to_vec(), Some(sign(APP_SECRET, body)))
            .await
    }

    /// Posts a webhook body with `signature` as `X-Hub-Signature-256` (`None` leaves it
    /// out).
    pub async fn post_with_signature(&self, body: &[u8], signature: Option<&str>) -> u16 {
        self.inner
            .post(body.to_vec(), signature.map(str::to_owned))
            .await
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Inner {
    fn metadata(&self, pnid: &str) -> Value {
        let display = self
            .numbers
            .lock()
            .unwrap()
            .get(pnid)
            .cloned()
            .unwrap_or_default();
        json!({"display_phone_number": display.chars().filter(char::is_ascii_digit).collect::<String>(),
               "phone_number_id": pnid})
    }

    async fn status(&self, send: &MetaSend, status: &str, error: Option<Value>) -> u16 {
        let mut item = json!({
            "id": send.wamid, "status": status, "timestamp": "1750857384", "recipient_id": send.to,
        });
        if let Some(data) = &send.callback_data {
            item["biz_opaque_callback_data"] = json!(data);
        }
        if let Some(error) = error {
            item["errors"] = json!([error]);
        }
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": self.metadata(&send.phone_number_id),
            "statuses": [item]
        });
        self.post_value(value).await.0
    }

    async fn post_value(&self, value: Value) -> (u16, Vec<u8>) {
        let payload = json!({"object": "whatsapp_business_account",
                             "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}]});
        let body = serde_json::to_vec(&payload).expect("JSON");
        let status = self.post(body.clone(), Some(sign(APP_SECRET, &body))).await;
        (status, body)
    }

    async fn post(&self, body: Vec<u8>, signature: Option<String>) -> u16 {
        let Some(url) = self.webhook.lock().unwrap().clone() else {
            return 0;
        };
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            req = req.header("x-hub-signature-256", signature);
        }
        req.send().await.map_or(0, |r| r.status().as_u16())
    }
}

async fn phone_number(State(inner): State<Arc<Inner>>, Path(pnid): Path<String>) -> Response {
    match inner.numbers.lock().unwrap().get(&pnid) {
        // The spec's "default_response" example.
        Some(display) => Json(json!({"id": pnid, "display_phone_number": display,
                                     "verified_name": "Jaspers Market", "quality_rating": "GREEN"}))
        .into_response(),
        // The spec's 404 "phone_not_found" example.
        None => error(
            404,
            json!({"error": {"message": "Phone number not found", "type": "GraphMethodException",
                             "code": 803, "fbtrace_id": "Afake"}}),
        ),
    }
}

/// The checks of contracts note §2.9 (a)-(c); the details name what is wrong.
fn check_message(body: &Value) -> Result<(), String> {
    let s = |k: &str| body.get(k).and_then(Value::as_str);
    if s("messaging_product") != Some("whatsapp") {
        return Err("messaging_product must be \"whatsapp\"".into());
    }
    if !matches!(s("recipient_type"), Some("individual" | "group")) {
        return Err("recipient_type must be individual or group".into());
    }
    if s("to").is_none_or(str::is_empty) {
        return Err("to is required".into());
    }
    let kind = s("type").ok_or("type is required")?;
    let content = body
        .get(kind)
        .ok_or_else(|| format!("{kind} is required"))?;
    match kind {
        "text" => {
            let text = content
                .get("body")
                .and_then(Value::as_str)
                .ok_or("text.body is required")?;
            if text.chars().count() > 4096 {
                return Err("text.body is longer than 4096 characters".into());
            }
        }
        "image" | "document" => {
            let (id, link) = (content.get("id").is_some(), content.get("link").is_some());
            if id == link {
                return Err(format!("{kind} needs exactly one of id and link"));
            }
            if let Some(caption) = content.get("caption") {
                if caption.as_str().is_none_or(|c| c.chars().count() > 1024) {
                    return Err(format!(
                        "{kind}.caption must be a string of at most 1024 characters"
                    ));
                }
            }
            if kind == "document" && content.get("filename").is_some_and(|f| !f.is_string()) {
                return Err("document.filename must be a string".into());
            }
        }
        other => return Err(format!("the fake does not send {other} messages")),
    }
    if let Some(data) = body.get("biz_opaque_callback_data")
        && data.as_str().is_none_or(|d| d.len() > 512)
    {
        return Err("biz_opaque_callback_data must be a string of at most 512 characters".into());
    }
    Ok(())
}

async fn messages(
    State(inner): State<Arc<Inner>>,
    Path(pnid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if !inner.numbers.lock().unwrap().contains_key(&pnid) {
        return invalid(&format!("Object with ID '{pnid}' does not exist"));
    }
    if let Err(details) = check_message(&body) {
        return invalid(&details);
    }
    let to = body
        .get("to")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(code) = inner.errors.lock().unwrap().get(&to).copied() {
        let (status, body) = scripted_error(code);
        return error(status, body);
    }
    let wamid = format!(
        "wamid.FAKE{}",
        inner.counter.fetch_add(1, Ordering::Relaxed)
    );
    let send = MetaSend {
        phone_number_id: pnid,
        to: to.clone(),
        wamid: wamid.clone(),
        callback_data: body
            .get("biz_opaque_callback_data")
            .and_then(Value::as_str)
            .map(str::to_owned),
        body,
    };
    inner.sends.lock().unwrap().push(send.clone());
    let script = inner.scripts.lock().unwrap().pop_front();
    match script {
        Some(SendScript::StatusBeforeAnswer(status)) => {
            inner.status(&send, status, None).await;
        }
        Some(SendScript::LoseAnswer) => {
            inner.status(&send, "sent", None).await;
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        None => {}
    }
    // The spec's "Example response", with message_status.
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": wamid, "message_status": "accepted"}]
    }))
    .into_response()
}
