//! QR links: a signed, short-lived token that lets a browser open one instance's pairing
//! page (and press the sandbox's scan button) without the API key.
//!
//! Opened from a shared link there is no header to send, so the page also accepts
//! `?token=`: `account.expiry.signature`, HMAC-SHA256 over the account, the instance and
//! the expiry with a per-server secret kept in the store. The API key never appears in a
//! link, and a token for one instance opens no other.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sevenoways_sdk::InstanceId;
use sevenoways_sdk::models::instances::GetQr;
use sha2::Sha256;

use crate::AppState;
use crate::account::AccountId;
use crate::auth::account_for_key;
use crate::error::ApiError;
use crate::extract::{PathId, QueryParams};

/// How long a QR link works.
const TOKEN_TTL_SECS: i64 = 30 * 60;
/// The server's HMAC over `secret`; also what the pairing codes are derived with.
pub(crate) fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("any key length")
}

/// `account.expiry.signature` for one instance.
pub fn sign_token(
    secret: &[u8],
    account: AccountId,
    instance: &InstanceId,
    expires: i64,
) -> String {
    let mut m = mac(secret);
    m.update(format!("qr|{account}|{instance}|{expires}").as_bytes());
    format!(
        "{account}.{expires}.{}",
        hex::encode(m.finalize().into_bytes())
    )
}

fn verify_token(secret: &[u8], token: &str, instance: &InstanceId, now: i64) -> Option<AccountId> {
    let mut parts = token.splitn(3, '.');
    let account: AccountId = parts.next()?.parse().ok()?;
    let expires: i64 = parts.next()?.parse().ok()?;
    let sig = hex::decode(parts.next()?).ok()?;
    let mut m = mac(secret);
    m.update(format!("qr|{account}|{instance}|{expires}").as_bytes());
    (m.verify_slice(&sig).is_ok() && expires > now).then_some(account)
}

/// The page's address with a fresh token.
pub fn page_url(state: &AppState, account: AccountId, instance: &InstanceId) -> String {
    let expires = Utc::now().timestamp() + TOKEN_TTL_SECS;
    let token = sign_token(&state.qr_secret, account, instance, expires);
    let page = GetQr {
        id: instance.clone(),
    }
    .page_path();
    format!("{}{page}?token={token}", state.public_url)
}

/// An instance the caller may pair: by `x-api-key`, or by a `token` for that instance.
#[derive(Debug)]
pub struct QrAuth {
    /// The account the key or the token belongs to.
    pub account: AccountId,
    /// The instance in the path.
    pub instance: InstanceId,
    /// The token, to carry on in the page's links.
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
        if let Some(key) = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            let account = account_for_key(state, key).await?;
            return Ok(Self {
                account: account.id,
                instance,
                token: None,
            });
        }
        let QueryParams(q) = QueryParams::<TokenQuery>::from_request_parts(parts, state).await?;
        let token = q
            .token
            .ok_or_else(|| ApiError::Unauthorized("missing x-api-key header or QR token".into()))?;
        let account = verify_token(&state.qr_secret, &token, &instance, Utc::now().timestamp())
            .ok_or_else(|| {
                ApiError::Unauthorized("QR link expired or invalid: create a new one".into())
            })?;
        Ok(Self {
            account,
            instance,
            token: Some(token),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_scoped_and_expire() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let a = InstanceId::new("number2").unwrap();
        let b = InstanceId::new("number3").unwrap();
        let t = sign_token(secret, AccountId(7), &a, 1_000);
        assert_eq!(verify_token(secret, &t, &a, 999), Some(AccountId(7)));
        assert_eq!(verify_token(secret, &t, &a, 1_000), None, "expired");
        assert_eq!(verify_token(secret, &t, &b, 999), None, "other instance");
        assert_eq!(verify_token(b"another secret", &t, &a, 999), None);
        let forged = t.replacen("7.", "8.", 1);
        assert_eq!(
            verify_token(secret, &forged, &a, 999),
            None,
            "other account"
        );
    }
}
