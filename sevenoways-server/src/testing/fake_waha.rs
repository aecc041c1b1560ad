//! A stateful fake of WAHA for offline tests: sessions, QR codes, groups, channels,
//! sends, and the signed events a real WAHA posts back.
//!
//! Every route and canned body follows WAHA's published contract, as read in the team's
//! engine contracts note (§1 and the route table of §4.1), never a guess:
//! - routes, request schemas and success statuses: WAHA's OpenAPI document
//!   (`devlikeapro/waha-docs:static/swagger/openapi.json`, 2026.7.1): `POST /api/sessions`
//!   (`SessionCreateRequest` → 201 `SessionDTO`), `GET|PUT|DELETE /api/sessions/{session}`,
//!   `POST /api/sessions/{session}/start|stop|restart|logout` (201), `GET
//!   /api/{session}/auth/qr` (`QRCodeValue`), `GET /api/{session}/groups`, `GET
//!   /api/{session}/channels[/{id}]` (`Channel`), `POST /api/sendText|sendImage|sendFile`
//!   (201; `MessageTextRequest`, `MessageImageRequest`, `MessageFileRequest`, `RemoteFile`),
//!   `GET /api/{session}/new-message-id` (`NewMessageIDResponse`), `GET
//!   /api/server/version` (`WAHAEnvironment`);
//! - error bodies, which the OAS does not document: the docs' 401
//!   (`security/index.md`) and Nest's shapes as WAHA's source produces them (the 404 of a
//!   missing session, the 422 object of a session in the wrong state, the 422 of an
//!   existing name, the 400 of validation);
//! - the per-engine answers (group lists, send answers) of WAHA's source, chosen with
//!   [`Flavour`];
//! - events: the envelope of `components.schemas.WAHAWebhook*`, the headers and HMAC of
//!   `events/index.md` ("Headers", "HMAC authentication"), the payloads
//!   `WASessionStatusBody`, `WAMessage`, `WAMessageAckBody`.
//!
//! Where WAHA documents nothing the fake chooses, and says so: an unknown channel is a 404.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha512;

/// The API key the fake accepts unless told otherwise.
pub const API_KEY: &str = "fake-waha-key";

/// Which WAHA engine the fake answers like: the shapes of group lists and send answers
/// differ per engine (contracts note §1.5, §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Group list: an object keyed by group id with `id`/`subject`; send answer:
    /// Baileys' `{"key":{"id":…}}`.
    Noweb,
    /// Group list: an array of `{"JID","Name"}`; send answer: `{"id":"true_<chat>_<ID>"}`
    /// (and `_<me>` for groups).
    Gows,
    /// Group list: an array of chats with `id._serialized` and `name`; send answer:
    /// `{"id":{"id":…,"_serialized":…}}`.
    Webjs,
}

/// What the fake does with the next send.
#[derive(Debug, Clone)]
pub enum SendScript {
    /// Accept it, post `message.ack` with this ack and wait for the relay's answer to it,
    /// and only then answer the send: a receipt that overtakes the send's answer.
    AckBeforeAnswer(i64),
    /// Accept and record it, post ack 1 (SERVER) as WAHA would, then never answer in
    /// time: the answer is lost.
    LoseAnswer,
    /// Answer with this status and body instead of sending.
    Fail(u16, Value),
}

/// A session as the fake holds it.
#[derive(Debug, Clone)]
pub struct FakeSession {
    /// Its name.
    pub name: String,
    /// WAHA's status (`STARTING`, `SCAN_QR_CODE`, `WORKING`, ...).
    pub status: String,
    /// `config.webhooks[0].url`.
    pub webhook_url: Option<String>,
    /// `config.webhooks[0].events`.
    pub events: Vec<String>,
    /// `config.webhooks[0].hmac.key`.
    pub hmac_key: Option<String>,
    /// `config.metadata`.
    pub metadata: Value,
    /// The paired number's id (`971500000000@c.us`) once `WORKING`.
    pub me: Option<String>,
    /// Bumped by [`FakeWaha::rotate_qr`].
    pub qr_seq: u32,
    /// How many times `POST /api/sessions` created it (a restart must not make it twice).
    pub created: u32,
}

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct FakeSend {
    /// `/api/sendText`, `/api/sendImage` or `/api/sendFile`.
    pub path: String,
    /// The session it went through.
    pub session: String,
    /// `chatId`.
    pub chat_id: String,
    /// The bare message id.
    pub id: String,
    /// The request body, as sent.
    pub body: Value,
}

