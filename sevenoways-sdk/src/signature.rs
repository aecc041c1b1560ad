//! Webhook signatures, two ways on every delivery:
//!
//! - the documented `X-Webhook-Signature: sha256=<hex>`, HMAC-SHA256 over the body alone
//!   ([`sign`], [`Verifier::verify`]). It says who sent the body but not when: a recorded
//!   delivery verifies forever.
//! - [Standard Webhooks](https://www.standardwebhooks.com/): `webhook-id`,
//!   `webhook-timestamp` (the attempt's Unix time in seconds) and
//!   `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, a
//!   space-separated list while a rotated secret still signs ([`sign_standard`],
//!   [`Verifier::verify_standard`]). The timestamp is signed, so a receiver that refuses
//!   timestamps more than five minutes away ([`DEFAULT_TOLERANCE`]) cannot be replayed an
//!   old delivery; `webhook-id` is the event id, for de-duplicating retries.
//!
//! # The Standard Webhooks key
//!
//! Standard Webhooks serialises a secret as `whsec_` followed by the key in base64, and
//! HMACs with the decoded bytes. Our secrets are strings (generated ones are
//! `whsec_` + base64 of 32 random bytes; a caller may choose any string of 16 characters
//! or more), so [`standard_key`] reads them the same way wherever that is unambiguous:
//! a secret that is `whsec_` followed by valid base64 (standard alphabet, padding
//! optional) keys with the decoded bytes, as every Standard Webhooks library does; any
//! other secret keys with its own UTF-8 bytes, the key `X-Webhook-Signature` uses. For the
//! second kind, [`standard_library_secret`] gives the `whsec_` form to hand to a stock
//! Standard Webhooks library, which then verifies our deliveries unchanged.
//!
//! # The rule the server keeps
//!
//! The documented Node.js receiver does not hash the bytes it received: it hashes
//! `JSON.stringify(req.body)`, the body parsed and serialised again. A signature only
//! verifies there if the bytes the server signs and sends are exactly what
//! `JSON.stringify` produces from them. So every webhook body is:
//!
//! - compact JSON (no spaces or newlines between tokens), as `serde_json::to_vec` writes;
//! - free of floats (`JSON.stringify(1.0)` is `1`): timestamps are RFC 3339 strings, counts
//!   are integers, and integers stay below 2^53 so JavaScript reads them exactly;
//! - in a fixed key order with no integer-like keys (JavaScript puts those first), and no
//!   duplicate keys: the order is the struct's field order in [`crate::models::webhooks`];
//! - escaped as `JSON.stringify` does: `"` `\` and control characters only, `\n` `\r`
//!   `\t` `\b` `\f` short forms and lowercase `\u00xx` otherwise; non-ASCII text and
//!   emoji stay raw UTF-8. `serde_json` escapes the same set the same way.
//!
//! The server signs `serde_json::to_vec(&event)` once and sends those bytes unchanged.
//! Receivers in Rust should verify the raw bytes ([`Verifier::verify_standard`]), never a
//! re-serialisation.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::models::webhooks::Event;
use crate::secret::WebhookSecret;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Webhook-Signature";
/// The header that carries the event id (the same on every retry).
pub const ID_HEADER: &str = "X-Webhook-Id";
/// The header that carries the delivery attempt's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "X-Webhook-Timestamp";

/// Standard Webhooks: the event id, the same on every retry (equal to `X-Webhook-Id`).
pub const STANDARD_ID_HEADER: &str = "webhook-id";
/// Standard Webhooks: the attempt's Unix time in seconds, covered by the signature.
pub const STANDARD_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Standard Webhooks: `v1,<base64>`, space-separated when several secrets sign.
pub const STANDARD_SIGNATURE_HEADER: &str = "webhook-signature";
/// How far `webhook-timestamp` may be from the receiver's clock, either way: five
/// minutes, as the Standard Webhooks specification recommends.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// What a Standard Webhooks secret starts with.
pub const STANDARD_SECRET_PREFIX: &str = "whsec_";
const STANDARD_VERSION: &str = "v1";

const PREFIX: &str = "sha256=";

