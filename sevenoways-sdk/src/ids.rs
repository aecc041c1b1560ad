//! Validated identifiers and the small value types the API is made of.
//!
//! Every type here checks its value when built ([`std::str::FromStr`], `new`, or serde),
//! so a value that exists is one the API accepts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::validation::ValidationError;

/// Writes the plumbing every validated string type shares, so each type states only its
/// rule (`parse`) and its knobs:
///
/// - `field = "phone"`: the field a [`ValidationError`] names;
/// - `trim`: [`new`](InstanceId::new) and [`FromStr`] drop surrounding white space before
///   `parse` sees the value (ids, URLs typed by people); without it the value is kept byte
///   for byte (message text). The wire (serde) never trims: a request is checked exactly
///   as sent, as its OpenAPI schema says;
/// - `numbers`: serde also accepts a JSON integer, read as its digits (spreadsheets and
///   no-code tools send phone numbers that way); the schema must then say so;
/// - `pattern = "^…$"` or `schema { "minLength": 1, … }`: the JSON Schema of the value,
///   which states exactly what `parse` accepts (`tests::patterns_agree_with_parse`);
/// - `custom_as_str`: the type writes its own `as_str` (a [`TimeZone`](crate::TimeZone)
///   holds a `chrono_tz::Tz`, not a `String`).
///
/// The type provides `fn parse(&str) -> Result<Inner, String>`, which checks the value and
/// builds what is stored; the `String` is the reason, without the field name.
///
/// Generated: `new`, `exact` (no trimming, as the server reads a value), `as_str`,
/// [`FromStr`], `TryFrom<&str>`, `TryFrom<String>`,
/// `Display`, `AsRef<str>`, `PartialEq` with `str`, `&str` and `String`, serde and, with the
/// `schema` feature, `JsonSchema`.
macro_rules! string_newtype {
    ($name:ident, field = $field:literal, [$($knob:ident),*], pattern = $pattern:expr) => {
        string_newtype!($name, field = $field, [$($knob),*], schema { "type": "string", "pattern": $pattern });
    };
    ($name:ident, field = $field:literal, [$($knob:ident),*], schema { $($schema:tt)* }) => {
        string_newtype!(@as_str $name, [$($knob)*]);
        string_newtype!(@common $name, $field, [$($knob)*], { $($schema)* });
    };

    (@as_str $name:ident, [custom_as_str $($rest:ident)*]) => {};
    (@as_str $name:ident, [$other:ident $($rest:ident)*]) => { string_newtype!(@as_str $name, [$($rest)*]); };
    (@as_str $name:ident, []) => {
        impl $name {
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
    (@trim [trim $($rest:ident)*], $s:expr) => { $s.trim() };
    (@trim [$other:ident $($rest:ident)*], $s:expr) => { string_newtype!(@trim [$($rest)*], $s) };
    (@trim [], $s:expr) => { $s };
    (@raw [numbers $($rest:ident)*], $d:expr) => { $crate::models::de::string_like($d)? };
    (@raw [$other:ident $($rest:ident)*], $d:expr) => { string_newtype!(@raw [$($rest)*], $d) };
    (@raw [], $d:expr) => { <String as serde::Deserialize>::deserialize($d)? };

    (@common $name:ident, $field:literal, [$($knob:ident)*], { $($schema:tt)* }) => {
        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ $($schema)* })
            }
        }

        impl $name {
            /// Builds the value, checking it as the API does.
            pub fn new(value: impl AsRef<str>) -> Result<Self, ValidationError> {
                Self::exact(string_newtype!(@trim [$($knob)*], value.as_ref()))
            }

            /// Builds the value from exactly these characters, as the server reads a
            /// request: nothing is trimmed.
            pub fn exact(value: &str) -> Result<Self, ValidationError> {
                Self::parse(value)
                    .map(Self)
                    .map_err(|reason| ValidationError::new($field, reason))
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ValidationError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.as_str() == other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw: String = string_newtype!(@raw [$($knob)*], d);
                Self::parse(&raw).map(Self).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use string_newtype;

/// The rule of every id made of letters, digits, `_`, `-` and `.` (with `"maxLength": 64`):
/// at least one character that is not a `.`, since `.` and `..` are path segments with a
/// meaning of their own.
#[cfg(feature = "schema")]
pub(crate) const TOKEN_PATTERN: &str = "^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$";

/// A phone number: country code first, 7 to 15 digits, no leading zero.
#[cfg(feature = "schema")]
pub(crate) const PHONE_PATTERN: &str = "^[1-9][0-9]{6,14}$";

/// An id chosen by a person or generated by the server: safe as one URL path segment.
fn check_token(s: &str, what: &str, max: usize) -> Result<String, String> {
    if s.is_empty() {
        return Err(format!("expected {what}, got an empty string"));
    }
    // `.` and `..` are path segments with a meaning of their own: `DELETE
    // /api/instances/..` would reach `/api/`.
    if s.bytes().all(|b| b == b'.') {
        return Err(format!("expected {what}, got {s:?}"));
    }
    if s.len() > max {
        return Err(format!("expected {what} of at most {max} characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(format!(
            "expected {what} made of letters, digits, '_', '-' or '.', got {s:?}"
        ));
    }
    Ok(s.to_owned())
}

/// An instance: one paired WhatsApp number, with an id its owner chose (`number2`).
///
/// Letters, digits, `_`, `-` and `.`, at most 64 characters, so it is safe in a URL path.
///
/// ```
/// use sevenoways_sdk::InstanceId;
/// let id: InstanceId = "number2".parse().unwrap();
/// assert_eq!(id.as_str(), "number2");
/// assert!(InstanceId::new("my number").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct InstanceId(String);
string_newtype!(
    InstanceId,
    field = "instanceId",
    [trim],
    schema { "type": "string", "pattern": TOKEN_PATTERN, "maxLength": 64 }
);
impl InstanceId {
    fn parse(s: &str) -> Result<String, String> {
        check_token(s, "an instance id such as \"number2\"", 64)
    }
}

/// A Meta WhatsApp Cloud API phone number id (`106540352242922`): the number's id in Meta
/// Business Manager, not the phone number itself. Digits only, at most 32.
///
/// ```
/// use sevenoways_sdk::PhoneNumberId;
/// assert!(PhoneNumberId::new("106540352242922").is_ok());
/// assert!(PhoneNumberId::new("+1 555 0100").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PhoneNumberId(String);
string_newtype!(
    PhoneNumberId,
    field = "phoneNumberId",
    [trim],
    pattern = "^[0-9]{1,32}$"
);
impl PhoneNumberId {
    fn parse(s: &str) -> Result<String, String> {
        if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "expected the number's phone number id from Meta Business Manager (digits only, \
                 e.g. \"106540352242922\"), got {s:?}"
            ));
        }
        Ok(s.to_owned())
    }
}

