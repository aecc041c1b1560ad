//! Value types shared by several resources, and the two response envelopes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::ValidationError;

/// The longest text message (and caption) the API takes, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// Message text: not blank, at most [`MAX_MESSAGE_CHARS`] characters, kept byte for byte
/// (emoji, newlines and leading spaces are the sender's).
///
/// ```
/// use sevenoways_sdk::MessageText;
/// assert!(MessageText::new("Hello everyone! 👋\nSee you").is_ok());
/// assert!(MessageText::new("   ").is_err());
/// assert!(MessageText::new("x".repeat(4097)).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MessageText(String);

impl MessageText {
    /// Checks and wraps the text.
    pub fn new(text: impl Into<String>) -> Result<Self, ValidationError> {
        let text = text.into();
        Self::check(&text).map_err(|r| ValidationError::new("message", r))?;
        Ok(Self(text))
    }

    fn check(text: &str) -> Result<(), String> {
        if text.trim().is_empty() {
            return Err(if text.is_empty() {
                "expected message text, got an empty string".into()
            } else {
                "expected message text, got only white space".into()
            });
        }
        check_len(text)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most [`MAX_MESSAGE_CHARS`] characters, counted as Unicode scalar values.
pub(crate) fn check_len(text: &str) -> Result<(), String> {
    // Bytes bound chars from above, so most texts skip the count.
    if text.len() > MAX_MESSAGE_CHARS {
        let n = text.chars().count();
        if n > MAX_MESSAGE_CHARS {
            return Err(format!(
                "expected at most {MAX_MESSAGE_CHARS} characters, got {n}"
            ));
        }
    }
    Ok(())
}

impl fmt::Display for MessageText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for MessageText {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for MessageText {
    type Error = ValidationError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for MessageText {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl Serialize for MessageText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MessageText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::check(&s).map_err(serde::de::Error::custom)?;
        Ok(Self(s))
    }
}

/// A public `http` or `https` URL of an image or document the server downloads.
///
/// ```
/// use sevenoways_sdk::MediaUrl;
/// assert!(MediaUrl::new("https://example.com/banner.jpg").is_ok());
/// assert!(MediaUrl::new("file:///etc/passwd").is_err());
/// assert!(MediaUrl::new("example.com/banner.jpg").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MediaUrl(String);

impl MediaUrl {
    /// Checks and wraps the URL; the error names the field `fileUrl` (see [`MediaUrl::for_field`]).
    pub fn new(url: impl AsRef<str>) -> Result<Self, ValidationError> {
        Self::for_field(url, "fileUrl")
    }

    /// Checks the URL, naming `field` (`imageUrl` or `fileUrl`) in the error.
    pub fn for_field(url: impl AsRef<str>, field: &'static str) -> Result<Self, ValidationError> {
        let url = url.as_ref().trim();
        Self::check(url).map_err(|r| ValidationError::new(field, r))?;
        Ok(Self(url.to_owned()))
    }

    fn check(raw: &str) -> Result<(), String> {
        match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
            Ok(u) => Err(format!(
                "expected a public http or https URL, got a {} URL",
                u.scheme()
            )),
            Err(_) => Err(format!(
                "expected a public http or https URL such as \"https://example.com/file.pdf\", got {raw:?}"
            )),
        }
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parsed URL.
    pub fn to_url(&self) -> url::Url {
        url::Url::parse(&self.0).expect("checked when built")
    }
}

impl fmt::Display for MediaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for MediaUrl {
    type Error = ValidationError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl FromStr for MediaUrl {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for MediaUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MediaUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let s = s.trim();
        Self::check(s).map_err(serde::de::Error::custom)?;
        Ok(Self(s.to_owned()))
    }
}

/// A five-field cron expression, minute first (`0 9 * * 1-5`), as the documentation's
/// cron reference uses. Six-field (seconds) forms are refused.
///
/// ```
/// use sevenoways_sdk::CronExpr;
/// assert!(CronExpr::new("0 8,17 * * *").is_ok());
/// assert!(CronExpr::new("*/30 * * * *").is_ok());
/// assert!(CronExpr::new("0 0 9 * * *").is_err());
/// assert!(CronExpr::new("0 25 * * *").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CronExpr(String);

impl CronExpr {
    /// Parses and checks the expression.
    pub fn new(expr: impl AsRef<str>) -> Result<Self, ValidationError> {
        let expr = expr.as_ref().trim();
        Self::parse(expr).map_err(|r| ValidationError::new("cronExpr", r))?;
        Ok(Self(expr.split_whitespace().collect::<Vec<_>>().join(" ")))
    }

    fn parse(expr: &str) -> Result<croner::Cron, String> {
        let fields = expr.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\"), got {fields}"
            ));
        }
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| format!("expected a cron expression such as \"0 9 * * 1-5\": {e}"))
    }

    /// The expression, fields separated by single spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parsed schedule, for computing run times.
    pub fn schedule(&self) -> croner::Cron {
        Self::parse(&self.0).expect("checked when built")
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for CronExpr {
    type Error = ValidationError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl FromStr for CronExpr {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for CronExpr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CronExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(s.trim()).map_err(serde::de::Error::custom)?;
        Ok(Self(s.split_whitespace().collect::<Vec<_>>().join(" ")))
    }
}

/// An IANA time zone name (`Asia/Dubai`, `Europe/London`, `America/New_York`, `UTC`).
///
/// ```
/// use sevenoways_sdk::TimeZone;
/// let tz: TimeZone = "Asia/Dubai".parse().unwrap();
/// assert_eq!(tz.as_str(), "Asia/Dubai");
/// assert!(TimeZone::new("Mars/Olympus").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    /// UTC.
    pub const UTC: TimeZone = TimeZone(chrono_tz::Tz::UTC);

    /// Looks the name up in the IANA database.
    pub fn new(name: impl AsRef<str>) -> Result<Self, ValidationError> {
        Self::parse(name.as_ref()).map_err(|r| ValidationError::new("timezone", r))
    }

    fn parse(name: &str) -> Result<Self, String> {
        name.trim().parse::<chrono_tz::Tz>().map(Self).map_err(|_| {
            format!("expected an IANA time zone such as \"Asia/Dubai\" or \"UTC\", got {name:?}")
        })
    }

    /// The IANA name.
    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }

    /// The zone, for date arithmetic.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        Self::UTC
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for TimeZone {
    type Error = ValidationError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl FromStr for TimeZone {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The success envelope: `{"success": true, ...fields of T}`.
///
/// Every successful response is one of these; `T` is the resource-specific part.
/// The server serialises it, the client strips it.
#[derive(Debug, Clone, PartialEq)]
pub struct Success<T>(pub T);

impl<T: Serialize> Serialize for Success<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a, T> {
            success: bool,
            #[serde(flatten)]
            data: &'a T,
        }
        Wire {
            success: true,
            data: &self.0,
        }
        .serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Success<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire<T> {
            #[allow(dead_code)]
            #[serde(default)]
            success: Option<bool>,
            #[serde(flatten)]
            data: T,
        }
        Wire::deserialize(d).map(|w| Success(w.data))
    }
}

