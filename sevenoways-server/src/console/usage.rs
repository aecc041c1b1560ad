//! `/console/usage`: the send rate window and the daily and monthly caps as meters, from
//! `GET /api/usage` (`crate::routes::usage::get`); the meters follow live.

use axum::extract::State;
use axum::http::StatusCode;
use maud::{Markup, html};
use sevenoways_sdk::models::usage::Usage;

use super::layout::{self, maybe_time, time};
use super::session::Signed;
use super::{PageResult, fragment, page, value};
use crate::AppState;
use crate::auth::Authed;
use crate::routes::usage;

/// One meter: `used` of `limit` (unlimited when `None`), with its label.
fn meter(id: &str, label: &str, used: u64, limit: Option<u64>, detail: Markup) -> Markup {
    html! {
        div.meter {
            @match limit {
                Some(limit) => {
                    label for=(id) { (label) ": " (used) " of " (limit) }
                    meter #(id) min="0" max=(limit) value=(used.min(limit))
                        low=((limit as f64 * 0.7) as u64) high=((limit as f64 * 0.9) as u64)
                        optimum="0" { (used) " of " (limit) }
                }
                None => {
                    p { strong { (label) ": " (used) } " (no limit on this plan)" }
                }
            }
            p.hint { (detail) }
        }
    }
}

fn meters(u: &Usage) -> Markup {
    let r = &u.rate_limit;
    html! {
        (meter("rate", &format!("Send requests in the last {} seconds", r.window_secs),
            u64::from(r.used), r.limit.map(u64::from),
            html! {
                @if let Some(next) = r.next_slot_at { "Next request admitted at " (time(next)) ". " }
                @if r.resets_at.is_some() { "The whole allowance is back at " (maybe_time(r.resets_at)) "." }
            }))
        (meter("daily", "Messages today", u.daily.used, u.daily.limit,
            html! { "Counts again from zero at " (time(u.daily.resets_at)) "." }))
        (meter("monthly", "Messages this month", u.monthly.used, u.monthly.limit,
            html! { "Counts again from zero at " (time(u.monthly.resets_at)) "." }))
    }
}

async fn read(state: &AppState, signed: &Signed) -> Result<Usage, super::Problem> {
    Ok(value(
        usage::get(State(state.clone()), Authed(signed.account.clone())).await,
    )?)
}

/// `GET /console/usage`.
pub async fn show(State(state): State<AppState>, signed: Signed) -> PageResult {
    let u = read(&state, &signed).await?;
    let markup = layout::page(
        &signed,
        "/console/usage",
        "Usage",
        html! {
            h1 { "Usage" }
            p { "Plan " strong { (u.plan) } ". One message counts once per recipient." }
            div #usage aria-live="polite" data-live="/console/usage/meters" { (meters(&u)) }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

/// `GET /console/usage/meters`: the live meters.
pub async fn live(State(state): State<AppState>, signed: Signed) -> PageResult {
    Ok(fragment(meters(&read(&state, &signed).await?), false))
}