/// A WhatsApp group id, `120363…@g.us`. Stable when the group is renamed.
///
/// ```
/// use sevenoways_sdk::GroupId;
/// assert!(GroupId::new("120363025246125888@g.us").is_ok());
/// assert!(GroupId::new("Team A").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct GroupId(String);
string_newtype!(
    GroupId,
    field = "groupIds",
    [trim],
    pattern = "^[0-9-]{1,64}@g\\.us$"
);
impl GroupId {
    fn parse(s: &str) -> Result<String, String> {
        match s.strip_suffix("@g.us") {
            Some(user)
                if !user.is_empty()
                    && user.len() <= 64
                    && user.bytes().all(|b| b.is_ascii_digit() || b == b'-') =>
            {
                Ok(s.to_owned())
            }
            _ => Err(format!(
                "expected a group id like \"120363025246125888@g.us\", got {s:?}"
            )),
        }
    }
}

/// A community id or channel JID, `120363…@newsletter`.
///
/// ```
/// use sevenoways_sdk::NewsletterJid;
/// assert!(NewsletterJid::new("120363111111111111@newsletter").is_ok());
/// assert!(NewsletterJid::new("120363111111111111@g.us").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NewsletterJid(String);
string_newtype!(
    NewsletterJid,
    field = "channelJid",
    [trim],
    pattern = "^[0-9]{1,64}@newsletter$"
);
impl NewsletterJid {
    fn parse(s: &str) -> Result<String, String> {
        match s.strip_suffix("@newsletter") {
            Some(user)
                if !user.is_empty()
                    && user.len() <= 64
                    && user.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(s.to_owned())
            }
            _ => Err(format!(
                "expected a JID like \"120363111111111111@newsletter\", got {s:?}"
            )),
        }
    }

    /// The same check, reporting the error under another field name (`communityId`).
    pub fn for_field(value: &str, field: &'static str) -> Result<Self, ValidationError> {
        Self::new(value).map_err(|e| ValidationError::new(field, e.reason().to_owned()))
    }
}

