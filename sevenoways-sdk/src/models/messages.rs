//! Sending messages: to groups (`/api/send*`) and to phone numbers (`/api/send-number*`).
//!
//! Every send answers [`Queued`]: the message is durably queued, not yet delivered;
//! `GET /api/queue/{id}` (see [`crate::models::queue`]) follows it from there.
//!
//! Each request's `new` takes its required fields in wire order; optional ones have
//! setters:
//!
//! ```
//! use sevenoways_sdk::models::messages::{SendImageRequest, SendNumberDocumentRequest, SendRequest};
//! use sevenoways_sdk::{GroupTarget, MediaUrl, Phone};
//!
//! let text = SendRequest::new(
//!     "number2".parse()?,
//!     GroupTarget::names(["Team A"])?,
//!     "Hello everyone! 👋".try_into()?,
//! );
//! assert_eq!(
//!     serde_json::to_string(&text)?,
//!     r#"{"instanceId":"number2","groups":["Team A"],"message":"Hello everyone! 👋"}"#
//! );
//!
//! let image = SendImageRequest::new(
//!     "number2".parse()?,
//!     GroupTarget::all(),
//!     MediaUrl::new("https://example.com/banner.jpg")?,
//! )
//! .caption("Sale starts today 🎉");
//! assert_eq!(
//!     serde_json::to_string(&image)?,
//!     r#"{"instanceId":"number2","sendAll":true,"imageUrl":"https://example.com/banner.jpg","caption":"Sale starts today 🎉"}"#
//! );
//!
//! let invoice = SendNumberDocumentRequest::new(
//!     "number2".parse()?,
//!     Phone::normalize("+971 50 123 4567")?,
//!     MediaUrl::new("https://example.com/invoice.pdf")?,
//!     "Invoice 1042.pdf",
//! )
//! .mimetype("application/pdf");
//! assert_eq!(invoice.mimetype.as_deref(), Some("application/pdf"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use super::channels::{
    SendDocumentToChannelRequest, SendImageToChannelRequest, SendToChannelRequest,
};
use super::common::{MediaUrl, MessageText, check_len};
use super::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};
use super::de::{bool_like, one_or_many};
use crate::endpoint::Endpoint;
use crate::ids::{GroupId, GroupName, InstanceId, NewsletterJid, Phone, QueueId};
use crate::validation::{Validate, ValidationError};

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// The most group ids, and separately the most group names, one request may name.
///
/// Every id and name costs the server a lookup before the send is admitted; a bound
/// keeps that work small and equal for every tenant. A number in more groups reaches
/// them all with `sendAll=true`, or with several requests.
pub const MAX_GROUPS_PER_REQUEST: usize = 256;

/// `Err` naming `field` when a request names more than [`MAX_GROUPS_PER_REQUEST`].
fn check_group_count(field: &'static str, what: &str, n: usize) -> Result<(), ValidationError> {
    if n > MAX_GROUPS_PER_REQUEST {
        return Err(ValidationError::new(
            field,
            format!(
                "expected at most {MAX_GROUPS_PER_REQUEST} {what} per request, got {n}: \
                 split the send, or use sendAll=true"
            ),
        ));
    }
    Ok(())
}

/// Which groups of an instance a message goes to: the documented choice between
/// `groupIds` (recommended: stable across renames), `groups` (names, case-insensitive)
/// and `sendAll`. Ids and names may be mixed; `sendAll` stands alone.
///
/// ```
/// use sevenoways_sdk::GroupTarget;
/// let to = GroupTarget::ids(["120363025246125888@g.us"]).unwrap();
/// let to = to.and_names(["Team A"]).unwrap();
/// assert!(matches!(to, GroupTarget::Groups { .. }));
/// assert_eq!(GroupTarget::all(), GroupTarget::All);
/// assert!(GroupTarget::ids(["Team A"]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupTarget {
    /// Every group of the instance (`"sendAll": true`).
    All,
    /// These groups, by id and/or by name. At least one of the two is non-empty.
    Groups {
        /// `groupIds`
        ids: Vec<GroupId>,
        /// `groups`
        names: Vec<GroupName>,
    },
}

