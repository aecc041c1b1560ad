//! What both stores share about recorded Idempotency-Key answers: how a sealed answer is
//! bound to its row, sealed and opened, and the error of a key another request took
//! first. One definition, so a sealed row means the same on SQLite and on Postgres.

use super::{AccountId, StoreError, StoreResult};
use crate::idempotency::{Answer, Claim};
use crate::secrets::SecretsKey;

/// Whether an answer shows a secret, and the key it is sealed with at rest, if any.
#[derive(Clone, Copy)]
pub(super) enum Secret<'a> {
    /// Nothing secret: stored as it is.
    None,
    /// A webhook signing secret: sealed with the key when there is one.
    Sealed(Option<&'a SecretsKey>),
}

impl Secret<'_> {
    /// The `(body, body_sealed)` columns of `answer` under `claim`'s key.
    pub(super) fn columns(self, claim: &Claim, answer: &Answer) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            Secret::Sealed(Some(key)) => (
                Vec::new(),
                Some(key.seal(
                    &answer.body,
                    &seal_context(claim.account, claim.key.as_str()),
                )),
            ),
            _ => (answer.body.clone(), None),
        }
    }

    /// The `holds_secret` flag.
    pub(super) fn holds_secret(self) -> bool {
        matches!(self, Secret::Sealed(_))
    }
}

/// What a sealed answer is bound to: its row, so it cannot be moved to another key.
pub(super) fn seal_context(account: AccountId, key: &str) -> String {
    format!("sevenoways idempotency_keys.body {account} {key}")
}

/// The error a request whose key another request took first gets from the store; the
/// layer answers with that request's answer instead.
pub(super) fn taken(claim: &Claim) -> StoreError {
    StoreError::Conflict(format!(
        "Idempotency-Key {:?} was used by another request that finished first",
        claim.key.as_str()
    ))
}

/// A sealed answer's body. The startup check (`prepare_secrets`) has refused a database
/// with sealed secrets and no key, or the wrong one, so a failure here means the row was
/// tampered with.
pub(super) fn open(
    key: Option<&SecretsKey>,
    sealed: &[u8],
    account: AccountId,
    idempotency_key: &str,
) -> StoreResult<Vec<u8>> {
    let var = sevenoways_sdk::env::SECRETS_KEY;
    let key = key.ok_or_else(|| {
        StoreError::Secrets(format!("a recorded answer is sealed and {var} is not set"))
    })?;
    key.open(sealed, &seal_context(account, idempotency_key))
        .map_err(|_| StoreError::Secrets(format!("a recorded answer does not open with {var}")))
}
