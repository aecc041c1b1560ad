//! `GET /api/usage`: the key's send rate and message caps, how much of each is used, and
//! when each resets. Our addition: the documentation only says the caps exist per plan.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::endpoint::path_endpoint;

/// `GET /api/usage`: `{"success":true,"plan":"default","rateLimit":{…},"daily":{…},"monthly":{…}}`.
///
/// ```
/// use sevenoways_sdk::models::usage::Usage;
/// let body = r#"{"plan":"default",
///   "rateLimit":{"limit":60,"used":3,"remaining":57,"windowSecs":60,"resetsAt":"2026-11-24T09:01:00Z"},
///   "daily":{"used":5,"limit":1000,"remaining":995,"resetsAt":"2026-11-25T00:00:00Z"},
///   "monthly":{"used":5,"limit":20000,"remaining":19995,"resetsAt":"2026-12-01T00:00:00Z"}}"#;
/// let usage: Usage = serde_json::from_str(body)?;
/// assert_eq!(usage.rate_limit.remaining, Some(57));
/// assert_eq!(usage.daily.limit, Some(1000));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// The key's plan.
    pub plan: String,
    /// Send requests in the last 60 seconds (a sliding window).
    pub rate_limit: RateLimitUsage,
    /// Messages today (one per recipient), in the plan's time zone.
    pub daily: CapUsage,
    /// Messages this calendar month.
    pub monthly: CapUsage,
}

/// The send rate limit: send requests admitted in the last 60 seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RateLimitUsage {
    /// Requests per minute; `null` when unlimited.
    pub limit: Option<u32>,
    /// Requests in the window now.
    pub used: u32,
    /// Requests admitted right now before a 429; `null` when unlimited.
    pub remaining: Option<u32>,
    /// The window's length (60).
    pub window_secs: u32,
    /// When the next request is admitted, while none is (`remaining` is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_slot_at: Option<DateTime<Utc>>,
    /// When every request now counted has left the window: the whole allowance is back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<DateTime<Utc>>,
}

/// A message cap: messages counted in the current period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CapUsage {
    /// Messages counted this period.
    pub used: u64,
    /// The cap; `null` when unlimited.
    pub limit: Option<u64>,
    /// Messages left this period; `null` when unlimited.
    pub remaining: Option<u64>,
    /// When the period ends and the count starts again.
    pub resets_at: DateTime<Utc>,
}

path_endpoint! {
    /// `GET /api/usage`: this key's plan, what it has used and when each limit resets. Not
    /// counted against the rate limit.
    GetUsage => Get "/api/usage" -> Usage
}