/// The signature header value for `body`: `sha256=` and lowercase hex.
///
/// ```
/// use sevenoways_sdk::signature::sign;
/// use sevenoways_sdk::WebhookSecret;
/// // printf '%s' '{"a":1}' | openssl dgst -sha256 -hmac 'secret'
/// assert_eq!(
///     sign(&WebhookSecret::new("secret"), br#"{"a":1}"#),
///     "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
/// );
/// ```
pub fn sign(secret: &WebhookSecret, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &WebhookSecret) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length")
}

/// Base64 as the Standard Webhooks libraries read it: the standard alphabet, with or
/// without padding, stray low bits in the last character ignored.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The HMAC key of the Standard Webhooks signature (see the [module docs](self)): the
/// decoded bytes of a `whsec_<base64>` secret, otherwise the secret's UTF-8 bytes.
///
/// ```
/// use sevenoways_sdk::signature::standard_key;
/// use sevenoways_sdk::WebhookSecret;
/// assert_eq!(standard_key(&WebhookSecret::new("whsec_aGVsbG8gd29ybGQ=")), &b"hello world"[..]);
/// // Not base64 after the prefix ('_' is not in the alphabet): the text itself.
/// assert_eq!(standard_key(&WebhookSecret::new("whsec_my_own_secret")), &b"whsec_my_own_secret"[..]);
/// assert_eq!(standard_key(&WebhookSecret::new("a-shared-secret-2026")), &b"a-shared-secret-2026"[..]);
/// ```
pub fn standard_key(secret: &WebhookSecret) -> Cow<'_, [u8]> {
    let text = secret.expose();
    text.strip_prefix(STANDARD_SECRET_PREFIX)
        .filter(|b64| !b64.is_empty())
        .and_then(|b64| LENIENT_BASE64.decode(b64).ok())
        .filter(|key| !key.is_empty())
        .map_or(Cow::Borrowed(text.as_bytes()), Cow::Owned)
}

/// The secret in the form a stock Standard Webhooks library takes (`whsec_` and the key
/// in base64), so that library computes the same key as [`standard_key`]: a
/// `whsec_<base64>` secret as it is, any other secret wrapped.
///
/// ```
/// use sevenoways_sdk::signature::standard_library_secret;
/// use sevenoways_sdk::WebhookSecret;
/// let mine = WebhookSecret::new("a-shared-secret-2026");
/// assert_eq!(standard_library_secret(&mine).expose(), "whsec_YS1zaGFyZWQtc2VjcmV0LTIwMjY=");
/// let generated = WebhookSecret::new("whsec_aGVsbG8gd29ybGQ=");
/// assert_eq!(standard_library_secret(&generated), generated);
/// ```
pub fn standard_library_secret(secret: &WebhookSecret) -> WebhookSecret {
    match standard_key(secret) {
        Cow::Owned(_) => secret.clone(),
        Cow::Borrowed(text) => {
            WebhookSecret::new(format!("{STANDARD_SECRET_PREFIX}{}", STANDARD.encode(text)))
        }
    }
}

fn standard_mac(secret: &WebhookSecret, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&standard_key(secret))
        .expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// One Standard Webhooks signature, `v1,<base64>`: HMAC-SHA256 with [`standard_key`]
/// over `"{id}.{timestamp}.{body}"`.
///
/// ```
/// use sevenoways_sdk::signature::sign_standard;
/// use sevenoways_sdk::WebhookSecret;
/// // The Standard Webhooks reference implementation gives the same (see tests/it/signature.rs).
/// let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
/// assert_eq!(
///     sign_standard(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#),
///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/// );
/// ```
pub fn sign_standard(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = standard_mac(secret, id, &timestamp.to_string(), body).finalize();
    format!("{STANDARD_VERSION},{}", STANDARD.encode(tag.into_bytes()))
}

/// The `webhook-signature` header: one [`sign_standard`] per secret, space-separated, in
/// the order given (the server puts the current secret first).
pub fn standard_signature_header<'s>(
    secrets: impl IntoIterator<Item = &'s WebhookSecret>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|s| sign_standard(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three Standard Webhooks headers of a delivery, as received (`None` when absent).
///
/// ```
/// use sevenoways_sdk::signature::StandardHeaders;
/// let received = [("webhook-id", "evt_1"), ("webhook-timestamp", "1796131262"), ("webhook-signature", "v1,...")];
/// let headers = StandardHeaders::from_fn(|name| {
///     received.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
/// });
/// assert_eq!(headers.id, Some("evt_1"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StandardHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

