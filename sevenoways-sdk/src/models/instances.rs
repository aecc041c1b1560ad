//! Instances: the WhatsApp numbers of an account, paired by scanning a QR code.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Endpoint;
use crate::ids::InstanceId;
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
}

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
    /// A label for people; defaults to the id.
    #[serde(default)]
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

impl Endpoint for CreateInstanceRequest {
    const PATH: &'static str = "/api/instances";
    type Response = InstanceCreated;
}

/// `POST /api/instances` answer: `{"success":true,"instance":{…},"qrUrl":"…"}`.
///
/// `qrUrl` opens the pairing page in a browser. It carries a signed token that expires
/// (never the API key), so it can be shared with whoever holds the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InstanceCreated {
    /// The new instance, in `pairing` state.
    pub instance: Instance,
    /// The pairing page, with a short-lived token.
    pub qr_url: String,
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
