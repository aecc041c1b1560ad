//! Instances: the WhatsApp numbers of an account, paired by scanning a QR code.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::endpoint::{
    Answer, Auth, Endpoint, Link, MediaType, Method, NoBody, body_endpoint, fill_route,
    path_endpoint,
};
use crate::ids::InstanceId;
use crate::models::common::Empty;
use crate::models::groups::ListGroups;
use crate::models::sandbox::{
    AddSandboxGroup, GetOutbox, PairSandboxInstance, SandboxInbound, UnpairSandboxInstance,
};
use crate::page::{Cursor, list_endpoint, page_of};
use crate::validation::{Validate, ValidationError};

/// Whether an instance's number is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum InstanceStatus {
    /// Created, QR code not scanned yet.
    Pairing,
    /// Connected: sends go out.
    Online,
    /// Was paired, now disconnected.
    Offline,
    /// A status this version of the SDK does not know.
    #[serde(other)]
    Unknown,
}

impl InstanceStatus {
    /// The wire name (`pairing`, `online`, `offline`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pairing => "pairing",
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Unknown => "unknown",
        }
    }
}

/// One instance, as listed by `GET /api/instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// The id its owner chose (`number2`).
    pub instance_id: InstanceId,
    /// A label for people (`Second Line`).
    pub label: String,
    /// Connection state.
    pub status: InstanceStatus,
    /// The paired number, once paired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `GET /api/instances`: `{"success":true,"instances":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InstanceList {
    /// Oldest first.
    pub instances: Vec<Instance>,
    /// The next page's `?cursor=`; absent on the last page.
    #[serde(
        rename = "nextCursor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cursor>,
}

page_of!(InstanceList, instances: Instance);

/// `POST /api/instances`: `{"instanceId":"number2","label":"Second Line"}`.
///
/// ```
/// use sevenoways_sdk::models::instances::CreateInstanceRequest;
/// let req = CreateInstanceRequest::new("number2".parse()?, "Second Line");
/// assert_eq!(
///     serde_json::to_string(&req)?,
///     r#"{"instanceId":"number2","label":"Second Line"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateInstanceRequest {
    /// The id to create.
    pub instance_id: InstanceId,
    /// A label for people, at most 100 characters; defaults to the id.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 100)))]
    pub label: String,
}

impl CreateInstanceRequest {
    /// A new instance with a label.
    pub fn new(instance_id: InstanceId, label: impl Into<String>) -> Self {
        Self {
            instance_id,
            label: label.into(),
        }
    }
}

impl Validate for CreateInstanceRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.label.chars().count() > 100 {
            return Err(ValidationError::new(
                "label",
                "expected a label of at most 100 characters",
            ));
        }
        Ok(())
    }
}

