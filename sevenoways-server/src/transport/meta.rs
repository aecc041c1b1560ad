//! Meta's WhatsApp Cloud API: numbers registered in Meta Business Manager, one phone
//! number id per instance.
//!
//! Written against Meta's OpenAPI document (`facebook/openapi`,
//! `business-messaging-api_v23.0.yaml`) and Meta's pages where the document is thin
//! (error codes, status webhooks, `biz_opaque_callback_data`); the engine contracts note
//! lists every source.
//!
//! - **What it serves.** Text, images and documents to phone numbers, inside the 24-hour
//!   window after the person last wrote (error 131047 otherwise; the relay has no
//!   templates). Groups, channels and communities are refused when the send is requested
//!   (422), and there is no QR code (409): Cloud API numbers are registered in Meta
//!   Business Manager. An instance is checked against Meta when it is created
//!   (`GET /{phone-number-id}`) and is online from then on.
//! - **Receipts.** Every message carries its queue id as `biz_opaque_callback_data`, which
//!   Meta echoes in every status webhook; with the `wamid` from the send's answer this lets
//!   a status find its entry even when it overtakes the answer or the answer is lost, and a
//!   retry of an entry Meta reported on is not sent again.
//! - **Errors** are classified on `error.code`, as Meta asks, never on the HTTP status:
//!   throughput, pair-rate and service errors are retried; outside the 24-hour window,
//!   undeliverable, bad parameters and auth errors fail the entry with Meta's title.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::HeaderMap;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sevenoways_sdk::models::channels::{Channel, ChannelRef};
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::webhooks::MessageReceived;
use sevenoways_sdk::{Content, QueueId, Target};
use sha2::Sha256;

use super::{
    ControlError, CreateOptions, Engine, InboundError, Pairing, Sent, TransportError, clip,
    engine_http, network_reason, read_limited,
};
use crate::config::MetaConfig;
use crate::engine::{EngineKind, EngineSecret};
use crate::store::{Claimed, EngineUpdate, InstanceRecord, Receipt, RecipientKind, Store};

/// The route Meta's webhook is configured with (under `public_url`).
pub const WEBHOOK_ROUTE: &str = "/engines/meta/webhook";
/// Largest webhook body accepted from Meta.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;
/// Largest answer read from the Graph API.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Most statuses and messages applied from one webhook post.
const MAX_ITEMS: usize = 1000;

/// See the module docs.
pub struct MetaEngine {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    graph_url: String,
    access_token: EngineSecret,
    app_secret: EngineSecret,
    verify_token: EngineSecret,
}

/// A Graph API error (`components.schemas.GraphAPIError`, with `error_data` from Meta's
/// error-codes page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    /// `error.code`.
    pub code: i64,
    /// `error.message`: `(#<code>) <title>` for WhatsApp errors.
    pub message: String,
    /// `error.error_data.details`, when given.
    pub details: Option<String>,
}