impl GroupTarget {
    /// Every group of the instance.
    pub fn all() -> Self {
        Self::All
    }

    /// Groups by id (`120363…@g.us`).
    pub fn ids<I, S>(ids: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::Groups {
            ids: Vec::new(),
            names: Vec::new(),
        }
        .and_ids(ids)
    }

    /// Groups by name, matched case-insensitively by the server.
    pub fn names<I, S>(names: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::Groups {
            ids: Vec::new(),
            names: Vec::new(),
        }
        .and_names(names)
    }

    /// Adds groups by id. On [`GroupTarget::All`] this is an error: all is already all.
    pub fn and_ids<I, S>(self, more: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let Self::Groups { mut ids, names } = self else {
            return Err(send_all_alone());
        };
        for id in more {
            // The index in the final list, so `and_ids` after `ids` names the right one.
            let i = ids.len();
            check_group_count("groupIds", "group ids", i + 1)?;
            ids.push(GroupId::new(id).map_err(|e| {
                ValidationError::new(format!("groupIds[{i}]"), e.reason().to_owned())
            })?);
        }
        Ok(Self::Groups { ids, names })
    }

    /// Adds groups by name.
    pub fn and_names<I, S>(self, more: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let Self::Groups { ids, mut names } = self else {
            return Err(send_all_alone());
        };
        for name in more {
            let i = names.len();
            check_group_count("groups", "group names", i + 1)?;
            names.push(GroupName::new(name).map_err(|e| {
                ValidationError::new(format!("groups[{i}]"), e.reason().to_owned())
            })?);
        }
        Ok(Self::Groups { ids, names })
    }

    /// Reads the three documented fields as one choice, each list at most
    /// [`MAX_GROUPS_PER_REQUEST`] long.
    pub fn from_fields(
        group_ids: &[GroupId],
        groups: &[GroupName],
        send_all: bool,
    ) -> Result<Self, ValidationError> {
        check_group_count("groupIds", "group ids", group_ids.len())?;
        check_group_count("groups", "group names", groups.len())?;
        match (send_all, group_ids.is_empty() && groups.is_empty()) {
            (true, true) => Ok(Self::All),
            (true, false) => Err(send_all_alone()),
            (false, true) => Err(ValidationError::new(
                "groupIds",
                "expected at least one group: give groupIds, groups (names) or sendAll=true",
            )),
            (false, false) => Ok(Self::Groups {
                ids: group_ids.to_vec(),
                names: groups.to_vec(),
            }),
        }
    }

    /// The three documented fields (`groupIds`, `groups`, `sendAll`).
    pub fn into_fields(self) -> (Vec<GroupId>, Vec<GroupName>, bool) {
        match self {
            Self::All => (Vec::new(), Vec::new(), true),
            Self::Groups { ids, names } => (ids, names, false),
        }
    }
}

fn send_all_alone() -> ValidationError {
    ValidationError::new(
        "sendAll",
        "sendAll=true sends to every group and cannot be combined with groupIds or groups",
    )
}

/// Where a message goes, whatever the endpoint: the server resolves it to one queue
/// entry per recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Groups of the sending instance.
    Groups(GroupTarget),
    /// One phone number.
    Phone(Phone),
    /// A community (`…@newsletter`) the number is a member of.
    Community(NewsletterJid),
    /// A channel (`…@newsletter`) the number administers.
    Channel(NewsletterJid),
}

