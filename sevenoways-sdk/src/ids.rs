//! Validated identifiers and the small value types the API is made of.
//!
//! Every type here checks its value when built ([`std::str::FromStr`], `new`, or serde),
//! so a value that exists is one the API accepts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::ValidationError;

/// Implements the string plumbing shared by every validated string newtype.
macro_rules! string_newtype {
    ($name:ident, $field:literal, $pattern:literal) => {
        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "pattern": $pattern })
            }
        }

        impl $name {
            /// Builds the value, checking it as the API does.
            pub fn new(value: impl AsRef<str>) -> Result<Self, ValidationError> {
                Self::check(value.as_ref().trim())
                    .map(|()| Self(value.as_ref().trim().to_owned()))
                    .map_err(|reason| ValidationError::new($field, reason))
            }

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
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

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = crate::models::de::string_like(d)?;
                let raw = raw.trim();
                Self::check(raw)
                    .map(|()| Self(raw.to_owned()))
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

fn check_token(s: &str, what: &str, max: usize) -> Result<(), String> {
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
    Ok(())
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
string_newtype!(InstanceId, "instanceId", "^[A-Za-z0-9_.-]{1,64}$");
impl InstanceId {
    fn check(s: &str) -> Result<(), String> {
        check_token(s, "an instance id such as \"number2\"", 64)
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
string_newtype!(GroupId, "groupIds", "^[0-9-]{1,64}@g\\.us$");
impl GroupId {
    fn check(s: &str) -> Result<(), String> {
        match s.strip_suffix("@g.us") {
            Some(user)
                if !user.is_empty()
                    && user.len() <= 64
                    && user.bytes().all(|b| b.is_ascii_digit() || b == b'-') =>
            {
                Ok(())
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
string_newtype!(NewsletterJid, "channelJid", "^[0-9]{1,64}@newsletter$");
impl NewsletterJid {
    fn check(s: &str) -> Result<(), String> {
        match s.strip_suffix("@newsletter") {
            Some(user)
                if !user.is_empty()
                    && user.len() <= 64
                    && user.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(())
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
string_newtype!(ChannelId, "id", "^[A-Za-z0-9_.-]{1,64}$");
impl ChannelId {
    fn check(s: &str) -> Result<(), String> {
        check_token(s, "a channel id such as \"ch_abc123\"", 64)
    }
}

/// A schedule's id (`sch_…`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ScheduleId(String);
string_newtype!(ScheduleId, "id", "^[A-Za-z0-9_.-]{1,64}$");
impl ScheduleId {
    fn check(s: &str) -> Result<(), String> {
        check_token(s, "a schedule id such as \"sch_abc123\"", 64)
    }
}

/// A webhook subscription's id (`wh_…`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct WebhookId(String);
string_newtype!(WebhookId, "id", "^[A-Za-z0-9_.-]{1,64}$");
impl WebhookId {
    fn check(s: &str) -> Result<(), String> {
        check_token(s, "a webhook id such as \"wh_abc123\"", 64)
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
string_newtype!(Phone, "phone", "^[1-9][0-9]{6,14}$");
impl Phone {
    fn check(s: &str) -> Result<(), String> {
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
        Ok(())
    }

    /// Strips `+`, spaces, dashes, dots and brackets, then checks the digits.
    pub fn normalize(value: &str) -> Result<Self, ValidationError> {
        let cleaned: String = value
            .chars()
            .filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
            .collect();
        Self::check(&cleaned)
            .map(|()| Self(cleaned))
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
string_newtype!(GroupName, "groups", "^.{1,100}$");
impl GroupName {
    fn check(s: &str) -> Result<(), String> {
        if s.is_empty() {
            Err("expected a group name, got an empty string".into())
        } else if s.chars().count() > 100 {
            Err("expected a group name of at most 100 characters".into())
        } else {
            Ok(())
        }
    }

    /// Whether `other` names the same group, ignoring case as the server does.
    pub fn matches(&self, other: &str) -> bool {
        self.0.to_lowercase() == other.trim().to_lowercase()
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
    fn instance_ids_are_url_safe() {
        assert!(InstanceId::new("number2").is_ok());
        assert!(InstanceId::new("inst_abc-1.2").is_ok());
        assert!(InstanceId::new("a/b").is_err());
        assert!(InstanceId::new("..").is_err() && ChannelId::new(".").is_err());
        assert!(InstanceId::new("v1.2").is_ok());
        assert!(InstanceId::new("x".repeat(65)).is_err());
    }
}
