//! Who is asking: API keys (made here, stored only as SHA-256 hashes, checked on every
//! request) and, for the pairing page, QR link tokens ([`qr_token`]).

pub mod qr_token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::account::{Account, AccountId};
use crate::error::ApiError;
use crate::store::{KeyLookup, Store, StoreResult};

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
    // Taken before the lookup: if a revocation is noticed while it runs, the answer is
    // not cached (it may predate the revocation).
    let generation = state.keys.generation();
    let now = chrono::Utc::now();
    match state.store.key_lookup(&hash, now).await? {
        KeyLookup::Valid {
            key,
            account,
            expires_at,
            last_used_at,
        } => {
            state
                .keys
                .put(hash, account.clone(), expires_at, generation);
            // "Last used" is kept to the minute: written at most once a minute per key,
            // off the request's path, and only on a cache miss.
            if last_used_at.is_none_or(|at| now - at > chrono::Duration::minutes(1)) {
                let store = state.store.clone();
                tokio::spawn(async move {
                    if let Err(e) = store.touch_key(key, now).await {
                        tracing::debug!(error = %e, "could not record a key's last use");
                    }
                });
            }
            Ok(account)
        }
        KeyLookup::Revoked => Err(ApiError::Unauthorized("API key revoked".into())),
        KeyLookup::Expired => Err(ApiError::Unauthorized(
            "API key expired: it was replaced by a new key".into(),
        )),
        KeyLookup::Unknown => Err(ApiError::Unauthorized("invalid API key".into())),
    }
}

/// Recently seen keys (by hash) and their accounts, for at most [`KeyCache::TTL`].
///
/// Every request authenticates, and a database read per request was the largest cost of
/// the accept path (see docs/benchmarks.md). Revocation and rotation (`sevenoways-server
/// keys revoke|rotate`, usually another process) increase a generation number in the
/// database; [`watch_revocations`] polls it every [`REVOCATION_POLL`] and empties the
/// cache when it moves, so a revoked key is refused within a second by every server on
/// the database. A rotated key's cached answer also ends when its grace period does.
/// Unknown keys are not cached: a key made a moment ago with `keys create` works at
/// once. The cache is per process and derived from the store, so replicas need not share
/// it.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: std::sync::Mutex<std::collections::HashMap<[u8; 32], (Account, std::time::Instant)>>,
    /// Counts the times the cache was emptied for a revocation or rotation.
    generation: std::sync::atomic::AtomicU64,
}

/// How often each server checks for revocations and rotations.
pub const REVOCATION_POLL: std::time::Duration = std::time::Duration::from_millis(250);

impl KeyCache {
    /// How long an answer is reused at most.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(30);
    /// Entries kept at most; past this the cache starts over rather than grow.
    const CAPACITY: usize = 10_000;

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<[u8; 32], (Account, std::time::Instant)>>
    {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, hash: &[u8; 32]) -> Option<Account> {
        self.lock()
            .get(hash)
            .filter(|(_, until)| std::time::Instant::now() < *until)
            .map(|(account, _)| account.clone())
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Caches `account` for `hash` until the TTL or `expires_at`, unless the cache was
    /// emptied since `generation` was read.
    fn put(
        &self,
        hash: [u8; 32],
        account: Account,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        generation: u64,
    ) {
        let mut ttl = Self::TTL;
        if let Some(at) = expires_at {
            let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
            ttl = ttl.min(left);
        }
        let mut entries = self.lock();
        // Checked under the lock `clear` takes, so a stale answer cannot slip in after it.
        if self.generation() != generation {
            return;
        }
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(hash, (account, std::time::Instant::now() + ttl));
    }

    /// Forgets every key (a key was revoked or rotated somewhere).
    pub fn clear(&self) {
        let mut entries = self.lock();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        entries.clear();
    }
}

/// Polls the store's key generation every [`REVOCATION_POLL`] and empties `cache` when
/// it changes, until `shutdown` turns true.
pub async fn watch_revocations(
    store: std::sync::Arc<dyn Store>,
    cache: std::sync::Arc<KeyCache>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut seen: Option<i64> = None;
    // Started (or restarted after a failure): whatever happened meanwhile is unknown.
    cache.clear();
    while !*shutdown.borrow() {
        match store.key_generation().await {
            Ok(generation) => {
                if seen.is_some_and(|s| s != generation) {
                    cache.clear();
                    tracing::info!("API keys were revoked or rotated; cached keys dropped");
                }
                seen = Some(generation);
            }
            // Not knowing is not a reason to trust the cache longer.
            Err(e) => {
                cache.clear();
                tracing::warn!(error = %e, "cannot read the key generation; cached keys dropped");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(REVOCATION_POLL) => {}
            _ = shutdown.changed() => {}
        }
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
        cache.put(hash_key("k"), account.clone(), None, cache.generation());
        assert_eq!(cache.get(&hash_key("k")), Some(account.clone()));
        assert!(cache.get(&hash_key("other")).is_none());
        for i in 0..KeyCache::CAPACITY + 1 {
            cache.put(
                hash_key(&i.to_string()),
                account.clone(),
                None,
                cache.generation(),
            );
        }
        assert!(cache.entries.lock().unwrap().len() <= KeyCache::CAPACITY);
    }

    #[test]
    fn key_cache_forgets_on_clear_and_refuses_answers_from_before_it() {
        let cache = KeyCache::default();
        let account = Account {
            id: AccountId(7),
            name: "a".into(),
            plan: "default".into(),
        };
        cache.put(hash_key("k"), account.clone(), None, cache.generation());
        let before = cache.generation();
        cache.clear();
        assert!(cache.get(&hash_key("k")).is_none());
        // A lookup that began before the clear may have read a revoked key as valid.
        cache.put(hash_key("k"), account.clone(), None, before);
        assert!(cache.get(&hash_key("k")).is_none());
        // A rotated key is cached no longer than its grace period.
        let gone = chrono::Utc::now() - chrono::Duration::seconds(1);
        cache.put(hash_key("old"), account, Some(gone), cache.generation());
        assert!(cache.get(&hash_key("old")).is_none());
    }
}
