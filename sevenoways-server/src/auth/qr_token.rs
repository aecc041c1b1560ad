//! QR links, and the sandbox's pairing token: signed, short-lived tokens that let a
//! browser reach one instance's pairing page without the API key.
//!
//! - The **QR link** (`qrUrl`, `?token=`) is made to be shared with whoever holds the
//!   phone. It shows the code (the page, PNG, SVG, JSON) and nothing else: it cannot
//!   pair, not even a sandbox instance.
//! - The **sandbox pairing token** is issued only for sandbox instances and only to the
//!   key holder, in the create answer's `sandboxPairUrl`. It rides in that URL's fragment
//!   (`#pair=`), which browsers never send to a server, so it reaches no access log and
//!   no `Referer`. The page's "Simulate the scan" button sends it in
//!   [`PAIR_TOKEN_HEADER`]; the pair endpoint accepts it or the API key, nothing else.
//!
//! Both are `ref.expires.signature`: HMAC-SHA256 with a per-server secret kept in the
//! store, over the token's purpose, the instance's random reference
//! ([`InstanceRecord::qr_ref`]), the instance id and the expiry. The reference names no
//! account, and an instance re-created under the same id gets a new one, so a link dies
//! with the instance it was made for.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sevenoways_sdk::InstanceId;
use sevenoways_sdk::models::instances::GetQr;
use sha2::Sha256;

use crate::AppState;
use crate::auth::account_for_key;
use crate::engine::EngineKind;
use crate::error::ApiError;
use crate::extract::{PathId, QueryParams};
use crate::store::InstanceRecord;

/// How long a QR link works.
const LINK_TTL_SECS: i64 = 30 * 60;
/// How long a sandbox pairing token works: it is for the click right after creating.
const PAIR_TTL_SECS: i64 = 10 * 60;

/// The header the QR page's scan button sends the sandbox pairing token in.
pub const PAIR_TOKEN_HEADER: &str = "x-sandbox-pair-token";

/// The server's HMAC over `secret`; also what the pairing codes are derived with.
pub(crate) fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("any key length")
}

/// What a token lets its holder do; signed into it, so one never passes for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Show the pairing code (a QR link).
    View,
    /// Press the sandbox's scan button.
    SandboxPair,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Self::View => "qr",
            Self::SandboxPair => "sandbox-pair",
        }
    }
}

fn signed(
    secret: &[u8],
    purpose: Purpose,
    qr_ref: &str,
    instance: &InstanceId,
    expires: i64,
) -> Hmac<Sha256> {
    let mut m = mac(secret);
    // Instance ids cannot contain `|`, and references are hex: the fields cannot run into
    // each other.
    m.update(format!("{}|{qr_ref}|{instance}|{expires}", purpose.tag()).as_bytes());
    m
}

fn sign(
    secret: &[u8],
    purpose: Purpose,
    qr_ref: &str,
    instance: &InstanceId,
    expires: i64,
) -> String {
    let tag = signed(secret, purpose, qr_ref, instance, expires).finalize();
    format!("{qr_ref}.{expires}.{}", hex::encode(tag.into_bytes()))
}

/// The reference a valid, unexpired token of `purpose` for `instance` names.
fn verify<'t>(
    secret: &[u8],
    purpose: Purpose,
    token: &'t str,
    instance: &InstanceId,
    now: i64,
) -> Option<&'t str> {
    let mut parts = token.splitn(3, '.');
    let qr_ref = parts.next()?;
    if qr_ref.is_empty() || qr_ref.len() > 64 || !qr_ref.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let expires: i64 = parts.next()?.parse().ok()?;
    let sig = hex::decode(parts.next()?).ok()?;
    signed(secret, purpose, qr_ref, instance, expires)
        .verify_slice(&sig)
        .ok()?;
    (expires > now).then_some(qr_ref)
}

/// The pairing page's address with a fresh QR link token: the link to share.
pub fn page_url(state: &AppState, record: &InstanceRecord) -> String {
    let id = &record.instance.instance_id;
    let expires = Utc::now().timestamp() + LINK_TTL_SECS;
    let token = sign(&state.qr_secret, Purpose::View, &record.qr_ref, id, expires);
    let page = GetQr { id: id.clone() }.page_path();
    format!("{}{page}?token={token}", state.public_url)
}

/// For a sandbox instance, the pairing page with a pairing token in its fragment: the
/// link for the key holder, whose scan button pairs. `None` for other engines.
pub fn sandbox_pair_url(state: &AppState, record: &InstanceRecord) -> Option<String> {
    if record.engine != EngineKind::Sandbox {
        return None;
    }
    let expires = Utc::now().timestamp() + PAIR_TTL_SECS;
    let token = sign(
        &state.qr_secret,
        Purpose::SandboxPair,
        &record.qr_ref,
        &record.instance.instance_id,
        expires,
    );
    Some(format!("{}#pair={token}", page_url(state, record)))
}

