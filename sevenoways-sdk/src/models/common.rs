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
    "type": "string", "minLength": 1, "maxLength": 4096, "pattern": crate::validation::VISIBLE,
    "description": "Text, at most 4096 characters and not only white space, kept byte for byte."
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
    "type": "string", "format": "uri", "maxLength": MAX_URL_LEN, "pattern": URL_PATTERN,
    "description": "An http or https URL whose host the server may reach: a host name \
        (the pattern) or an IP address (`http://203.0.113.7/a.png`, `http://[2001:db8::1]/`), \
        without a user name or password, non-ASCII characters percent-encoded. A host that \
        resolves to an address the server's network policy refuses (loopback, private, \
        link-local, metadata, reserved) is a 400."
});

/// The longest URL accepted, in bytes (URLs are ASCII).
pub const MAX_URL_LEN: usize = 2048;

/// [`MediaUrl`]'s syntax for a host name. An IP-address host is accepted too (see
/// [`MediaUrl`]); a pattern cannot tell which addresses the server's policy allows.
#[cfg(feature = "schema")]
pub(crate) const URL_PATTERN: &str = concat!(
    "^https?://",
    "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*",
    "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    "(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?",
    "(?:\\?(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?",
    "(?:#(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$",
);

/// What [`MediaUrl`] reaches: a host name or an IP address.
fn check_url(raw: &str) -> Result<(), String> {
    let generic = || {
        format!(
            "expected a public http or https URL such as \"https://example.com/file.pdf\", got {raw:?}"
        )
    };
    if raw.len() > MAX_URL_LEN {
        return Err(format!(
            "expected a URL of at most {MAX_URL_LEN} characters"
        ));
    }
    let Some(rest) = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
    else {
        return Err(match raw.split_once("://") {
            Some((scheme, _)) => format!(
                "expected a public http or https URL, got a {} URL",
                scheme.to_ascii_lowercase()
            ),
            None => generic(),
        });
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("expected a URL without a user name or password".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']').ok_or_else(generic)?;
            addr.parse::<std::net::Ipv6Addr>().map_err(|_| generic())?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(generic)?),
            };
            (None, port)
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(authority), None),
        },
    };
    if let Some(port) = port {
        let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        let ok = digits
            && (port.len() <= 4
                || (port.len() == 5
                    && !port.starts_with('0')
                    && port.parse::<u32>().is_ok_and(|p| p <= 65535)));
        if !ok {
            return Err(generic());
        }
    }
    if let Some(host) = host
        && host.parse::<std::net::Ipv4Addr>().is_err()
        && !is_host_name(host)
    {
        return Err(generic());
    }
    if !tail_is_uri(tail) {
        return Err(format!(
            "expected a URL with its special and non-ASCII characters percent-encoded, got {raw:?}"
        ));
    }
    Ok(())
}

/// DNS labels of letters, digits and inner `-`, at most 63 each; the last starts with a
/// letter, so no name reads as a number (`http://0` would be 0.0.0.0).
fn is_host_name(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    labels.iter().all(|l| label_ok(l))
        && labels
            .last()
            .is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// Whether `q` is a URI query (after `?`): the characters of [`tail_is_uri`]'s query.
pub(crate) fn query_chars_ok(q: &str) -> bool {
    !q.contains('#') && tail_is_uri(&format!("?{q}"))
}

/// Path, query and fragment of an RFC 3986 URI: `/…` then `?…` then `#…`, each made of
/// unreserved and sub-delimiter characters, `:`, `@`, `/` (and `?` after the path) or
/// `%` and two hex digits.
fn tail_is_uri(tail: &str) -> bool {
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    let chars_ok = |s: &str, extra: &[u8]| {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'%' {
                let hex = |x: Option<&u8>| x.is_some_and(u8::is_ascii_hexdigit);
                if !(hex(b.get(i + 1)) && hex(b.get(i + 2))) {
                    return false;
                }
                i += 3;
                continue;
            }
            let ok = c.is_ascii_alphanumeric()
                || b"._~!$&'()*+,;=:@-".contains(&c)
                || extra.contains(&c);
            if !ok {
                return false;
            }
            i += 1;
        }
        true
    };
    (path.is_empty() || path.starts_with('/'))
        && chars_ok(path, b"/")
        && query.is_none_or(|q| chars_ok(q, b"/?"))
        && fragment.is_none_or(|f| chars_ok(f, b"/?"))
}

