//! Signing in to the console: the API key is checked exactly as the API checks it
//! ([`crate::auth::account_for_key`]), then a session is kept server-side.
//!
//! - **The cookie** holds 32 random bytes (hex), `HttpOnly`, `SameSite=Strict`, `Path=/`,
//!   and `Secure` with the `__Host-` prefix when `public_url` is https. The database keeps
//!   only its SHA-256 (`console_sessions`, shared by every server on it).
//! - **The key** is kept in the row sealed (XChaCha20-Poly1305) under a key derived from
//!   the cookie's bytes, which the database never holds. Every request opens it and
//!   authenticates with it as the API does, so a key revoked or expired by `keys revoke`
//!   or `keys rotate` ends its sessions within a second, and the docs page can show the
//!   key in its examples.
//! - **Expiry**: `[console] session_ttl_secs` (12 h) from sign-in; "Sign out" deletes the
//!   row. At most `max_sessions_per_account` (20) per account: the oldest go first.
//! - **CSRF**: every form that changes something carries a token derived from the cookie
//!   (HMAC), compared in constant time ([`Submitted`]). The sign-in form, before any
//!   session, uses a double-submit cookie of its own.
//! - **Sign-in limit**: `sign_in_failures_per_minute` (10) failures per client address in
//!   a sliding minute; further attempts are refused unchecked until the minute has passed.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hmac::{Hmac, Mac};
use maud::html;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::form::FormData;
use super::{Problem, layout};
use crate::AppState;
use crate::account::Account;
use crate::auth::account_for_key;
use crate::error::ApiError;
use crate::secrets::SecretsKey;

const COOKIE: &str = "svw_console";
const SIGN_IN_COOKIE: &str = "svw_console_sign_in";
/// What the sealed key is bound to, so a value copied from another column never opens.
const SEALED_CONTEXT: &str = "console_sessions.sealed_key";

/// A session's secret: the cookie's bytes.
struct Token([u8; 32]);

impl Token {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("OS randomness");
        Self(bytes)
    }

    fn parse(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// What the database keeps.
    fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }

    fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key that seals the API key in the session's row.
    fn sealing_key(&self) -> SecretsKey {
        SecretsKey::from_bytes(&self.derive("sevenoways console: sealed api key"))
    }

    /// The session's CSRF token.
    fn csrf(&self) -> String {
        hex::encode(self.derive("sevenoways console: csrf"))
    }
}

/// A signed-in request: the account, the key it signed in with, and the session's CSRF
/// token for the forms of the page.
#[derive(Clone)]
pub struct Signed {
    /// The account, as the API's authentication found it for the key.
    pub account: Account,
    /// The API key (the docs page fills it into its examples).
    pub key: String,
    /// The value every form's hidden `csrf` field must carry.
    pub csrf: String,
    token_hash: [u8; 32],
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// Whether cookies must be `Secure` (and `__Host-` prefixed): the console is reached
/// over https.
fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

fn cookie_name(state: &AppState, name: &str) -> String {
    if secure(state) {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}",
        cookie_name(state, name)
    );
    HeaderValue::from_str(&cookie).expect("cookie values are hex")
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
}

fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Why a request is not signed in.
enum NotSignedIn {
    /// No session cookie: never signed in here.
    Never,
    /// The session expired or was signed out.
    Ended,
    /// The session's key stopped working (revoked, or replaced and expired).
    KeyRefused(String),
}

impl Signed {
    async fn from_parts(
        parts: &Parts,
        state: &AppState,
    ) -> Result<Self, Result<NotSignedIn, Problem>> {
        let Some(raw) = cookie(&parts.headers, &cookie_name(state, COOKIE)) else {
            return Err(Ok(NotSignedIn::Never));
        };
        let token = Token::parse(raw).ok_or(Ok(NotSignedIn::Ended))?;
        let token_hash = token.hash();
        let row = state
            .store
            .console_session(&token_hash, Utc::now())
            .await
            .map_err(|e| Err(Problem::from(ApiError::from(e))))?
            .ok_or(Ok(NotSignedIn::Ended))?;
        let key = token
            .sealing_key()
            .open(&row.sealed_key, SEALED_CONTEXT)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(Ok(NotSignedIn::Ended))?;
        match account_for_key(state, &key).await {
            Ok(account) if account.id == row.account_id => Ok(Self {
                account,
                key,
                csrf: token.csrf(),
                token_hash,
            }),
            Ok(_) => Err(Ok(NotSignedIn::Ended)),
            Err(ApiError::Unauthorized(why)) => {
                // The key is gone for good: so is every session made with it.
                let _ = state.store.delete_console_session(&token_hash).await;
                Err(Ok(NotSignedIn::KeyRefused(why)))
            }
            Err(other) => Err(Err(other.into())),
        }
    }
}