/// What a message carries. On the wire it is tagged by `kind`:
/// `{"kind":"text","message":…}`, `{"kind":"image","imageUrl":…,"caption":…}`,
/// `{"kind":"document","fileUrl":…,"filename":…,"mimetype":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(
    tag = "kind",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum Content {
    /// A text message.
    Text {
        /// The text.
        message: MessageText,
    },
    /// An image by URL, with an optional caption.
    Image {
        /// Where the server fetches the image.
        image_url: MediaUrl,
        /// Shown under the image.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// A document by URL.
    Document {
        /// Where the server fetches the file.
        file_url: MediaUrl,
        /// The file name shown in WhatsApp.
        filename: String,
        /// The MIME type, e.g. `application/pdf`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mimetype: Option<String>,
    },
}

impl Content {
    /// `text`, `image` or `document`.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::Image { .. } => "image",
            Content::Document { .. } => "document",
        }
    }
}

impl Validate for Content {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Content::Text { .. } => Ok(()),
            Content::Image { caption, .. } => check_caption(caption.as_deref()),
            Content::Document {
                filename, mimetype, ..
            } => check_document(filename, mimetype.as_deref()),
        }
    }
}

pub(crate) fn check_caption(caption: Option<&str>) -> Result<(), ValidationError> {
    caption
        .map(check_len)
        .transpose()
        .map(drop)
        .map_err(|r| ValidationError::new("caption", r))
}

pub(crate) fn check_document(
    filename: &str,
    mimetype: Option<&str>,
) -> Result<(), ValidationError> {
    check_filename(filename)?;
    check_mimetype(mimetype)
}

/// A file name: 1–255 characters, not only white space, without `/`, `\` or NUL. Kept as
/// sent ([`FileName`] is its schema).
pub(crate) fn check_filename(filename: &str) -> Result<(), ValidationError> {
    if filename.chars().all(char::is_whitespace) {
        return Err(ValidationError::new(
            "filename",
            "expected the file name shown in WhatsApp, e.g. \"report.pdf\"",
        ));
    }
    if filename.chars().count() > MAX_FILENAME_CHARS || filename.contains(['/', '\\', '\0']) {
        return Err(ValidationError::new(
            "filename",
            "expected a plain file name of at most 255 characters, without '/' or '\\'",
        ));
    }
    Ok(())
}

/// A MIME type `type/subtype` without white space, at most 255 characters; empty is the
/// same as none ([`MimeType`] is its schema).
pub(crate) fn check_mimetype(mimetype: Option<&str>) -> Result<(), ValidationError> {
    if let Some(m) = mimetype.filter(|m| !m.is_empty()) {
        let ok = m.chars().count() <= MAX_MIMETYPE_CHARS
            && m.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && !m.contains(char::is_whitespace)
            });
        if !ok {
            return Err(ValidationError::new(
                "mimetype",
                format!("expected a MIME type such as \"application/pdf\", got {m:?}"),
            ));
        }
    }
    Ok(())
}

const MAX_FILENAME_CHARS: usize = 255;
const MAX_MIMETYPE_CHARS: usize = 255;

/// The JSON Schema of a `filename` ([`check_filename`]).
#[cfg(feature = "schema")]
pub(crate) struct FileName;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for FileName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FileName".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ws = crate::validation::WHITE_SPACE;
        schemars::json_schema!({
            "type": "string",
            "description": "The file name shown in WhatsApp (`report.pdf`): at most 255 characters, not only white space, without `/`, `\\` or NUL.",
            "maxLength": MAX_FILENAME_CHARS,
            "pattern": format!("^[^/\\\\\\u0000]*[^/\\\\\\u0000{ws}][^/\\\\\\u0000]*$"),
            "examples": ["Monthly Report.pdf"]
        })
    }
}

/// The JSON Schema of a `mimetype` ([`check_mimetype`]).
#[cfg(feature = "schema")]
pub(crate) struct MimeType;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for MimeType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MimeType".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ws = crate::validation::WHITE_SPACE;
        schemars::json_schema!({
            "type": "string",
            "description": "A MIME type such as `application/pdf`; empty is the same as none.",
            "maxLength": MAX_MIMETYPE_CHARS,
            "pattern": format!("^(?:[^/{ws}]+/[^{ws}]+)?$"),
            "examples": ["application/pdf"]
        })
    }
}