impl MediaUrl {
    /// Checks the URL (surrounding white space dropped, as [`MediaUrl::new`] does), naming
    /// `field` (`imageUrl` or `fileUrl`) in the error.
    pub fn for_field(url: impl AsRef<str>, field: &'static str) -> Result<Self, ValidationError> {
        Self::parse(url.as_ref().trim())
            .map(Self)
            .map_err(|r| ValidationError::new(field, r))
    }

    fn parse(raw: &str) -> Result<String, String> {
        check_url(raw)?;
        match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Ok(raw.to_owned())
            }
            _ => Err(format!(
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
/// cron reference uses: numbers, `*`, ranges `a-b`, steps `/n` (1–99) and lists `a,b`.
/// Names (`MON`, `JAN`), `?`, `L`, `W`, `#`, `@daily` and a seconds field are refused. A
/// range that runs backwards wraps around (`22-2` is 22:00 to 02:00, `5-1` Friday to
/// Monday). Kept with single spaces between the fields.
///
/// ```
/// use sevenoways_sdk::CronExpr;
/// assert!(CronExpr::new("0 8,17 * * *").is_ok());
/// assert!(CronExpr::new("*/30 * * * *").is_ok());
/// assert!(CronExpr::new("0 22-2 * * 5-1").is_ok());
/// assert!(CronExpr::new("0 0 9 * * *").is_err());
/// assert!(CronExpr::new("0 25 * * *").is_err());
/// assert_eq!(CronExpr::new(" 0  9 * * 1-5 ").unwrap(), "0 9 * * 1-5");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CronExpr(String);
string_newtype!(CronExpr, field = "cronExpr", [trim], schema {
    "type": "string", "maxLength": MAX_CRON_LEN, "pattern": cron_pattern(),
    "description": "Five cron fields, minute first, separated by spaces: numbers, `*`, \
        ranges `a-b` (a backwards range wraps around), steps `/n` (1-99) and lists `a,b`. \
        Minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-7 (0 and 7 \
        are Sunday). When both day fields are restricted either one matches. An expression \
        that never fires (`0 9 31 2 *`) is a 400.",
    "examples": ["0 9 * * *", "0 9 * * 1", "0 9 * * 1-5", "0 8,17 * * *", "*/30 * * * *", "0 9 1 * *", "0 9 * * 5"]
});

/// The longest cron expression accepted.
pub const MAX_CRON_LEN: usize = 255;

/// Each field: its name, its range, and the regular expression of one of its numbers
/// (no leading zeros).
const CRON_FIELDS: [(&str, u32, u32, &str); 5] = [
    ("minute", 0, 59, "[1-5]?[0-9]"),
    ("hour", 0, 23, "1?[0-9]|2[0-3]"),
    ("day of month", 1, 31, "[1-9]|[12][0-9]|3[01]"),
    ("month", 1, 12, "[1-9]|1[0-2]"),
    ("day of week", 0, 7, "[0-7]"),
];

/// The pattern [`CronExpr`] checks, field by field.
#[cfg(feature = "schema")]
fn cron_pattern() -> String {
    let fields: Vec<String> = CRON_FIELDS
        .iter()
        .map(|(_, _, _, n)| {
            let item = format!("(?:\\*|(?:{n})(?:-(?:{n}))?)(?:/[1-9][0-9]?)?");
            format!("{item}(?:,{item})*")
        })
        .collect();
    format!("^{}$", fields.join("[ \t]+"))
}

impl CronExpr {
    fn parse(expr: &str) -> Result<String, String> {
        Self::schedule_of(expr)?;
        Ok(expr
            .split([' ', '\t'])
            .filter(|f| !f.is_empty())
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// The expression croner reads: ours, checked, with backwards ranges split in two.
    fn for_croner(expr: &str) -> Result<String, String> {
        if expr.len() > MAX_CRON_LEN {
            return Err(format!("expected at most {MAX_CRON_LEN} characters"));
        }
        if expr.starts_with([' ', '\t']) || expr.ends_with([' ', '\t']) {
            return Err(format!(
                "expected the five fields without surrounding spaces, got {expr:?}"
            ));
        }
        let fields: Vec<&str> = expr.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\"), got {}",
                fields.len()
            ));
        }
        let mut out = Vec::with_capacity(5);
        for (field, (name, lo, hi, _)) in fields.iter().zip(CRON_FIELDS) {
            let bad = || {
                format!(
                    "expected the {name} field as numbers {lo}-{hi}, *, ranges a-b, steps /1-99 \
                     or lists a,b (e.g. \"0 9 * * 1-5\"), got {field:?}"
                )
            };
            let number = |s: &str| -> Result<u32, String> {
                let canonical = !s.is_empty()
                    && s.len() <= 2
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (s == "0" || !s.starts_with('0'));
                match s.parse::<u32>() {
                    Ok(n) if canonical && (lo..=hi).contains(&n) => Ok(n),
                    _ => Err(bad()),
                }
            };
            let mut items = Vec::new();
            for item in field.split(',') {
                let (base, step) = match item.split_once('/') {
                    Some((b, s)) => {
                        let ok = (1..=2).contains(&s.len())
                            && s.bytes().all(|b| b.is_ascii_digit())
                            && !s.starts_with('0');
                        if !ok {
                            return Err(bad());
                        }
                        (b, Some(s))
                    }
                    None => (item, None),
                };
                let step = step.map(|s| format!("/{s}")).unwrap_or_default();
                if base == "*" {
                    items.push(format!("*{step}"));
                } else if let Some((a, b)) = base.split_once('-') {
                    let (a, b) = (number(a)?, number(b)?);
                    if a <= b {
                        items.push(format!("{a}-{b}{step}"));
                    } else {
                        items.push(format!("{a}-{hi}{step}"));
                        items.push(format!("{lo}-{b}{step}"));
                    }
                } else {
                    items.push(format!("{}{step}", number(base)?));
                }
            }
            // croner reads `*` only as a whole field; in a list it already means all.
            if items.iter().any(|i| i == "*") {
                out.push("*".to_owned());
            } else {
                out.push(items.join(","));
            }
        }
        Ok(out.join(" "))
    }

    fn schedule_of(expr: &str) -> Result<croner::Cron, String> {
        let croner_expr = Self::for_croner(expr)?;
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .build()
            .parse(&croner_expr)
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
    "type": "string",
    "description": "An IANA time zone name, spelt exactly.",
    "enum": chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect::<Vec<_>>(),
    "examples": ["Asia/Dubai", "Europe/London", "America/New_York", "UTC"]
});

impl TimeZone {
    /// UTC.
    pub const UTC: TimeZone = TimeZone(chrono_tz::Tz::UTC);

    fn parse(name: &str) -> Result<chrono_tz::Tz, String> {
        name.parse::<chrono_tz::Tz>().map_err(|_| {
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

/// The body of a `POST` that takes no fields (`/pair`, `/test`, `/redeliver`): nothing,
/// `{}` or an empty form. A field is refused (`400`), so a body meant for another
/// endpoint is not silently ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

impl crate::Validate for NoFields {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// The exact 429 message the documentation gives for the send rate limit (an em dash, U+2014).
pub const RATE_LIMIT_MESSAGE: &str =
    "Send rate limit exceeded \u{2014} max 60 requests/minute per API key.";
