//! `GET /api/instances/{id}/qr`: the pairing page, and the code as PNG, SVG or JSON.
//!
//! Who may open it (the API key, or a QR link's token) is [`crate::auth::qr_token`].

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use hmac::Mac;
use sevenoways_sdk::models::instances::{GetQr, InstanceStatus, QrCode, QrFormat, QrQuery};
use sevenoways_sdk::models::sandbox::PairSandboxInstance;
use sevenoways_sdk::{Endpoint, InstanceId, Success};

use super::on;
use crate::AppState;
use crate::account::AccountId;
use crate::auth::qr_token::{QrAuth, mac};
use crate::error::ApiError;
use crate::extract::QueryParams;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(GetQr::ROUTE, on(GetQr::METHOD, qr))
}

/// How often the pairing code changes while the page is open.
const CODE_WINDOW_SECS: i64 = 20;

/// The current pairing string: it changes every [`CODE_WINDOW_SECS`], like WhatsApp's.
fn pairing_code(
    secret: &[u8],
    account: AccountId,
    instance: &InstanceId,
    now: DateTime<Utc>,
) -> (String, DateTime<Utc>) {
    let window = now.timestamp() / CODE_WINDOW_SECS;
    let mut m = mac(secret);
    m.update(format!("pair|{account}|{instance}|{window}").as_bytes());
    let tag = hex::encode(&m.finalize().into_bytes()[..12]);
    let expires = DateTime::from_timestamp((window + 1) * CODE_WINDOW_SECS, 0).unwrap_or(now);
    (format!("2@sevenoways-sandbox,{instance},{tag}"), expires)
}

/// `GET /api/instances/{id}/qr[?format=png|svg|json]`.
pub async fn qr(
    State(state): State<AppState>,
    auth: QrAuth,
    QueryParams(q): QueryParams<QrQuery>,
) -> Result<Response, ApiError> {
    let instance = state
        .store
        .get_instance(auth.account, &auth.instance)
        .await?
        .ok_or_else(|| ApiError::instance_not_found(&auth.instance))?;
    let paired = instance.status == InstanceStatus::Online;
    let (code, expires) = pairing_code(&state.qr_secret, auth.account, &auth.instance, Utc::now());
    let response = match q.format.unwrap_or_default() {
        QrFormat::Json => Json(Success(QrCode {
            instance_id: auth.instance.clone(),
            status: instance.status,
            pairing_code: (!paired).then(|| code.clone()),
            expires_at: (!paired).then_some(expires),
        }))
        .into_response(),
        QrFormat::Svg => {
            let svg = qrcode::QrCode::new(code.as_bytes())
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(264, 264)
                .build();
            ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
        }
        QrFormat::Png => ([(header::CONTENT_TYPE, "image/png")], png(&code)?).into_response(),
        QrFormat::Html => Html(page(&auth, &instance.label, paired)).into_response(),
    };
    let mut response = response;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
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

/// The browser page: the code, refreshed while pairing, and the sandbox's scan button.
fn page(auth: &QrAuth, label: &str, paired: bool) -> String {
    let id = auth.instance.as_str();
    let qr = GetQr {
        id: auth.instance.clone(),
    }
    .page_path();
    let pair = PairSandboxInstance {
        id: auth.instance.clone(),
    }
    .path()
    .into_owned();
    let token = auth
        .token
        .as_deref()
        .map(|t| format!("&token={t}"))
        .unwrap_or_default();
    let pair_token = auth
        .token
        .as_deref()
        .map(|t| format!("?token={t}"))
        .unwrap_or_default();
    let label = escape(label);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Pair {id} · Sevenoways Relay</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;text-align:center;color:#111}}
img{{width:264px;height:264px;image-rendering:pixelated}}button{{font-size:1rem;padding:.6rem 1.2rem;margin-top:1rem}}
.ok{{color:#0a7d32;font-size:1.3rem}}</style></head>
<body>
<h1>Pair “{label}”</h1>
<div id="pairing" {hide_pairing}>
<p>Open WhatsApp on the phone › Settings › Linked devices › Link a device, and scan:</p>
<img id="code" alt="QR code for {id}" src="{qr}?format=svg{token}">
<p><small>The code refreshes every {window} seconds.</small></p>
<p>Sandbox: no phone needed.<br><button id="scan">Simulate the scan</button></p>
</div>
<p id="done" class="ok" {hide_done}>✓ Paired: “{label}” is online.</p>
<script>
const q = "{token}";
async function poll() {{
  const r = await fetch("{qr}?format=json" + q);
  if (!r.ok) return;
  const s = await r.json();
  if (s.status === "online") {{
    document.getElementById("pairing").hidden = true;
    document.getElementById("done").hidden = false;
  }} else {{
    document.getElementById("code").src = "{qr}?format=svg" + q + "&t=" + Date.now();
  }}
}}
setInterval(poll, {window}000);
document.getElementById("scan").onclick = async () => {{
  await fetch("{pair}{pair_token}", {{method: "POST"}});
  poll();
}};
</script>
</body></html>"#,
        window = CODE_WINDOW_SECS,
        hide_pairing = if paired { "hidden" } else { "" },
        hide_done = if paired { "" } else { "hidden" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_code_changes_each_window() {
        let id = InstanceId::new("n").unwrap();
        let t0 = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let (c1, e1) = pairing_code(b"s", AccountId(1), &id, t0);
        let (c2, _) = pairing_code(
            b"s",
            AccountId(1),
            &id,
            t0 + chrono::Duration::seconds(CODE_WINDOW_SECS),
        );
        assert_ne!(c1, c2);
        assert!(e1 > t0);
    }

    #[test]
    fn png_is_a_png() {
        let bytes = png("2@sevenoways-sandbox,n,abc").unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
}
