//! The console's stylesheet and script, embedded in the binary: no CDN, no build step,
//! nothing to install.

use axum::http::header;
use axum::response::IntoResponse;

/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/console/assets/console.css";
/// Where the script is served.
pub const JS_PATH: &str = "/console/assets/console.js";

/// Light and dark themes, following `prefers-color-scheme`.
pub const CSS: &str = include_str!("assets/console.css");
/// Live regions, copy buttons, revealing the key, the send form's choices and the
/// schedule preview. Every page works without it, except the live updates.
pub const JS: &str = include_str!("assets/console.js");

/// A query string that changes with the build, so browsers never keep a stale asset.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /console/assets/console.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}

/// `GET /console/assets/console.js`.
pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
}
