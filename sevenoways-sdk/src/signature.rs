//! Webhook signatures: `X-Webhook-Signature: sha256=<hex>`, HMAC-SHA256 over the body.
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
//! Receivers in Rust should verify the raw bytes ([`Verifier::verify`]), never a
//! re-serialisation.

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
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .finish()
    }
}

impl Verifier {
    /// A verifier that accepts a signature made with any of `secrets`.
    pub fn new(secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        Self {
            secrets: secrets.into_iter().collect(),
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
        for secret in &self.secrets {
            let mut mac = mac(secret);
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
