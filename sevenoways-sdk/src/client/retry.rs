//! When a failed request is tried again, and after how long: a pure function of what the
//! attempt saw, so the rule is tested as a table without HTTP (async-stripe keeps its
//! `RequestStrategy` apart the same way).
//!
//! The rule ([`ClientBuilder::max_retries`](crate::ClientBuilder::max_retries) documents
//! it for users): a 429, a 503 with `Retry-After`, and a connection that could not be
//! opened are always retried, since the server certainly did not act on the request. A
//! 500/502/503/504, a timeout, a connection that broke after the request left, and a 409
//! with `Retry-After` (the server is still working on the first request with the same
//! key) are retried only when repeating the request cannot act twice: a `GET` or
//! `DELETE`, or a `POST` with an `Idempotency-Key`, which the client gives every `POST`
//! (the server answers a key it has seen with the first answer). So a send is retried
//! whenever it fails without an answer that settles it.

use std::time::{Duration, SystemTime};

/// What a failed attempt tells the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered with an error status (and maybe `Retry-After`).
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No complete answer. `sent`: whether the request may have reached the server
    /// (`false` only when no connection could be opened).
    Connection { sent: bool },
    /// An answer that another attempt would not change: a success body that does not
    /// decode, an error envelope inside a 2xx.
    Final,
}

/// The client's retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The longest wait worth making; a longer `Retry-After` ends the call instead.
    pub max_wait: Duration,
}

/// How long to wait before trying again after `failure` on attempt `attempt` (0 for the
/// first), or `None` to give up. `repeatable`: sending the request again cannot act twice
/// (a `GET` or `DELETE`, or a `POST` with an `Idempotency-Key`). `backoff` is the wait to
/// use when the server named none ([`backoff`] with its jitter, passed in so this stays
/// deterministic).
pub(crate) fn decide(
    failure: Failure,
    repeatable: bool,
    attempt: u32,
    policy: Policy,
    backoff: Duration,
) -> Option<Duration> {
    if attempt >= policy.max_retries {
        return None;
    }
    let (retry, retry_after) = match failure {
        // Only a 429, or a 503 that says when to come back, promises the request was not
        // acted on; a 500, or a gateway's 502/504, may come after the send was queued.
        Failure::Status {
            status: 429,
            retry_after,
        } => (true, retry_after),
        Failure::Status {
            status: 503,
            retry_after: Some(after),
        } => (true, Some(after)),
        Failure::Status {
            status: 500 | 502..=504,
            retry_after,
        } => (repeatable, retry_after),
        // Another request with the same Idempotency-Key is in progress: its answer will be
        // this one's. A 409 without Retry-After (an id taken) would only repeat itself.
        Failure::Status {
            status: 409,
            retry_after: Some(after),
        } => (repeatable, Some(after)),
        Failure::Status { .. } | Failure::Final => (false, None),
        Failure::Connection { sent } => (!sent || repeatable, None),
    };
    if !retry {
        return None;
    }
    let wait = retry_after.unwrap_or(backoff);
    (wait <= policy.max_wait).then_some(wait)
}

/// Capped exponential backoff with jitter: 250 ms, 500 ms, 1 s … up to 30 s, each
/// scaled by a random factor in [0.5, 1) so that many clients do not retry in step.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250).saturating_mul(1u32 << attempt.min(7));
    let capped = base.min(Duration::from_secs(30));
    capped.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// `Retry-After` as seconds (`120`) or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        max_retries: 3,
        max_wait: Duration::from_secs(60),
    };
    const BACKOFF: Duration = Duration::from_millis(400);

    fn status(status: u16, retry_after: Option<u64>) -> Failure {
        Failure::Status {
            status,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn the_rule_as_a_table() {
        let secs = |s| Some(Duration::from_secs(s));
        let backoff = Some(BACKOFF);
        // (what failed, repeatable (GET/DELETE, or a POST with its Idempotency-Key), expected
        // wait). The client gives every POST a key, so `false` is a POST sent without one,
        // which only a caller of this function could make.
        let table = [
            // Refused without being acted on: always, honouring Retry-After.
            (status(429, Some(7)), false, secs(7)),
            (status(429, None), false, backoff),
            (status(429, Some(7)), true, secs(7)),
            (status(503, Some(2)), false, secs(2)),
            (status(503, Some(2)), true, secs(2)),
            (Failure::Connection { sent: false }, false, backoff),
            (Failure::Connection { sent: false }, true, backoff),
            // Maybe acted on: only when repeating cannot do the work twice.
            (status(500, None), false, None),
            (status(500, None), true, backoff),
            (status(502, None), false, None),
            (status(502, None), true, backoff),
            (status(503, None), false, None),
            (status(503, None), true, backoff),
            (status(504, None), false, None),
            (status(504, None), true, backoff),
            (status(500, Some(3)), true, secs(3)),
            (Failure::Connection { sent: true }, false, None),
            (Failure::Connection { sent: true }, true, backoff),
            // The first request with this key is still being handled: wait for its answer.
            (status(409, Some(1)), true, secs(1)),
            (status(409, Some(1)), false, None),
            // Never: the answer would be the same.
            (status(400, None), true, None),
            (status(401, None), true, None),
            (status(404, None), true, None),
            (status(409, None), true, None),
            (status(422, None), true, None),
            (status(501, None), true, None),
            (status(200, Some(1)), true, None),
            (Failure::Final, true, None),
        ];
        for (failure, idempotent, want) in table {
            assert_eq!(
                decide(failure, idempotent, 0, POLICY, BACKOFF),
                want,
                "{failure:?}, idempotent: {idempotent}"
            );
        }
    }

    #[test]
    fn gives_up_after_max_retries() {
        let failure = status(429, Some(1));
        assert!(decide(failure, false, 2, POLICY, BACKOFF).is_some());
        assert_eq!(decide(failure, false, 3, POLICY, BACKOFF), None);
        let off = Policy {
            max_retries: 0,
            ..POLICY
        };
        assert_eq!(decide(failure, true, 0, off, BACKOFF), None);
    }

    #[test]
    fn a_wait_longer_than_the_limit_ends_the_call() {
        assert_eq!(
            decide(status(429, Some(61)), false, 0, POLICY, BACKOFF),
            None
        );
        assert_eq!(
            decide(status(429, Some(60)), false, 0, POLICY, BACKOFF),
            Some(Duration::from_secs(60))
        );
        let impatient = Policy {
            max_wait: Duration::from_millis(100),
            ..POLICY
        };
        assert_eq!(
            decide(status(429, None), false, 0, impatient, BACKOFF),
            None
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(90));
        let wait = parse_retry_after(&date).unwrap();
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..20 {
            let wait = backoff(attempt);
            let base = Duration::from_millis(250)
                .saturating_mul(1 << attempt.min(7))
                .min(Duration::from_secs(30));
            assert!(wait >= base / 2 && wait < base, "{attempt}: {wait:?}");
        }
    }
}