/// The rules across a group send's fields, in JSON Schema: at least one of `groupIds`,
/// `groups` or a true `sendAll`, and `sendAll` alone ([`GroupTarget::from_fields`]).
#[cfg(feature = "schema")]
pub(crate) fn group_target_rules(schema: &mut schemars::Schema) {
    schema.insert("allOf".into(), group_rules(false));
}

/// The group-target rules, with `phone` as a fourth choice when `phone` is true (schedules).
#[cfg(feature = "schema")]
pub(crate) fn group_rules(phone: bool) -> serde_json::Value {
    use serde_json::json;
    let non_empty =
        json!({"anyOf": [{"type": "array", "minItems": 1}, {"type": "string", "minLength": 1}]});
    let has = |field: &str, schema: &serde_json::Value| json!({"required": [field], "properties": {field: schema}});
    let ids = has("groupIds", &non_empty);
    let names = has("groups", &non_empty);
    let all = has(
        "sendAll",
        &json!({"anyOf": [{"const": true}, {"const": 1}, {"type": "string", "pattern": super::de::TRUE_TEXT}]}),
    );
    let to_phone = has("phone", &json!({"not": {"type": "null"}}));
    let mut choices = vec![ids.clone(), names.clone(), all.clone()];
    if phone {
        choices.push(to_phone.clone());
    }
    let mut rules = vec![
        json!({"anyOf": choices}),
        json!({"not": {"allOf": [all.clone(), {"anyOf": [ids.clone(), names.clone()]}]}}),
    ];
    if phone {
        rules.push(json!({"not": {"allOf": [to_phone, {"anyOf": [ids, names, all]}]}}));
    }
    serde_json::Value::Array(rules)
}

/// A send request of any documented kind: where it goes and what it carries.
///
/// The server handles all twelve send endpoints with one handler over this trait.
pub trait SendMessage:
    Endpoint<Response = Queued> + Serialize + serde::de::DeserializeOwned + Validate
{
    /// The sending instance.
    fn instance_id(&self) -> &InstanceId;
    /// The recipients, before group names are resolved.
    fn target(&self) -> Result<Target, ValidationError>;
    /// The message.
    fn content(&self) -> Content;
}

/// One recipient's queue entry in a [`Queued`] response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueuedRecipient {
    /// A group id, phone number or `…@newsletter` JID.
    pub to: String,
    /// The entry for this recipient.
    pub queue_id: QueueId,
}

/// The answer to every send: `{"success":true,"queued":true,"queueId":142,"recipients":[…]}`.
///
/// `queued` and `queueId` are as documented; `queueId` is the first recipient's entry.
/// A send to several groups makes one queue entry per group, all listed in `recipients`
/// (our addition: the documentation shows only single-recipient answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    /// Always `true`: the message is committed to the queue.
    pub queued: bool,
    /// The first (often only) recipient's queue entry.
    pub queue_id: QueueId,
    /// Every recipient and its queue entry, in request order.
    #[serde(default)]
    pub recipients: Vec<QueuedRecipient>,
}

