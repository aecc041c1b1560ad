//! Sending messages: to groups (`/api/send*`) and to phone numbers (`/api/send-number*`).
//!
//! Every send answers [`Queued`]: the message is durably queued, not yet delivered;
//! `GET /api/queue/:queueId` (see [`crate::models::queue`]) follows it from there.

use serde::{Deserialize, Serialize};

use super::common::{MediaUrl, MessageText, check_len};
use super::de::{bool_like, one_or_many};
use crate::endpoint::Endpoint;
use crate::ids::{GroupId, GroupName, InstanceId, NewsletterJid, Phone, QueueId};
use crate::validation::{Validate, ValidationError};

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
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
            names.push(GroupName::new(name).map_err(|e| {
                ValidationError::new(format!("groups[{i}]"), e.reason().to_owned())
            })?);
        }
        Ok(Self::Groups { ids, names })
    }

    /// Reads the three documented fields as one choice.
    pub fn from_fields(
        group_ids: &[GroupId],
        groups: &[GroupName],
        send_all: bool,
    ) -> Result<Self, ValidationError> {
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
    let name = filename.trim();
    if name.is_empty() {
        return Err(ValidationError::new(
            "filename",
            "expected the file name shown in WhatsApp, e.g. \"report.pdf\"",
        ));
    }
    if name.chars().count() > 255 || name.contains(['/', '\\', '\0']) {
        return Err(ValidationError::new(
            "filename",
            "expected a plain file name of at most 255 characters, without '/' or '\\'",
        ));
    }
    if let Some(m) = mimetype.filter(|m| !m.is_empty()) {
        let ok = m.split_once('/').is_some_and(|(a, b)| {
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

/// Declares a send request: the struct, its endpoint, and how it maps onto
/// [`Target`] and [`Content`]. Writing twelve of these by hand would repeat the
/// same serde attributes a hundred times and hide the one line that differs.
macro_rules! send_request {
    (
        $(#[$doc:meta])*
        $name:ident => $path:literal,
        to { $($to_field:ident : $to_ty:ty $([$to_attr:meta])*),* } => |$s:ident| $target:expr,
        content { $($c_field:ident : $c_ty:ty $([$c_attr:meta])*),* } => $content:expr,
        check $check:expr
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Which number sends (`instanceId`).
            pub instance_id: InstanceId,
            $($(#[$to_attr])* pub $to_field: $to_ty,)*
            $($(#[$c_attr])* pub $c_field: $c_ty,)*
        }

        $crate::endpoint::body_endpoint!($name => POST $path -> Queued);

        impl SendMessage for $name {
            fn instance_id(&self) -> &InstanceId {
                &self.instance_id
            }
            #[allow(unused_variables)]
            fn target(&self) -> Result<Target, ValidationError> {
                let $s = self;
                $target
            }
            fn content(&self) -> Content {
                let $s = self;
                $content
            }
        }

        impl Validate for $name {
            #[allow(unused_variables)]
            fn validate(&self) -> Result<(), ValidationError> {
                self.target()?;
                let $s = self;
                $check
            }
        }
    };
}

pub(crate) use send_request;

macro_rules! group_fields_doc {
    () => {
        concat!(
            "Recipients are chosen with `groupIds`, `groups` (names) or `sendAll`; ",
            "build them with [`GroupTarget`] and `new`."
        )
    };
}

send_request! {
    /// `POST /api/send`: text to groups.
    #[doc = group_fields_doc!()]
    SendRequest => "/api/send",
    to {
        group_ids: Vec<GroupId> [doc = "Groups by id (`120363…@g.us`), stable when a group is renamed."] [serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")],
        groups: Vec<GroupName> [doc = "Groups by name, matched case-insensitively."] [serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")],
        send_all: bool [doc = "`true` sends to every group of the instance; it stands alone."] [serde(default, deserialize_with = "bool_like", skip_serializing_if = "is_false")]
    } => |s| GroupTarget::from_fields(&s.group_ids, &s.groups, s.send_all).map(Target::Groups),
    content { message: MessageText [doc = "The text, at most 4096 characters."] } => Content::Text { message: s.message.clone() },
    check Ok(())
}

send_request! {
    /// `POST /api/send-image`: an image to groups.
    #[doc = group_fields_doc!()]
    SendImageRequest => "/api/send-image",
    to {
        group_ids: Vec<GroupId> [doc = "Groups by id (`120363…@g.us`), stable when a group is renamed."] [serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")],
        groups: Vec<GroupName> [doc = "Groups by name, matched case-insensitively."] [serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")],
        send_all: bool [doc = "`true` sends to every group of the instance; it stands alone."] [serde(default, deserialize_with = "bool_like", skip_serializing_if = "is_false")]
    } => |s| GroupTarget::from_fields(&s.group_ids, &s.groups, s.send_all).map(Target::Groups),
    content {
        image_url: MediaUrl [doc = "A public http(s) URL of the image."],
        caption: Option<String> [doc = "Shown under the image."] [serde(default, skip_serializing_if = "Option::is_none")]
    } => Content::Image { image_url: s.image_url.clone(), caption: s.caption.clone() },
    check check_caption(s.caption.as_deref())
}

send_request! {
    /// `POST /api/send-document`: a document to groups.
    #[doc = group_fields_doc!()]
    SendDocumentRequest => "/api/send-document",
    to {
        group_ids: Vec<GroupId> [doc = "Groups by id (`120363…@g.us`), stable when a group is renamed."] [serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")],
        groups: Vec<GroupName> [doc = "Groups by name, matched case-insensitively."] [serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")],
        send_all: bool [doc = "`true` sends to every group of the instance; it stands alone."] [serde(default, deserialize_with = "bool_like", skip_serializing_if = "is_false")]
    } => |s| GroupTarget::from_fields(&s.group_ids, &s.groups, s.send_all).map(Target::Groups),
    content {
        file_url: MediaUrl [doc = "A public http(s) URL of the document."],
        filename: String [doc = "The file name shown in WhatsApp, e.g. `report.pdf`."],
        mimetype: Option<String> [doc = "The MIME type, e.g. `application/pdf`."] [serde(default, skip_serializing_if = "Option::is_none")]
    } => Content::Document { file_url: s.file_url.clone(), filename: s.filename.clone(), mimetype: s.mimetype.clone() },
    check check_document(&s.filename, s.mimetype.as_deref())
}

send_request! {
    /// `POST /api/send-number`: text to a phone number.
    SendNumberRequest => "/api/send-number",
    to { phone: Phone [doc = "The recipient: country code and number, digits only (`971501234567`)."] } => |s| Ok(Target::Phone(s.phone.clone())),
    content { message: MessageText [doc = "The text, at most 4096 characters."] } => Content::Text { message: s.message.clone() },
    check Ok(())
}

send_request! {
    /// `POST /api/send-number-image`: an image to a phone number.
    SendNumberImageRequest => "/api/send-number-image",
    to { phone: Phone [doc = "The recipient: country code and number, digits only (`971501234567`)."] } => |s| Ok(Target::Phone(s.phone.clone())),
    content {
        image_url: MediaUrl [doc = "A public http(s) URL of the image."],
        caption: Option<String> [doc = "Shown under the image."] [serde(default, skip_serializing_if = "Option::is_none")]
    } => Content::Image { image_url: s.image_url.clone(), caption: s.caption.clone() },
    check check_caption(s.caption.as_deref())
}

send_request! {
    /// `POST /api/send-number-document`: a document to a phone number.
    SendNumberDocumentRequest => "/api/send-number-document",
    to { phone: Phone [doc = "The recipient: country code and number, digits only (`971501234567`)."] } => |s| Ok(Target::Phone(s.phone.clone())),
    content {
        file_url: MediaUrl [doc = "A public http(s) URL of the document."],
        filename: String [doc = "The file name shown in WhatsApp, e.g. `report.pdf`."],
        mimetype: Option<String> [doc = "The MIME type, e.g. `application/pdf`."] [serde(default, skip_serializing_if = "Option::is_none")]
    } => Content::Document { file_url: s.file_url.clone(), filename: s.filename.clone(), mimetype: s.mimetype.clone() },
    check check_document(&s.filename, s.mimetype.as_deref())
}

/// Constructors that take the typed pieces, so a built request is valid by construction.
impl SendRequest {
    /// Text to groups.
    ///
    /// ```
    /// use sevenoways_sdk::models::messages::SendRequest;
    /// use sevenoways_sdk::GroupTarget;
    /// let req = SendRequest::new(
    ///     "number2".parse()?,
    ///     GroupTarget::names(["Team A"])?,
    ///     "Hello everyone! 👋".try_into()?,
    /// );
    /// assert_eq!(
    ///     serde_json::to_string(&req)?,
    ///     r#"{"instanceId":"number2","groups":["Team A"],"message":"Hello everyone! 👋"}"#
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(instance_id: InstanceId, to: GroupTarget, message: MessageText) -> Self {
        let (group_ids, groups, send_all) = to.into_fields();
        Self {
            instance_id,
            group_ids,
            groups,
            send_all,
            message,
        }
    }
}

impl SendImageRequest {
    /// An image to groups.
    pub fn new(
        instance_id: InstanceId,
        to: GroupTarget,
        image_url: MediaUrl,
        caption: Option<String>,
    ) -> Self {
        let (group_ids, groups, send_all) = to.into_fields();
        Self {
            instance_id,
            group_ids,
            groups,
            send_all,
            image_url,
            caption,
        }
    }
}

impl SendDocumentRequest {
    /// A document to groups.
    pub fn new(
        instance_id: InstanceId,
        to: GroupTarget,
        file_url: MediaUrl,
        filename: impl Into<String>,
        mimetype: Option<String>,
    ) -> Self {
        let (group_ids, groups, send_all) = to.into_fields();
        Self {
            instance_id,
            group_ids,
            groups,
            send_all,
            file_url,
            filename: filename.into(),
            mimetype,
        }
    }
}

impl SendNumberRequest {
    /// Text to a phone number.
    pub fn new(instance_id: InstanceId, phone: Phone, message: MessageText) -> Self {
        Self {
            instance_id,
            phone,
            message,
        }
    }
}

impl SendNumberImageRequest {
    /// An image to a phone number.
    pub fn new(
        instance_id: InstanceId,
        phone: Phone,
        image_url: MediaUrl,
        caption: Option<String>,
    ) -> Self {
        Self {
            instance_id,
            phone,
            image_url,
            caption,
        }
    }
}

impl SendNumberDocumentRequest {
    /// A document to a phone number.
    pub fn new(
        instance_id: InstanceId,
        phone: Phone,
        file_url: MediaUrl,
        filename: impl Into<String>,
        mimetype: Option<String>,
    ) -> Self {
        Self {
            instance_id,
            phone,
            file_url,
            filename: filename.into(),
            mimetype,
        }
    }
}
