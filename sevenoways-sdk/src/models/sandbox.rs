//! The sandbox transport's own endpoints (`/api/sandbox/*`), for developing offline.
//!
//! They act only on sandbox instances (any other instance is a 404): they simulate what a
//! phone would do (scan the QR code, be in groups, write back) and show what was "sent".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::groups::Group;
use super::messages::Content;
use crate::endpoint::{Answer, Auth, Endpoint, Example, Method, NoBody, fill_route, path_endpoint};
use crate::ids::{GroupId, GroupName, InstanceId, Phone, QueueId};
use crate::models::common::{Empty, MessageText};
use crate::page::{Cursor, PageParams, PageSize, Paginated, page_of};
use crate::validation::{Validate, ValidationError};

/// `POST /api/sandbox/instances/:id/groups`: `{"name":"Team A","id":"…@g.us"}` adds a
/// group to the number; the same id again renames it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SandboxGroupRequest {
    /// The group's name.
    #[cfg_attr(feature = "schema", schemars(with = "GroupName"))]
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
    /// The sender's number (digits, country code first; a string).
    #[cfg_attr(feature = "schema", schemars(with = "PhoneText"))]
    pub from: String,
    /// The text.
    #[cfg_attr(feature = "schema", schemars(with = "MessageText"))]
    pub message: String,
}

/// The schema of a phone number sent as a string only (`from`).
#[cfg(feature = "schema")]
struct PhoneText;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for PhoneText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PhoneText".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": crate::ids::PHONE_PATTERN,
            "description": "Country code and number, digits only (971501234567)."
        })
    }
}

/// `GET /api/sandbox/outbox?instanceId=ID`: `{"success":true,"messages":[…]}`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Outbox {
    /// What the transport sent.
    pub messages: Vec<OutboxMessage>,
    /// The next page's `?cursor=`; absent on the last page.
    #[serde(
        rename = "nextCursor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cursor>,
}

page_of!(Outbox, messages: OutboxMessage);

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
        GroupName::exact(&self.name)
            .map_err(|e| ValidationError::new("name", e.reason().to_owned()))?;
        Ok(())
    }
}

impl Validate for SandboxInboundRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        Phone::exact(&self.from)
            .map_err(|e| ValidationError::new("from", e.reason().to_owned()))?;
        MessageText::exact(&self.message)?;
        Ok(())
    }
}

path_endpoint! {
    /// `POST /api/sandbox/instances/{id}/pair`: the simulated QR scan; the instance comes
    /// online. Takes the API key, or the pairing token of the create answer's
    /// `sandboxPairUrl` (which the QR page's scan button sends); a QR link's token does
    /// not pair.
    PairSandboxInstance {
        /// The instance to pair.
        id: InstanceId,
    } => Post "/api/sandbox/instances/{id}/pair" -> Empty {
        answers: [Answer::new(404, NOT_SANDBOX)],
        auth: Auth::ApiKeyOrPairToken,
    }
}

path_endpoint! {
    /// `POST /api/sandbox/instances/{id}/unpair`: the phone logs out; the instance goes
    /// offline (`instance.offline`) until it is paired again.
    UnpairSandboxInstance {
        /// The instance to unpair.
        id: InstanceId,
    } => Post "/api/sandbox/instances/{id}/unpair" -> Empty {
        answers: [
            Answer::new(404, NOT_SANDBOX),
            Answer::new(409, "The instance is not online: there is nothing to unpair."),
        ],
    }
}

/// The 404 of every sandbox endpoint: they act on the key's sandbox instances only.
const NOT_SANDBOX: &str = "The instance is not this key's, or another engine serves it (the sandbox \
     endpoints act on sandbox instances only).";

// The two simulation bodies below are not validated by the client: they stand for what a
// phone does, and tests drive the server's own checks through them.

/// `POST /api/sandbox/instances/{id}/groups`: adds a group to the number, or renames it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddSandboxGroup {
    /// The sandbox number.
    pub id: InstanceId,
    /// The group.
    pub group: SandboxGroupRequest,
}

impl Endpoint for AddSandboxGroup {
    const METHOD: Method = Method::Post;
    const ROUTE: &'static str = "/api/sandbox/instances/{id}/groups";
    type Body = SandboxGroupRequest;
    type Response = SandboxGroup;

