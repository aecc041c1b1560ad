//! Instances: the WhatsApp numbers of an account, paired by scanning a QR code.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::endpoint::{
    Answer, Auth, Endpoint, Link, MediaType, Method, NoBody, body_endpoint, fill_route,
    path_endpoint,
};
use crate::ids::{InstanceId, PhoneNumberId};
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

/// What serves an instance's number.
///
/// - `sandbox`: a simulated WhatsApp for development; nothing leaves the server.
/// - `waha`: a real number linked by QR code through the server's WAHA.
/// - `meta`: a number registered in Meta Business Manager, reached through Meta's WhatsApp
///   Cloud API. It sends to phone numbers only (no groups, channels or communities), and
///   only inside the 24-hour window after the person last wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Engine {
    /// The simulation.
    #[default]
    Sandbox,
    /// WAHA, a self-hosted WhatsApp HTTP API.
    Waha,
    /// Meta's WhatsApp Cloud API.
    Meta,
    /// An engine this version of the SDK does not know.
    #[serde(other)]
    Unknown,
}

impl Engine {
    /// The wire name (`sandbox`, `waha`, `meta`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Waha => "waha",
            Self::Meta => "meta",
            Self::Unknown => "unknown",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = ValidationError;

    /// `sandbox`, `waha` or `meta`.
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        match s.trim() {
            "sandbox" => Ok(Self::Sandbox),
            "waha" => Ok(Self::Waha),
            "meta" => Ok(Self::Meta),
            other => Err(ValidationError::new(
                "engine",
                format!("expected sandbox, waha or meta, got {other:?}"),
            )),
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    /// What serves the number; chosen when it is created. `None` from a server older
    /// than engines, whose instances are all sandbox ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
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

/// `POST /api/instances`: `{"instanceId":"number2","label":"Second Line"}`, and optionally
/// the `engine` (`sandbox`, `waha` or `meta`; the server's default when left out) and, for
/// `meta`, the number's `phoneNumberId`.
///
/// ```
/// use sevenoways_sdk::models::instances::{CreateInstanceRequest, Engine};
/// let req = CreateInstanceRequest::new("number2".parse()?, "Second Line");
/// assert_eq!(
///     serde_json::to_string(&req)?,
///     r#"{"instanceId":"number2","label":"Second Line"}"#
/// );
/// let real = CreateInstanceRequest::new("shop".parse()?, "Shop").engine(Engine::Waha);
/// assert_eq!(
///     serde_json::to_string(&real)?,
///     r#"{"instanceId":"shop","label":"Shop","engine":"waha"}"#
/// );
/// let cloud = CreateInstanceRequest::new("cloud".parse()?, "").meta("106540352242922".parse()?);
/// assert_eq!(
///     serde_json::to_string(&cloud)?,
///     r#"{"instanceId":"cloud","label":"","engine":"meta","phoneNumberId":"106540352242922"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = engine_rules))]
#[serde(rename_all = "camelCase")]
pub struct CreateInstanceRequest {
    /// The id to create.
    pub instance_id: InstanceId,
    /// A label for people, at most 100 characters; defaults to the id.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 100)))]
    pub label: String,
    /// What serves the number; the server's `default_engine` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<EngineChoice>"))]
    pub engine: Option<Engine>,
    /// `meta` instances only, and required there: the number's phone number id in Meta
    /// Business Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<PhoneNumberId>,
}

impl CreateInstanceRequest {
    /// A new instance with a label, on the server's default engine.
    pub fn new(instance_id: InstanceId, label: impl Into<String>) -> Self {
        Self {
            instance_id,
            label: label.into(),
            engine: None,
            phone_number_id: None,
        }
    }

    /// The same request on `engine`.
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// The same request for a Meta Cloud API number: engine `meta` with its phone number id.
    pub fn meta(mut self, phone_number_id: PhoneNumberId) -> Self {
        self.engine = Some(Engine::Meta);
        self.phone_number_id = Some(phone_number_id);
        self
    }
}

/// The schema of the engine a create may ask for: the ones a server can serve (the
/// server's own document lists only those it has configured; another is a 400).
#[cfg(feature = "schema")]
struct EngineChoice;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for EngineChoice {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EngineChoice".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["sandbox", "waha", "meta"],
            "description": "An engine this server has configured (sandbox always; waha and meta \
                with their [engines.*] table)."
        })
    }
}

