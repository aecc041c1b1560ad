//! The send queue: every accepted message is an entry with a `queueId`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::messages::Content;
use crate::endpoint::{Endpoint, Method, NoBody, fill_route};
use crate::ids::{InstanceId, QueueId};

/// Where a queue entry is in its life: `queued → sending → sent → delivered → read`,
/// or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum QueueStatus {
    /// Committed, waiting for a worker (or for a retry).
    Queued,
    /// A worker holds it and is handing it to WhatsApp.
    Sending,
    /// WhatsApp accepted it.
    Sent,
    /// It reached the recipient's phone.
    Delivered,
    /// The recipient read it.
    Read,
    /// It will not be sent; `error` says why.
    Failed,
    /// A status this version of the SDK does not know.
    #[serde(other)]
    Unknown,
}

impl QueueStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    /// Whether nothing more will happen to the entry except delivery receipts.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Sent | Self::Delivered | Self::Read | Self::Failed
        )
    }
}

/// `GET /api/queue/:queueId`: `{"success":true,"queueId":142,"status":"sent",…}`.
///
/// Flat, so a script reads `.status` directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueEntry {
    /// The entry.
    pub queue_id: QueueId,
    /// The sending instance.
    pub instance_id: InstanceId,
    /// The recipient: group id, phone number or `…@newsletter` JID.
    pub to: String,
    /// Where it is.
    pub status: QueueStatus,
    /// Hand-overs to WhatsApp tried so far.
    pub attempts: u32,
    /// Why it failed, or why the last attempt did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What it carries (`kind` and its fields).
    #[serde(flatten)]
    pub content: Content,
    /// When the send was accepted.
    pub created_at: DateTime<Utc>,
    /// The last change.
    pub updated_at: DateTime<Utc>,
    /// When WhatsApp accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// When it reached the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}

/// `GET /api/queue/{id}`: a queue entry's status, attempts, timestamps and failure reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetQueueEntry {
    /// The entry (`queueId` of a send's answer).
    pub id: QueueId,
}

impl Endpoint for GetQueueEntry {
    const METHOD: Method = Method::Get;
    const ROUTE: &'static str = "/api/queue/{id}";
    type Body = NoBody;
    type Response = QueueEntry;

    fn path(&self) -> std::borrow::Cow<'_, str> {
        fill_route(Self::ROUTE, &[&self.id.to_string()]).into()
    }

    fn body(&self) -> Option<&NoBody> {
        None
    }

    #[cfg(feature = "schema")]
    fn path_schemas(generator: &mut schemars::SchemaGenerator) -> Option<Vec<schemars::Schema>> {
        Some(vec![generator.subschema_for::<QueueId>()])
    }
}
