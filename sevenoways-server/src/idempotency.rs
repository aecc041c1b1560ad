//! `Idempotency-Key`: what a request with a key records, and where.
//!
//! A client that loses the answer to a `POST` cannot tell whether it was acted on; with a
//! key it sends the request again and gets the first answer back instead of a second
//! effect. The HTTP side (the header, the replay, the 422 for a reused key) is
//! `routes::idempotency`; this module is the part the store needs, so the store does not
//! depend on the routes.
//!
//! The rule that makes it hold across crashes and replicas: **the answer is written in the
//! transaction that commits the effect**, under the primary key `(account, key)`. So a row
//! exists exactly when the effect committed:
//!
//! 1. the layer looks the key up; a recorded answer is replayed and nothing runs;
//! 2. otherwise it puts a [`Claim`] in scope ([`scope`]) and runs the handler;
//! 3. the handler says how it answers from its effect's result ([`answer_with`]);
//! 4. the store, inside the effect's transaction, renders that answer for the result it
//!    is about to commit ([`Claim::render`]), inserts it under the key and commits, then
//!    marks the claim [`Claim::committed`]. If the insert finds the key taken (another
//!    request with it committed first, on this process or another), the transaction rolls
//!    back and the claim is [`Claim::taken`]: the layer replays the winner's answer.
//!
//! There is no "in progress" row: a claim row with a lease would need a rule for taking it
//! over after a crash, and a takeover is how an effect runs twice. Two concurrent requests
//! with one key both run up to their commit; the database lets one commit, and the other
//! answers with its answer. Refusals (4xx, 429) and failures commit nothing, so they
//! record nothing, and the same key can be sent again later.

use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sevenoways_sdk::{IdempotencyKey, Success};

use crate::account::AccountId;

/// The request header that carries the key.
pub const HEADER: &str = "idempotency-key";
/// The answer header that marks a replayed answer (`Idempotent-Replayed: true`).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// An answer as recorded and replayed: the status and the exact body bytes (always JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status (a 2xx: refusals are never recorded).
    pub status: u16,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// A recorded answer with what it answered, as the store reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The method the key was first used with.
    pub method: String,
    /// The path it was first used on (`/api/send-number`).
    pub path: String,
    /// SHA-256 of the first request's body bytes.
    pub body_sha256: Vec<u8>,
    /// What was answered.
    pub answer: Answer,
}

/// Turns an effect's result (as `&dyn Any`) into the answer's body, or `None` for a result
/// of another type.
type Render = Box<dyn Fn(&dyn Any) -> Option<Vec<u8>> + Send + Sync>;

/// What became of a claim while its request ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing recorded (yet): the handler has not committed an effect.
    Open,
    /// The effect and this answer committed together.
    Committed(Answer),
    /// Another request with the key committed first; this one's effect rolled back.
    Taken,
}

/// The key of the request being handled, and what it asked to be recorded.
pub struct Claim {
    /// Whose key: keys are kept per account, so two tenants never share one.
    pub account: AccountId,
    /// The key.
    pub key: IdempotencyKey,
    /// The request's method.
    pub method: String,
    /// The request's path.
    pub path: String,
    /// SHA-256 of the request's body bytes.
    pub body_sha256: [u8; 32],
    /// How long the recorded answer is kept.
    pub ttl: chrono::Duration,
    render: Mutex<Option<Render>>,
    outcome: Mutex<Outcome>,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("account", &self.account)
            .field("key", &self.key)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("outcome", &self.outcome())
            .finish_non_exhaustive()
    }
}

tokio::task_local! {
    static CLAIM: Arc<Claim>;
}

impl Claim {
    /// A claim for a request, nothing recorded yet.
    pub fn new(
        account: AccountId,
        key: IdempotencyKey,
        method: &str,
        path: &str,
        body_sha256: [u8; 32],
        ttl: chrono::Duration,
    ) -> Self {
        Self {
            account,
            key,
            method: method.to_owned(),
            path: path.to_owned(),
            body_sha256,
            ttl,
            render: Mutex::new(None),
            outcome: Mutex::new(Outcome::Open),
        }
    }