    fn path(&self) -> std::borrow::Cow<'_, str> {
        fill_route(Self::ROUTE, &[self.id.as_str()]).into()
    }

    fn body(&self) -> Option<&SandboxGroupRequest> {
        Some(&self.group)
    }

    const ANSWERS: &'static [Answer] = &[
        Answer::new(404, NOT_SANDBOX),
        Answer::new(
            409,
            "Adding the group would pass the plan's max_groups_per_instance (renaming never does).",
        ),
    ];

    const EXAMPLES: &'static [Example] = &[Example::of::<SandboxGroupRequest>(
        "A group with a chosen id",
        r#"{"name":"Team A","id":"120363025246125888@g.us"}"#,
    )];

    #[cfg(feature = "schema")]
    fn path_schemas(generator: &mut schemars::SchemaGenerator) -> Option<Vec<schemars::Schema>> {
        Some(vec![generator.subschema_for::<InstanceId>()])
    }
}

/// `POST /api/sandbox/instances/{id}/inbound`: someone writes to the number
/// (`message.received`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInbound {
    /// The sandbox number.
    pub id: InstanceId,
    /// Who writes what.
    pub message: SandboxInboundRequest,
}

impl Endpoint for SandboxInbound {
    const METHOD: Method = Method::Post;
    const ROUTE: &'static str = "/api/sandbox/instances/{id}/inbound";
    type Body = SandboxInboundRequest;
    type Response = Empty;

    fn path(&self) -> std::borrow::Cow<'_, str> {
        fill_route(Self::ROUTE, &[self.id.as_str()]).into()
    }

    fn body(&self) -> Option<&SandboxInboundRequest> {
        Some(&self.message)
    }

    const ANSWERS: &'static [Answer] = &[Answer::new(404, NOT_SANDBOX)];

    const EXAMPLES: &'static [Example] = &[Example::of::<SandboxInboundRequest>(
        "A customer writes",
        r#"{"from":"971501234567","message":"Hi! Is my order ready?"}"#,
    )];

    #[cfg(feature = "schema")]
    fn path_schemas(generator: &mut schemars::SchemaGenerator) -> Option<Vec<schemars::Schema>> {
        Some(vec![generator.subschema_for::<InstanceId>()])
    }
}

/// `GET /api/sandbox/outbox?instanceId=ID`: what the sandbox transport sent, oldest first,
/// a page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetOutbox {
    /// The sending instance.
    pub instance_id: InstanceId,
    /// `?limit=` and `?cursor=`; the first page of the default size by default.
    pub page: PageParams,
}

impl Endpoint for GetOutbox {
    const METHOD: Method = Method::Get;
    const ROUTE: &'static str = "/api/sandbox/outbox";
    type Body = NoBody;
    type Response = Outbox;

    fn query(&self) -> Vec<(&'static str, &str)> {
        let mut query = vec![("instanceId", self.instance_id.as_str())];
        query.extend(self.page.query());
        query
    }

    fn body(&self) -> Option<&NoBody> {
        None
    }

    const ANSWERS: &'static [Answer] = &[
        Answer::new(
            400,
            "instanceId is missing or not an instance id, or limit or cursor is not of the \
             form the document gives; the message names the parameter.",
        ),
        Answer::new(404, NOT_SANDBOX),
    ];

    #[cfg(feature = "schema")]
    fn query_schema(generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        let base = <OutboxQuery as schemars::JsonSchema>::json_schema(generator);
        Some(crate::page::query_schema(generator, Some(base)))
    }
}

/// The query of `GET /api/sandbox/outbox`: the server parses it into this.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OutboxQuery {
    /// The sending instance whose outbox to show.
    pub instance_id: InstanceId,
    /// Items per page (its schema is every list's, added with the others).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub limit: Option<PageSize>,
    /// Where the page starts (its schema is every list's, added with the others).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub cursor: Option<Cursor>,
}

impl OutboxQuery {
    /// Its page parameters.
    pub fn page(&self) -> PageParams {
        PageParams {
            limit: self.limit.clone(),
            cursor: self.cursor.clone(),
        }
    }
}

impl Paginated for GetOutbox {
    fn page(&self) -> &PageParams {
        &self.page
    }

    fn page_mut(&mut self) -> &mut PageParams {
        &mut self.page
    }
}
