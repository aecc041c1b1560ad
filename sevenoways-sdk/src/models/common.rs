//! Value types shared by several resources, and the two response envelopes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::string_newtype;
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
string_newtype!(MessageText, field = "message", [], schema {
    "minLength": 1, "maxLength": 4096,
    "description": "Text, at most 4096 characters, kept byte for byte."
});

impl MessageText {
    fn parse(text: &str) -> Result<String, String> {
        if text.trim().is_empty() {
            return Err(if text.is_empty() {
                "expected message text, got an empty string".into()
            } else {
                "expected message text, got only white space".into()
            });
        }
        check_len(text)?;
        Ok(text.to_owned())
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
// `new` names the field `fileUrl`; `for_field` names another (`imageUrl`, `url`).
string_newtype!(MediaUrl, field = "fileUrl", [trim], schema {
    "format": "uri", "pattern": "^https?://",
    "description": "A public http or https URL."
});

impl MediaUrl {
    /// Checks the URL, naming `field` (`imageUrl` or `fileUrl`) in the error.
    pub fn for_field(url: impl AsRef<str>, field: &'static str) -> Result<Self, ValidationError> {
        Self::parse(url.as_ref().trim())
            .map(Self)
            .map_err(|r| ValidationError::new(field, r))
    }

    fn parse(raw: &str) -> Result<String, String> {
        match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Ok(raw.to_owned())
            }
            Ok(u) => Err(format!(
                "expected a public http or https URL, got a {} URL",
                u.scheme()
            )),
            Err(_) => Err(format!(
                "expected a public http or https URL such as \"https://example.com/file.pdf\", got {raw:?}"
            )),
        }
    }

    /// The parsed URL.
    pub fn to_url(&self) -> url::Url {
        url::Url::parse(&self.0).expect("checked when built")
    }
}

/// A five-field cron expression, minute first (`0 9 * * 1-5`), as the documentation's
/// cron reference uses. Six-field (seconds) forms are refused. Kept with single spaces
/// between the fields.
///
/// ```
/// use sevenoways_sdk::CronExpr;
/// assert!(CronExpr::new("0 8,17 * * *").is_ok());
/// assert!(CronExpr::new("*/30 * * * *").is_ok());
/// assert!(CronExpr::new("0 0 9 * * *").is_err());
/// assert!(CronExpr::new("0 25 * * *").is_err());
/// assert_eq!(CronExpr::new(" 0  9 * * 1-5 ").unwrap(), "0 9 * * 1-5");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CronExpr(String);
string_newtype!(CronExpr, field = "cronExpr", [trim], schema {
    "description": "Five cron fields, minute first, e.g. `0 9 * * 1-5`.",
    "examples": ["0 9 * * *", "*/30 * * * *"]
});

impl CronExpr {
    fn parse(expr: &str) -> Result<String, String> {
        Self::schedule_of(expr)?;
        Ok(expr.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    fn schedule_of(expr: &str) -> Result<croner::Cron, String> {
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

    /// The parsed schedule, for computing run times.
    pub fn schedule(&self) -> croner::Cron {
        Self::schedule_of(&self.0).expect("checked when built")
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
string_newtype!(TimeZone, field = "timezone", [custom_as_str], schema {
    "description": "An IANA time zone name.",
    "examples": ["Asia/Dubai", "Europe/London", "America/New_York", "UTC"]
});

impl TimeZone {
    /// UTC.
    pub const UTC: TimeZone = TimeZone(chrono_tz::Tz::UTC);

    // Trims here rather than with the `trim` knob, so the error quotes the value as given.
    fn parse(name: &str) -> Result<chrono_tz::Tz, String> {
        name.trim().parse::<chrono_tz::Tz>().map_err(|_| {
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
