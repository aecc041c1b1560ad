//! What both stores share about secrets sealed at rest (webhook signing secrets, engine
//! keys): what each sealed value is bound to, how it is sealed, opened and sealed again
//! under a new key, how the key is checked at startup, and the errors that name what did
//! not open. One definition, so a sealed row means the same on SQLite and on Postgres and
//! the two cannot drift; each store keeps only its SQL.

use super::fair_claim::Target;
use super::{StoreError, StoreResult, WebhookSecret};
use crate::engine::EngineSecret;
use crate::secrets::SecretsKey;

/// `meta` key of a value sealed with the secrets key, to tell a wrong key at startup.
pub(super) const KEY_CHECK: &str = "secrets_key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"sevenoways webhook secrets";

/// Which of a webhook's two secrets; part of what a sealed value is bound to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    Current,
    Previous,
}

/// The row and column a sealed value belongs to. Its context is the value's associated
/// data, so a sealed value copied into another row or column does not open.
#[derive(Debug, Clone, Copy)]
pub(super) enum Place<'a> {
    /// A webhook's signing secret: `webhooks.secret` or `webhooks.previous_secret`.
    Webhook(&'a str, Slot),
    /// An instance's engine key (`instances.engine_secret`): account and instance id.
    Engine(i64, &'a str),
}

impl Place<'_> {
    fn context(self) -> String {
        match self {
            Place::Webhook(id, Slot::Current) => format!("sevenoways webhooks.secret {id}"),
            Place::Webhook(id, Slot::Previous) => {
                format!("sevenoways webhooks.previous_secret {id}")
            }
            Place::Engine(account, instance) => {
                format!("sevenoways instances.engine_secret {account}/{instance}")
            }
        }
    }

    /// "what" of the errors: "webhook wh_…: its secret", "instance …: its engine key".
    fn owner_and_noun(self) -> (String, &'static str) {
        match self {
            Place::Webhook(id, _) => (format!("webhook {id}"), "secret"),
            Place::Engine(_, instance) => (format!("instance {instance}"), "engine key"),
        }
    }

    /// What the value is, for a corrupt one's error.
    fn what(self) -> &'static str {
        match self {
            Place::Webhook(..) => "webhook secret",
            Place::Engine(..) => "engine secret",
        }
    }

    /// The error of a value that did not open with the key named by `var`.
    fn does_not_open(self, var: &str) -> StoreError {
        let (owner, noun) = self.owner_and_noun();
        StoreError::Secrets(format!(
            "{owner}: its sealed {noun} does not open with {var}"
        ))
    }
}

/// `secret` sealed for `place`.
pub(super) fn seal(key: &SecretsKey, place: Place<'_>, secret: &[u8]) -> Vec<u8> {
    key.seal(secret, &place.context())
}

/// A secret's two columns, as written: without a key the text column holds it; with one
/// the text is `None` and the blob holds it sealed.
pub(super) fn columns(
    key: Option<&SecretsKey>,
    place: Place<'_>,
    secret: &str,
) -> (Option<String>, Option<Vec<u8>>) {
    match key {
        Some(key) => (None, Some(seal(key, place, secret.as_bytes()))),
        None => (Some(secret.to_owned()), None),
    }
}

/// An instance's engine key as its two columns, as [`columns`] writes them; both `None`
/// for an engine that keeps no key.
pub(super) fn engine_columns(
    key: Option<&SecretsKey>,
    account: i64,
    instance: &str,
    secret: Option<&EngineSecret>,
) -> (Option<String>, Option<Vec<u8>>) {
    match secret {
        Some(secret) => columns(key, Place::Engine(account, instance), secret.expose()),
        None => (None, None),
    }
}

/// Reads back what [`columns`] wrote; `None` when both are empty. A sealed value without
/// a key, or one that does not open with it, is an error naming the row, never the value.
pub(super) fn open(
    key: Option<&SecretsKey>,
    place: Place<'_>,
    text: Option<String>,
    sealed: Option<Vec<u8>>,
) -> StoreResult<Option<String>> {
    let Some(sealed) = sealed else {
        return Ok(text);
    };
    let var = sevenoways_sdk::env::SECRETS_KEY;
    let key = key.ok_or_else(|| {
        let (owner, noun) = place.owner_and_noun();
        StoreError::Secrets(format!(
            "{owner}: its {noun} is sealed and {var} is not set"
        ))
    })?;
    let plain = key
        .open(&sealed, &place.context())
        .map_err(|_| place.does_not_open(var))?;
    String::from_utf8(plain)
        .map(Some)
        .map_err(|_| StoreError::Corrupt(format!("{}: not UTF-8", place.what())))
}

/// A webhook's secret columns as read: `(secret, secret_sealed)`.
pub(super) type Columns = (Option<String>, Option<Vec<u8>>);