/// A saved channel's id, as `GET /api/channels` lists it (`ch_abc123`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ChannelId(String);
string_newtype!(
    ChannelId,
    field = "id",
    [trim],
    schema { "type": "string", "pattern": TOKEN_PATTERN, "maxLength": 64 }
);
impl ChannelId {
    fn parse(s: &str) -> Result<String, String> {
        check_token(s, "a channel id such as \"ch_abc123\"", 64)
    }
}

/// A schedule's id (`sch_…`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ScheduleId(String);
string_newtype!(
    ScheduleId,
    field = "id",
    [trim],
    schema { "type": "string", "pattern": TOKEN_PATTERN, "maxLength": 64 }
);
impl ScheduleId {
    fn parse(s: &str) -> Result<String, String> {
        check_token(s, "a schedule id such as \"sch_abc123\"", 64)
    }
}

/// A webhook subscription's id (`wh_…`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct WebhookId(String);
string_newtype!(
    WebhookId,
    field = "id",
    [trim],
    schema { "type": "string", "pattern": TOKEN_PATTERN, "maxLength": 64 }
);
impl WebhookId {
    fn parse(s: &str) -> Result<String, String> {
        check_token(s, "a webhook id such as \"wh_abc123\"", 64)
    }
}

/// A webhook delivery's id (`dlv_…`), as `GET /api/webhooks/{id}/deliveries` lists it.
///
/// ```
/// use sevenoways_sdk::DeliveryId;
/// let id: DeliveryId = "dlv_3f9a".parse().unwrap();
/// assert_eq!(id, "dlv_3f9a");
/// assert_eq!(DeliveryId::new("dlv 1/2").unwrap_err().field(), "deliveryId");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct DeliveryId(String);
string_newtype!(
    DeliveryId,
    field = "deliveryId",
    [trim],
    schema { "type": "string", "pattern": TOKEN_PATTERN, "maxLength": 64 }
);
impl DeliveryId {
    fn parse(s: &str) -> Result<String, String> {
        check_token(s, "a delivery id such as \"dlv_1\"", 64)
    }
}

/// A webhook event's id (`evt_…`): the `id` of the body and the `X-Webhook-Id` header,
/// the same on every retry, so receivers deduplicate by it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct EventId(String);
string_newtype!(
    EventId,
    field = "eventId",
    [trim],
    schema { "type": "string", "pattern": TOKEN_PATTERN, "maxLength": 64 }
);
impl EventId {
    fn parse(s: &str) -> Result<String, String> {
        check_token(s, "an event id such as \"evt_1\"", 64)
    }
}