/// The sign-in page a request that is not signed in gets, in place of the page it asked
/// for (401), saying why.
fn not_signed_in(state: &AppState, parts: &Parts, why: NotSignedIn) -> Response {
    let next = (parts.method == Method::GET).then(|| parts.uri.path().to_owned());
    let (status, message) = match why {
        NotSignedIn::Never => (StatusCode::UNAUTHORIZED, None),
        NotSignedIn::Ended => (
            StatusCode::UNAUTHORIZED,
            Some(
                "Your session has expired or was signed out. Sign in again to continue.".to_owned(),
            ),
        ),
        NotSignedIn::KeyRefused(why) => (
            StatusCode::UNAUTHORIZED,
            Some(format!(
                "The API key this session signed in with no longer works ({why}). Sign in with a current key."
            )),
        ),
    };
    sign_in_page(state, status, message.as_deref(), next.as_deref())
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Self::from_parts(parts, state).await {
            Ok(signed) => Ok(signed),
            Err(Ok(why)) => Err(not_signed_in(state, parts, why)),
            Err(Err(problem)) => Err(problem.into_response()),
        }
    }
}

/// A form posted from a console page by a signed-in user, its CSRF token checked.
#[derive(Debug)]
pub struct Submitted {
    /// Who posted it.
    pub signed: Signed,
    /// Its fields.
    pub form: FormData,
}

/// The page for a post without the session's CSRF token (a forged cross-site post, or a
/// page older than the session).
fn csrf_refused() -> Response {
    Problem {
        status: StatusCode::FORBIDDEN,
        title: "Form not accepted",
        message: "This form did not carry the console's security token (CSRF), so nothing was \
                  changed. Go back, reload the page and try again."
            .into(),
        retry_after_secs: None,
    }
    .into_response()
}

impl FromRequest<AppState> for Submitted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let form = FormData::read(body, state.config.max_body_bytes)
            .await
            .map_err(IntoResponse::into_response)?;
        match form.get("csrf") {
            Some(token) if equal(token, &signed.csrf) => Ok(Self { signed, form }),
            _ => Err(csrf_refused()),
        }
    }
}

/// Only console paths are followed after signing in (never another site).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console") && !n.contains("//") && !n.contains('\\') => n,
        _ => "/console/instances",
    }
}

/// The sign-in page, with a fresh token for its form in a cookie of its own.
pub fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    message: Option<&str>,
    next: Option<&str>,
) -> Response {
    let token = Token::generate().to_hex();
    let body = layout::bare(
        "Sign in",
        html! {
            div.sign-in {
                h1 { "Sevenoways Relay console" }
                @if let Some(message) = message {
                    p.error role="alert" { (message) }
                }
                form method="post" action="/console/sign-in" {
                    input type="hidden" name="csrf" value=(token);
                    input type="hidden" name="next" value=(safe_next(next));
                    label for="api-key" { "API key" }
                    input id="api-key" name="apiKey" type="password" autocomplete="off"
                        spellcheck="false" required placeholder="svw_…";
                    p.hint { "The key the server printed on its first start, or one made with "
                        code { "sevenoways-server keys create" } "." }
                    button type="submit" { "Sign in" }
                }
            }
        },
    );
    let mut response = (status, body).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, SIGN_IN_COOKIE, &token, 3600),
    );
    response
}

/// `GET /console`: the sign-in page, or the instances when signed in.
pub async fn home(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    match Signed::from_parts(&parts, &state).await {
        Ok(_) => super::see_other("/console/instances"),
        Err(Ok(NotSignedIn::Never)) => sign_in_page(&state, StatusCode::OK, None, None),
        Err(Ok(why)) => not_signed_in(&state, &parts, why),
        Err(Err(problem)) => problem.into_response(),
    }
}