impl<'a> StandardHeaders<'a> {
    /// Reads the three headers with `get`, which is given each name in lowercase (HTTP
    /// header names are case-insensitive; `http::HeaderMap::get` already is).
    pub fn from_fn(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            id: get(STANDARD_ID_HEADER),
            timestamp: get(STANDARD_TIMESTAMP_HEADER),
            signature: get(STANDARD_SIGNATURE_HEADER),
        }
    }
}

/// Why a delivery did not verify. None of these carries the secret or the expected
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No `X-Webhook-Signature` header.
    #[error("missing X-Webhook-Signature header")]
    MissingSignature,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("malformed X-Webhook-Signature: expected \"sha256=\" followed by 64 hex digits")]
    Malformed,
    /// The signature matches none of the secrets.
    #[error("webhook signature does not match")]
    Mismatch,
    /// The signature matched but the body is not an event.
    #[error("webhook body is not a valid event: {0}")]
    Body(String),
    /// A Standard Webhooks header is missing (its name).
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a whole number of seconds.
    #[error("malformed webhook-timestamp: expected Unix time in whole seconds")]
    MalformedTimestamp,
    /// `webhook-signature` holds no `v1,<base64 of 32 bytes>` entry.
    #[error(
        "malformed webhook-signature: expected space-separated v1,<base64> entries, one of them for HMAC-SHA256"
    )]
    MalformedStandard,
    /// The signed timestamp is further from the receiver's clock than the tolerance: a
    /// replayed delivery, or a clock that is off.
    #[error(
        "webhook-timestamp is {offset_secs} s from now, outside the {tolerance_secs} s tolerance (a replayed delivery, or a clock that is off)"
    )]
    Expired {
        /// The timestamp minus now, in seconds (negative: in the past).
        offset_secs: i64,
        /// The tolerance, in seconds.
        tolerance_secs: u64,
    },
}