struct Inner {
    api_key: String,
    flavour: Flavour,
    sessions: Mutex<HashMap<String, FakeSession>>,
    sends: Mutex<Vec<FakeSend>>,
    groups: Mutex<Vec<(String, String)>>,
    channels: Mutex<Vec<Value>>,
    scripts: Mutex<VecDeque<SendScript>>,
    counter: AtomicU64,
    http: reqwest::Client,
}

/// A running fake WAHA on `127.0.0.1`. Stop it with [`FakeWaha::stop`] (or drop it).
pub struct FakeWaha {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeWaha {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn unauthorized() -> Response {
    // WAHA docs, security/index.md.
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"message": "Unauthorized", "statusCode": 401})),
    )
        .into_response()
}

fn no_session(name: &str) -> Response {
    // Nest's 404 as WAHA's source raises it (manager.core.ts).
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "message": format!("We didn't find a session with name '{name}'.\nPlease start it first by using POST /api/sessions/{name}/start request"),
            "error": "Not Found",
            "statusCode": 404
        })),
    )
        .into_response()
}

fn not_ready(name: &str, status: &str, expected: &str) -> Response {
    // The object body of WAHA's source (manager.abc.ts): no statusCode field.
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "error": "Session status is not as expected. Try again later or restart the session",
            "session": name,
            "status": status,
            "expected": [expected]
        })),
    )
        .into_response()
}

fn bad_request(messages: &[&str]) -> Response {
    // Nest's ValidationPipe shape.
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"message": messages, "error": "Bad Request", "statusCode": 400})),
    )
        .into_response()
}

fn session_dto(s: &FakeSession) -> Value {
    json!({"name": s.name, "status": s.status, "config": {"metadata": s.metadata}})
}

async fn check_key(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    let key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok());
    if key != Some(inner.api_key.as_str()) {
        return unauthorized();
    }
    next.run(req).await
}

