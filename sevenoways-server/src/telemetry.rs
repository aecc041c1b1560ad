//! What an operator watches: `GET /metrics` in Prometheus text format, and a request id
//! on every request (its log lines and its `X-Request-Id` answer header).
//!
//! **Metrics are off unless configured** (`[metrics]`): either a token, which serves
//! `/metrics` on the public listener to `Authorization: Bearer <token>` only, or a
//! separate `listen` address (typically loopback or a private network), which serves it
//! there and never on the public listener. With both, the separate listener asks for the
//! token too. Counts of routes, tenants' traffic and queue depths are not for the public.
//!
//! The recorder is the `metrics` facade's global one, installed once per process by the
//! first server that turns metrics on; while it is not installed, every `counter!` /
//! `histogram!` call site costs an atomic load. Label values are bounded: routes are the
//! router's templates (`/api/instances/{id}`), never raw paths; a request that matched no
//! route is `route="unmatched"`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `sevenoways_http_requests_total` | counter | `method`, `route`, `status` |
//! | `sevenoways_http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `sevenoways_queue_depth` | gauge (read at scrape) | `state` (`queued`, `sending`) |
//! | `sevenoways_sends_total` | counter | `engine`, `outcome` (`sent`, `transient`, `permanent`) |
//! | `sevenoways_webhook_deliveries_total` | counter | `outcome` (`delivered`, `failed`) |
//! | `sevenoways_webhook_delivery_duration_seconds` | histogram | `outcome` |
//! | `sevenoways_schedule_fire_lag_seconds` | histogram | |
//! | `sevenoways_group_commit_batch_size` | histogram (entries) | |
//! | `sevenoways_group_commit_duration_seconds` | histogram | |
//! | `sevenoways_rate_limit_refusals_total` | counter | |

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use tokio::sync::watch;

use crate::engine::EngineSecret;
use crate::store::Store;

/// The path metrics are served at.
pub const METRICS: &str = "/metrics";
/// The environment variable that sets `[metrics] token` (overrides the file).
pub const METRICS_TOKEN_ENV: &str = "SEVENOWAYS_METRICS_TOKEN";
/// The request id header, read from the request and always set on the answer.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `[metrics]`: where `GET /metrics` is served, if anywhere.
///
/// ```toml
/// [metrics]
/// listen = "127.0.0.1:9464"   # a separate listener for the scraper; off the public one
/// token = "..."               # or SEVENOWAYS_METRICS_TOKEN; required as a Bearer token
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A separate address to serve `/metrics` on; the public listener then answers 404.
    pub listen: Option<SocketAddr>,
    /// The Bearer token `/metrics` requires. Without `listen`, setting it serves
    /// `/metrics` on the public listener.
    pub token: Option<EngineSecret>,
}

impl MetricsConfig {
    /// Whether `/metrics` is served at all.
    pub fn enabled(&self) -> bool {
        self.listen.is_some() || self.token().is_some()
    }

    /// Whether `/metrics` is served on the public listener (a token and no `listen`).
    pub fn on_public_listener(&self) -> bool {
        self.listen.is_none() && self.token().is_some()
    }

    fn token(&self) -> Option<&EngineSecret> {
        self.token.as_ref().filter(|t| !t.is_empty())
    }

    /// Takes the token from `SEVENOWAYS_METRICS_TOKEN` when that is set and not empty.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(token) = get(METRICS_TOKEN_ENV).filter(|v| !v.trim().is_empty()) {
            self.token = Some(EngineSecret::new(token));
        }
    }
}

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return the same handle).
/// `None` when another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            // Request latencies from 0.5 ms to 10 s; batch sizes in entries up to the
            // group commit's cap (2048).
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ];
            let entries = [
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 2048.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_size".into()), &entries))
                .expect("bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    Some(handle)
                }
                Err(_) => {
                    tracing::warn!("another metrics recorder is installed; /metrics stays empty");
                    None
                }
            }
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "sevenoways_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "sevenoways_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's headers to its answer"
    );
    describe_gauge!(
        "sevenoways_queue_depth",
        "Queue entries not finished yet, by state (read at scrape)"
    );
    describe_counter!(
        "sevenoways_sends_total",
        "Sends handed to an engine, by engine and outcome"
    );
    describe_counter!(
        "sevenoways_webhook_deliveries_total",
        "Webhook delivery attempts, by outcome"
    );
    describe_histogram!(
        "sevenoways_webhook_delivery_duration_seconds",
        Unit::Seconds,
        "Time of one webhook delivery attempt"
    );
    describe_histogram!(
        "sevenoways_schedule_fire_lag_seconds",
        Unit::Seconds,
        "How late a schedule's run fired after its due time"
    );
    describe_histogram!(
        "sevenoways_group_commit_batch_size",
        "Queue entries written by one group commit"
    );
    describe_histogram!(
        "sevenoways_group_commit_duration_seconds",
        Unit::Seconds,
        "Time of one group commit (transaction and fsync)"
    );
    describe_counter!(
        "sevenoways_rate_limit_refusals_total",
        "Requests refused with 429 (rate limit or message cap)"
    );
}

/// Whether metrics are being recorded in this process.
fn recording() -> bool {
    matches!(HANDLE.get(), Some(Some(_)))
}