body_endpoint!(CreateInstanceRequest => POST "/api/instances" -> InstanceCreated {
    answers: [Answer::new(
        409,
        "This API key already has an instance with this id, or as many instances as its \
         plan's max_instances allows.",
    )],
    examples: [("Second number", r#"{"instanceId":"number2","label":"Second Line"}"#)],
    links: [
        Link::to::<GetQr>(&[("id", INSTANCE)]),
        Link::to::<ListGroups>(&[("id", INSTANCE)]),
        Link::to::<DeleteInstance>(&[("id", INSTANCE)]),
        Link::to::<PairSandboxInstance>(&[("id", INSTANCE)]),
        Link::to::<UnpairSandboxInstance>(&[("id", INSTANCE)]),
        Link::to::<AddSandboxGroup>(&[("id", INSTANCE)]),
        Link::to::<SandboxInbound>(&[("id", INSTANCE)]),
        Link::to::<GetOutbox>(&[("instanceId", INSTANCE)]),
    ],
});

/// Where a created instance's id is in the answer, for links.
const INSTANCE: &str = "$response.body#/instance/instanceId";

list_endpoint! {
    /// `GET /api/instances`: the key's instances, oldest first, a page at a time.
    ListInstances {} => "/api/instances" -> InstanceList
}

path_endpoint! {
    /// `DELETE /api/instances/{id}`: the instance, its groups and saved channels go; its
    /// unsent queue entries fail.
    DeleteInstance {
        /// The instance to delete.
        id: InstanceId,
    } => Delete "/api/instances/{id}" -> Empty
}

/// `POST /api/instances` answer: `{"success":true,"instance":{…},"qrUrl":"…"}`, and for
/// a sandbox instance `"sandboxPairUrl":"…"`.
///
/// `qrUrl` opens the pairing page in a browser. It carries a signed token that expires
/// (never the API key) and only shows the code, so it can be shared with whoever holds
/// the phone. `sandboxPairUrl` is the same page with the sandbox's "Simulate the scan"
/// button working: keep it to yourself, it pairs the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InstanceCreated {
    /// The new instance, in `pairing` state.
    pub instance: Instance,
    /// The pairing page, with a short-lived token that shows the code and cannot pair.
    pub qr_url: String,
    /// Sandbox instances only: the pairing page with a 10-minute pairing token in its
    /// fragment, whose scan button pairs the instance. Not for sharing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_pair_url: Option<String>,
}

/// `GET /api/instances/{id}/qr?format=json`: the pairing code as data, for a program to
/// draw. (Without `format=json` the same route answers the HTML pairing page, or PNG or
/// SVG with `format=png|svg`; see [`GetQr::page_path`].)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetQr {
    /// The instance to pair.
    pub id: InstanceId,
}

impl GetQr {
    /// The pairing page's path, without a query: what a browser opens.
    pub fn page_path(&self) -> String {
        fill_route(Self::ROUTE, &[self.id.as_str()])
    }
}

impl Endpoint for GetQr {
    const METHOD: Method = Method::Get;
    const ROUTE: &'static str = "/api/instances/{id}/qr";
    type Body = NoBody;
    type Response = QrCode;

    fn path(&self) -> std::borrow::Cow<'_, str> {
        self.page_path().into()
    }

    fn query(&self) -> Vec<(&'static str, &str)> {
        vec![("format", "json")]
    }

    fn body(&self) -> Option<&NoBody> {
        None
    }

    const AUTH: Auth = Auth::ApiKeyOrQrToken;
    const ANSWERS: &'static [Answer] = &[Answer::new(
        400,
        "format is not html, png, svg or json (the message says so).",
    )];
    const ALSO_ANSWERS_AS: &'static [MediaType] = &[
        MediaType {
            mime: "text/html",
            when: "without format, or with format=html: the pairing page for a browser",
            binary: false,
        },
        MediaType {
            mime: "image/png",
            when: "with format=png",
            binary: true,
        },
        MediaType {
            mime: "image/svg+xml",
            when: "with format=svg",
            binary: false,
        },
    ];

    #[cfg(feature = "schema")]
    fn path_schemas(generator: &mut schemars::SchemaGenerator) -> Option<Vec<schemars::Schema>> {
        Some(vec![generator.subschema_for::<InstanceId>()])
    }

    #[cfg(feature = "schema")]
    fn query_schema(generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        Some(<QrQuery as schemars::JsonSchema>::json_schema(generator))
    }
}

/// The query of `GET /api/instances/{id}/qr` (besides a QR link's `token`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QrQuery {
    /// What to answer: the HTML pairing page (the default), the code as a PNG or SVG
    /// image, or as JSON ([`QrCode`]) for a program to draw.
    #[serde(default)]
    pub format: Option<QrFormat>,
}

/// `?format=` of the QR endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum QrFormat {
    /// The pairing page, for a browser.
    #[default]
    Html,
    /// A PNG image.
    Png,
    /// An SVG image.
    Svg,
    /// [`QrCode`] as JSON.
    Json,
}

/// `GET /api/instances/:id/qr?format=json`: what a program needs to draw the code itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct QrCode {
    /// The instance being paired.
    pub instance_id: InstanceId,
    /// Its state; once `online` there is nothing left to scan.
    pub status: InstanceStatus,
    /// The string encoded in the QR code. `None` once paired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing_code: Option<String>,
    /// When this code stops working; fetch again for a fresh one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}
