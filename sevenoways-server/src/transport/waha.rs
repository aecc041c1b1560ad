//! WAHA: a self-hosted WhatsApp HTTP API, one WAHA session per instance.
//!
//! Written against WAHA's own OpenAPI document (`static/swagger/openapi.json` of
//! `devlikeapro/waha-docs`, version 2026.7.1) and its docs; where those are silent
//! (error bodies, the per-engine shapes of answers) against WAHA's source. The engine
//! contracts note (`/work/notes/engine-contracts.md` in the team's workspace) lists every
//! source. WAHA 2026.6.1 or newer is needed: older Core images serve one session only.
//!
//! - **Sessions.** An instance's session is named `svw_<relay>_<account>_<instance>_<random>`
//!   (at most 54 of `[A-Za-z0-9_-]`, WAHA's limit): the relay tag (from the server secret,
//!   shared by replicas on one database) and the account keep several relays and accounts
//!   apart on one WAHA, the random part keeps a re-created instance off its predecessor's
//!   session. The name is stored with the instance ([`Store::bind_engine`]) before the
//!   session is created, so a restart never creates one twice; a session WAHA lost is made
//!   again (idempotently) when the QR page is opened.
//! - **Events.** Each session posts `session.status`, `message`, `message.ack` and
//!   `message.ack.group` to `{public_url}/engines/waha/events`, signed with a key the relay
//!   made for that session (`X-Webhook-Hmac`, hex HMAC-SHA512 of the exact body). Group
//!   receipts exist only as `message.ack.group` (WAHA's `message.ack` is "contacts only"):
//!   a group message counts as delivered/read when the first member's phone says so.
//! - **Message ids.** A text is sent with an id the relay asked WAHA for first
//!   (`GET /api/{session}/new-message-id`, WAHA 2026.4.3+) and stored before the send, so a
//!   receipt that overtakes the send's answer, or follows a lost answer, finds its entry; a
//!   retry after a lost answer whose message WAHA acknowledged is not sent again. Images
//!   and documents take the id from WAHA's answer (WAHA documents no pre-generated id for
//!   them).

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use axum::http::HeaderMap;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sevenoways_sdk::models::channels::{Channel, ChannelRef};
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::webhooks::MessageReceived;
use sevenoways_sdk::{ChannelId, Content, GroupId, InstanceId, NewsletterJid};
use sha2::{Digest, Sha256, Sha512};

use super::{
    ControlError, CreateOptions, Engine, InboundError, Pairing, Sent, TransportError, clip,
    engine_http, network_reason, read_limited,
};
use crate::account::AccountId;
use crate::config::WahaConfig;
use crate::engine::{EngineKind, EngineSecret};
use crate::store::page::PageRequest;
use crate::store::{Claimed, EngineUpdate, InstanceRecord, Receipt, RecipientKind, Store};

/// The route WAHA posts its events to (under `public_url`).
pub const EVENTS_ROUTE: &str = "/engines/waha/events";
/// The events each session subscribes to.
pub const EVENTS: [&str; 4] = [
    "session.status",
    "message",
    "message.ack",
    "message.ack.group",
];
/// WAHA's session name limit (`MaxLength(64 - "waha_noweb".length)` in its source).
pub const MAX_SESSION_NAME: usize = 54;
/// Most groups kept of one number.
pub const MAX_GROUPS: usize = 10_000;
/// Largest answer read from WAHA (a group list without participants).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;
/// Largest event body accepted from WAHA.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// See the module docs.
pub struct WahaEngine {
    me: Weak<WahaEngine>,
    store: Arc<dyn Store>,
    http: reqwest::Client,
    base: String,
    api_key: EngineSecret,
    events_url: String,
    relay_tag: String,
}

/// An answer from WAHA: its status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What a WAHA error answer means (WAHA documents none; these are Nest's shapes, as its
/// source produces them).
#[derive(Debug, PartialEq, Eq)]
enum Problem {
    /// 401: the API key.
    Unauthorized,
    /// 404 "We didn't find a session ...".
    NoSession,
    /// 404 "Cannot GET ...": this WAHA has no such route (too old).
    NoRoute,
    /// 422 `{"status": ..., "expected": [...]}`: the session is in another state.
    NotReady(String),
    /// 400: WAHA's validation messages.
    Invalid(String),
    /// 422 with a message.
    Refused(String),
    /// 5xx, with WAHA's exception message when there is one.
    Server(u16, String),
    /// Anything else.
    Other(u16),
}

fn message_of(body: &Value) -> Option<String> {
    match body.get("message")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    }
}