impl FakeWaha {
    /// Starts a fake answering like `flavour`, with the key [`API_KEY`].
    pub async fn start(flavour: Flavour) -> Self {
        let inner = Arc::new(Inner {
            api_key: API_KEY.into(),
            flavour,
            sessions: Mutex::default(),
            sends: Mutex::default(),
            groups: Mutex::default(),
            channels: Mutex::default(),
            scripts: Mutex::default(),
            counter: AtomicU64::new(1),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a client"),
        });
        let app = Router::new()
            .route("/api/server/version", get(version))
            .route("/api/sessions", post(create_session))
            .route(
                "/api/sessions/{session}",
                get(get_session).put(update_session).delete(delete_session),
            )
            .route("/api/sessions/{session}/{action}", post(session_action))
            .route("/api/{session}/auth/qr", get(qr))
            .route("/api/{session}/groups", get(groups))
            .route("/api/{session}/channels", get(channels))
            .route("/api/{session}/channels/{id}", get(channel))
            .route("/api/{session}/new-message-id", get(new_message_id))
            .route("/api/{action}", post(send))
            .layer(axum::middleware::from_fn_with_state(
                inner.clone(),
                check_key,
            ))
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

    /// The base URL, for `[engines.waha] url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving.
    pub fn stop(self) {}

    /// The sessions, by name.
    pub fn sessions(&self) -> Vec<FakeSession> {
        let mut all: Vec<_> = self
            .inner
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// One session.
    pub fn session(&self, name: &str) -> Option<FakeSession> {
        self.inner.sessions.lock().unwrap().get(name).cloned()
    }

    /// Every accepted send, oldest first.
    pub fn sends(&self) -> Vec<FakeSend> {
        self.inner.sends.lock().unwrap().clone()
    }

    /// The groups every session is in: `(id, name)`.
    pub fn set_groups(&self, groups: &[(&str, &str)]) {
        *self.inner.groups.lock().unwrap() = groups
            .iter()
            .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
            .collect();
    }

    /// Adds a channel (a `Channel` of the OAS) every session can look up by id or invite
    /// code.
    pub fn add_channel(&self, id: &str, name: &str, invite_code: &str, role: &str) {
        self.inner.channels.lock().unwrap().push(json!({
            "id": id, "name": name, "invite": format!("https://whatsapp.com/channel/{invite_code}"),
            "verified": false, "role": role, "preview": null, "picture": null, "description": ""
        }));
    }

    /// What to do with the next send (scripts are used in order).
    pub fn script_next_send(&self, script: SendScript) {
        self.inner.scripts.lock().unwrap().push_back(script);
    }

    /// A new QR code for the session (WAHA rotates them every 20 s).
    pub fn rotate_qr(&self, session: &str) {
        if let Some(s) = self.inner.sessions.lock().unwrap().get_mut(session) {
            s.qr_seq += 1;
        }
    }

    /// The phone scanned the code: the session is `WORKING` as `phone`, and
    /// `session.status` is posted. Answers the relay's status code.
    pub async fn pair(&self, session: &str, phone: &str) -> u16 {
        {
            let mut sessions = self.inner.sessions.lock().unwrap();
            let s = sessions.get_mut(session).expect("the session exists");
            s.me = Some(format!("{phone}@c.us"));
        }
        self.set_status(session, "WORKING").await
    }

    /// Moves the session to `status` and posts `session.status`.
    pub async fn set_status(&self, session: &str, status: &str) -> u16 {
        self.inner.set_status(session, status);
        self.inner.status_event(session, status).await
    }

    /// Posts `message.ack` (or `message.ack.group` for a group send) for `send`.
    pub async fn ack(&self, send: &FakeSend, ack: i64) -> u16 {
        self.inner.ack(send, ack).await
    }

    /// Someone writes to the number (a `message` event); in a group when `group` is set.
    pub async fn inbound(&self, session: &str, from: &str, text: &str, group: Option<&str>) -> u16 {
        let id = self.inner.next_id();
        let chat = group.map_or_else(|| format!("{from}@c.us"), str::to_owned);
        let payload = json!({
            "id": format!("false_{chat}_{id}"), "timestamp": 1_767_000_000, "from": chat,
            "fromMe": false, "source": "app", "to": "971500000000@c.us",
            "participant": group.map(|_| format!("{from}@c.us")), "body": text,
            "hasMedia": false, "media": null, "ack": 1, "ackName": "SERVER", "replyTo": null, "_data": {}
        });
        self.inner.emit(session, "message", payload).await.0
    }

    /// Posts an event and returns the relay's status and the exact body posted.
    pub async fn emit(&self, session: &str, event: &str, payload: Value) -> (u16, Vec<u8>) {
        self.inner.emit(session, event, payload).await
    }

    /// Posts `body` to the session's webhook URL with `hmac` as `X-Webhook-Hmac` (`None`
    /// leaves the header out): a redelivery, or a forged post.
    pub async fn post_raw(&self, session: &str, body: &[u8], hmac: Option<&str>) -> u16 {
        self.inner
            .post(session, body.to_vec(), hmac.map(str::to_owned))
            .await
    }

    /// The HMAC the session's key gives `body`.
    pub fn sign(&self, session: &str, body: &[u8]) -> String {
        let key = self
            .session(session)
            .and_then(|s| s.hmac_key)
            .expect("a session with a key");
        sign(&key, body)
    }
}

/// Hex HMAC-SHA512 of `body` with `key`: WAHA's `X-Webhook-Hmac`.
pub fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

impl Inner {
    fn next_id(&self) -> String {
        format!("3EB0{:012X}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    fn set_status(&self, session: &str, status: &str) {
        if let Some(s) = self.sessions.lock().unwrap().get_mut(session) {
            s.status = status.to_owned();
        }
    }

    async fn status_event(&self, session: &str, status: &str) -> u16 {
        let payload = json!({
            "name": session, "status": status,
            "statuses": [{"status": status, "timestamp": 1_767_000_000_000u64}], "data": null
        });
        self.emit(session, "session.status", payload).await.0
    }

    async fn ack(&self, send: &FakeSend, ack: i64) -> u16 {
        let group = send.chat_id.ends_with("@g.us");
        let id = if group {
            format!("true_{}_{}_{}", send.chat_id, send.id, "99999999999999@lid")
        } else {
            format!("true_{}_{}", send.chat_id, send.id)
        };
        let names = ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"];
        let payload = json!({
            "id": id, "from": send.chat_id, "to": send.chat_id, "participant": null,
            "fromMe": true, "ack": ack, "ackName": names.get((ack + 1) as usize).copied().unwrap_or("UNKNOWN"),
            "_data": {}
        });
        let event = if group {
            "message.ack.group"
        } else {
            "message.ack"
        };
        self.emit(&send.session, event, payload).await.0
    }

    async fn emit(&self, session: &str, event: &str, payload: Value) -> (u16, Vec<u8>) {
        let (metadata, me) = {
            let sessions = self.sessions.lock().unwrap();
            let s = sessions.get(session);
            (
                s.map_or(Value::Null, |s| s.metadata.clone()),
                s.and_then(|s| s.me.clone()),
            )
        };
        let envelope = json!({
            "id": format!("evt_{}", crate::ids::random_hex(13)),
            "timestamp": chrono::Utc::now().timestamp_millis(),
            "event": event,
            "session": session,
            "metadata": metadata,
            "me": me.map(|id| json!({"id": id, "pushName": "Relay"})),
            "payload": payload,
            "engine": "GOWS",
            "environment": {"version": "2026.7.1", "engine": "GOWS", "tier": "CORE", "browser": null}
        });
        let body = serde_json::to_vec(&envelope).expect("JSON");
        let key = self
            .sessions
            .lock()
            .unwrap()
            .get(session)
            .and_then(|s| s.hmac_key.clone());
        let hmac = key.map(|k| sign(&k, &body));
        let status = self.post(session, body.clone(), hmac).await;
        (status, body)
    }

    async fn post(&self, session: &str, body: Vec<u8>, hmac: Option<String>) -> u16 {
        let url = self
            .sessions
            .lock()
            .unwrap()
            .get(session)
            .and_then(|s| s.webhook_url.clone());
        let Some(url) = url else { return 0 };
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-webhook-request-id", crate::ids::random_hex(8))
            .header(
                "x-webhook-timestamp",
                chrono::Utc::now().timestamp_millis().to_string(),
            )
            .body(body);
        if let Some(hmac) = hmac {
            req = req
                .header("x-webhook-hmac", hmac)
                .header("x-webhook-hmac-algorithm", "sha512");
        }
        req.send().await.map_or(0, |r| r.status().as_u16())
    }
}

async fn version() -> Json<Value> {
    Json(
        json!({"version": "2026.7.1", "engine": "GOWS", "tier": "CORE", "browser": null,
                "platform": "linux/x86", "worker": {"id": null}}),
    )
}

fn valid_name(name: &str) -> bool {
    // WAHA's source: MaxLength(54), Matches(/^[a-zA-Z0-9_-]*$/).
    !name.is_empty()
        && name.len() <= 54
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn webhook_of(config: &Value) -> (Option<String>, Vec<String>, Option<String>) {
    let hook = config.pointer("/webhooks/0");
    let url = hook
        .and_then(|h| h.get("url"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let events = hook
        .and_then(|h| h.get("events"))
        .and_then(Value::as_array)
        .map(|e| {
            e.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let key = hook
        .and_then(|h| h.pointer("/hmac/key"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    (url, events, key)
}

/// After a start: STARTING, then SCAN_QR_CODE, each posted, as a real session does.
fn starting(inner: &Arc<Inner>, name: &str) {
    inner.set_status(name, "STARTING");
    let (inner, name) = (inner.clone(), name.to_owned());
    tokio::spawn(async move {
        inner.status_event(&name, "STARTING").await;
        inner.set_status(&name, "SCAN_QR_CODE");
        inner.status_event(&name, "SCAN_QR_CODE").await;
    });
}

async fn create_session(State(inner): State<Arc<Inner>>, Json(req): Json<Value>) -> Response {
    let Some(name) = req.get("name").and_then(Value::as_str) else {
        return bad_request(&["name must be a string"]);
    };
    if !valid_name(name) {
        return bad_request(&["name must match /^[a-zA-Z0-9_-]*$/ regular expression"]);
    }
    let config = req.get("config").cloned().unwrap_or(Value::Null);
    let (webhook_url, events, hmac_key) = webhook_of(&config);
    let session = {
        let mut sessions = inner.sessions.lock().unwrap();
        if sessions.contains_key(name) {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"message": format!("Session '{name}' already exists. Use PUT to update it."),
                            "error": "Unprocessable Entity", "statusCode": 422})),
            )
                .into_response();
        }
        let s = FakeSession {
            name: name.to_owned(),
            status: "STOPPED".into(),
            webhook_url,
            events,
            hmac_key,
            metadata: config.get("metadata").cloned().unwrap_or(Value::Null),
            me: None,
            qr_seq: 1,
            created: 1,
        };
        sessions.insert(name.to_owned(), s.clone());
        s
    };
    // The OAS: `start` defaults to true (the relay always sends it).
    if req.get("start").and_then(Value::as_bool).unwrap_or(true) {
        starting(&inner, name);
    }
    let mut dto = session_dto(&session);
    dto["status"] = json!(if req.get("start") == Some(&json!(false)) {
        "STOPPED"
    } else {
        "STARTING"
    });
    (StatusCode::CREATED, Json(dto)).into_response()
}

async fn get_session(State(inner): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    let sessions = inner.sessions.lock().unwrap();
    let Some(s) = sessions.get(&name) else {
        return no_session(&name);
    };
    Json(json!({
        "name": s.name, "status": s.status, "config": {"metadata": s.metadata},
        "me": s.me.as_ref().map(|id| json!({"id": id, "pushName": "Relay"})),
        "presence": null, "timestamps": {"activity": null}, "engine": {"engine": "GOWS"}
    }))
    .into_response()
}

async fn update_session(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
    Json(req): Json<Value>,
) -> Response {
    let mut sessions = inner.sessions.lock().unwrap();
    let Some(s) = sessions.get_mut(&name) else {
        return no_session(&name);
    };
    let config = req.get("config").cloned().unwrap_or(Value::Null);
    let (url, events, key) = webhook_of(&config);
    (s.webhook_url, s.events, s.hmac_key) = (url, events, key);
    s.metadata = config.get("metadata").cloned().unwrap_or(Value::Null);
    Json(session_dto(s)).into_response()
}

async fn delete_session(State(inner): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    // "Idempotent operation": 200 whether or not it existed, no body schema.
    inner.sessions.lock().unwrap().remove(&name);
    StatusCode::OK.into_response()
}

async fn session_action(
    State(inner): State<Arc<Inner>>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    if !inner.sessions.lock().unwrap().contains_key(&name) {
        return no_session(&name);
    }
    match action.as_str() {
        "start" | "restart" => starting(&inner, &name),
        "stop" => inner.set_status(&name, "STOPPED"),
        "logout" => {
            if let Some(s) = inner.sessions.lock().unwrap().get_mut(&name) {
                s.me = None;
            }
            starting(&inner, &name);
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    }
    let dto = session_dto(inner.sessions.lock().unwrap().get(&name).expect("exists"));
    (StatusCode::CREATED, Json(dto)).into_response()
}

async fn qr(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let sessions = inner.sessions.lock().unwrap();
    let Some(s) = sessions.get(&name) else {
        return no_session(&name);
    };
    if s.status != "SCAN_QR_CODE" {
        return not_ready(&name, &s.status, "SCAN_QR_CODE");
    }
    // `format` is `required: true` in the OAS; the fake draws no PNG (the relay asks for
    // the raw value and draws it itself).
    match q.get("format").map(String::as_str) {
        Some("raw") => {
            Json(json!({"value": format!("2@fakeqr,{name},{}", s.qr_seq)})).into_response()
        }
        _ => bad_request(&["the fake serves format=raw only"]),
    }
}

async fn groups(State(inner): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    let status = inner
        .sessions
        .lock()
        .unwrap()
        .get(&name)
        .map(|s| s.status.clone());
    match status.as_deref() {
        None => return no_session(&name),
        Some("WORKING") => {}
        Some(other) => return not_ready(&name, other, "WORKING"),
    }
    let groups = inner.groups.lock().unwrap().clone();
    let body = match inner.flavour {
        Flavour::Noweb => Value::Object(
            groups
                .iter()
                .map(|(id, subject)| {
                    (id.clone(), json!({"id": id, "subject": subject, "announce": false, "isCommunity": false}))
                })
                .collect(),
        ),
        Flavour::Gows => json!(groups
            .iter()
            .map(|(id, name)| json!({"JID": id, "Name": name, "IsAnnounce": false, "IsLocked": false}))
            .collect::<Vec<_>>()),
        Flavour::Webjs => json!(groups
            .iter()
            .map(|(id, name)| {
                let user = id.trim_end_matches("@g.us");
                json!({"id": {"server": "g.us", "user": user, "_serialized": id}, "name": name, "isGroup": true})
            })
            .collect::<Vec<_>>()),
    };
    Json(body).into_response()
}

async fn channels(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !inner.sessions.lock().unwrap().contains_key(&name) {
        return no_session(&name);
    }
    let all = inner.channels.lock().unwrap().clone();
    let listed: Vec<Value> = all
        .into_iter()
        .filter(|c| {
            q.get("role")
                .is_none_or(|r| c.get("role").and_then(Value::as_str) == Some(r))
        })
        .collect();
    Json(listed).into_response()
}

async fn channel(
    State(inner): State<Arc<Inner>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    if !inner.sessions.lock().unwrap().contains_key(&name) {
        return no_session(&name);
    }
    let found = inner
        .channels
        .lock()
        .unwrap()
        .iter()
        .find(|c| {
            c.get("id").and_then(Value::as_str) == Some(id.as_str())
                || c.get("invite")
                    .and_then(Value::as_str)
                    .is_some_and(|l| l.rsplit('/').next() == Some(id.as_str()))
        })
        .cloned();
    match found {
        Some(mut c) => {
            // By id the docs show `subscribersCount`; lists leave it out.
            c["subscribersCount"] = json!(12323);
            Json(c).into_response()
        }
        // Not in WAHA's documents: the fake's choice.
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Channel not found", "error": "Not Found", "statusCode": 404})),
        )
            .into_response(),
    }
}

async fn new_message_id(State(inner): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    if !inner.sessions.lock().unwrap().contains_key(&name) {
        return no_session(&name);
    }
    Json(json!({"id": inner.next_id()})).into_response()
}

fn send_answer(flavour: Flavour, chat: &str, id: &str, me: &str) -> Value {
    let serialized = format!("true_{chat}_{id}");
    match flavour {
        Flavour::Gows if chat.ends_with("@g.us") => {
            json!({"id": format!("{serialized}_{me}"), "_data": {}})
        }
        Flavour::Gows => json!({"id": serialized, "_data": {}}),
        Flavour::Noweb => json!({
            "key": {"remoteJid": chat.replace("@c.us", "@s.whatsapp.net"), "fromMe": true, "id": id},
            "message": {}, "messageTimestamp": 1_767_000_000, "status": "PENDING"
        }),
        Flavour::Webjs => json!({
            "id": {"fromMe": true, "remote": chat, "id": id, "_serialized": serialized}, "ack": 0
        }),
    }
}

async fn send(
    State(inner): State<Arc<Inner>>,
    Path(action): Path<String>,
    Json(req): Json<Value>,
) -> Response {
    let path = format!("/api/{action}");
    let str_field = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_owned);
    // Required fields per MessageTextRequest / MessageImageRequest / MessageFileRequest.
    let (Some(session), Some(chat_id)) = (str_field("session"), str_field("chatId")) else {
        return bad_request(&["session must be a string", "chatId must be a string"]);
    };
    match action.as_str() {
        "sendText" => {
            if str_field("text").is_none() {
                return bad_request(&["text must be a string"]);
            }
        }
        "sendImage" | "sendFile" => {
            // RemoteFile: mimetype and url, both required.
            let file = req.get("file");
            let has = |k: &str| {
                file.and_then(|f| f.get(k))
                    .and_then(Value::as_str)
                    .is_some()
            };
            if !has("mimetype") || !(has("url") || has("data")) {
                return bad_request(&["file.mimetype must be a string", "file.url must be a URL"]);
            }
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    }
    let (status, me) = match inner.sessions.lock().unwrap().get(&session) {
        None => return no_session(&session),
        Some(s) => (s.status.clone(), s.me.clone().unwrap_or_default()),
    };
    if status != "WORKING" {
        return not_ready(&session, &status, "WORKING");
    }
    let script = inner.scripts.lock().unwrap().pop_front();
    if let Some(SendScript::Fail(code, body)) = &script {
        return (
            StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body.clone()),
        )
            .into_response();
    }
    // `id` ("Pre-generated message id") exists on MessageTextRequest only.
    let id = match (action.as_str(), str_field("id")) {
        ("sendText", Some(id)) => id,
        _ => inner.next_id(),
    };
    let sent = FakeSend {
        path,
        session,
        chat_id: chat_id.clone(),
        id: id.clone(),
        body: req.clone(),
    };
    inner.sends.lock().unwrap().push(sent.clone());
    match script {
        Some(SendScript::AckBeforeAnswer(ack)) => {
            inner.ack(&sent, ack).await;
        }
        Some(SendScript::LoseAnswer) => {
            inner.ack(&sent, 1).await;
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        _ => {}
    }
    (
        StatusCode::CREATED,
        Json(send_answer(inner.flavour, &chat_id, &id, &me)),
    )
        .into_response()
}
