//! `GET /api/usage`: the key's rate limit and message caps, used and remaining.

use axum::Router;
use axum::extract::State;
use chrono::{DateTime, Utc};
use sevenoways_sdk::Endpoint;
use sevenoways_sdk::models::usage::{CapUsage, GetUsage, RateLimitUsage, Usage};

use super::{Reply, ok, on};
use crate::AppState;
use crate::auth::Authed;
use crate::limits;
use crate::time::{from_millis, millis};

pub(super) fn router() -> Router<AppState> {
    Router::new().route(GetUsage::ROUTE, on(GetUsage::METHOD, get))
}

/// `GET /api/usage`. Not counted against the rate limit (only sends are).
pub async fn get(State(state): State<AppState>, Authed(account): Authed) -> Reply<Usage> {
    let plan = state.plans.get(&account.plan);
    let now = Utc::now();
    let periods = limits::periods(now, plan.timezone);
    let snapshot = state.store.usage(account.id, &periods, now).await?;
    let rpm = plan.requests_per_minute;
    let (used, remaining, next_slot, reset) =
        limits::window_status(&snapshot.window, millis(now), rpm);
    ok(Usage {
        plan: plan.name.clone(),
        rate_limit: RateLimitUsage {
            limit: (rpm > 0).then_some(rpm),
            used,
            remaining,
            window_secs: (limits::WINDOW_MS / 1000) as u32,
            next_slot_at: next_slot.map(from_millis),
            resets_at: reset.map(from_millis),
        },
        daily: cap(snapshot.day, plan.daily_cap, periods.day_resets_at),
        monthly: cap(snapshot.month, plan.monthly_cap, periods.month_resets_at),
    })
}

fn cap(used: u64, limit: u64, resets_at: DateTime<Utc>) -> CapUsage {
    let limit = (limit > 0).then_some(limit);
    CapUsage {
        used,
        limit,
        remaining: limit.map(|l| l.saturating_sub(used)),
        resets_at,
    }
}