impl GraphError {
    /// Reads an error body; `None` when it is not one.
    pub fn parse(body: &Value) -> Option<Self> {
        let error = body.get("error")?;
        Some(Self {
            code: error.get("code")?.as_i64()?,
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            details: error
                .pointer("/error_data/details")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// Meta's own words: the message (with the title) and the details.
    fn words(&self) -> String {
        let message = if self.message.is_empty() {
            format!("error {}", self.code)
        } else {
            clip(&self.message, 200)
        };
        match &self.details {
            Some(d) if !d.is_empty() && !self.message.contains(d.as_str()) => {
                format!("{message}: {}", clip(d, 300))
            }
            _ => message,
        }
    }
}

/// What an error code means for the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later: throughput (130429), pair rate (131056), spam rate (131048), API
    /// call limits (4, 80007), service trouble (1, 2, 131000, 131016).
    Retry,
    /// The server's credentials (0, 3, 10, 190, 200–299): the operator must act.
    Auth,
    /// This message will never go: outside the 24-hour window (131047), undeliverable
    /// (131026), bad parameters (100, ...), and anything not known to be passing.
    Permanent,
}

/// Classifies on `error.code`, as Meta's error-codes page asks.
pub fn classify(code: i64) -> ErrorClass {
    match code {
        130429 | 131056 | 131048 | 4 | 80007 | 1 | 2 | 131000 | 131016 | 133004 => {
            ErrorClass::Retry
        }
        0 | 3 | 10 | 190 | 200..=299 => ErrorClass::Auth,
        _ => ErrorClass::Permanent,
    }
}

/// The send error for an error answer: on the code when Meta gave one, else on the HTTP
/// status (a proxy's 502, say).
pub fn send_error(status: u16, body: &Value) -> TransportError {
    let Some(error) = GraphError::parse(body) else {
        return if status >= 500 || status == 429 {
            TransportError::Transient(format!("the Meta Cloud API failed (HTTP {status})"))
        } else {
            TransportError::Permanent(format!("the Meta Cloud API answered HTTP {status}"))
        };
    };
    let words = error.words();
    match classify(error.code) {
        ErrorClass::Retry => {
            TransportError::Transient(format!("the Meta Cloud API asks to wait: {words}"))
        }
        ErrorClass::Auth => TransportError::Permanent(format!(
            "the Meta Cloud API refused the server's credentials ({words}): the server's \
             operator must check [engines.meta] access_token and its permissions"
        )),
        ErrorClass::Permanent => {
            TransportError::Permanent(format!("the Meta Cloud API refused the message: {words}"))
        }
    }
}

/// The message body (`components.schemas.Message`, the documented text/image/document
/// bodies), with the queue id as `biz_opaque_callback_data`.
pub fn message_body(to: &str, content: &Content, queue_id: QueueId) -> Option<Value> {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "biz_opaque_callback_data": queue_id.to_string(),
    });
    match content {
        Content::Text { message } => {
            body["type"] = json!("text");
            body["text"] = json!({"preview_url": false, "body": message.as_str()});
        }
        Content::Image { image_url, caption } => {
            body["type"] = json!("image");
            let mut image = json!({"link": image_url.as_str()});
            if let Some(caption) = caption {
                image["caption"] = json!(caption);
            }
            body["image"] = image;
        }
        Content::Document {
            file_url, filename, ..
        } => {
            body["type"] = json!("document");
            body["document"] = json!({"link": file_url.as_str(), "filename": filename});
        }
        _ => return None,
    }
    Some(body)
}