/// [`CreateInstanceRequest::validate`]'s pairing rule: `phoneNumberId` exactly when
/// `engine` is `meta`. (A server whose `default_engine` is meta also wants it when
/// `engine` is left out; the document assumes the sandbox default.)
#[cfg(feature = "schema")]
fn engine_rules(schema: &mut schemars::Schema) {
    use serde_json::json;
    let meta = json!({"const": "meta"});
    schema.insert(
        "anyOf".into(),
        json!([
            {"required": ["engine", "phoneNumberId"],
             "properties": {"engine": meta, "phoneNumberId": {"not": {"type": "null"}}}},
            {"properties": {"engine": {"not": meta}, "phoneNumberId": {"type": "null"}}},
        ]),
    );
}

impl Validate for CreateInstanceRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.label.chars().count() > 100 {
            return Err(ValidationError::new(
                "label",
                "expected a label of at most 100 characters",
            ));
        }
        match (self.engine, &self.phone_number_id) {
            (Some(Engine::Unknown), _) => Err(ValidationError::new(
                "engine",
                "expected sandbox, waha or meta",
            )),
            (Some(Engine::Meta), None) => Err(ValidationError::new(
                "phoneNumberId",
                "is required for a meta instance: the number's phone number id in Meta \
                 Business Manager (WhatsApp Manager, API Setup)",
            )),
            (Some(engine), Some(_)) if engine != Engine::Meta => Err(ValidationError::new(
                "phoneNumberId",
                format!("only meta instances have one, and this one is {engine}"),
            )),
            _ => Ok(()),
        }
    }
}

body_endpoint!(CreateInstanceRequest => POST "/api/instances" -> InstanceCreated {
    answers: [
        Answer::new(
            400,
            "A field is invalid or missing (the message starts with its name), the engine is \
             not configured on this server (engine: …), or Meta does not know the \
             phoneNumberId.",
        ),
        Answer::new(
            409,
            "This API key already has an instance with this id, or as many instances as its \
             plan's max_instances allows, or the phoneNumberId serves another instance.",
        ),
        ENGINE_FAILED,
    ],
    examples: [
        ("Second number", r#"{"instanceId":"number2","label":"Second Line"}"#),
        ("A real number through WAHA", r#"{"instanceId":"shop","label":"Shop","engine":"waha"}"#),
        (
            "A Meta Cloud API number",
            r#"{"instanceId":"cloud","label":"Support","engine":"meta","phoneNumberId":"106540352242922"}"#
        ),
    ],
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
    } => Delete "/api/instances/{id}" -> Empty {
        answers: [ENGINE_FAILED],
    }
}

/// The instance's engine (WAHA, Meta) failed or could not be reached; nothing changed.
pub(crate) const ENGINE_FAILED: Answer = Answer::new(
    502,
    "The instance's engine (WAHA, the Meta Cloud API) failed or could not be reached; \
     nothing was changed.",
);

/// A send (or schedule) the instance's engine can never deliver, refused before queueing.
pub(crate) const SEND_CANNOT: Answer = Answer::new(
    422,
    "The instance's engine can never deliver to this recipient (a Meta Cloud API number \
     sends to phone numbers only); nothing was queued.",
);

/// An instance whose engine was removed from the server's configuration, or asked for
/// what its engine can never do.
pub(crate) const ENGINE_CANNOT: Answer = Answer::new(
    422,
    "The instance's engine can never do this (a Meta Cloud API number has no groups, \
     channels or communities), or is no longer configured on this server.",
);

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
    const ANSWERS: &'static [Answer] = &[
        Answer::new(
            400,
            "format is not html, png, svg or json (the message says so).",
        ),
        Answer::new(
            409,
            "format=png or svg and no code to draw: the instance is paired, or its engine has \
             no code yet (ask again in a few seconds); or any format for a Meta Cloud API \
             number, which is not paired by QR code.",
        ),
        ENGINE_CANNOT,
        ENGINE_FAILED,
    ];
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