/// What a delivery claim signs with for webhook `id`: its URL, its secret, and its
/// previous secret until `previous_expires_at` (ms) passes `now_ms`. `None` when a secret
/// cannot be read: the claim never signs with it, the delivery's lease runs out and it is
/// tried again then (after the operator fixes the key); the error is logged, naming the
/// webhook, never the value.
pub(super) fn claim_target(
    key: Option<&SecretsKey>,
    id: &str,
    url: String,
    (secret, secret_sealed): Columns,
    (previous, previous_sealed): Columns,
    previous_expires_at: Option<i64>,
    now_ms: i64,
) -> StoreResult<Target> {
    let current = open(
        key,
        Place::Webhook(id, Slot::Current),
        secret,
        secret_sealed,
    );
    let previous = match previous_expires_at {
        Some(until) if until > now_ms => open(
            key,
            Place::Webhook(id, Slot::Previous),
            previous,
            previous_sealed,
        ),
        _ => Ok(None),
    };
    match (current, previous) {
        (Ok(Some(secret)), Ok(previous)) => Ok(Some((
            url,
            WebhookSecret::new(secret),
            previous.map(WebhookSecret::new),
        ))),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(webhook = %id, error = %e, "cannot read a webhook secret");
            Ok(None)
        }
        (Ok(None), _) => Err(StoreError::Corrupt("webhook secret: missing".into())),
    }
}

/// `blob`, sealed with `old`, sealed again with `new` (a change of keys at startup).
pub(super) fn reseal(
    old: &SecretsKey,
    new: &SecretsKey,
    place: Place<'_>,
    blob: &[u8],
) -> StoreResult<Vec<u8>> {
    let context = place.context();
    let plain = old
        .open(blob, &context)
        .map_err(|_| place.does_not_open(sevenoways_sdk::env::SECRETS_KEY_PREVIOUS))?;
    Ok(new.seal(&plain, &context))
}

/// The columns a rotation writes: the new secret, and the one it replaces as the
/// previous, each as [`columns`] writes it (the text column `secret` is never NULL).
pub(super) struct Rotated {
    pub(super) secret: String,
    pub(super) secret_sealed: Option<Vec<u8>>,
    pub(super) previous: Option<String>,
    pub(super) previous_sealed: Option<Vec<u8>>,
}

/// Webhook `id`'s secret, stored as `stored`, replaced by `new`: the current one becomes
/// the previous.
pub(super) fn rotate(
    key: Option<&SecretsKey>,
    id: &str,
    (text, sealed): Columns,
    new: &WebhookSecret,
) -> StoreResult<Rotated> {
    let current = open(key, Place::Webhook(id, Slot::Current), text, sealed)?
        .ok_or_else(|| StoreError::Corrupt("webhook secret: missing".into()))?;
    let (previous, previous_sealed) = columns(key, Place::Webhook(id, Slot::Previous), &current);
    let (secret, secret_sealed) = columns(key, Place::Webhook(id, Slot::Current), new.expose());
    Ok(Rotated {
        secret: secret.unwrap_or_default(),
        secret_sealed,
        previous,
        previous_sealed,
    })
}

/// What a start with a key does about the key check stored in `meta`.
pub(super) enum KeyCheck<'a> {
    /// The stored check opens with the key: nothing to do.
    Holds,
    /// It opens with the previous key: seal everything again, with the key.
    Reseal(&'a SecretsKey),
    /// There is none yet: store this one.
    Write(Vec<u8>),
}

/// Decides a start with `key` (and maybe `previous`) against the stored `check`; an error
/// when neither key is the one the database's secrets were sealed with.
pub(super) fn key_check<'a>(
    check: Option<&[u8]>,
    key: &SecretsKey,
    previous: Option<&'a SecretsKey>,
) -> StoreResult<KeyCheck<'a>> {
    let opens = |k: &SecretsKey, check: &[u8]| {
        k.open(check, KEY_CHECK).ok().as_deref() == Some(KEY_CHECK_PLAINTEXT)
    };
    match check {
        None => Ok(KeyCheck::Write(key.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK))),
        Some(check) if opens(key, check) => Ok(KeyCheck::Holds),
        Some(check) => match previous.filter(|old| opens(old, check)) {
            Some(old) => Ok(KeyCheck::Reseal(old)),
            None => {
                let var = sevenoways_sdk::env::SECRETS_KEY;
                Err(StoreError::Secrets(format!(
                    "{var} is not the key the webhook secrets in this database were sealed \
                     with: start with that key (to change keys, set it as {} and the new \
                     one as {var})",
                    sevenoways_sdk::env::SECRETS_KEY_PREVIOUS
                )))
            }
        },
    }
}

/// The key check sealed with `key`, to store after sealing again with it.
pub(super) fn new_key_check(key: &SecretsKey) -> Vec<u8> {
    key.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK)
}