fn header<'p>(parts: &'p Parts, name: &str) -> Option<&'p str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The instance of the path, by `x-api-key` (the key's own instance, else 404) or by
/// a token of `purpose` for it (else 401).
async fn by_token(
    state: &AppState,
    purpose: Purpose,
    token: &str,
    instance: &InstanceId,
) -> Result<InstanceRecord, ApiError> {
    let invalid = || match purpose {
        Purpose::View => {
            ApiError::Unauthorized("QR link expired or invalid: create a new one".into())
        }
        Purpose::SandboxPair => ApiError::Unauthorized(
            "sandbox pairing token expired or invalid: pair with the API key instead".into(),
        ),
    };
    let qr_ref = verify(
        &state.qr_secret,
        purpose,
        token,
        instance,
        Utc::now().timestamp(),
    )
    .ok_or_else(invalid)?;
    // A signed token for an instance that is gone (or was re-created) finds nothing.
    state
        .store
        .instance_by_qr_ref(instance, qr_ref)
        .await?
        .ok_or_else(invalid)
}

async fn by_key(
    state: &AppState,
    key: &str,
    instance: &InstanceId,
) -> Result<InstanceRecord, ApiError> {
    let account = account_for_key(state, key).await?;
    state
        .store
        .instance_record(account.id, instance)
        .await?
        .ok_or_else(|| ApiError::instance_not_found(instance))
}

/// Who may see an instance's pairing code: the API key, or a QR link for that instance.
#[derive(Debug)]
pub struct QrAuth {
    /// The instance in the path.
    pub record: InstanceRecord,
    /// The QR link's token, to carry on in the page's links.
    pub token: Option<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for QrAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let PathId(instance) = PathId::<InstanceId>::from_request_parts(parts, state).await?;
        if let Some(key) = header(parts, "x-api-key") {
            let record = by_key(state, key, &instance).await?;
            return Ok(Self {
                record,
                token: None,
            });
        }
        let QueryParams(q) = QueryParams::<TokenQuery>::from_request_parts(parts, state).await?;
        let token = q
            .token
            .ok_or_else(|| ApiError::Unauthorized("missing x-api-key header or QR token".into()))?;
        let record = by_token(state, Purpose::View, &token, &instance).await?;
        Ok(Self {
            record,
            token: Some(token),
        })
    }
}

/// Who may pair a sandbox instance: the API key, or the sandbox pairing token in
/// [`PAIR_TOKEN_HEADER`]. Never a QR link.
#[derive(Debug)]
pub struct PairAuth {
    /// The instance in the path (any engine: the handler refuses all but the sandbox).
    pub record: InstanceRecord,
}

impl FromRequestParts<AppState> for PairAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let PathId(instance) = PathId::<InstanceId>::from_request_parts(parts, state).await?;
        if let Some(key) = header(parts, "x-api-key") {
            let record = by_key(state, key, &instance).await?;
            return Ok(Self { record });
        }
        if let Some(token) = header(parts, PAIR_TOKEN_HEADER) {
            let record = by_token(state, Purpose::SandboxPair, token, &instance).await?;
            return Ok(Self { record });
        }
        Err(ApiError::Unauthorized(
            "missing x-api-key header: pairing needs the API key (or the sandboxPairUrl of the \
             create answer); a QR link only shows the code"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const REF: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn tokens_are_scoped_and_expire() {
        let a = InstanceId::new("number2").unwrap();
        let b = InstanceId::new("number3").unwrap();
        let t = sign(SECRET, Purpose::View, REF, &a, 1_000);
        assert_eq!(verify(SECRET, Purpose::View, &t, &a, 999), Some(REF));
        assert_eq!(
            verify(SECRET, Purpose::View, &t, &a, 1_000),
            None,
            "expired"
        );
        assert_eq!(
            verify(SECRET, Purpose::View, &t, &b, 999),
            None,
            "other instance"
        );
        assert_eq!(verify(b"another secret", Purpose::View, &t, &a, 999), None);
        let other_ref = t.replacen("00112233", "00112234", 1);
        assert_eq!(
            verify(SECRET, Purpose::View, &other_ref, &a, 999),
            None,
            "another instance's reference"
        );
        let later = t.replacen(".1000.", ".99999.", 1);
        assert_eq!(verify(SECRET, Purpose::View, &later, &a, 999), None);
    }

    #[test]
    fn a_qr_link_is_not_a_pairing_token_nor_the_reverse() {
        let a = InstanceId::new("n1").unwrap();
        let view = sign(SECRET, Purpose::View, REF, &a, 1_000);
        let pair = sign(SECRET, Purpose::SandboxPair, REF, &a, 1_000);
        assert_eq!(verify(SECRET, Purpose::SandboxPair, &view, &a, 1), None);
        assert_eq!(verify(SECRET, Purpose::View, &pair, &a, 1), None);
        assert_eq!(
            verify(SECRET, Purpose::SandboxPair, &pair, &a, 1),
            Some(REF)
        );
    }

    #[test]
    fn tokens_name_only_the_reference() {
        let a = InstanceId::new("n1").unwrap();
        let t = sign(SECRET, Purpose::View, REF, &a, 1_000);
        assert!(t.starts_with(&format!("{REF}.1000.")), "{t}");
        // Anything but a hex reference is refused before any MAC work.
        for bad in ["", "1|x", "zz", &"a".repeat(65)] {
            let forged = format!("{bad}.1000.{}", "00".repeat(32));
            assert_eq!(
                verify(SECRET, Purpose::View, &forged, &a, 1),
                None,
                "{bad:?}"
            );
        }
    }
}
