//! Postgres: see the SQLite store's module of the same name for what each function does.

use super::*;
use crate::secrets::SecretsKey;

/// Checks `key` against the secrets stored and seals those written without one (see the
/// SQLite store's `prepare_secrets`).
pub(super) async fn prepare_secrets(
    store: &PgStore,
    key: Option<&SecretsKey>,
    previous: Option<&SecretsKey>,
) -> StoreResult<u64> {
    let _ = (store, key, previous);
    todo!("postgres: prepare_secrets")
}