/// A phone number as the API wants it: country code first, digits only, 7–15 digits.
///
/// [`Phone::normalize`] accepts what people type (`+971 50-123 4567`, `(212) 555-1234` with
/// its country code) and keeps only the digits; [`Phone::new`] accepts only the canonical
/// form. JSON numbers are accepted too, since spreadsheets and no-code tools send them.
///
/// ```
/// use sevenoways_sdk::Phone;
/// assert_eq!(Phone::normalize("+971 50-123 4567").unwrap().as_str(), "971501234567");
/// assert!(Phone::new("+971501234567").is_err());
/// assert!(Phone::new("971501234567").is_ok());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Phone(String);
string_newtype!(
    Phone,
    field = "phone",
    [trim, numbers],
    schema {
        "description": "Country code and number, digits only (971501234567); a JSON number is read as its digits.",
        "anyOf": [
            { "type": "string", "pattern": PHONE_PATTERN },
            { "type": "integer", "minimum": 1_000_000, "maximum": 999_999_999_999_999u64 }
        ],
        "examples": ["971501234567", "447911123456", "12125551234"]
    }
);
impl Phone {
    fn parse(s: &str) -> Result<String, String> {
        let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only {
            return Err(format!(
                "expected digits only, country code first, no '+' or spaces (e.g. 971501234567), got {s:?}"
            ));
        }
        if !(7..=15).contains(&s.len()) || s.starts_with('0') {
            return Err(format!(
                "expected 7 to 15 digits starting with the country code (e.g. 971501234567), got {s:?}"
            ));
        }
        Ok(s.to_owned())
    }

    /// Strips `+`, spaces, dashes, dots and brackets, then checks the digits.
    pub fn normalize(value: &str) -> Result<Self, ValidationError> {
        let cleaned: String = value
            .chars()
            .filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
            .collect();
        Self::parse(&cleaned)
            .map(Self)
            .map_err(|reason| ValidationError::new("phone", reason))
    }
}

/// A queue entry's id. The documentation shows numbers (`"queueId": 142`).
///
/// Ids stay below 2^53 so JavaScript receivers parse them exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct QueueId(pub u64);

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for QueueId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(QueueId).map_err(|_| {
            ValidationError::new(
                "queueId",
                format!("expected a positive whole number, got {s:?}"),
            )
        })
    }
}

/// A group's display name, matched case-insensitively by the server.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct GroupName(String);
string_newtype!(
    GroupName,
    field = "groups",
    [trim],
    schema {
        "type": "string", "minLength": 1, "maxLength": 100, "pattern": crate::validation::VISIBLE,
        "description": "A group's name, matched case-insensitively; not only white space."
    }
);
impl GroupName {
    fn parse(s: &str) -> Result<String, String> {
        if s.is_empty() {
            Err("expected a group name, got an empty string".into())
        } else if s.chars().all(char::is_whitespace) {
            Err("expected a group name, got only white space".into())
        } else if s.chars().count() > 100 {
            Err("expected a group name of at most 100 characters".into())
        } else {
            Ok(s.to_owned())
        }
    }

    /// Whether `other` names the same group, ignoring case and surrounding white space as
    /// the server does.
    pub fn matches(&self, other: &str) -> bool {
        self.0.trim().to_lowercase() == other.trim().to_lowercase()
    }
}

/// An `Idempotency-Key`: names one request, so that sending it again (after a timeout, a
/// dropped connection, a 5xx) cannot do its work twice. 1 to 255 printable ASCII
/// characters (space to `~`), not starting or ending with a space (HTTP would drop it).
///
/// The client sends a fresh one with every `POST` and the same one on each retry; choose
/// your own (`order-1234`) to retry across restarts. The server keeps the first answer
/// under the key, per account, for 24 hours.
///
/// ```
/// use sevenoways_sdk::IdempotencyKey;
/// assert!(IdempotencyKey::new("order-1234").is_ok());
/// let err = IdempotencyKey::new("").unwrap_err();
/// assert_eq!(err.field(), "Idempotency-Key");
/// assert!(IdempotencyKey::new("caf\u{e9}").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct IdempotencyKey(String);
string_newtype!(IdempotencyKey, field = "Idempotency-Key", [], schema {
    "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"
});
impl IdempotencyKey {
    /// The longest key, in characters.
    pub const MAX_LEN: usize = 255;

