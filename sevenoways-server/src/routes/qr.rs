//! `GET /api/instances/{id}/qr`: the pairing page, and the code as PNG, SVG or JSON.
//!
//! The code is the instance's engine's ([`crate::transport::Engine::pairing`]): the
//! sandbox's simulated one, or WAHA's raw QR value, drawn here in every format; a Meta
//! Cloud API number has none (409).
//!
//! Who may open it (the API key, or a QR link's token) is [`crate::auth::qr_token`].
//! Every answer of this route, errors included, carries [`browser_headers`]: the page is
//! opened from shared links with a token in the URL, so it must never be framed, never
//! leak that URL in `Referer`, and run no script but its own.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use sevenoways_sdk::models::instances::{GetQr, InstanceStatus, QrCode, QrFormat, QrQuery};
use sevenoways_sdk::models::sandbox::PairSandboxInstance;
use sevenoways_sdk::{Endpoint, Success};

use super::on;
use crate::AppState;
use crate::auth::qr_token::{PAIR_TOKEN_HEADER, QrAuth};
use crate::engine::EngineKind;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::store::InstanceRecord;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(GetQr::ROUTE, on(GetQr::METHOD, qr))
        .route_layer(axum::middleware::map_response(browser_headers))
}

/// The content security policy of everything but the HTML page: nothing may load, run or
/// frame it.
const STRICT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The page's policy: its own origin for the code image and the status polls, and only
/// the inline script and style carrying this answer's `nonce`.
fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; img-src 'self'; connect-src 'self'; script-src 'nonce-{nonce}'; \
         style-src 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// Adds the browser security headers to every answer of the QR route (the page sets its
/// own CSP, with a nonce, first).
pub async fn browser_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, STRICT_CSP),
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

/// How often the page asks for the status and the current code.
const POLL_SECS: u32 = 5;

/// `GET /api/instances/{id}/qr[?format=png|svg|json]`.
pub async fn qr(
    State(state): State<AppState>,
    auth: QrAuth,
    QueryParams(q): QueryParams<QrQuery>,
) -> Result<Response, ApiError> {
    let format = q.format.unwrap_or_default();
    let pairing = state
        .engines
        .get(auth.record.engine)?
        .pairing(&auth.record)
        .await?;
    let instance = &auth.record.instance;
    let paired = pairing.status == InstanceStatus::Online;
    let image_code = || {
        pairing.code.as_deref().ok_or_else(|| {
            ApiError::Conflict(if paired {
                format!(
                    "instance {:?} is paired: there is no code to scan",
                    instance.instance_id.as_str()
                )
            } else {
                format!(
                    "instance {:?} has no pairing code yet (status {}): its engine is still \
                     starting; ask again in a few seconds",
                    instance.instance_id.as_str(),
                    pairing.status.as_str()
                )
            })
        })
    };
    let response = match format {
        QrFormat::Json => Json(Success(QrCode {
            instance_id: instance.instance_id.clone(),
            status: pairing.status,
            pairing_code: pairing.code.clone().filter(|_| !paired),
            expires_at: pairing.expires_at.filter(|_| !paired),
        }))
        .into_response(),
        QrFormat::Svg => (
            [(header::CONTENT_TYPE, "image/svg+xml")],
            svg(image_code()?)?,
        )
            .into_response(),
        QrFormat::Png => {
            ([(header::CONTENT_TYPE, "image/png")], png(image_code()?)?).into_response()
        }
        QrFormat::Html => {
            let nonce = crate::ids::random_hex(16);
            let csp = HeaderValue::from_str(&page_csp(&nonce))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let html = page(&auth.record, auth.token.as_deref(), paired, &nonce);
            ([(header::CONTENT_SECURITY_POLICY, csp)], Html(html)).into_response()
        }
    };
    Ok(response)
}