/// Drains the histograms' buffers every few seconds, so memory stays bounded when
/// nobody scrapes.
pub(crate) async fn upkeep(handle: PrometheusHandle, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => handle.run_upkeep(),
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// What the `/metrics` handler needs.
#[derive(Clone)]
pub(crate) struct Scrape {
    handle: PrometheusHandle,
    store: Arc<dyn Store>,
    token: Option<EngineSecret>,
}

/// The router serving `GET /metrics` (merged into the public router, or served alone on
/// `[metrics] listen`).
pub(crate) fn router(
    handle: PrometheusHandle,
    store: Arc<dyn Store>,
    config: &MetricsConfig,
) -> Router {
    let scrape = Scrape {
        handle,
        store,
        token: config.token().cloned(),
    };
    Router::new().route(METRICS, get(serve)).with_state(scrape)
}

async fn serve(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(token) = &scrape.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|given| token.matches(given) && given.len() == token.expose().len()) {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                Json(sevenoways_sdk::ErrorBody::new(
                    "GET /metrics needs the metrics token as Authorization: Bearer <token>",
                )),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    match scrape.store.queue_depth().await {
        Ok(depth) => {
            for (state, n) in depth {
                metrics::gauge!("sevenoways_queue_depth", "state" => state).set(n as f64);
            }
        }
        // The rest of the page is still worth having; the gauges keep their last value.
        Err(e) => tracing::warn!(error = %e, "reading the queue depth for /metrics failed"),
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        scrape.handle.render(),
    )
        .into_response()
}

/// The request id of a request: the client's `X-Request-Id` when it is sane (1 to 64
/// characters of letters, digits, `-`, `_`, `.`, `:`), else a new random one. Set on the
/// request (the log span reads it there) and on the answer.
pub(crate) async fn request_id(mut req: Request, next: Next) -> Response {
    let id = match req.headers().get(&REQUEST_ID) {
        Some(given) if sane_request_id(given.as_bytes()) => given.clone(),
        _ => {
            let id = format!("{:032x}", fastrand::u128(..));
            let id = HeaderValue::from_str(&id).expect("hex is a valid header value");
            req.headers_mut().insert(REQUEST_ID.clone(), id.clone());
            id
        }
    };
    let mut response = next.run(req).await;
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    response
}

fn sane_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Counts and times every request by route template and status (when metrics are on).
pub(crate) async fn http_metrics(req: Request, next: Next) -> Response {
    if !recording() {
        return next.run(req).await;
    }
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let response = next.run(req).await;
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("sevenoways_http_requests_total", &labels).increment(1);
    metrics::histogram!("sevenoways_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label from a fixed set: HTTP allows any token as a method, and a
/// series per made-up method would let anyone, unauthenticated, grow the registry
/// without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records a send's outcome at an engine.
pub(crate) fn send_outcome(engine: &'static str, outcome: &'static str) {
    metrics::counter!("sevenoways_sends_total", "engine" => engine, "outcome" => outcome)
        .increment(1);
}

/// Records one webhook delivery attempt.
pub(crate) fn webhook_attempt(delivered: bool, took: Duration) {
    let outcome = if delivered { "delivered" } else { "failed" };
    metrics::counter!("sevenoways_webhook_deliveries_total", "outcome" => outcome).increment(1);
    metrics::histogram!("sevenoways_webhook_delivery_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Records how late a schedule fired.
pub(crate) fn schedule_fired(lag: Duration) {
    metrics::histogram!("sevenoways_schedule_fire_lag_seconds").record(lag.as_secs_f64());
}

/// Records one group commit.
pub(crate) fn group_commit(entries: usize, took: Duration) {
    metrics::histogram!("sevenoways_group_commit_batch_size").record(entries as f64);
    metrics::histogram!("sevenoways_group_commit_duration_seconds").record(took.as_secs_f64());
}

/// Records a 429.
pub(crate) fn rate_limit_refusal() {
    metrics::counter!("sevenoways_rate_limit_refusals_total").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_checked() {
        assert!(sane_request_id(b"abc-123_x.y:z"));
        assert!(!sane_request_id(b""));
        assert!(!sane_request_id(b"has space"));
        assert!(!sane_request_id(b"new\nline"));
        assert!(!sane_request_id(&[b'a'; 65]));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::POST), "POST");
        for made_up in ["XYZ1", "XYZ2", "BREW"] {
            let method = Method::from_bytes(made_up.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other");
        }
    }

    #[test]
    fn metrics_are_off_unless_configured() {
        let off = MetricsConfig::default();
        assert!(!off.enabled());
        let empty_token = MetricsConfig {
            token: Some(EngineSecret::new(" ")),
            ..Default::default()
        };
        assert!(!empty_token.enabled());
        let token = MetricsConfig {
            token: Some(EngineSecret::new("t")),
            ..Default::default()
        };
        assert!(token.on_public_listener());
        let listen = MetricsConfig {
            listen: Some(([127, 0, 0, 1], 0).into()),
            token: Some(EngineSecret::new("t")),
        };
        assert!(listen.enabled() && !listen.on_public_listener());
        assert!(!format!("{listen:?}").contains("\"t\""));
    }
}