/// The client's address, for the sign-in limit.
fn client(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// `POST /console/sign-in`: `apiKey`, checked as the API checks `x-api-key`.
pub async fn sign_in(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let form = match FormData::read(body, state.config.max_body_bytes).await {
        Ok(form) => form,
        Err(problem) => return problem.into_response(),
    };
    let next = form.get("next");
    let expected = cookie(&parts.headers, &cookie_name(&state, SIGN_IN_COOKIE));
    if !expected.is_some_and(|e| equal(e, form.text("csrf"))) {
        return sign_in_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form had expired or did not come from this console. Try again."),
            next,
        );
    }
    let now = Utc::now();
    let client = client(&parts);
    let limit = state.config.console.sign_in_failures_per_minute;
    match state.store.console_sign_in_wait(&client, now, limit).await {
        Ok(None) => {}
        Ok(Some(wait)) => {
            let secs = wait.as_millis().div_ceil(1000).max(1);
            let mut response = sign_in_page(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "Too many failed sign-ins from your address. Try again in {secs} s."
                )),
                next,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
            return response;
        }
        Err(e) => return Problem::from(ApiError::from(e)).into_response(),
    }
    let key = form.text("apiKey");
    if key.is_empty() {
        return sign_in_page(
            &state,
            StatusCode::BAD_REQUEST,
            Some("Enter your API key."),
            next,
        );
    }
    let account = match account_for_key(&state, key).await {
        Ok(account) => account,
        Err(ApiError::Unauthorized(why)) => {
            if let Err(e) = state
                .store
                .record_console_sign_in_failure(&client, now)
                .await
            {
                tracing::warn!(error = %e, "could not record a failed console sign-in");
            }
            let message = if why == "invalid API key" {
                "That API key is not valid. Check that you pasted all of it (it starts with svw_)."
                    .to_owned()
            } else {
                format!("That API key cannot sign in: {why}.")
            };
            return sign_in_page(&state, StatusCode::UNAUTHORIZED, Some(&message), next);
        }
        Err(other) => return Problem::from(other).into_response(),
    };
    let token = Token::generate();
    let ttl = state.config.console.session_ttl_secs.max(1);
    let expires_at = now + chrono::Duration::seconds(ttl.min(100 * 365 * 86_400) as i64);
    let sealed = token.sealing_key().seal(key.as_bytes(), SEALED_CONTEXT);
    if let Err(e) = state
        .store
        .create_console_session(
            &token.hash(),
            account.id,
            &sealed,
            now,
            expires_at,
            state.config.console.max_sessions_per_account,
        )
        .await
    {
        return Problem::from(ApiError::from(e)).into_response();
    }
    let mut response = super::see_other(safe_next(next));
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, COOKIE, &token.to_hex(), ttl),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, SIGN_IN_COOKIE, "", 0),
    );
    response
}

/// `POST /console/sign-out`: the session's row is deleted and the cookie cleared.
pub async fn sign_out(State(state): State<AppState>, submitted: Submitted) -> Response {
    if let Err(e) = state
        .store
        .delete_console_session(&submitted.signed.token_hash)
        .await
    {
        return Problem::from(ApiError::from(e)).into_response();
    }
    let mut response = sign_in_page(&state, StatusCode::OK, Some("You are signed out."), None);
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, COOKIE, "", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_derive_distinct_values_and_parse_back() {
        let token = Token::generate();
        let again = Token::parse(&token.to_hex()).unwrap();
        assert_eq!(again.hash(), token.hash());
        assert_eq!(again.csrf(), token.csrf());
        assert_ne!(token.csrf(), hex::encode(token.hash()));
        assert_ne!(token.csrf(), Token::generate().csrf());
        assert!(Token::parse("abc").is_none());
        let sealed = token.sealing_key().seal(b"svw_key", SEALED_CONTEXT);
        assert_eq!(
            again.sealing_key().open(&sealed, SEALED_CONTEXT).unwrap(),
            b"svw_key"
        );
        assert!(
            Token::generate()
                .sealing_key()
                .open(&sealed, SEALED_CONTEXT)
                .is_err()
        );
    }

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/console/send")), "/console/send");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/api/instances",
            "/console\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console/instances", "{bad}");
        }
        assert_eq!(safe_next(None), "/console/instances");
    }
}