fn problem(answer: &Answer) -> Problem {
    let body = &answer.body;
    match answer.status {
        401 => Problem::Unauthorized,
        404 => match message_of(body) {
            Some(m) if m.starts_with("Cannot ") => Problem::NoRoute,
            _ => Problem::NoSession,
        },
        400 => Problem::Invalid(clip(&message_of(body).unwrap_or_default(), 300)),
        422 => match body.get("status").and_then(Value::as_str) {
            Some(status) if body.get("expected").is_some() => Problem::NotReady(status.into()),
            _ => Problem::Refused(clip(
                &message_of(body)
                    .or_else(|| body.get("error").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default(),
                300,
            )),
        },
        s @ 500..=599 => {
            // The 500 body echoes our request; only the exception's message is quoted.
            let m = body
                .pointer("/exception/message")
                .or_else(|| body.get("message"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            Problem::Server(s, clip(m, 160))
        }
        s => Problem::Other(s),
    }
}

/// Why a send failed, for the entry's `error` and `message.failed`.
fn send_error(instance: &InstanceId, problem: Problem) -> TransportError {
    use TransportError::{Permanent, Transient};
    match problem {
        Problem::Unauthorized => Permanent(
            "WAHA refused the relay's API key (HTTP 401): the server's operator must check \
             [engines.waha] api_key"
                .into(),
        ),
        Problem::NoSession => Permanent(format!(
            "WAHA has no session for instance {instance} (was it deleted in WAHA?): open \
             /api/instances/{instance}/qr to set it up again and pair"
        )),
        Problem::NoRoute => {
            Permanent("this WAHA does not know the call (WAHA 2026.6.1 or newer is needed)".into())
        }
        // STARTING: WAHA is (re)connecting the number; it comes back by itself.
        Problem::NotReady(status) if status == "STARTING" => Transient(format!(
            "instance {instance} is starting in WAHA (session status STARTING)"
        )),
        Problem::NotReady(status) => Permanent(format!(
            "instance {instance} is not paired (WAHA session status {status}): open \
             /api/instances/{instance}/qr and scan the code"
        )),
        Problem::Invalid(m) => Permanent(format!("WAHA refused the message as invalid: {m}")),
        Problem::Refused(m) => Permanent(format!("WAHA refused the message: {m}")),
        Problem::Server(s, m) if m.is_empty() => Transient(format!("WAHA failed (HTTP {s})")),
        Problem::Server(s, m) => Transient(format!("WAHA failed (HTTP {s}): {m}")),
        Problem::Other(s) => Permanent(format!("WAHA answered HTTP {s}")),
    }
}

/// The same for control-plane calls.
fn control_error(instance: &InstanceId, problem: Problem) -> ControlError {
    match problem {
        Problem::NotReady(status) => ControlError::Conflict(format!(
            "instance {instance} is not online (WAHA session status {status}): pair it first \
             (GET /api/instances/{instance}/qr)"
        )),
        other => ControlError::Engine(send_error(instance, other).to_string()),
    }
}

/// The relay's part of session names: 6 hex digits derived from the server secret, the
/// same for every replica on one database.
pub fn relay_tag(server_secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"sevenoways waha session tag|");
    h.update(server_secret);
    hex::encode(&h.finalize()[..3])
}

/// `svw_<relay>_<account>_<instance>_<random>`, at most [`MAX_SESSION_NAME`] of
/// `[A-Za-z0-9_-]`: the instance id is cut to fit and its dots become dashes (the random
/// part keeps names unique whatever is cut).
pub fn session_name(
    relay: &str,
    account: AccountId,
    instance: &InstanceId,
    random: &str,
) -> String {
    let head = format!("svw_{relay}_{account}_");
    let tail = format!("_{random}");
    let room = MAX_SESSION_NAME.saturating_sub(head.len() + tail.len());
    let middle: String = instance
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(room)
        .collect();
    format!("{head}{middle}{tail}")
}

/// The ids a WAHA message id may stand for, best first. A serialized id
/// (`true_<chat>_<id>`, `true_<group>@g.us_<id>_<participant>`, or for channels
/// `false_<chat>@newsletter_<server id>_<id>`) holds the bare id among its segments, at no
/// fixed place; so every segment after the chat id (but the participant) is a candidate,
/// then the serialized id itself.
pub fn message_id_candidates(id: &str) -> Vec<String> {
    let id = id.trim();
    if id.is_empty() {
        return Vec::new();
    }
    let rest = id
        .strip_prefix("true_")
        .or_else(|| id.strip_prefix("false_"));
    let after_chat = rest.and_then(|rest| {
        let at = rest.find('@')?;
        let end = rest[at..].find('_')?;
        Some(&rest[at + end + 1..])
    });
    let mut out: Vec<String> = after_chat
        .map(|tail| {
            tail.split('_')
                .filter(|s| !s.is_empty() && !s.contains('@'))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    out.push(id.to_owned());
    out.dedup();
    out
}

/// The message ids in a send's answer, which differs per WAHA engine: GOWS
/// `{"id":"true_<chat>_<ID>"}`, NOWEB `{"key":{"id":"<ID>"}}`, WEBJS
/// `{"id":{"id":"<ID>","_serialized":"true_<chat>_<ID>"}}`.
pub fn answer_ids(body: &Value) -> Vec<String> {
    if let Some(id) = body.pointer("/key/id").and_then(Value::as_str) {
        return vec![id.to_owned()];
    }
    match body.get("id") {
        Some(Value::String(s)) => message_id_candidates(s),
        Some(Value::Object(o)) => {
            let mut out: Vec<String> = o
                .get("id")
                .and_then(Value::as_str)
                .map(|s| vec![s.to_owned()])
                .unwrap_or_default();
            if let Some(s) = o.get("_serialized").and_then(Value::as_str) {
                out.extend(message_id_candidates(s));
            }
            out
        }
        _ => Vec::new(),
    }
}

fn first_str<'v>(candidates: impl IntoIterator<Item = Option<&'v Value>>) -> Option<&'v str> {
    candidates
        .into_iter()
        .flatten()
        .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()))
}

