//! The web console at `/console`: what a person does with the API, in a browser.
//!
//! Server-rendered HTML ([`maud`]: templates are Rust, checked and escaped at compile
//! time), one small script and one stylesheet embedded in the binary ([`assets`]), no
//! framework, no build step, nothing fetched from elsewhere. Every action calls the API's
//! own handlers or shared functions in [`crate::routes`] (a send goes through
//! `crate::routes::messages::send_message`, the path of every `POST /api/send*`), so no
//! rule is implemented twice, and pages render the SDK's types.
//!
//! - [`session`]: sign-in with an API key, the session cookie and its server-side row,
//!   CSRF tokens, the sign-in limit.
//! - [`layout`]: the page frame, navigation and shared pieces; [`form`]: form bodies.
//! - One module per page, named as the API's resources: [`instances`], [`send`],
//!   [`queue`], [`schedules`], [`webhooks`], [`usage`], [`docs`].
//!
//! Live updates are polled: an element with `data-live="URL"` is refreshed from an HTML
//! fragment at that URL every second or two while the page is visible, until the answer
//! says `x-live: done` (nothing more will change). The fragment is rendered by the same
//! function as the first paint. Polls are GETs authenticated by the session and read one
//! bounded page each.
//!
//! Every answer under `/console` carries [`security_headers`]. The decisions behind all
//! this are in `docs/console.md`.

pub mod assets;
pub mod docs;
pub mod form;
pub mod instances;
pub mod layout;
pub mod queue;
pub mod schedules;
pub mod send;
pub mod session;
pub mod usage;
pub mod webhooks;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use maud::{Markup, html};
use sevenoways_sdk::Success;

use crate::AppState;
use crate::config::Config;
use crate::error::ApiError;

/// Where the console lives.
pub const ROOT: &str = "/console";

/// The console's routes, and `/` redirecting to it; nothing when `[console] enabled =
/// false`.
pub fn router(config: &Config) -> Router<AppState> {
    if !config.console.enabled {
        return Router::new();
    }
    let pages = Router::new()
        .route(ROOT, get(session::home))
        .route("/console/sign-in", post(session::sign_in))
        .route("/console/sign-out", post(session::sign_out))
        .route(assets::CSS_PATH, get(assets::css))
        .route(assets::JS_PATH, get(assets::js))
        .route(
            "/console/instances",
            get(instances::list).post(instances::create),
        )
        .route("/console/instances/{id}", get(instances::show))
        .route("/console/instances/{id}/status", get(instances::status))
        .route("/console/instances/{id}/qr.svg", get(instances::qr_svg))
        .route("/console/instances/{id}/pair", post(instances::pair))
        .route("/console/instances/{id}/groups", post(instances::add_group))
        .route(
            "/console/instances/{id}/delete",
            get(instances::confirm_delete).post(instances::delete),
        )
        .route("/console/send", get(send::form).post(send::submit))
        .route("/console/send/status", get(send::status))
        .route("/console/queue", get(queue::list))
        .route("/console/queue/rows", get(queue::rows))
        .route("/console/queue/{id}", get(queue::show))
        .route(
            "/console/schedules",
            get(schedules::list).post(schedules::create),
        )
        .route("/console/schedules/next-runs", get(schedules::next_runs))
        .route("/console/schedules/{id}/delete", post(schedules::delete))
        .route("/console/schedules/{id}/resume", post(schedules::resume))
        .route(
            "/console/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/console/webhooks/{id}", get(webhooks::show))
        .route(
            "/console/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route("/console/webhooks/{id}/test", post(webhooks::test))
        .route("/console/webhooks/{id}/enable", post(webhooks::enable))
        .route(
            "/console/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/console/webhooks/{id}/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
        .route(
            "/console/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/console/usage", get(usage::show))
        .route("/console/usage/meters", get(usage::live))
        .route("/console/docs", get(docs::show))
        .route("/console/{*rest}", any(not_found))
        .route_layer(axum::middleware::map_response(security_headers));
    Router::new()
        .route("/", get(|| async { Redirect::to(ROOT) }))
        .merge(pages)
}

/// The console's content security policy: its own script, style and images only, forms
/// posting to itself, never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the browser security headers to every console answer: the CSP (no inline script
/// at all), no framing, no `Referer` (console URLs name ids), no type sniffing, and no
/// caching of pages that show account data (the assets set their own `Cache-Control`).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert::<HeaderName>(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// An answer that went wrong, as a page: its status, a title and what to do. Built from
/// the API's [`ApiError`], so the console says what the API would have said.
#[derive(Debug)]
pub struct Problem {
    /// The HTTP status of the page.
    pub status: StatusCode,
    /// The page's heading.
    pub title: &'static str,
    /// What happened, and what to do.
    pub message: String,
    /// Seconds to wait, for 429 and 503.
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    /// A 404 page: the id is not this account's (or does not exist: the two are not told
    /// apart, as in the API).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            message: message.into(),
            retry_after_secs: None,
        }
    }
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Self {
        let (status, title, message, retry_after_secs) = match e {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "That did not work", m, None),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "Not signed in", m, None),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m, None),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "That did not work", m, None),
            ApiError::Unprocessable(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "That did not work",
                m,
                None,
            ),
            // The number's engine (WAHA, Meta) failed: the API's message says which and why.
            ApiError::BadGateway(m) => (StatusCode::BAD_GATEWAY, "The engine failed", m, None),
            ApiError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                format!("the form is larger than {limit} bytes"),
                None,
            ),
            ApiError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "That did not work",
                m,
                None,
            ),
            ApiError::RateLimited {
                retry_after_secs,
                message,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Slow down",
                message,
                Some(retry_after_secs),
            ),
            ApiError::Unavailable {
                retry_after_secs,
                message,
                detail,
            } => {
                tracing::warn!(%detail, "console answered 503");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    message,
                    Some(retry_after_secs),
                )
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "console: internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "the server could not do this; its log has the details".to_owned(),
                    None,
                )
            }
        };
        Self {
            status,
            title,
            message,
            retry_after_secs,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = layout::bare(
            self.title,
            html! {
                h1 { (self.title) }
                p.error role="alert" { (self.message) }
                p { a href=(ROOT) { "Back to the console" } }
            },
        );
        let mut response = (self.status, body).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

/// What a console handler answers: a page, or a [`Problem`] page.
pub type PageResult = Result<Response, Problem>;

/// The value inside an API handler's answer.
pub(crate) fn value<T>(reply: crate::routes::Reply<T>) -> Result<T, ApiError> {
    reply.map(|axum::Json(Success(v))| v)
}

/// A page with `status`.
pub(crate) fn page(status: StatusCode, markup: Markup) -> Response {
    (status, markup).into_response()
}

/// 303 to `to`: after a form that changed something, so reloading does not post again.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A live fragment: `done` tells the page's script that nothing more will change.
pub(crate) fn fragment(markup: Markup, done: bool) -> Response {
    let mut response = markup.into_response();
    if done {
        response
            .headers_mut()
            .insert("x-live", HeaderValue::from_static("done"));
    }
    response
}

/// `/console/…` that is no page: a 404 page, not the API's JSON.
async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("there is no console page at {}", uri.path()))
}
