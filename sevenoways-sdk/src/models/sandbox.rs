//! The sandbox transport's own endpoints (`/api/sandbox/*`), for developing offline.
//!
//! They exist only on a server running the sandbox transport: they simulate what a phone
//! would do (scan the QR code, be in groups, write back) and show what was "sent".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::groups::Group;
use super::messages::Content;
use crate::ids::{GroupId, GroupName, InstanceId, Phone, QueueId};
use crate::models::common::MessageText;
use crate::validation::{Validate, ValidationError};

/// `POST /api/sandbox/instances/:id/groups`: `{"name":"Team A","id":"…@g.us"}` adds a
/// group to the number; the same id again renames it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SandboxGroupRequest {
    /// The group's name.
    pub name: String,
    /// Its id; generated when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<GroupId>,
}

/// `POST /api/sandbox/instances/:id/groups` answer: `{"success":true,"group":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SandboxGroup {
    /// The group as now stored.
    pub group: Group,
}

/// `POST /api/sandbox/instances/:id/inbound`: `{"from":"971501234567","message":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SandboxInboundRequest {
    /// The sender's number.
    pub from: String,
    /// The text.
    pub message: String,
}

/// `GET /api/sandbox/outbox?instanceId=ID`: `{"success":true,"messages":[…]}`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Outbox {
    /// What the transport sent.
    pub messages: Vec<OutboxMessage>,
}

/// A message a sandbox transport received or sent, for the outbox. Kept here so the
/// server and the SDK's sandbox helpers agree on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    /// The queue entry it came from.
    pub queue_id: QueueId,
    /// The sending instance.
    pub instance_id: InstanceId,
    /// The recipient.
    pub to: String,
    /// `kind` and its fields.
    #[serde(flatten)]
    pub content: Content,
    /// When the transport sent it.
    pub sent_at: DateTime<Utc>,
}

impl Validate for SandboxGroupRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        GroupName::new(&self.name)
            .map_err(|e| ValidationError::new("name", e.reason().to_owned()))?;
        Ok(())
    }
}

impl Validate for SandboxInboundRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        Phone::new(&self.from).map_err(|e| ValidationError::new("from", e.reason().to_owned()))?;
        MessageText::new(self.message.clone())?;
        Ok(())
    }
}