/// The one documented error shape: `{"success": false, "error": "<message>"}`.
///
/// ```
/// use sevenoways_sdk::ErrorBody;
/// let body = serde_json::to_string(&ErrorBody::new("phone: expected digits only")).unwrap();
/// assert_eq!(body, r#"{"success":false,"error":"phone: expected digits only"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// A human-readable message.
    pub error: String,
}

impl ErrorBody {
    /// An error envelope with this message.
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            success: false,
            error: error.into(),
        }
    }
}

/// The body of responses that carry nothing but success (`DELETE` endpoints):
/// `{"success": true}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Empty {}

/// The exact 429 message the documentation gives for the send rate limit (an em dash, U+2014).
pub const RATE_LIMIT_MESSAGE: &str =
    "Send rate limit exceeded \u{2014} max 60 requests/minute per API key.";

/// Schemas for the hand-serialised value types: strings with their rules.
#[cfg(feature = "schema")]
mod schema {
    use std::borrow::Cow;

    use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

    macro_rules! string_schema {
        ($ty:ty, $name:literal, $($rest:tt)*) => {
            impl JsonSchema for $ty {
                fn schema_name() -> Cow<'static, str> {
                    $name.into()
                }
                fn json_schema(_: &mut SchemaGenerator) -> Schema {
                    json_schema!({ "type": "string", $($rest)* })
                }
            }
        };
    }

    string_schema!(super::MessageText, "MessageText", "minLength": 1, "maxLength": 4096,
        "description": "Text, at most 4096 characters, kept byte for byte.");
    string_schema!(super::MediaUrl, "MediaUrl", "format": "uri", "pattern": "^https?://",
        "description": "A public http or https URL.");
    string_schema!(super::CronExpr, "CronExpr",
        "description": "Five cron fields, minute first, e.g. `0 9 * * 1-5`.", "examples": ["0 9 * * *", "*/30 * * * *"]);
    string_schema!(super::TimeZone, "TimeZone",
        "description": "An IANA time zone name.", "examples": ["Asia/Dubai", "Europe/London", "America/New_York", "UTC"]);
}
