//! The `Idempotency-Key` header on every `POST`: one layer in front of the handlers.
//!
//! - No header: the request runs as it always did.
//! - A key that is not 1–255 printable ASCII characters (or two keys): 400 naming the
//!   header.
//! - A key with a recorded answer: that answer, byte for byte, with
//!   `Idempotent-Replayed: true`; nothing runs, nothing counts against the rate limit or
//!   the caps. The same key on another endpoint or with another body: 422.
//! - Otherwise the handler runs with the key in scope, and the store records its answer in
//!   the transaction of its effect ([`crate::idempotency`] explains why there and only
//!   there). If another request with the key committed first, this one's effect rolled
//!   back and the first's answer is replayed; if a request with the key was refused or
//!   failed, nothing was recorded, so the key can be sent again.
//!
//! "The same request" is the same method, path and body **bytes** (a SHA-256 of them).
//! Bytes rather than the parsed request, because a retry sends the same bytes (the SDK
//! and `svw` do), and bytes make a key mean one thing on every server version: JSON
//! re-encoded with other spacing or key order, or the same fields sent as a form instead
//! of JSON, is another body and a 422 rather than a silent match.
//!
//! # Where the replay sits: before the rate limit, before anything expensive
//!
//! The layer runs after authentication and before every handler, so a key's recorded
//! answer is looked up before the [`RefusalCache`](crate::limits::RefusalCache), the rate
//! limit and the caps. A replay of an accepted request is answered even while the account
//! is refused for new sends: it counts against nothing and did its work already, and a
//! client that lost an accepted send's answer should not be told 429 for a message that
//! is queued. What the lookup costs is what every POST costs before its handler's refusal
//! check anyway (the cached key check, the body read under the 64 KiB limit) plus a SHA-256
//! of those bytes and one primary-key read; everything that costs more (the instance and
//! group reads, media host lookups, the admission transaction) runs only for a request
//! that is not a replay, and after the refusal cache. Only a 409 or 429 (which a request
//! with the same key can cause) is followed by a second look; other refusals are answered
//! as they are.
//!
//! Keys are kept per account (the tenant the API key belongs to), so tenants never see
//! each other's keys, and a retry sent with the new key after `keys rotate` still gets
//! its answer. A request without a valid `x-api-key` has no account to keep a key
//! under: it runs as it is and its handler answers 401 (the QR page's pair, which
//! authenticates by its token instead, sets a state that a second scan leaves as it is).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde_json::{Value, json};
use sevenoways_sdk::{ErrorBody, IdempotencyKey};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::idempotency::{self, Answer, Claim, HEADER, Outcome, REPLAYED_HEADER};

/// The layer: see the module documentation.
pub(super) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let key = match key(request.headers()) {
        None => return next.run(request).await,
        Some(Ok(key)) => key,
        Some(Err(e)) => return e.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    let account = match Authed::from_request_parts(&mut parts, &state).await {
        Ok(Authed(account)) => account,
        Err(_) => return next.run(Request::from_parts(parts, body)).await,
    };
    let limit = state.config.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError::PayloadTooLarge(limit).into_response();
    };
    let claim = Arc::new(Claim::new(
        account.id,
        key,
        parts.method.as_str(),
        parts.uri.path(),
        Sha256::digest(&bytes).into(),
        state.config.idempotency.ttl(),
    ));
    match recorded(&state, &claim).await {
        Ok(Some(answer)) => return answer,
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    let response = idempotency::scope(claim.clone(), next.run(request)).await;
    match claim.outcome() {
        // What was recorded is what is sent, so a replay is the same bytes.
        Outcome::Committed(answer) => {
            #[cfg(feature = "testing")]
            crate::testing::halt_after_commit(claim.key.as_str()).await;
            reply(&answer, false)
        }
        Outcome::Taken => match recorded(&state, &claim).await {
            Ok(Some(answer)) => answer,
            // The request that held the key was refused in the same group commit.
            _ => in_progress(&claim),
        },
        Outcome::Open if response.status().is_success() => {
            // A handler that answers 2xx without recording breaks the promise; tests
            // exercise every POST, so this is a bug to fix, not a case to handle.
            tracing::error!(path = %claim.path, "a POST with an Idempotency-Key answered without recording its answer");
            debug_assert!(false, "{} answered without recording", claim.path);
            response
        }
        // Refused with a 409 or a 429. A request with the key may have committed meanwhile
        // and be the cause: it took the instance id this one creates (409), or its
        // admission, or another's refusal cached while this one was under way, refused
        // this one (429). Then that answer is this request's answer too.
        Outcome::Open
            if matches!(
                response.status(),
                StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS
            ) =>
        {
            match recorded(&state, &claim).await {
                Ok(Some(answer)) => answer,
                _ => response,
            }
        }
        // Any other refusal or failure no other request causes: nothing was recorded, and
        // the key can be sent again.
        Outcome::Open => response,
    }
}