    /// The answer to record with an effect whose result is `value`: `None` unless the
    /// handler said, with [`answer_with`], that it answers from a `T`.
    pub fn render<T: 'static>(&self, value: &T) -> Option<Answer> {
        self.render_any(value)
    }

    /// [`Claim::render`] for a result already behind `dyn Any` (see [`Done`]).
    pub fn render_any(&self, value: &dyn Any) -> Option<Answer> {
        let render = self.render.lock().unwrap_or_else(|e| e.into_inner());
        let body = (render.as_ref()?)(value)?;
        Some(Answer { status: 200, body })
    }

    /// Until when an answer recorded at `now` is kept.
    pub fn expires_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + self.ttl
    }

    /// Called by the store once the effect and `answer` are committed.
    pub fn committed(&self, answer: Answer) {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Outcome::Committed(answer);
    }

    /// Called by the store when another request's row holds the key: this request's
    /// effect was rolled back.
    pub fn taken(&self) {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Outcome::Taken;
    }

    /// What became of the claim so far.
    pub fn outcome(&self) -> Outcome {
        self.outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether `recorded` answered this very request (the same method, path and body),
    /// rather than another one under the same key.
    pub fn matches(&self, recorded: &Recorded) -> bool {
        recorded.method == self.method
            && recorded.path == self.path
            && recorded.body_sha256 == self.body_sha256
    }
}

/// The result of an effect that ends outside the store: an instance an engine (WAHA, Meta)
/// has made after the store inserted it, groups read from the engine. Its answer cannot be
/// written with a store transaction that is the whole effect, so the handler answers from
/// `Done<T>` ([`answer_with`]`(|done: &Done<T>| …)`) and hands it to
/// [`Store::record_answer`](crate::store::Store::record_answer) once everything is done.
/// A crash before that records nothing: the retry runs again (and finds, for a create,
/// the instance id taken: 409).
#[derive(Debug, Clone)]
pub struct Done<T>(pub T);

/// The claim of the request this task is handling, if it came with a key.
pub fn current() -> Option<Arc<Claim>> {
    CLAIM.try_with(Arc::clone).ok()
}

/// Runs `f` (the handler) with `claim` as [`current`].
pub async fn scope<F: Future>(claim: Arc<Claim>, f: F) -> F::Output {
    CLAIM.scope(claim, f).await
}

/// Says how the current handler answers once its effect returns a `T`: the store renders
/// `answer(&result)` in the success envelope inside the effect's transaction and records
/// it with the effect. Does nothing for a request without a key.
///
/// The handler answers with the same function, so the recorded bytes are the bytes sent.
pub fn answer_with<T, R, F>(answer: F)
where
    T: 'static,
    R: Serialize,
    F: Fn(&T) -> R + Send + Sync + 'static,
{
    let Some(claim) = current() else { return };
    let render: Render = Box::new(move |value| {
        let value = value.downcast_ref::<T>()?;
        Some(serde_json::to_vec(&Success(answer(value))).expect("an answer serialises"))
    });
    *claim.render.lock().unwrap_or_else(|e| e.into_inner()) = Some(render);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> Arc<Claim> {
        Arc::new(Claim::new(
            AccountId(1),
            IdempotencyKey::new("k").unwrap(),
            "POST",
            "/api/send",
            [7; 32],
            chrono::Duration::hours(24),
        ))
    }

    #[tokio::test]
    async fn the_answer_is_rendered_only_for_the_result_type_the_handler_named() {
        let c = claim();
        let answer = scope(c.clone(), async {
            answer_with(|n: &u64| serde_json::json!({ "queueId": n }));
            current().unwrap().render(&7u64)
        })
        .await;
        assert_eq!(
            answer,
            Some(Answer {
                status: 200,
                body: br#"{"success":true,"queueId":7}"#.to_vec()
            })
        );
        assert_eq!(c.render(&"a string"), None);
        assert_eq!(c.outcome(), Outcome::Open);
    }

    #[tokio::test]
    async fn without_a_key_nothing_is_in_scope_and_nothing_is_rendered() {
        assert!(current().is_none());
        answer_with(|n: &u64| *n);
        let c = claim();
        assert_eq!(
            c.render(&7u64),
            None,
            "a handler outside the scope registers nothing"
        );
    }

    #[test]
    fn a_recorded_answer_matches_only_the_same_request() {
        let c = claim();
        let recorded = Recorded {
            method: "POST".into(),
            path: "/api/send".into(),
            body_sha256: vec![7; 32],
            answer: Answer {
                status: 200,
                body: Vec::new(),
            },
        };
        assert!(c.matches(&recorded));
        assert!(!c.matches(&Recorded {
            path: "/api/send-number".into(),
            ..recorded.clone()
        }));
        assert!(!c.matches(&Recorded {
            body_sha256: vec![8; 32],
            ..recorded
        }));
    }
}