/// The code as an SVG image, at least 264 pixels square (the page and the console show it).
pub(crate) fn svg(code: &str) -> Result<String, ApiError> {
    Ok(qrcode::QrCode::new(code.as_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(264, 264)
        .build())
}

/// The code as an 8-pixels-per-module grayscale PNG with the standard 4-module margin.
fn png(code: &str) -> Result<Vec<u8>, ApiError> {
    let qr = qrcode::QrCode::new(code.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (modules, width) = (qr.to_colors(), qr.width());
    const SCALE: usize = 8;
    const MARGIN: usize = 4;
    let side = (width + 2 * MARGIN) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in modules.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i % width + MARGIN, i / width + MARGIN);
            for y in my * SCALE..(my + 1) * SCALE {
                pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The browser page: the code, refreshed while pairing, and for a sandbox instance the
/// scan button, which works only with the pairing token of `sandboxPairUrl` in the URL's
/// fragment (a shared QR link shows the code only).
fn page(record: &InstanceRecord, token: Option<&str>, paired: bool, nonce: &str) -> String {
    let id = record.instance.instance_id.as_str();
    let qr = GetQr {
        id: record.instance.instance_id.clone(),
    }
    .page_path();
    let pair = PairSandboxInstance {
        id: record.instance.instance_id.clone(),
    }
    .path()
    .into_owned();
    // Tokens are hex, digits and dots: nothing in them needs escaping.
    let token = token.map(|t| format!("&token={t}")).unwrap_or_default();
    let label = escape(&record.instance.label);
    let sandbox = if record.engine == EngineKind::Sandbox {
        format!(
            r#"<div id="sandbox">
<p>Sandbox: no phone needed.<br><button id="scan" hidden>Simulate the scan</button></p>
<p id="view-only" hidden><small>This link shows the code only. To simulate the scan, open the
<code>sandboxPairUrl</code> of the create answer (<code>svw instances create</code> prints it), or
<code>POST {pair}</code> with your API key.</small></p>
<p id="scan-error" hidden></p>
</div>"#
        )
    } else {
        String::new()
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Pair {id} · Sevenoways Relay</title>
<style nonce="{nonce}">body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;text-align:center;color:#111}}
img{{width:264px;height:264px;image-rendering:pixelated}}button{{font-size:1rem;padding:.6rem 1.2rem;margin-top:1rem}}
.ok{{color:#0a7d32;font-size:1.3rem}}#scan-error{{color:#b00020}}</style></head>
<body>
<h1>Pair “{label}”</h1>
<div id="pairing" {hide_pairing}>
<p>Open WhatsApp on the phone › Settings › Linked devices › Link a device, and scan:</p>
<img id="code" alt="QR code for {id}" src="{qr}?format=svg{token}">
<p id="wait" hidden>Waiting for a code…</p>
<p><small>The code refreshes by itself while this page is open.</small></p>
{sandbox}
</div>
<p id="done" class="ok" {hide_done}>✓ Paired: “{label}” is online.</p>
<script nonce="{nonce}">
const q = "{token}";
let shown = null;
async function poll() {{
  const r = await fetch("{qr}?format=json" + q);
  if (!r.ok) return;
  const s = await r.json();
  if (s.status === "online") {{
    document.getElementById("pairing").hidden = true;
    document.getElementById("done").hidden = false;
    return;
  }}
  const img = document.getElementById("code");
  img.hidden = !s.pairingCode;
  document.getElementById("wait").hidden = !!s.pairingCode;
  if (s.pairingCode && s.pairingCode !== shown) {{
    shown = s.pairingCode;
    img.src = "{qr}?format=svg" + q + "&t=" + Date.now();
  }}
}}
poll();
setInterval(poll, {poll}000);
const scan = document.getElementById("scan");
if (scan) {{
  const pairToken = new URLSearchParams(location.hash.slice(1)).get("pair");
  if (pairToken) {{
    scan.hidden = false;
    scan.onclick = async () => {{
      const r = await fetch("{pair}", {{method: "POST", headers: {{"{pair_header}": pairToken}}}});
      const problem = document.getElementById("scan-error");
      if (r.ok) {{
        problem.hidden = true;
      }} else {{
        const body = await r.json().catch(() => ({{}}));
        problem.textContent = body.error || ("pairing failed: HTTP " + r.status);
        problem.hidden = false;
      }}
      poll();
    }};
  }} else {{
    document.getElementById("view-only").hidden = false;
  }}
}}
</script>
</body></html>"#,
        poll = POLL_SECS,
        pair_header = PAIR_TOKEN_HEADER,
        hide_pairing = if paired { "hidden" } else { "" },
        hide_done = if paired { "" } else { "hidden" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_is_a_png() {
        let bytes = png("2@sevenoways-sandbox,n,abc").unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
}
