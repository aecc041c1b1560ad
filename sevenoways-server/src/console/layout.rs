//! The page frame: head, navigation, sign-out, and the small pieces every page uses
//! (times, statuses, copy buttons, the CSRF field).

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::assets;
use super::session::Signed;

/// The navigation's entries: (path, name).
const NAV: [(&str, &str); 7] = [
    ("/console/instances", "Instances"),
    ("/console/send", "Send"),
    ("/console/queue", "Queue"),
    ("/console/schedules", "Schedules"),
    ("/console/webhooks", "Webhooks"),
    ("/console/usage", "Usage"),
    ("/console/docs", "Docs"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width,initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " · Sevenoways Relay" }
            link rel="stylesheet" href={ (assets::CSS_PATH) "?v=" (assets::VERSION) };
            script src={ (assets::JS_PATH) "?v=" (assets::VERSION) } defer {}
        }
    }
}

/// A page without navigation: signing in, and problems.
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main.bare { (body) }
            }
        }
    }
}

/// A signed-in page: navigation (with `active` marked as the current page), the
/// account and "Sign out", then `body`.
pub fn page(signed: &Signed, active: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console/instances" { "Sevenoways Relay" }
                    nav aria-label="Console" {
                        ul {
                            @for (path, name) in NAV {
                                li {
                                    @if path == active {
                                        a href=(path) aria-current="page" { (name) }
                                    } @else {
                                        a href=(path) { (name) }
                                    }
                                }
                            }
                        }
                    }
                    form.sign-out method="post" action="/console/sign-out" {
                        span.account { (signed.account.name) " · plan " (signed.account.plan) }
                        (csrf(signed))
                        button type="submit" { "Sign out" }
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// The hidden CSRF field every form that changes something carries.
pub fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

/// An instant, readable and machine-readable.
pub fn time(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) }
    }
}

/// An optional instant; a dash when absent.
pub fn maybe_time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { "—" },
    }
}

/// A status word as a badge (colour is never the only signal: the word is there).
pub fn badge(word: &str) -> Markup {
    html! { span class={ "badge status-" (word) } { (word) } }
}

/// A button that copies the text of the element `target` (an id) to the clipboard.
pub fn copy_button(target: &str, name: &str) -> Markup {
    html! {
        button.copy type="button" data-copy=(target) aria-label=(name) { "Copy" }
    }
}

/// A message after an action, or its failure.
pub fn notice(ok: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(ok) = ok { p.ok role="status" { (ok) } }
        @if let Some(error) = error { p.error role="alert" { (error) } }
    }
}

/// A non-breaking thin space in generated markup.
pub fn nbsp() -> Markup {
    PreEscaped("&nbsp;".into())
}