/// Declares a send request from its recipient kind and content kind:
/// `SendImageRequest => "/api/send-image", to groups, image`.
///
/// It writes the struct (`instanceId`, the recipient fields, the content fields, in that
/// order on the wire), its [`Endpoint`], [`SendMessage`] and [`Validate`] impls, a `new`
/// taking the required fields in that order, and one setter per optional field
/// (`.caption("…")`, `.mimetype("…")`). Twelve requests share four recipient kinds and
/// three content kinds, so each field, its documentation and its serde attributes are
/// written once, here. (`field: Type = ParamType`: what `new` takes for it.)
macro_rules! send_request {
    ($(#[$doc:meta])* $name:ident => $route:literal, to $target:ident, $kind:ident, examples $examples:tt) => {
        send_request!(@target $target [$(#[$doc])*] $name $route $kind $examples);
    };

    (@target groups [$(#[$doc:meta])*] $name:ident $route:literal $kind:ident $examples:tt) => {
        send_request!(@kind $kind [$(#[$doc])*
            #[doc = "Recipients are chosen with `groupIds`, `groups` (names) or `sendAll`; build them with [`GroupTarget`] and `new`."]
            #[cfg_attr(feature = "schema", schemars(transform = crate::models::messages::group_target_rules))]
        ] $name $route $examples {
            not_found "The instance is not this key's, or a group id or name is not the instance's (404 names it).";
            param to: GroupTarget;
            split (group_ids, groups, send_all,) = to.into_fields();
            fields {
                #[doc = "Groups by id (`120363…@g.us`), stable when a group is renamed."]
                #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
                #[cfg_attr(feature = "schema", schemars(with = "crate::models::de::OneOrMany<GroupId>"))]
                group_ids: Vec<GroupId>,
                #[doc = "Groups by name, matched case-insensitively."]
                #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
                #[cfg_attr(feature = "schema", schemars(with = "crate::models::de::OneOrMany<GroupName>"))]
                groups: Vec<GroupName>,
                #[doc = "`true` sends to every group of the instance; it stands alone."]
                #[serde(default, deserialize_with = "bool_like", skip_serializing_if = "is_false")]
                #[cfg_attr(feature = "schema", schemars(with = "crate::models::de::BoolLike"))]
                send_all: bool,
            }
            target |s| GroupTarget::from_fields(&s.group_ids, &s.groups, s.send_all).map(Target::Groups);
        });
    };
    (@target phone [$(#[$doc:meta])*] $name:ident $route:literal $kind:ident $examples:tt) => {
        send_request!(@kind $kind [$(#[$doc])*] $name $route $examples {
            not_found "The instance is not this key's.";
            param phone: Phone;
            split (phone,) = (phone,);
            fields {
                #[doc = "The recipient: country code and number, digits only (`971501234567`)."]
                phone: Phone,
            }
            target |s| Ok(Target::Phone(s.phone.clone()));
        });
    };
    (@target community [$(#[$doc:meta])*] $name:ident $route:literal $kind:ident $examples:tt) => {
        send_request!(@kind $kind [$(#[$doc])*] $name $route $examples {
            not_found "The instance is not this key's.";
            param community_id: NewsletterJid;
            split (community_id,) = (community_id,);
            fields {
                #[doc = "The community (`120363…@newsletter`); the number must be a member or admin."]
                community_id: NewsletterJid,
            }
            target |s| Ok(Target::Community(s.community_id.clone()));
        });
    };
    (@target channel [$(#[$doc:meta])*] $name:ident $route:literal $kind:ident $examples:tt) => {
        send_request!(@kind $kind [$(#[$doc])*] $name $route $examples {
            not_found "The instance is not this key's.";
            param channel_jid: NewsletterJid;
            split (channel_jid,) = (channel_jid,);
            fields {
                #[doc = "The channel (`120363…@newsletter`); the number must be an admin or owner."]
                channel_jid: NewsletterJid,
            }
            target |s| Ok(Target::Channel(s.channel_jid.clone()));
        });
    };

    (@kind text [$(#[$doc:meta])*] $name:ident $route:literal $examples:tt { $($target:tt)* }) => {
        send_request!(@build [$(#[$doc])*] $name $route $examples { $($target)* } {
            required {
                #[doc = "The text, at most 4096 characters."]
                message: MessageText = MessageText,
            }
            optional {}
            content |s| Content::Text { message: s.message.clone() };
            check |s| Ok(());
        });
    };
    (@kind image [$(#[$doc:meta])*] $name:ident $route:literal $examples:tt { $($target:tt)* }) => {
        send_request!(@build [$(#[$doc])*] $name $route $examples { $($target)* } {
            required {
                #[doc = "A public http(s) URL of the image."]
                image_url: MediaUrl = MediaUrl,
            }
            optional {
                #[doc = "Shown under the image, at most 4096 characters."]
                #[cfg_attr(feature = "schema", schemars(length(max = 4096)))]
                caption: String,
            }
            content |s| Content::Image { image_url: s.image_url.clone(), caption: s.caption.clone() };
            check |s| check_caption(s.caption.as_deref());
        });
    };
    (@kind document [$(#[$doc:meta])*] $name:ident $route:literal $examples:tt { $($target:tt)* }) => {
        send_request!(@build [$(#[$doc])*] $name $route $examples { $($target)* } {
            required {
                #[doc = "A public http(s) URL of the document."]
                file_url: MediaUrl = MediaUrl,
                #[doc = "The file name shown in WhatsApp, e.g. `report.pdf`."]
                #[cfg_attr(feature = "schema", schemars(with = "crate::models::messages::FileName"))]
                filename: String = impl Into<String>,
            }
            optional {
                #[doc = "The MIME type, e.g. `application/pdf`."]
                #[cfg_attr(feature = "schema", schemars(with = "Option<crate::models::messages::MimeType>"))]
                mimetype: String,
            }
            content |s| Content::Document {
                file_url: s.file_url.clone(),
                filename: s.filename.clone(),
                mimetype: s.mimetype.clone(),
            };
            check |s| check_document(&s.filename, s.mimetype.as_deref());
        });
    };

    (@build [$(#[$doc:meta])*] $name:ident $route:literal [$($example:tt)*] {
        not_found $not_found:literal;
        param $param:ident : $param_ty:ty;
        split ($($split:ident,)*) = $split_expr:expr;
        fields { $( $(#[$to_attr:meta])* $to_field:ident : $to_ty:ty, )* }
        target |$ts:ident| $target:expr;
    } {
        required { $( $(#[$req_doc:meta])* $req:ident : $req_ty:ty = $req_param:ty, )* }
        optional { $( #[doc = $opt_doc:literal] $(#[$opt_attr:meta])* $opt:ident : $opt_ty:ty, )* }
        content |$cs:ident| $content:expr;
        check |$ks:ident| $check:expr;
    }) => {
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(rename_all = "camelCase")]
        // After the derives: the doc list carries `schemars(transform)` for group sends.
        $(#[$doc])*
        pub struct $name {
            /// Which number sends (`instanceId`).
            pub instance_id: InstanceId,
            $( $(#[$to_attr])* pub $to_field: $to_ty, )*
            $( $(#[$req_doc])* pub $req: $req_ty, )*
            $(
                #[doc = $opt_doc]
                $(#[$opt_attr])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $opt: Option<$opt_ty>,
            )*
        }

        impl $name {
            /// The request with its required fields, in their wire order; the optional
            /// ones are left out until a setter adds them.
            pub fn new(
                instance_id: InstanceId,
                $param: $param_ty,
                $( $req: $req_param, )*
            ) -> Self {
                let ($($split,)*) = $split_expr;
                Self {
                    instance_id,
                    $( $split, )*
                    $( $req: $req.into(), )*
                    $( $opt: None, )*
                }
            }

            $(
                #[doc = $opt_doc]
                ///
                /// Left out unless set; the field is public to set or clear an `Option`.
                pub fn $opt(mut self, $opt: impl Into<$opt_ty>) -> Self {
                    self.$opt = Some($opt.into());
                    self
                }
            )*
        }

        $crate::endpoint::body_endpoint!($name => POST $route -> Queued {
            answers: [
                $crate::endpoint::Answer::new(404, $not_found),
                $crate::models::instances::SEND_CANNOT,
                $crate::endpoint::RATE_LIMITED,
            ],
            examples: [$($example)*],
            links: [$crate::endpoint::Link::to::<$crate::models::queue::GetQueueEntry>(
                &[("id", "$response.body#/queueId")],
            )],
        });

        impl SendMessage for $name {
            fn instance_id(&self) -> &InstanceId {
                &self.instance_id
            }
            fn target(&self) -> Result<Target, ValidationError> {
                let $ts = self;
                $target
            }
            fn content(&self) -> Content {
                let $cs = self;
                $content
            }
        }

        impl Validate for $name {
            fn validate(&self) -> Result<(), ValidationError> {
                self.target()?;
                #[allow(unused_variables)]
                let $ks = self;
                $check
            }
        }
    };
}

pub(crate) use send_request;

send_request! {
    /// `POST /api/send`: text to groups.
    SendRequest => "/api/send", to groups, text, examples [
        ("By group id (recommended)", r#"{"instanceId":"number2","groupIds":["120363025246125888@g.us"],"message":"Hello everyone! 👋"}"#),
        ("By group name", r#"{"instanceId":"number2","groups":["Team A"],"message":"Hello everyone! 👋"}"#),
        ("To every group", r#"{"instanceId":"number2","sendAll":true,"message":"Broadcast to everyone!"}"#),
    ]
}

send_request! {
    /// `POST /api/send-image`: an image to groups.
    SendImageRequest => "/api/send-image", to groups, image, examples [
        ("Image with caption", r#"{"instanceId":"number2","groupIds":["120363025246125888@g.us"],"imageUrl":"https://example.com/banner.jpg","caption":"Check this out!"}"#),
    ]
}

send_request! {
    /// `POST /api/send-document`: a document to groups.
    SendDocumentRequest => "/api/send-document", to groups, document, examples [
        ("PDF", r#"{"instanceId":"number2","groupIds":["120363025246125888@g.us"],"fileUrl":"https://example.com/report.pdf","filename":"Monthly Report.pdf","mimetype":"application/pdf"}"#),
    ]
}

send_request! {
    /// `POST /api/send-number`: text to a phone number.
    SendNumberRequest => "/api/send-number", to phone, text, examples [
        ("Order update", r#"{"instanceId":"number2","phone":"971501234567","message":"Hello! Your order is ready 🎉"}"#),
    ]
}

send_request! {
    /// `POST /api/send-number-image`: an image to a phone number.
    SendNumberImageRequest => "/api/send-number-image", to phone, image, examples [
        ("Invoice image", r#"{"instanceId":"number2","phone":"971501234567","imageUrl":"https://example.com/invoice.png","caption":"Your invoice"}"#),
    ]
}

send_request! {
    /// `POST /api/send-number-document`: a document to a phone number.
    SendNumberDocumentRequest => "/api/send-number-document", to phone, document, examples [
        ("Contract", r#"{"instanceId":"number2","phone":"971501234567","fileUrl":"https://example.com/contract.pdf","filename":"Contract.pdf"}"#),
    ]
}

/// A send of any recipient kind × content kind, for code that decides both at run time
/// (a CLI, a bulk sender, a schedule runner): [`AnySend::from_parts`] picks the
/// documented endpoint, and [`Client::send_message`](crate::Client::send_message) sends it.
///
/// ```
/// use sevenoways_sdk::models::messages::AnySend;
/// use sevenoways_sdk::{Content, Phone, Target};
/// let send = AnySend::from_parts(
///     "number2".parse()?,
///     Target::Phone(Phone::new("971501234567")?),
///     Content::Text { message: "Hi".try_into()? },
/// );
/// assert_eq!(send.route(), "/api/send-number");
/// # Ok::<(), sevenoways_sdk::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnySend {
    /// Text to groups.
    Send(SendRequest),
    /// An image to groups.
    SendImage(SendImageRequest),
    /// A document to groups.
    SendDocument(SendDocumentRequest),
    /// Text to a phone number.
    SendNumber(SendNumberRequest),
    /// An image to a phone number.
    SendNumberImage(SendNumberImageRequest),
    /// A document to a phone number.
    SendNumberDocument(SendNumberDocumentRequest),
    /// Text to a community.
    SendToCommunity(SendToCommunityRequest),
    /// An image to a community.
    SendImageToCommunity(SendImageToCommunityRequest),
    /// A document to a community.
    SendDocumentToCommunity(SendDocumentToCommunityRequest),
    /// Text to a channel.
    SendToChannel(SendToChannelRequest),
    /// An image to a channel.
    SendImageToChannel(SendImageToChannelRequest),
    /// A document to a channel.
    SendDocumentToChannel(SendDocumentToChannelRequest),
}

/// `$m!(request)` on whichever request `$any` holds.
macro_rules! each_send {
    ($any:expr, |$r:ident| $body:expr) => {
        match $any {
            AnySend::Send($r) => $body,
            AnySend::SendImage($r) => $body,
            AnySend::SendDocument($r) => $body,
            AnySend::SendNumber($r) => $body,
            AnySend::SendNumberImage($r) => $body,
            AnySend::SendNumberDocument($r) => $body,
            AnySend::SendToCommunity($r) => $body,
            AnySend::SendImageToCommunity($r) => $body,
            AnySend::SendDocumentToCommunity($r) => $body,
            AnySend::SendToChannel($r) => $body,
            AnySend::SendImageToChannel($r) => $body,
            AnySend::SendDocumentToChannel($r) => $body,
        }
    };
}

impl AnySend {
    /// The request for `target` × `content`; every pair has its endpoint.
    pub fn from_parts(instance_id: InstanceId, target: Target, content: Content) -> Self {
        macro_rules! by_content {
            ($to:expr, $text:ident, $image:ident, $document:ident) => {
                match content {
                    Content::Text { message } => $text::new(instance_id, $to, message).into(),
                    Content::Image { image_url, caption } => {
                        let mut request = $image::new(instance_id, $to, image_url);
                        request.caption = caption;
                        request.into()
                    }
                    Content::Document {
                        file_url,
                        filename,
                        mimetype,
                    } => {
                        let mut request = $document::new(instance_id, $to, file_url, filename);
                        request.mimetype = mimetype;
                        request.into()
                    }
                }
            };
        }
        match target {
            Target::Groups(to) => {
                by_content!(to, SendRequest, SendImageRequest, SendDocumentRequest)
            }
            Target::Phone(to) => by_content!(
                to,
                SendNumberRequest,
                SendNumberImageRequest,
                SendNumberDocumentRequest
            ),
            Target::Community(to) => by_content!(
                to,
                SendToCommunityRequest,
                SendImageToCommunityRequest,
                SendDocumentToCommunityRequest
            ),
            Target::Channel(to) => by_content!(
                to,
                SendToChannelRequest,
                SendImageToChannelRequest,
                SendDocumentToChannelRequest
            ),
        }
    }

    /// The endpoint's route, e.g. `/api/send-number-image`.
    pub fn route(&self) -> &'static str {
        fn route_of<E: Endpoint>(_: &E) -> &'static str {
            E::ROUTE
        }
        each_send!(self, |r| route_of(r))
    }
}

impl Serialize for AnySend {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        each_send!(self, |r| r.serialize(s))
    }
}

impl Validate for AnySend {
    fn validate(&self) -> Result<(), ValidationError> {
        each_send!(self, |r| r.validate())
    }
}

macro_rules! any_send_from {
    ($($variant:ident($ty:ident)),* $(,)?) => {
        $(
            impl From<$ty> for AnySend {
                fn from(request: $ty) -> Self {
                    Self::$variant(request)
                }
            }
        )*
    };
}

any_send_from! {
    Send(SendRequest),
    SendImage(SendImageRequest),
    SendDocument(SendDocumentRequest),
    SendNumber(SendNumberRequest),
    SendNumberImage(SendNumberImageRequest),
    SendNumberDocument(SendNumberDocumentRequest),
    SendToCommunity(SendToCommunityRequest),
    SendImageToCommunity(SendImageToCommunityRequest),
    SendDocumentToCommunity(SendDocumentToCommunityRequest),
    SendToChannel(SendToChannelRequest),
    SendImageToChannel(SendImageToChannelRequest),
    SendDocumentToChannel(SendDocumentToChannelRequest),
}