/// The groups of `GET /api/{session}/groups`, whose shape depends on WAHA's engine: an
/// object keyed by group id (NOWEB), or an array (GOWS, WEBJS); the id in `id` (a string),
/// `id._serialized` or `JID`; the name in `subject`, `name` or `Name`. Entries that are not
/// `@g.us` groups are left out; at most [`MAX_GROUPS`].
pub fn parse_groups(body: &Value) -> Vec<Group> {
    let entries: Vec<(Option<&str>, &Value)> = match body {
        Value::Array(items) => items.iter().map(|v| (None, v)).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<Group> = Vec::new();
    for (key, g) in entries {
        if out.len() >= MAX_GROUPS {
            break;
        }
        let id = first_str([
            g.get("id").filter(|v| v.is_string()),
            g.pointer("/id/_serialized"),
            g.get("JID"),
        ])
        .or(key);
        let Some(Ok(id)) = id.map(GroupId::new) else {
            continue;
        };
        if out.iter().any(|o| o.id == id) {
            continue;
        }
        let name = first_str([g.get("subject"), g.get("name"), g.get("Name")])
            .unwrap_or_default()
            .to_owned();
        let participants = ["participants", "Participants"]
            .iter()
            .find_map(|k| g.get(*k).and_then(Value::as_array))
            .map_or(0, |p| p.len().min(u32::MAX as usize) as u32);
        out.push(Group {
            id,
            name,
            participants,
        });
    }
    out.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
    out
}

/// A WAHA `Channel` (`components.schemas.Channel`) as ours. `subscribersCount`,
/// `description`, `preview` and `picture` are optional in practice (WAHA's docs and
/// engines leave them out although the schema requires some).
pub fn parse_channel(v: &Value, instance: &InstanceId) -> Option<Channel> {
    let jid = NewsletterJid::new(v.get("id")?.as_str()?).ok()?;
    let role = v.get("role").and_then(Value::as_str).unwrap_or_default();
    Some(Channel {
        id: ChannelId::new("ch_pending").expect("valid"),
        channel_jid: jid,
        name: v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        description: v
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        subscribers: v
            .get("subscribersCount")
            .and_then(Value::as_f64)
            .map_or(0, |n| n.max(0.0) as u64),
        is_admin: matches!(role, "OWNER" | "ADMIN"),
        invite_link: v
            .get("invite")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        instance_id: instance.clone(),
    })
}

/// The instance status a WAHA session status means. `STARTING` of a number that is
/// online is WAHA reconnecting it: the instance stays online (sends meanwhile are
/// retried) rather than flapping `instance.offline`/`instance.online`.
pub fn instance_status(waha: &str, current: InstanceStatus) -> Option<InstanceStatus> {
    match waha {
        "WORKING" => Some(InstanceStatus::Online),
        "STARTING" if current == InstanceStatus::Online => None,
        "STARTING" | "SCAN_QR_CODE" | "PASSKEY_REQUIRED" | "PASSKEY_CONFIRMATION_REQUIRED" => {
            Some(InstanceStatus::Pairing)
        }
        "FAILED" | "STOPPED" => Some(InstanceStatus::Offline),
        _ => None,
    }
}

/// The number in a WhatsApp id: `971500000000@c.us` and `971500000000:12@s.whatsapp.net`
/// are `971500000000`; a hidden `…@lid` id stays as it is (it names no number).
pub fn phone_of(jid: &str) -> String {
    match jid.split_once('@') {
        Some((user, "c.us" | "s.whatsapp.net")) => {
            user.split(':').next().unwrap_or(user).to_owned()
        }
        _ => jid.to_owned(),
    }
}

/// The MIME type WAHA needs with every file: the request's, else the one the URL's
/// extension names, else `fallback`. An image must be `image/*`.
pub fn mimetype(url: &str, given: Option<&str>, image: bool) -> String {
    if let Some(m) = given.map(str::trim).filter(|m| !m.is_empty()) {
        return m.to_owned();
    }
    let path = url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    let guess = mime_guess::from_path(&path).first();
    match guess {
        Some(m) if !image || m.type_() == mime_guess::mime::IMAGE => m.essence_str().to_owned(),
        _ if image => "image/jpeg".into(),
        _ => "application/octet-stream".into(),
    }
}

/// Checks `X-Webhook-Hmac`: hex HMAC-SHA512 of the exact body bytes, compared in constant
/// time.
pub fn verify_hmac(key: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(sig) = header.and_then(|h| hex::decode(h.trim()).ok()) else {
        return false;
    };
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("any key length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The part of a WAHA event envelope the relay reads
/// (`components.schemas.WAHAWebhook*`).
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    id: Option<String>,
    event: String,
    session: String,
    #[serde(default)]
    me: Option<Me>,
    #[serde(default)]
    payload: Value,
}

#[derive(Debug, Deserialize)]
struct Me {
    id: String,
}

impl WahaEngine {
    /// The engine for `[engines.waha]`; events come back to `public_url`.
    pub fn new(
        store: Arc<dyn Store>,
        config: &WahaConfig,
        public_url: &str,
        server_secret: &[u8],
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            store,
            http: engine_http(config.timeout_ms),
            base: config.url.trim().trim_end_matches('/').to_owned(),
            api_key: config.api_key.clone().unwrap_or_default(),
            events_url: format!("{}{EVENTS_ROUTE}", public_url.trim_end_matches('/')),
            relay_tag: relay_tag(server_secret),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Api-Key", self.api_key.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .query(query);
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = req.send().await.map_err(|e| network_reason("WAHA", &e))?;
        let status = response.status().as_u16();
        let bytes = read_limited(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| format!("WAHA's answer: {e}"))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    fn session_body(&self, record: &InstanceRecord, key: &EngineSecret) -> Value {
        json!({
            "metadata": {
                "sevenoways.account": record.account_id.to_string(),
                "sevenoways.instance": record.instance.instance_id.as_str(),
            },
            "webhooks": [{
                "url": self.events_url,
                "events": EVENTS,
                "hmac": {"key": key.expose()},
                "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 10},
            }],
        })
    }

    /// Creates and starts the session, or, if WAHA has one of that name already (a
    /// create whose answer was lost), brings its configuration up to date and starts it.
    async fn ensure_session(
        &self,
        record: &InstanceRecord,
        session: &str,
        key: &EngineSecret,
    ) -> Result<(), ControlError> {
        let id = &record.instance.instance_id;
        let config = self.session_body(record, key);
        let create = json!({"name": session, "start": true, "config": config});
        let answer = self
            .call(reqwest::Method::POST, "/api/sessions", &[], Some(&create))
            .await
            .map_err(ControlError::Engine)?;
        if answer.ok() {
            return Ok(());
        }
        let exists = answer.status == 422
            && message_of(&answer.body).is_some_and(|m| m.contains("already exists"));
        if !exists {
            return Err(control_error(id, problem(&answer)));
        }
        let path = format!("/api/sessions/{session}");
        let answer = self
            .call(
                reqwest::Method::PUT,
                &path,
                &[],
                Some(&json!({"config": config})),
            )
            .await
            .map_err(ControlError::Engine)?;
        if !answer.ok() {
            return Err(control_error(id, problem(&answer)));
        }
        self.start(record, session).await
    }

    async fn start(&self, record: &InstanceRecord, session: &str) -> Result<(), ControlError> {
        let path = format!("/api/sessions/{session}/start");
        let answer = self
            .call(reqwest::Method::POST, &path, &[], None)
            .await
            .map_err(ControlError::Engine)?;
        if answer.ok() {
            Ok(())
        } else {
            Err(control_error(
                &record.instance.instance_id,
                problem(&answer),
            ))
        }
    }

    /// The session of `record`, made (name, key, WAHA session) if it has none yet: an
    /// instance whose create was cut short, or from before its session was lost.
    async fn session_of(&self, record: &InstanceRecord) -> Result<String, ControlError> {
        if let Some(session) = &record.engine_ref {
            return Ok(session.clone());
        }
        let created = self
            .create(record.clone(), &CreateOptions::default())
            .await?;
        created
            .engine_ref
            .ok_or_else(|| ControlError::Engine("WAHA session was not recorded".into()))
    }

    /// Applies a session status WAHA reported; when it brings the number online, its
    /// groups and channels are read again (in the background).
    async fn observe_status(
        &self,
        record: &InstanceRecord,
        waha_status: &str,
        me: Option<&str>,
        event_key: Option<&str>,
    ) -> Result<bool, crate::store::StoreError> {
        let current = record.instance.status;
        let Some(status) = instance_status(waha_status, current) else {
            return Ok(false);
        };
        let phone = me
            .map(phone_of)
            .filter(|_| status == InstanceStatus::Online);
        let applied = self
            .store
            .apply_engine_update(
                record.account_id,
                &record.instance.instance_id,
                event_key.map(|k| (EngineKind::Waha, k)),
                EngineUpdate::Status { status, phone },
                Utc::now(),
            )
            .await?;
        if applied
            && status == InstanceStatus::Online
            && current != InstanceStatus::Online
            && let Some(me) = self.me.upgrade()
        {
            let mut record = record.clone();
            record.instance.status = status;
            tokio::spawn(async move {
                if let Err(e) = me.refresh_groups(&record).await {
                    tracing::warn!(instance = %record.instance.instance_id, error = %e, "reading groups after pairing failed");
                }
                me.refresh_channels(&record).await;
            });
        }
        Ok(applied)
    }

    /// When WAHA's `status` would take `record`'s online number offline (or back to
    /// pairing), the session's status as WAHA has it now, and its `me`, to apply instead.
    ///
    /// An event can land after a newer one: WAHA retries an event our endpoint did not
    /// take (a 503 while the disk was full, a restart), so a `SCAN_QR_CODE` from before
    /// the pairing can follow its `WORKING`. Applied as it came, it would leave a working
    /// number refused as not paired until WAHA's next change, which may never come. A
    /// number is taken offline only on WAHA's word of now: one `GET` per such event (a
    /// rare one). The other way needs no check: a number wrongly online is corrected by
    /// WAHA's answer to its next send. `None` (apply the event as it came) when the
    /// number is not online, the event keeps it online, or WAHA does not answer.
    async fn status_now_if_leaving_online(
        &self,
        record: &InstanceRecord,
        session: &str,
        status: &str,
    ) -> Option<(String, Option<String>)> {
        let online = InstanceStatus::Online;
        if record.instance.status != online
            || !matches!(instance_status(status, online), Some(s) if s != online)
        {
            return None;
        }
        let path = format!("/api/sessions/{session}");
        let answer = self
            .call(reqwest::Method::GET, &path, &[], None)
            .await
            .ok()
            .filter(Answer::ok)?;
        let now = answer
            .body
            .get("status")
            .and_then(Value::as_str)?
            .to_owned();
        let me = answer
            .body
            .pointer("/me/id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Some((now, me))
    }

    /// Brings the saved channels of `record` up to date with WAHA's list (names, admin
    /// rights). Channels are saved by `POST /api/channels`, not added here.
    async fn refresh_channels(&self, record: &InstanceRecord) {
        let (account, id) = (record.account_id, &record.instance.instance_id);
        let Some(session) = &record.engine_ref else {
            return;
        };
        // The account's channels are capped by its plan, so walking every page is bounded;
        // the page count is capped too, in case a plan is configured without a sane limit.
        let mut saved = Vec::new();
        let mut page = PageRequest::first(100);
        for _ in 0..100 {
            match self.store.list_channels(account, &page).await {
                Ok(p) => {
                    saved.extend(p.items.into_iter().filter(|c| &c.instance_id == id));
                    match p.next {
                        Some(after) => page.after = Some(after),
                        None => break,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listing saved channels failed");
                    return;
                }
            }
        }
        if saved.is_empty() {
            return;
        }
        let path = format!("/api/{session}/channels");
        let listed = match self.call(reqwest::Method::GET, &path, &[], None).await {
            Ok(a) if a.ok() => a.body,
            _ => return,
        };
        let listed: Vec<Channel> = listed
            .as_array()
            .map(|items| items.iter().filter_map(|c| parse_channel(c, id)).collect())
            .unwrap_or_default();
        for mut channel in saved {
            let Some(fresh) = listed.iter().find(|c| c.channel_jid == channel.channel_jid) else {
                continue;
            };
            channel.name = fresh.name.clone();
            channel.is_admin = fresh.is_admin;
            if !fresh.description.is_empty() {
                channel.description = fresh.description.clone();
            }
            if fresh.subscribers > 0 {
                channel.subscribers = fresh.subscribers;
            }
            // A quota of 0: refreshing a saved channel is always allowed, while one deleted
            // since it was read is refused rather than brought back.
            if let Err(e) = self.store.save_channel(account, &channel, 0).await {
                tracing::warn!(error = %e, "saving a refreshed channel failed");
            }
        }
    }

    /// Handles one event WAHA posted: verified with the session's key, applied once.
    pub async fn handle_event(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), InboundError> {
        let unverifiable =
            || InboundError::Unauthorized("the event's signature cannot be verified".into());
        let envelope: Envelope = serde_json::from_slice(body).map_err(|_| unverifiable())?;
        let found = self
            .store
            .instance_by_engine_ref(EngineKind::Waha, &envelope.session)
            .await?
            .ok_or_else(unverifiable)?;
        let key = found.secret.ok_or_else(unverifiable)?;
        let signature = headers.get("x-webhook-hmac").and_then(|v| v.to_str().ok());
        if !verify_hmac(key.expose().as_bytes(), body, signature) {
            return Err(InboundError::Unauthorized(
                "X-Webhook-Hmac does not match the body".into(),
            ));
        }
        let record = found.record;
        let (account, instance) = (record.account_id, record.instance.instance_id.clone());
        let event_key = envelope
            .id
            .as_deref()
            .filter(|k| !k.is_empty() && k.len() <= 128);
        let payload = &envelope.payload;
        match envelope.event.as_str() {
            "session.status" => {
                let Some(status) = payload.get("status").and_then(Value::as_str) else {
                    return Err(InboundError::Invalid(
                        "session.status without a status".into(),
                    ));
                };
                let me = envelope.me.as_ref().map(|m| m.id.as_str());
                match self
                    .status_now_if_leaving_online(&record, &envelope.session, status)
                    .await
                {
                    Some((now, me)) => {
                        self.observe_status(&record, &now, me.as_deref(), event_key)
                            .await?
                    }
                    None => self.observe_status(&record, status, me, event_key).await?,
                };
            }
            "message" => {
                if payload.get("fromMe").and_then(Value::as_bool) == Some(true) {
                    return Ok(());
                }
                let Some(received) = received(payload) else {
                    return Err(InboundError::Invalid("message without id or from".into()));
                };
                self.store
                    .apply_engine_update(
                        account,
                        &instance,
                        event_key.map(|k| (EngineKind::Waha, k)),
                        EngineUpdate::Received(received),
                        Utc::now(),
                    )
                    .await?;
            }
            "message.ack" | "message.ack.group" => {
                // Receipts of what this number sent; others' messages have none for us.
                if payload.get("fromMe").and_then(Value::as_bool) == Some(false) {
                    return Ok(());
                }
                let Some(receipt) = payload.get("ack").and_then(Value::as_i64).and_then(receipt)
                else {
                    return Ok(());
                };
                let ids = payload
                    .get("id")
                    .and_then(Value::as_str)
                    .map(message_id_candidates)
                    .unwrap_or_default();
                if ids.is_empty() {
                    return Err(InboundError::Invalid("message.ack without an id".into()));
                }
                self.store
                    .apply_engine_update(
                        account,
                        &instance,
                        event_key.map(|k| (EngineKind::Waha, k)),
                        EngineUpdate::Receipt {
                            provider_ids: ids,
                            receipt,
                            queue_hint: None,
                        },
                        Utc::now(),
                    )
                    .await?;
            }
            // Subscribed to nothing else; WAHA's global webhooks may send more.
            _ => {}
        }
        Ok(())
    }

    /// A pre-generated message id; `None` when this WAHA cannot make one (older than
    /// 2026.4.3, or an engine without it), and the send goes without.
    async fn new_message_id(
        &self,
        session: &str,
        instance: &InstanceId,
    ) -> Result<Option<String>, TransportError> {
        let path = format!("/api/{session}/new-message-id");
        let answer = self
            .call(reqwest::Method::GET, &path, &[], None)
            .await
            .map_err(TransportError::Transient)?;
        if answer.ok() {
            return Ok(answer
                .body
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned));
        }
        match problem(&answer) {
            Problem::NoRoute | Problem::Refused(_) => Ok(None),
            other => Err(send_error(instance, other)),
        }
    }
}

/// WAHA's ack numbers (`WAMessageAck`): 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED, -1 ERROR;
/// 0 PENDING says nothing new.
pub fn receipt(ack: i64) -> Option<Receipt> {
    match ack {
        1 => Some(Receipt::Sent),
        2 => Some(Receipt::Delivered),
        3 | 4 => Some(Receipt::Read),
        -1 => Some(Receipt::Failed(
            "WhatsApp reported an error delivering the message (WAHA ack ERROR)".into(),
        )),
        _ => None,
    }
}

/// A `message` event's payload (`WAMessage`) as `message.received`: in a group, `from` is
/// the group and the sender is `participant` (or `author`).
fn received(payload: &Value) -> Option<MessageReceived> {
    let id = payload.get("id").and_then(Value::as_str)?;
    let from = payload.get("from").and_then(Value::as_str)?;
    let group = from.ends_with("@g.us");
    let sender = if group {
        first_str([payload.get("participant"), payload.get("author")]).unwrap_or(from)
    } else {
        from
    };
    Some(MessageReceived {
        message_id: id.to_owned(),
        from: phone_of(sender),
        chat: Some(if group {
            from.to_owned()
        } else {
            phone_of(from)
        }),
        message: payload
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

fn chat_id(entry: &Claimed) -> String {
    match entry.kind {
        RecipientKind::Phone => format!("{}@c.us", entry.to),
        // Group ids as they are; channels and communities are `@newsletter` JIDs.
        RecipientKind::Group | RecipientKind::Channel | RecipientKind::Community => {
            entry.to.clone()
        }
    }
}

fn transient(e: crate::store::StoreError) -> TransportError {
    TransportError::Transient(e.to_string())
}

#[async_trait]
impl Engine for WahaEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Waha
    }

    async fn send(&self, record: &InstanceRecord, entry: &Claimed) -> Result<Sent, TransportError> {
        let instance = &record.instance.instance_id;
        let session = record.engine_ref.as_deref().ok_or_else(|| {
            TransportError::Permanent(format!(
                "instance {instance} has no WAHA session yet: open /api/instances/{instance}/qr \
                 to set it up and pair"
            ))
        })?;
        let prior = self.store.linked_message(entry).await.map_err(transient)?;
        // A retry after a lost answer: WAHA reported the message, so it went out once.
        if let Some(prior) = &prior
            && prior.engine_has_it
        {
            return Ok(Sent {
                provider_id: Some(prior.provider_id.clone()),
            });
        }
        let chat = chat_id(entry);
        let (path, body, pregenerated) = match &entry.content {
            Content::Text { message } => {
                // The same id again on a retry, so a receipt for either attempt matches.
                let id = match prior {
                    Some(prior) => Some(prior.provider_id),
                    None => {
                        let id = self.new_message_id(session, instance).await?;
                        if let Some(id) = &id {
                            self.store
                                .link_provider_message(entry, id)
                                .await
                                .map_err(transient)?;
                        }
                        id
                    }
                };
                let mut body =
                    json!({"session": session, "chatId": chat, "text": message.as_str()});
                if let Some(id) = &id {
                    body["id"] = json!(id);
                }
                ("/api/sendText", body, id)
            }
            Content::Image { image_url, caption } => {
                let file = json!({
                    "mimetype": mimetype(image_url.as_str(), None, true),
                    "url": image_url.as_str(),
                });
                let mut body = json!({"session": session, "chatId": chat, "file": file});
                if let Some(caption) = caption {
                    body["caption"] = json!(caption);
                }
                ("/api/sendImage", body, None)
            }
            Content::Document {
                file_url,
                filename,
                mimetype: given,
            } => {
                let file = json!({
                    "mimetype": mimetype(file_url.as_str(), given.as_deref(), false),
                    "url": file_url.as_str(),
                    "filename": filename,
                });
                (
                    "/api/sendFile",
                    json!({"session": session, "chatId": chat, "file": file}),
                    None,
                )
            }
            _ => {
                return Err(TransportError::Permanent(
                    "this server cannot send that kind of message through WAHA".into(),
                ));
            }
        };
        let answer = self
            .call(reqwest::Method::POST, path, &[], Some(&body))
            .await
            .map_err(TransportError::Transient)?;
        if !answer.ok() {
            return Err(send_error(instance, problem(&answer)));
        }
        let ids = answer_ids(&answer.body);
        let provider_id = match pregenerated {
            Some(id) if ids.is_empty() || ids.contains(&id) => Some(id),
            _ => ids.into_iter().next(),
        };
        Ok(Sent { provider_id })
    }

    async fn create(
        &self,
        mut record: InstanceRecord,
        _: &CreateOptions,
    ) -> Result<InstanceRecord, ControlError> {
        let session = session_name(
            &self.relay_tag,
            record.account_id,
            &record.instance.instance_id,
            &crate::ids::random_hex(4),
        );
        let key = EngineSecret::new(crate::ids::random_hex(32));
        if !self
            .store
            .bind_engine(
                record.account_id,
                &record.instance.instance_id,
                &session,
                Some(&key),
            )
            .await?
        {
            return Err(ControlError::NotFound(format!(
                "instance {:?} not found",
                record.instance.instance_id.as_str()
            )));
        }
        record.engine_ref = Some(session.clone());
        if let Err(e) = self.ensure_session(&record, &session, &key).await {
            // The route deletes the instance; a session WAHA made although its answer
            // was lost must not live on, posting events nobody can verify.
            let path = format!("/api/sessions/{session}");
            let _ = self.call(reqwest::Method::DELETE, &path, &[], None).await;
            return Err(e);
        }
        Ok(record)
    }

    async fn delete(&self, record: &InstanceRecord) -> Result<(), ControlError> {
        let Some(session) = &record.engine_ref else {
            return Ok(());
        };
        let path = format!("/api/sessions/{session}");
        let answer = self
            .call(reqwest::Method::DELETE, &path, &[], None)
            .await
            .map_err(ControlError::Engine)?;
        // Idempotent in WAHA; a 404 means it is gone already.
        if answer.ok() || answer.status == 404 {
            Ok(())
        } else {
            Err(control_error(
                &record.instance.instance_id,
                problem(&answer),
            ))
        }
    }

    async fn pairing(&self, record: &InstanceRecord) -> Result<Pairing, ControlError> {
        let waiting = |status| Pairing {
            status,
            code: None,
            expires_at: None,
        };
        if record.instance.status == InstanceStatus::Online {
            return Ok(waiting(InstanceStatus::Online));
        }
        let id = &record.instance.instance_id;
        let session = self.session_of(record).await?;
        let path = format!("/api/{session}/auth/qr");
        let answer = self
            .call(reqwest::Method::GET, &path, &[("format", "raw")], None)
            .await
            .map_err(ControlError::Engine)?;
        if answer.ok() {
            let Some(code) = answer.body.get("value").and_then(Value::as_str) else {
                return Err(ControlError::Engine("WAHA's QR answer has no value".into()));
            };
            return Ok(Pairing {
                status: record.instance.status,
                code: Some(code.to_owned()),
                // WAHA rotates codes every 20 s after the first (60 s).
                expires_at: Some(Utc::now() + chrono::Duration::seconds(20)),
            });
        }
        match problem(&answer) {
            // The status WAHA has is news if its webhook did not reach us: apply it.
            Problem::NotReady(status) => {
                let me = if status == "WORKING" {
                    let info = self
                        .call(
                            reqwest::Method::GET,
                            &format!("/api/sessions/{session}"),
                            &[],
                            None,
                        )
                        .await
                        .ok()
                        .filter(Answer::ok);
                    info.and_then(|a| {
                        a.body
                            .pointer("/me/id")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                } else {
                    None
                };
                self.observe_status(record, &status, me.as_deref(), None)
                    .await?;
                // A session that gave up (six codes unscanned, or stopped) starts again:
                // whoever opens the QR page wants to pair.
                if matches!(status.as_str(), "FAILED" | "STOPPED") {
                    let path = format!("/api/sessions/{session}/restart");
                    let _ = self.call(reqwest::Method::POST, &path, &[], None).await;
                }
                let status = instance_status(&status, record.instance.status)
                    .unwrap_or(record.instance.status);
                Ok(waiting(status))
            }
            // WAHA lost the session (a new WAHA, a deleted session): make it again.
            Problem::NoSession => {
                let key = self
                    .store
                    .instance_by_engine_ref(EngineKind::Waha, &session)
                    .await?
                    .and_then(|found| found.secret)
                    .ok_or_else(|| ControlError::Engine("the session's key is missing".into()))?;
                self.ensure_session(record, &session, &key).await?;
                Ok(waiting(record.instance.status))
            }
            other => Err(control_error(id, other)),
        }
    }

    async fn refresh_groups(&self, record: &InstanceRecord) -> Result<Vec<Group>, ControlError> {
        let id = &record.instance.instance_id;
        let session = self.session_of(record).await?;
        let path = format!("/api/{session}/groups");
        let answer = self
            .call(
                reqwest::Method::GET,
                &path,
                &[("exclude", "participants")],
                None,
            )
            .await
            .map_err(ControlError::Engine)?;
        if !answer.ok() {
            return Err(control_error(id, problem(&answer)));
        }
        let groups = parse_groups(&answer.body);
        if !self
            .store
            .replace_groups(record.account_id, id, &groups)
            .await?
        {
            return Err(ControlError::NotFound(format!(
                "instance {:?} not found",
                id.as_str()
            )));
        }
        Ok(self.store.list_groups(record.account_id, id).await?)
    }

    async fn channel(
        &self,
        record: &InstanceRecord,
        reference: &ChannelRef,
    ) -> Result<Channel, ControlError> {
        let id = &record.instance.instance_id;
        let session = self.session_of(record).await?;
        // An id or an invite code, as one path segment (`@` becomes `%40`).
        let key = match reference {
            ChannelRef::Jid(jid) => jid.as_str().to_owned(),
            ChannelRef::Code(code) => code.clone(),
        };
        let path =
            sevenoways_sdk::endpoint::fill_route("/api/{session}/channels/{id}", &[&session, &key]);
        let answer = self
            .call(reqwest::Method::GET, &path, &[], None)
            .await
            .map_err(ControlError::Engine)?;
        // WAHA documents no answer for an unknown channel: a 404 that is not about the
        // session is taken to mean that.
        if answer.status == 404
            && !message_of(&answer.body).is_some_and(|m| m.starts_with("We didn't find a session"))
            && problem(&answer) != Problem::NoRoute
        {
            return Err(ControlError::NotFound(format!(
                "no channel {key:?} found through instance {id}"
            )));
        }
        if !answer.ok() {
            return Err(control_error(id, problem(&answer)));
        }
        parse_channel(&answer.body, id)
            .ok_or_else(|| ControlError::Engine("WAHA's channel answer has no channel id".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_documented_vector() {
        // WAHA docs, events/index.md "HMAC authentication".
        let body = br#"{"event":"message","session":"default","engine":"WEBJS"}"#;
        let hmac = "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89";
        assert!(verify_hmac(b"my-secret-key", body, Some(hmac)));
        assert!(verify_hmac(
            b"my-secret-key",
            body,
            Some(&hmac.to_uppercase())
        ));
        assert!(!verify_hmac(b"other-key", body, Some(hmac)));
        let mut spaced = body.to_vec();
        spaced.push(b'\n');
        assert!(!verify_hmac(b"my-secret-key", &spaced, Some(hmac)));
        assert!(!verify_hmac(b"my-secret-key", body, None));
        assert!(!verify_hmac(b"my-secret-key", body, Some("zz")));
    }

    #[test]
    fn the_three_group_list_shapes_read_alike() {
        // NOWEB: an object keyed by id; GOWS: Go field names; WEBJS: chats with id objects.
        let noweb = json!({"120363000000000001@g.us": {"id": "120363000000000001@g.us", "subject": "Team", "announce": false}});
        let gows = json!([{"JID": "120363000000000001@g.us", "Name": "Team", "IsAnnounce": false}]);
        let webjs = json!([{"id": {"server": "g.us", "user": "120363000000000001", "_serialized": "120363000000000001@g.us"}, "name": "Team", "isGroup": true}]);
        for shape in [noweb, gows, webjs] {
            let groups = parse_groups(&shape);
            assert_eq!(groups.len(), 1, "{shape}");
            assert_eq!(groups[0].id.as_str(), "120363000000000001@g.us");
            assert_eq!(groups[0].name, "Team");
        }
        // Not groups, duplicates and junk are left out.
        let mixed = json!([{"id": "1@c.us", "name": "x"}, {"JID": "2@g.us", "Name": "B"}, {"JID": "2@g.us", "Name": "B"}, 7]);
        assert_eq!(parse_groups(&mixed).len(), 1);
        assert!(parse_groups(&json!("nope")).is_empty());
        let counted = json!([{"JID": "3@g.us", "Name": "C", "Participants": [{}, {}]}]);
        assert_eq!(parse_groups(&counted)[0].participants, 2);
    }

    #[test]
    fn message_ids_are_found_among_the_segments() {
        assert_eq!(
            message_id_candidates("true_971501234567@c.us_3EB0ABC")[0],
            "3EB0ABC"
        );
        // A group ack carries the participant after the id.
        let group = message_id_candidates("true_120363000000000001@g.us_3EB0ABC_9999@lid");
        assert_eq!(group[0], "3EB0ABC");
        assert!(
            !group
                .iter()
                .any(|c| c.contains("@lid") && !c.starts_with("true_"))
        );
        // A channel id has a server id before it: both are candidates.
        let channel = message_id_candidates("false_111@newsletter_100_AAAA");
        assert!(channel.contains(&"AAAA".to_owned()) && channel.contains(&"100".to_owned()));
        assert_eq!(message_id_candidates("3EB0ABC"), vec!["3EB0ABC".to_owned()]);
        // The send answers of the three engines.
        assert_eq!(
            answer_ids(&json!({"id": "true_1@c.us_ID1", "_data": {}}))[0],
            "ID1"
        );
        assert_eq!(
            answer_ids(
                &json!({"key": {"remoteJid": "1@s.whatsapp.net", "fromMe": true, "id": "ID2"}, "status": "PENDING"})
            )[0],
            "ID2"
        );
        assert_eq!(
            answer_ids(
                &json!({"id": {"fromMe": true, "remote": "1@c.us", "id": "ID3", "_serialized": "true_1@c.us_ID3"}, "ack": 0})
            )[0],
            "ID3"
        );
    }

    #[test]
    fn session_names_fit_waha_and_stay_apart() {
        let long = InstanceId::new("a.very.long.instance.id.that.goes.on.and.on.and.on.x").unwrap();
        let name = session_name(
            "abcdef",
            AccountId(9_000_000_000_000_000_000),
            &long,
            "0a1b2c3d",
        );
        assert!(name.len() <= MAX_SESSION_NAME, "{name}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{name}"
        );
        assert!(name.starts_with("svw_abcdef_9000000000000000000_a-very"));
        assert!(name.ends_with("_0a1b2c3d"));
        let a = session_name(
            "abcdef",
            AccountId(1),
            &InstanceId::new("n1").unwrap(),
            "00000000",
        );
        let b = session_name(
            "abcdef",
            AccountId(2),
            &InstanceId::new("n1").unwrap(),
            "00000000",
        );
        assert_ne!(a, b);
        assert_ne!(relay_tag(b"one"), relay_tag(b"two"));
    }

    #[test]
    fn statuses_map_as_the_issue_says() {
        use InstanceStatus::*;
        assert_eq!(instance_status("WORKING", Pairing), Some(Online));
        assert_eq!(instance_status("SCAN_QR_CODE", Pairing), Some(Pairing));
        assert_eq!(instance_status("SCAN_QR_CODE", Online), Some(Pairing));
        assert_eq!(instance_status("STARTING", Pairing), Some(Pairing));
        assert_eq!(
            instance_status("STARTING", Online),
            None,
            "reconnecting stays online"
        );
        assert_eq!(instance_status("FAILED", Online), Some(Offline));
        assert_eq!(instance_status("STOPPED", Pairing), Some(Offline));
        assert_eq!(instance_status("SOMETHING_NEW", Online), None);
    }

    #[test]
    fn files_always_have_a_mimetype() {
        assert_eq!(mimetype("https://x.test/a.png", None, true), "image/png");
        assert_eq!(mimetype("https://x.test/a", None, true), "image/jpeg");
        assert_eq!(mimetype("https://x.test/a.pdf", None, true), "image/jpeg");
        assert_eq!(
            mimetype("https://x.test/menu.pdf?v=2", None, false),
            "application/pdf"
        );
        assert_eq!(
            mimetype("https://x.test/blob", None, false),
            "application/octet-stream"
        );
        assert_eq!(
            mimetype("https://x.test/a.pdf", Some("text/plain"), false),
            "text/plain"
        );
    }

    #[test]
    fn errors_read_as_a_person_would() {
        let id = InstanceId::new("shop").unwrap();
        let answer = |status, body| Answer { status, body };
        let e = send_error(
            &id,
            problem(&answer(
                401,
                json!({"message":"Unauthorized","statusCode":401}),
            )),
        );
        assert!(
            matches!(&e, TransportError::Permanent(m) if m.contains("api_key")),
            "{e:?}"
        );
        let e = send_error(
            &id,
            problem(&answer(
                422,
                json!({"error":"Session status is not as expected. Try again later or restart the session","session":"s","status":"STARTING","expected":["WORKING"]}),
            )),
        );
        assert!(matches!(e, TransportError::Transient(_)));
        let e = send_error(
            &id,
            problem(&answer(
                422,
                json!({"error":"…","session":"s","status":"SCAN_QR_CODE","expected":["WORKING"]}),
            )),
        );
        assert!(
            matches!(&e, TransportError::Permanent(m) if m.contains("not paired")),
            "{e:?}"
        );
        let e = send_error(
            &id,
            problem(&answer(
                404,
                json!({"message":"We didn't find a session with name 's'.","error":"Not Found","statusCode":404}),
            )),
        );
        assert!(
            matches!(&e, TransportError::Permanent(m) if m.contains("no session")),
            "{e:?}"
        );
        let e = send_error(
            &id,
            problem(&answer(
                500,
                json!({"statusCode":500,"exception":{"message":"boom","name":"Error"},"request":{"body":{"secret":"x"}}}),
            )),
        );
        assert!(
            matches!(&e, TransportError::Transient(m) if m.contains("boom") && !m.contains("secret")),
            "{e:?}"
        );
    }

    #[test]
    fn acks_map_to_receipts() {
        assert_eq!(receipt(1), Some(Receipt::Sent));
        assert_eq!(receipt(2), Some(Receipt::Delivered));
        assert_eq!(receipt(3), Some(Receipt::Read));
        assert_eq!(receipt(4), Some(Receipt::Read));
        assert!(matches!(receipt(-1), Some(Receipt::Failed(_))));
        assert_eq!(receipt(0), None);
    }

    #[test]
    fn group_messages_name_their_sender() {
        let dm = received(&json!({"id": "false_971501234567@c.us_A", "from": "971501234567@c.us", "fromMe": false, "body": "Hi"})).unwrap();
        assert_eq!(
            (dm.from.as_str(), dm.chat.as_deref()),
            ("971501234567", Some("971501234567"))
        );
        let g = received(&json!({"id": "false_1@g.us_B_2@c.us", "from": "120363000000000001@g.us", "participant": "971502222222@c.us", "body": "Yo"})).unwrap();
        assert_eq!(g.from, "971502222222");
        assert_eq!(g.chat.as_deref(), Some("120363000000000001@g.us"));
    }
}
