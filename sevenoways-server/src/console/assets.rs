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

#[cfg(test)]
mod tests {
    use super::CSS;

    /// `--name: #rrggbb` custom properties of a CSS block.
    fn palette(block: &str) -> Vec<(&str, [f64; 3])> {
        block
            .split(';')
            .filter_map(|decl| {
                // The first declaration of a block follows its selector's `{`.
                let decl = decl.rsplit('{').next()?.trim();
                let (name, value) = decl.split_once(':')?;
                let name = name.trim().strip_prefix("--")?;
                let hex = value.trim().strip_prefix('#')?;
                let channel = |i: usize| {
                    u8::from_str_radix(hex.get(i..i + 2)?, 16)
                        .ok()
                        .map(|c| f64::from(c) / 255.0)
                };
                Some((name, [channel(0)?, channel(2)?, channel(4)?]))
            })
            .collect()
    }

    /// WCAG 2 contrast ratio.
    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let luminance = |c: [f64; 3]| {
            let f = |v: f64| {
                if v <= 0.039_28 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2])
        };
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn text_colours_pass_wcag_aa_in_both_themes() {
        let (light, dark) = CSS
            .split_once("@media (prefers-color-scheme: dark)")
            .expect("a dark theme");
        let dark = &dark[..dark.find("}\n}").expect("the dark block ends")];
        for (theme, block) in [("light", light), ("dark", dark)] {
            let colours = palette(block);
            let get = |name: &str| {
                colours
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap_or_else(|| panic!("--{name} in the {theme} theme"))
                    .1
            };
            let pairs = [
                ("fg", "bg"),
                ("fg", "panel"),
                ("muted", "bg"),
                ("muted", "panel"),
                ("accent", "bg"),
                ("accent", "panel"),
                ("danger", "bg"),
                ("ok", "bg"),
                ("accent-fg", "accent"),
                ("bg", "danger"),
                ("focus", "bg"),
            ];
            for (text, background) in pairs {
                let ratio = contrast(get(text), get(background));
                assert!(
                    ratio >= 4.5,
                    "{theme}: --{text} on --{background} is {ratio:.2}:1, under 4.5:1"
                );
            }
        }
    }
}
