//! Who is asking: API keys (made here, stored only as SHA-256 hashes, checked on every
//! request) and, for the pairing page, QR link tokens ([`qr_token`]).

pub mod qr_token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::account::{Account, AccountId};
use crate::error::ApiError;
use crate::store::{Store, StoreResult};

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
        let header = parts
            .headers
            .get("x-api-key")
            .filter(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace))
            .ok_or_else(|| ApiError::Unauthorized("missing x-api-key header".into()))?;
        // Keys are ASCII; anything else cannot match one.
        let key = header
            .to_str()
            .map_err(|_| ApiError::Unauthorized("invalid API key".into()))?
            .trim();
        account_for_key(state, key).await.map(Authed)
    }
}

/// Looks a key up by its hash, through [`KeyCache`].
pub async fn account_for_key(state: &AppState, key: &str) -> Result<Account, ApiError> {
    let hash = hash_key(key);
    if let Some(account) = state.keys.get(&hash) {
        return Ok(account);
    }
    let account = state
        .store
        .account_by_key_hash(&hash)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("invalid API key".into()))?;
    state.keys.put(hash, account.clone());
    Ok(account)
}

/// Recently seen keys (by hash) and their accounts, for [`KeyCache::TTL`].
///
/// Every request authenticates, and a database read per request was the largest cost of
/// the accept path (see docs/benchmarks.md). Keys are never changed or revoked in place,
/// so a cached answer can only be stale about a key's plan, for at most the TTL. Unknown
/// keys are not cached: a key made a moment ago with `keys create` works at once. The
/// cache is per process and derived from the store, so replicas need not share it.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: std::sync::Mutex<std::collections::HashMap<[u8; 32], (Account, std::time::Instant)>>,
}

impl KeyCache {
    /// How long an answer is reused.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(30);
    /// Entries kept at most; past this the cache starts over rather than grow.
    const CAPACITY: usize = 10_000;

    fn get(&self, hash: &[u8; 32]) -> Option<Account> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(account, _)| account.clone())
    }

    fn put(&self, hash: [u8; 32], account: Account) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(hash, (account, std::time::Instant::now()));
    }
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

    #[test]
    fn key_cache_answers_what_it_was_given_and_stays_bounded() {
        let cache = KeyCache::default();
        let account = Account {
            id: AccountId(7),
            name: "a".into(),
            plan: "default".into(),
        };
        assert!(cache.get(&hash_key("k")).is_none());
        cache.put(hash_key("k"), account.clone());
        assert_eq!(cache.get(&hash_key("k")), Some(account.clone()));
        assert!(cache.get(&hash_key("other")).is_none());
        for i in 0..KeyCache::CAPACITY + 1 {
            cache.put(hash_key(&i.to_string()), account.clone());
        }
        assert!(cache.entries.lock().unwrap().len() <= KeyCache::CAPACITY);
    }
}