/// The error of a start without a key over a database whose secrets are sealed.
pub(super) fn sealed_without_key() -> StoreError {
    StoreError::Secrets(format!(
        "the webhook secrets in this database are sealed: start the server with {} set to \
         the key they were sealed with",
        sevenoways_sdk::env::SECRETS_KEY
    ))
}

/// A webhook row stored before the key was set, sealed: its `(secret_sealed,
/// previous_secret_sealed)`. A column already sealed is kept as it is.
pub(super) fn seal_webhook_row(
    key: &SecretsKey,
    id: &str,
    secret: &str,
    secret_sealed: Option<Vec<u8>>,
    previous: Option<String>,
    previous_sealed: Option<Vec<u8>>,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let current = secret_sealed
        .unwrap_or_else(|| seal(key, Place::Webhook(id, Slot::Current), secret.as_bytes()));
    let previous = previous_sealed
        .or_else(|| previous.map(|p| seal(key, Place::Webhook(id, Slot::Previous), p.as_bytes())));
    (current, previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_in_its_own_place_and_with_its_own_key() {
        let key = SecretsKey::generate();
        let here = Place::Webhook("wh_1", Slot::Current);
        let (text, blob) = columns(Some(&key), here, "whsec_abc");
        assert_eq!(text, None);
        let blob = blob.expect("sealed with a key");
        assert!(!blob.windows(9).any(|w| w == b"whsec_abc"));
        assert_eq!(
            open(Some(&key), here, None, Some(blob.clone()))
                .unwrap()
                .as_deref(),
            Some("whsec_abc")
        );
        for elsewhere in [
            Place::Webhook("wh_2", Slot::Current),
            Place::Webhook("wh_1", Slot::Previous),
            Place::Engine(1, "wh_1"),
        ] {
            let err = open(Some(&key), elsewhere, None, Some(blob.clone())).unwrap_err();
            assert!(
                err.to_string()
                    .contains("does not open with SEVENOWAYS_SECRETS_KEY")
            );
        }
        let err = open(
            Some(&SecretsKey::generate()),
            here,
            None,
            Some(blob.clone()),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "webhook wh_1: its sealed secret does not open with SEVENOWAYS_SECRETS_KEY"
        );
        let err = open(None, Place::Engine(7, "inst_1"), None, Some(blob)).unwrap_err();
        assert!(err.to_string().contains(
            "instance inst_1: its engine key is sealed and SEVENOWAYS_SECRETS_KEY is not set"
        ));
        // Without a key the text column holds the secret as it is.
        assert_eq!(
            columns(None, here, "whsec_abc"),
            (Some("whsec_abc".into()), None)
        );
        assert_eq!(
            open(None, here, Some("t".into()), None).unwrap().as_deref(),
            Some("t")
        );
    }

    #[test]
    fn contexts_are_those_every_stored_value_was_sealed_with() {
        // Part of every sealed value in every database: a change here makes existing
        // secrets unreadable (the server then refuses to start), so it needs a migration.
        assert_eq!(
            Place::Webhook("wh_1", Slot::Current).context(),
            "sevenoways webhooks.secret wh_1"
        );
        assert_eq!(
            Place::Webhook("wh_1", Slot::Previous).context(),
            "sevenoways webhooks.previous_secret wh_1"
        );
        assert_eq!(
            Place::Engine(42, "inst_1").context(),
            "sevenoways instances.engine_secret 42/inst_1"
        );
    }

    #[test]
    fn a_change_of_keys_reseals_with_the_new_one_and_refuses_a_stranger() {
        let (old, new, stranger) = (
            SecretsKey::generate(),
            SecretsKey::generate(),
            SecretsKey::generate(),
        );
        let place = Place::Engine(3, "inst_9");
        let blob = seal(&old, place, b"engine-key");
        let again = reseal(&old, &new, place, &blob).unwrap();
        assert_eq!(
            open(Some(&new), place, None, Some(again))
                .unwrap()
                .as_deref(),
            Some("engine-key")
        );
        let err = reseal(&stranger, &new, place, &blob).unwrap_err();
        assert!(
            err.to_string()
                .contains("does not open with SEVENOWAYS_SECRETS_KEY_PREVIOUS")
        );

        let check = new_key_check(&old);
        assert!(matches!(
            key_check(None, &new, None).unwrap(),
            KeyCheck::Write(_)
        ));
        assert!(matches!(
            key_check(Some(&check), &old, None).unwrap(),
            KeyCheck::Holds
        ));
        assert!(matches!(
            key_check(Some(&check), &new, Some(&old)).unwrap(),
            KeyCheck::Reseal(_)
        ));
        assert!(key_check(Some(&check), &new, Some(&stranger)).is_err());
        assert!(key_check(Some(&check), &new, None).is_err());
    }
}