/// Checks `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body with the
/// app secret, compared in constant time.
pub fn verify_signature(app_secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(sig) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret).expect("any key length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// A status webhook's receipt (`Statuses.status`: sent, delivered, read, failed; Meta's
/// status reference). Unknown statuses (a voice message played) say nothing.
fn status_receipt(status: &Value) -> Option<Receipt> {
    Some(match status.get("status")?.as_str()? {
        "sent" => Receipt::Sent,
        "delivered" => Receipt::Delivered,
        "read" => Receipt::Read,
        "failed" => {
            let error = status.pointer("/errors/0");
            let words = error
                .map(|e| {
                    let code = e.get("code").and_then(Value::as_i64);
                    let title = e
                        .get("title")
                        .or_else(|| e.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("failed");
                    let details = e.pointer("/error_data/details").and_then(Value::as_str);
                    let mut words = match code {
                        Some(code) => format!("(#{code}) {}", clip(title, 200)),
                        None => clip(title, 200),
                    };
                    if let Some(d) = details.filter(|d| !d.is_empty()) {
                        words.push_str(&format!(": {}", clip(d, 300)));
                    }
                    words
                })
                .unwrap_or_else(|| "no reason given".into());
            Receipt::Failed(format!(
                "the Meta Cloud API could not deliver the message: {words}"
            ))
        }
        _ => return None,
    })
}

/// An inbound message (the spec's "Text Message" example; `BaseMessageProperties_1`):
/// the text, or a media caption, or nothing for other kinds.
fn inbound(message: &Value) -> Option<MessageReceived> {
    let id = message.get("id")?.as_str()?;
    let from = message.get("from")?.as_str()?;
    let kind = message
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let text = message
        .pointer("/text/body")
        .or_else(|| message.pointer(&format!("/{kind}/caption")))
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(MessageReceived {
        message_id: id.to_owned(),
        from: from.to_owned(),
        chat: Some(from.to_owned()),
        message: text.to_owned(),
    })
}

/// `value[key]` as a slice (empty when absent or not an array).
fn array<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The `value` of every `messages` change (`WebhookPayload.entry[].changes[]`).
fn message_values(payload: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for entry in array(payload, "entry") {
        for change in array(entry, "changes") {
            if change.get("field").and_then(Value::as_str) == Some("messages")
                && let Some(value) = change.get("value")
            {
                out.push(value);
            }
        }
    }
    out
}

/// Digits of Meta's `display_phone_number` (`+1 555-555-5555`).
fn digits(display: &str) -> String {
    display.chars().filter(char::is_ascii_digit).collect()
}

impl MetaEngine {
    /// The engine for `[engines.meta]`.
    pub fn new(store: Arc<dyn Store>, config: &MetaConfig) -> Arc<Self> {
        Arc::new(Self {
            store,
            http: engine_http(config.timeout_ms),
            graph_url: config.graph_url.trim().trim_end_matches('/').to_owned(),
            access_token: config.access_token.clone().unwrap_or_default(),
            app_secret: config.app_secret.clone().unwrap_or_default(),
            verify_token: config.verify_token.clone().unwrap_or_default(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.graph_url))
            .bearer_auth(self.access_token.expose());
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = req
            .send()
            .await
            .map_err(|e| network_reason("the Meta Cloud API", &e))?;
        let status = response.status().as_u16();
        let bytes = read_limited(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| format!("the Meta Cloud API's answer: {e}"))?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Meta's webhook handshake: the challenge to echo when `hub.mode` is `subscribe` and
    /// `hub.verify_token` is ours.
    pub fn handshake(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&str>,
    ) -> Option<String> {
        let challenge = challenge?;
        // "An int you must pass back": nothing else is echoed.
        let is_int = !challenge.is_empty()
            && challenge.len() <= 64
            && challenge.bytes().all(|b| b.is_ascii_digit());
        (mode == Some("subscribe")
            && is_int
            && !self.verify_token.is_empty()
            && token.is_some_and(|t| self.verify_token.matches(t)))
        .then(|| challenge.to_owned())
    }

    /// Handles one webhook post: verified with the app secret, routed by
    /// `metadata.phone_number_id`; numbers this server does not serve are skipped.
    pub async fn handle_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), InboundError> {
        let signature = headers
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok());
        if self.app_secret.is_empty()
            || !verify_signature(self.app_secret.expose().as_bytes(), body, signature)
        {
            return Err(InboundError::Unauthorized(
                "X-Hub-Signature-256 does not match the body".into(),
            ));
        }
        let payload: Value = serde_json::from_slice(body)
            .map_err(|_| InboundError::Invalid("the body is not JSON".into()))?;
        let values = message_values(&payload);
        let mut budget = MAX_ITEMS;
        for value in values {
            let Some(pnid) = value
                .pointer("/metadata/phone_number_id")
                .and_then(Value::as_str)
            else {
                continue;
            };
            let Some(found) = self
                .store
                .instance_by_engine_ref(EngineKind::Meta, pnid)
                .await?
            else {
                continue;
            };
            let (account, instance) = (found.record.account_id, found.record.instance.instance_id);
            for status in array(value, "statuses") {
                if budget == 0 {
                    return Ok(());
                }
                budget -= 1;
                let (Some(wamid), Some(receipt)) = (
                    status.get("id").and_then(Value::as_str),
                    status_receipt(status),
                ) else {
                    continue;
                };
                let queue_hint = status
                    .get("biz_opaque_callback_data")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(QueueId);
                // No event key: receipts only move entries forward, so a redelivery is a
                // no-op by itself.
                self.store
                    .apply_engine_update(
                        account,
                        &instance,
                        None,
                        EngineUpdate::Receipt {
                            provider_ids: vec![wamid.to_owned()],
                            receipt,
                            queue_hint,
                        },
                        Utc::now(),
                    )
                    .await?;
            }
            for message in array(value, "messages") {
                if budget == 0 {
                    return Ok(());
                }
                budget -= 1;
                let Some(received) = inbound(message) else {
                    continue;
                };
                let key = format!("msg:{}", received.message_id);
                self.store
                    .apply_engine_update(
                        account,
                        &instance,
                        Some((EngineKind::Meta, &key)),
                        EngineUpdate::Received(received),
                        Utc::now(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    fn unsupported(record: &InstanceRecord, what: &str) -> ControlError {
        ControlError::Unsupported(format!(
            "instance {:?} is a Meta WhatsApp Cloud API number, which cannot {what}; it sends \
             to phone numbers only",
            record.instance.instance_id.as_str()
        ))
    }
}

#[async_trait]
impl Engine for MetaEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Meta
    }

    fn restricts_targets(&self) -> bool {
        true
    }

    fn check_target(&self, record: &InstanceRecord, target: &Target) -> Result<(), ControlError> {
        match target {
            Target::Phone(_) => Ok(()),
            Target::Groups(_) => Err(Self::unsupported(record, "send to WhatsApp groups (@g.us)")),
            Target::Channel(_) => Err(Self::unsupported(record, "post to channels")),
            Target::Community(_) => Err(Self::unsupported(record, "post to communities")),
            _ => Err(Self::unsupported(record, "send to that kind of recipient")),
        }
    }

    async fn send(&self, record: &InstanceRecord, entry: &Claimed) -> Result<Sent, TransportError> {
        // Requests are refused up front; this catches entries queued otherwise.
        if entry.kind != RecipientKind::Phone {
            return Err(TransportError::Permanent(format!(
                "instance {} is a Meta WhatsApp Cloud API number, which sends to phone numbers \
                 only",
                entry.instance_id
            )));
        }
        let pnid = record.engine_ref.as_deref().ok_or_else(|| {
            TransportError::Permanent(format!(
                "instance {} has no phone number id",
                entry.instance_id
            ))
        })?;
        // A status webhook for this entry came already (its answer was lost): Meta has it.
        if let Some(prior) = self
            .store
            .linked_message(entry)
            .await
            .map_err(|e| TransportError::Transient(e.to_string()))?
            && prior.engine_has_it
        {
            return Ok(Sent {
                provider_id: Some(prior.provider_id),
            });
        }
        let body = message_body(&entry.to, &entry.content, entry.id).ok_or_else(|| {
            TransportError::Permanent("the Cloud API cannot send that kind of message".into())
        })?;
        let (status, answer) = self
            .call(
                reqwest::Method::POST,
                &format!("/{pnid}/messages"),
                Some(&body),
            )
            .await
            .map_err(TransportError::Transient)?;
        if !(200..300).contains(&status) {
            return Err(send_error(status, &answer));
        }
        let wamid = answer
            .pointer("/messages/0/id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Sent { provider_id: wamid })
    }

    /// Looks the phone number id up (`GET /{phone-number-id}`, `getPhoneNumberById`), so a
    /// wrong id or token shows now rather than at the first send; the number is online
    /// from then on.
    async fn create(
        &self,
        mut record: InstanceRecord,
        options: &CreateOptions,
    ) -> Result<InstanceRecord, ControlError> {
        let pnid = options.phone_number_id.as_ref().ok_or_else(|| {
            ControlError::Invalid(
                "phoneNumberId: is required for a meta instance: the number's phone number id \
                 in Meta Business Manager"
                    .into(),
            )
        })?;
        let (status, answer) = self
            .call(reqwest::Method::GET, &format!("/{pnid}"), None)
            .await
            .map_err(ControlError::Engine)?;
        if !(200..300).contains(&status) {
            let error = GraphError::parse(&answer);
            return Err(match error.as_ref().map(|e| classify(e.code)) {
                Some(ErrorClass::Auth) => ControlError::Engine(format!(
                    "the Meta Cloud API refused the server's credentials ({}): the server's \
                     operator must check [engines.meta] access_token",
                    error.as_ref().map(GraphError::words).unwrap_or_default()
                )),
                Some(ErrorClass::Permanent) => ControlError::Invalid(format!(
                    "phoneNumberId: the Meta Cloud API does not know phone number id {pnid} ({})",
                    error.as_ref().map(GraphError::words).unwrap_or_default()
                )),
                _ => ControlError::Engine(format!(
                    "the Meta Cloud API failed (HTTP {status}){}",
                    error
                        .map(|e| format!(": {}", e.words()))
                        .unwrap_or_default()
                )),
            });
        }
        let phone = answer
            .get("display_phone_number")
            .and_then(Value::as_str)
            .map(digits)
            .filter(|d| !d.is_empty());
        let (account, id) = (record.account_id, record.instance.instance_id.clone());
        if !self
            .store
            .bind_engine(account, &id, pnid.as_str(), None)
            .await?
        {
            return Err(ControlError::NotFound(format!(
                "instance {:?} not found",
                id.as_str()
            )));
        }
        self.store
            .apply_engine_update(
                account,
                &id,
                None,
                EngineUpdate::Status {
                    status: InstanceStatus::Online,
                    phone: phone.clone(),
                },
                Utc::now(),
            )
            .await?;
        record.engine_ref = Some(pnid.to_string());
        record.instance.status = InstanceStatus::Online;
        record.instance.phone = phone;
        Ok(record)
    }

    async fn delete(&self, _: &InstanceRecord) -> Result<(), ControlError> {
        // The number stays registered with Meta: the relay just stops serving it.
        Ok(())
    }

    async fn pairing(&self, record: &InstanceRecord) -> Result<Pairing, ControlError> {
        Err(ControlError::Conflict(format!(
            "instance {:?} is a Meta WhatsApp Cloud API number: Cloud API numbers are \
             registered in Meta Business Manager, not paired with a QR code",
            record.instance.instance_id.as_str()
        )))
    }

    async fn refresh_groups(&self, record: &InstanceRecord) -> Result<Vec<Group>, ControlError> {
        Err(Self::unsupported(
            record,
            "send to WhatsApp groups, so it has none",
        ))
    }

    async fn channel(
        &self,
        record: &InstanceRecord,
        _: &ChannelRef,
    ) -> Result<Channel, ControlError> {
        Err(Self::unsupported(record, "post to channels"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_self_computed_vector() {
        // No vector is published; this one was computed with Python's hmac (contracts
        // note §2.5) and is checked here against our own code.
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = "sha256=c84a394cc475525991e78ff16e430b02e47f953877d2af0ade26956ce6f384dc";
        assert!(verify_signature(b"test-app-secret", body, Some(header)));
        assert!(!verify_signature(b"other", body, Some(header)));
        assert!(!verify_signature(
            b"test-app-secret",
            body,
            Some(&header[7..])
        ));
        assert!(!verify_signature(b"test-app-secret", body, None));
    }

    #[test]
    fn error_codes_are_classified_as_the_issue_says() {
        for code in [130429, 131056, 1, 2, 4, 80007, 131000] {
            assert_eq!(classify(code), ErrorClass::Retry, "{code}");
        }
        for code in [131047, 131026, 100, 131008, 131051] {
            assert_eq!(classify(code), ErrorClass::Permanent, "{code}");
        }
        for code in [190, 10, 200, 0, 3] {
            assert_eq!(classify(code), ErrorClass::Auth, "{code}");
        }
        // Meta's error-codes page shape, with its own title in the reason.
        let body = json!({"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException",
            "code": 131047, "error_data": {"messaging_product": "whatsapp",
            "details": "More than 24 hours have passed since the recipient last replied to the sender number."},
            "fbtrace_id": "Afake"}});
        let e = send_error(400, &body);
        assert!(
            matches!(&e, TransportError::Permanent(m) if m.contains("(#131047) Re-engagement message") && m.contains("24 hours")),
            "{e:?}"
        );
        let e = send_error(
            400,
            &json!({"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}}),
        );
        assert!(matches!(e, TransportError::Transient(_)));
        let e = send_error(
            401,
            &json!({"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}}),
        );
        assert!(
            matches!(&e, TransportError::Permanent(m) if m.contains("access_token")),
            "{e:?}"
        );
        assert!(matches!(
            send_error(502, &Value::Null),
            TransportError::Transient(_)
        ));
        assert!(matches!(
            send_error(404, &Value::Null),
            TransportError::Permanent(_)
        ));
    }

    #[test]
    fn bodies_are_the_documented_ones() {
        let text = Content::Text {
            message: "Hi".try_into().unwrap(),
        };
        let body = message_body("971501234567", &text, QueueId(142)).unwrap();
        assert_eq!(
            body,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "971501234567",
                   "biz_opaque_callback_data": "142", "type": "text", "text": {"preview_url": false, "body": "Hi"}})
        );
        let doc = Content::Document {
            file_url: "https://cdn.example.com/menu.pdf".parse().unwrap(),
            filename: "menu.pdf".into(),
            mimetype: None,
        };
        let body = message_body("1", &doc, QueueId(1)).unwrap();
        assert_eq!(
            body["document"],
            json!({"link": "https://cdn.example.com/menu.pdf", "filename": "menu.pdf"})
        );
    }

    #[test]
    fn failed_statuses_carry_meta_s_title() {
        let status = json!({"id": "wamid.X", "status": "failed", "timestamp": "1750857384", "recipient_id": "1",
            "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
            "error_data": {"details": "More than 24 hours have passed since the recipient last replied to the sender number."}}]});
        let Some(Receipt::Failed(reason)) = status_receipt(&status) else {
            panic!()
        };
        assert!(
            reason.contains("(#131047) Re-engagement message") && reason.contains("24 hours"),
            "{reason}"
        );
        assert_eq!(status_receipt(&json!({"status": "played"})), None);
    }
}