/// Verifies deliveries against one or more secrets (several while a secret is rotated).
///
/// ```
/// use sevenoways_sdk::signature::{sign, Verifier, VerifyError};
/// use sevenoways_sdk::WebhookSecret;
/// let old = WebhookSecret::new("old-secret-0123456789");
/// let new = WebhookSecret::new("new-secret-0123456789");
/// let verifier = Verifier::new([new.clone(), old.clone()]);
/// let body = br#"{"id":"evt_1","event":"instance.online","timestamp":"2026-11-24T09:00:00Z","instanceId":"number2","data":{"status":"online"}}"#;
/// let event = verifier.verify(body, Some(&sign(&old, body))).unwrap();
/// assert_eq!(event.event_type(), "instance.online");
/// assert_eq!(verifier.verify(b"{}", Some(&sign(&old, body))).unwrap_err(), VerifyError::Mismatch);
/// ```
#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    /// HMAC-SHA256 keyed with each secret, made once: keying hashes the key's two pads,
    /// two of the handful of SHA-256 blocks one check of a small body costs.
    keyed: Vec<Hmac<Sha256>>,
    tolerance: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Verifier {
    /// A verifier that accepts a signature made with any of `secrets`.
    pub fn new(secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        let secrets: Vec<WebhookSecret> = secrets.into_iter().collect();
        Self {
            keyed: secrets.iter().map(mac).collect(),
            secrets,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// How far `webhook-timestamp` may be from now, either way ([`DEFAULT_TOLERANCE`]
    /// unless changed). Only [`Verifier::verify_standard`] checks it.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks the Standard Webhooks headers over the raw body bytes and parses the event:
    /// all three headers present, the timestamp within the tolerance of this machine's
    /// clock, and one `v1` signature made with one of the secrets (compared in constant
    /// time). This is the check that refuses replayed deliveries; it never falls back to
    /// `X-Webhook-Signature`, which a replayer could keep while dropping the rest.
    ///
    /// ```
    /// use sevenoways_sdk::signature::{standard_signature_header, StandardHeaders, Verifier, VerifyError};
    /// use sevenoways_sdk::WebhookSecret;
    /// let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    /// let body = br#"{"id":"evt_1","event":"instance.online","timestamp":"2026-11-24T09:00:00Z","instanceId":"number2","data":{"status":"online"}}"#;
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    /// let (ts, sig) = (now.to_string(), standard_signature_header([&secret], "evt_1", now, body));
    /// let headers = StandardHeaders { id: Some("evt_1"), timestamp: Some(&ts), signature: Some(&sig) };
    /// let verifier = Verifier::new([secret]);
    /// assert_eq!(verifier.verify_standard(body, &headers).unwrap().event_type(), "instance.online");
    /// // The same delivery an hour later is a replay.
    /// let old = (now - 3600).to_string();
    /// let sig = standard_signature_header([&WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")], "evt_1", now - 3600, body);
    /// let replayed = StandardHeaders { timestamp: Some(&old), signature: Some(&sig), ..headers };
    /// assert!(matches!(verifier.verify_standard(body, &replayed), Err(VerifyError::Expired { .. })));
    /// ```
    pub fn verify_standard(
        &self,
        body: &[u8],
        headers: &StandardHeaders<'_>,
    ) -> Result<Event, VerifyError> {
        self.verify_standard_signature(body, headers)?;
        serde_json::from_slice(body).map_err(|e| VerifyError::Body(e.to_string()))
    }

    /// [`Verifier::verify_standard`] without parsing the body.
    pub fn verify_standard_signature(
        &self,
        body: &[u8],
        headers: &StandardHeaders<'_>,
    ) -> Result<(), VerifyError> {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs().min(i64::MAX as u64) as i64);
        self.verify_standard_signature_at(body, headers, now)
    }

    /// [`Verifier::verify_standard_signature`] at the Unix time `now` (seconds), for
    /// receivers with their own clock and for tests.
    pub fn verify_standard_signature_at(
        &self,
        body: &[u8],
        headers: &StandardHeaders<'_>,
        now: i64,
    ) -> Result<(), VerifyError> {
        let id = headers
            .id
            .ok_or(VerifyError::MissingHeader(STANDARD_ID_HEADER))?;
        let timestamp = headers
            .timestamp
            .ok_or(VerifyError::MissingHeader(STANDARD_TIMESTAMP_HEADER))?
            .trim();
        let signatures = headers
            .signature
            .ok_or(VerifyError::MissingHeader(STANDARD_SIGNATURE_HEADER))?;
        let at: i64 = timestamp
            .parse()
            .ok()
            .filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(VerifyError::MalformedTimestamp)?;
        let offset = at.saturating_sub(now);
        if offset.unsigned_abs() > self.tolerance.as_secs() {
            return Err(VerifyError::Expired {
                offset_secs: offset,
                tolerance_secs: self.tolerance.as_secs(),
            });
        }
        let given: Vec<[u8; 32]> = signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == STANDARD_VERSION)
            .filter_map(|(_, b64)| LENIENT_BASE64.decode(b64).ok()?.try_into().ok())
            .collect();
        if given.is_empty() {
            return Err(VerifyError::MalformedStandard);
        }
        // Every secret against every signature, so the time taken does not tell which
        // one matched; verify_slice compares in constant time.
        let mut ok = false;
        for secret in &self.secrets {
            let expected = standard_mac(secret, id, timestamp, body);
            for tag in &given {
                ok |= expected.clone().verify_slice(tag).is_ok();
            }
        }
        if ok {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    /// Checks the signature header over the raw body bytes, in constant time, and parses
    /// the event. Hex digits may be upper- or lowercase.
    pub fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<Event, VerifyError> {
        self.verify_signature(body, signature)?;
        serde_json::from_slice(body).map_err(|e| VerifyError::Body(e.to_string()))
    }

    /// Checks only the signature, for bodies that are not events (or not parsed here).
    pub fn verify_signature(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<(), VerifyError> {
        let header = signature.ok_or(VerifyError::MissingSignature)?.trim();
        let hex_part = header
            .get(..PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(PREFIX))
            .map(|_| &header[PREFIX.len()..])
            .ok_or(VerifyError::Malformed)?;
        let mut given = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut given).map_err(|_| VerifyError::Malformed)?;
        // verify_slice compares in constant time; every secret is tried so the time taken
        // does not tell which one matched.
        let mut ok = false;
        for keyed in &self.keyed {
            let mut mac = keyed.clone();
            mac.update(body);
            ok |= mac.verify_slice(&given).is_ok();
        }
        if ok {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }
}