/// The request's key, checked as the SDK checks it; `None` without the header.
fn key(headers: &axum::http::HeaderMap) -> Option<Result<IdempotencyKey, ApiError>> {
    let mut values = headers.get_all(HEADER).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return Some(Err(ApiError::BadRequest(
            "Idempotency-Key: expected one key, got the header twice".into(),
        )));
    }
    let Ok(text) = value.to_str() else {
        return Some(Err(ApiError::BadRequest(
            "Idempotency-Key: expected printable ASCII characters only (space to '~')".into(),
        )));
    };
    Some(IdempotencyKey::new(text).map_err(ApiError::from))
}

/// The answer recorded under the claim's key, as this request's answer: a replay when it
/// answered the same request, a 422 when the key was used for another one.
async fn recorded(state: &AppState, claim: &Claim) -> Result<Option<Response>, ApiError> {
    let Some(recorded) = state
        .store
        .idempotent_answer(claim.account, &claim.key, chrono::Utc::now())
        .await?
    else {
        return Ok(None);
    };
    if claim.matches(&recorded) {
        return Ok(Some(reply(&recorded.answer, true)));
    }
    let key = claim.key.as_str();
    let first = format!("{} {}", recorded.method, recorded.path);
    let message = if first != format!("{} {}", claim.method, claim.path) {
        format!(
            "Idempotency-Key {key:?} was already used for {first}; a key names one request: \
             use a new key for this one"
        )
    } else {
        format!(
            "Idempotency-Key {key:?} was already used for {first} with a different body; a key \
             names one request: use a new key for a changed request"
        )
    };
    Ok(Some(
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ErrorBody::new(message)),
        )
            .into_response(),
    ))
}

/// A recorded answer as a response, marked when it is a replay.
fn reply(answer: &Answer, replayed: bool) -> Response {
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// 409 with `Retry-After`: a request with this key neither committed nor can be replayed
/// yet.
fn in_progress(claim: &Claim) -> Response {
    let message = format!(
        "Idempotency-Key {:?}: another request with this key is in progress; send it again shortly",
        claim.key.as_str()
    );
    (
        StatusCode::CONFLICT,
        [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
        Json(ErrorBody::new(message)),
    )
        .into_response()
}

/// Adds to every `POST` of the OpenAPI document the `Idempotency-Key` header, the
/// `Idempotent-Replayed` answer header, and the 409 and 422 the key can bring.
pub(super) fn describe(doc: &mut Value) {
    let schema = IdempotencyKey::json_schema(&mut schemars::SchemaGenerator::default());
    let parameter = json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Names this request so that sending it again cannot act twice. The \
            first answer is kept per account (24 hours by default); a request with the same key, \
            path and body bytes gets that answer back (with Idempotent-Replayed: true) and does \
            nothing else. Refusals (4xx, 429) and failures are not kept, so they can be retried \
            with the key.",
        "schema": schema,
    });
    let replayed = json!({
        "description": "true when this is the recorded answer of an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "const": "true"},
    });
    let error = json!({"$ref": "#/components/schemas/ErrorBody"});
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for post in paths.values_mut().filter_map(|item| item.get_mut("post")) {
        let Some(op) = post.as_object_mut() else {
            continue;
        };
        let params = op.entry("parameters").or_insert_with(|| json!([]));
        if let Some(params) = params.as_array_mut() {
            params.push(parameter.clone());
        }
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(ok) = responses.get_mut("200").and_then(Value::as_object_mut) {
            ok.insert("headers".into(), json!({"Idempotent-Replayed": replayed}));
        }
        responses.entry("409").or_insert_with(|| json!({
            "description": "another request with this Idempotency-Key is in progress; see Retry-After",
            "content": {"application/json": {"schema": error}},
        }));
        // An operation may already answer 422 for its own reasons (an engine that can
        // never do it): the key's reason is added to that description, not put in its place.
        const REUSED: &str = "this Idempotency-Key was used for another endpoint or body";
        match responses.get_mut("422").and_then(Value::as_object_mut) {
            Some(declared) => {
                let before = declared
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let merged = format!("{before}; or {REUSED}");
                declared.insert("description".into(), merged.into());
            }
            None => {
                responses.insert(
                    "422".into(),
                    json!({
                        "description": REUSED,
                        "content": {"application/json": {"schema": error}},
                    }),
                );
            }
        }
    }
}
