//! API keys: made here, stored only as SHA-256 hashes, checked on every request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::store::{Account, AccountId, Store, StoreResult};

/// The prefix of every key, so a leaked key is recognisable to secret scanners.
pub const KEY_PREFIX: &str = "svw_";

/// A new random key: `svw_` and 48 hex digits (192 bits).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("OS randomness");
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// What is stored for a key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.trim().as_bytes()).into()
}

/// Creates an account with a new key; returns the key, which is not stored anywhere.
pub async fn create_key(
    store: &dyn Store,
    name: &str,
    plan: &str,
) -> StoreResult<(AccountId, String)> {
    let key = generate_key();
    let id = store.create_account(name, plan, &hash_key(&key)).await?;
    Ok((id, key))
}

/// The account of the request's `x-api-key`; 401 in the envelope otherwise.
#[derive(Debug, Clone)]
pub struct Authed(pub Account);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("missing x-api-key header".into()))?;
        account_for_key(state, key).await.map(Authed)
    }
}

/// Looks a key up by its hash.
pub async fn account_for_key(state: &AppState, key: &str) -> Result<Account, ApiError> {
    state
        .store
        .account_by_key_hash(&hash_key(key))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("invalid API key".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_prefixed() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == 4 + 48);
        assert_eq!(hash_key(&a), hash_key(&format!(" {a} ")));
        assert_ne!(hash_key(&a), hash_key(&b));
    }
}