    fn parse(s: &str) -> Result<String, String> {
        if s.is_empty() {
            return Err("expected 1 to 255 printable ASCII characters, got an empty value".into());
        }
        if s.len() > Self::MAX_LEN {
            return Err(format!(
                "expected at most {} printable ASCII characters, got {}",
                Self::MAX_LEN,
                s.chars().count()
            ));
        }
        if let Some(bad) = s.chars().find(|c| !matches!(c, ' '..='~')) {
            return Err(format!(
                "expected printable ASCII characters only (space to '~'), got {bad:?}"
            ));
        }
        if s.starts_with(' ') || s.ends_with(' ') {
            return Err("expected no space at the start or end (HTTP drops it)".into());
        }
        Ok(s.to_owned())
    }

    /// A new random key: a UUID v4 from the operating system's randomness (128 bits, 122 of
    /// them random), as Stripe's libraries make them.
    ///
    /// ```
    /// use sevenoways_sdk::IdempotencyKey;
    /// let (a, b) = (IdempotencyKey::generate(), IdempotencyKey::generate());
    /// assert_ne!(a, b);
    /// assert_eq!(a.as_str().len(), 36);
    /// assert_eq!(&a.as_str()[14..15], "4");
    /// ```
    #[cfg(feature = "client")]
    pub fn generate() -> Self {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).expect("the operating system's randomness");
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        let h = hex::encode(b);
        Self(format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_normalises_what_people_type() {
        for (input, want) in [
            ("+971 50-123 4567", "971501234567"),
            ("+44 (7911) 123456", "447911123456"),
            ("1.212.555.1234", "12125551234"),
        ] {
            assert_eq!(Phone::normalize(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn phone_refuses_bad_numbers_with_the_field_name() {
        for bad in [
            "",
            "+971501234567",
            "97150 1234567",
            "123456",
            "1234567890123456",
            "abc1234567",
            "0501234567",
        ] {
            let err = Phone::new(bad).unwrap_err();
            assert_eq!(err.field(), "phone", "{bad}");
        }
    }

    #[test]
    fn phone_accepts_json_numbers() {
        let p: Phone = serde_json::from_str("971501234567").unwrap();
        assert_eq!(p.as_str(), "971501234567");
    }

    #[test]
    fn ids_check_their_suffix() {
        assert!(GroupId::new("120363025246125888@g.us").is_ok());
        assert!(GroupId::new("1203-1234@g.us").is_ok());
        assert!(GroupId::new("@g.us").is_err());
        assert!(GroupId::new("120363@newsletter").is_err());
        assert!(NewsletterJid::new("120363@newsletter").is_ok());
        assert_eq!(
            NewsletterJid::for_field("x", "communityId")
                .unwrap_err()
                .field(),
            "communityId"
        );
    }

    #[test]
    fn idempotency_keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::new("order 1234/#~").is_ok());
        assert!(IdempotencyKey::new("k".repeat(255)).is_ok());
        assert!(IdempotencyKey::new("k".repeat(256)).is_err());
        for bad in [
            "",
            " ",
            "a ",
            " a",
            "tab\there",
            "new\nline",
            "\u{7f}",
            "ключ",
        ] {
            assert_eq!(
                IdempotencyKey::new(bad).unwrap_err().field(),
                "Idempotency-Key",
                "{bad:?}"
            );
        }
        assert_eq!(IdempotencyKey::new("a b").unwrap().as_str(), "a b");
    }

    #[test]
    fn instance_ids_are_url_safe() {
        assert!(InstanceId::new("number2").is_ok());
        assert!(InstanceId::new("inst_abc-1.2").is_ok());
        assert!(InstanceId::new("a/b").is_err());
        assert!(InstanceId::new("..").is_err() && ChannelId::new(".").is_err());
        assert!(InstanceId::new("v1.2").is_ok());
        assert!(InstanceId::new("x".repeat(65)).is_err());
    }
}
