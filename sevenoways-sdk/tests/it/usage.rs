//! `client.usage()`: the key's send rate limit and message caps.

use crate::common::bodiless_both;
use chrono::{DateTime, Utc};
use serde_json::json;
use sevenoways_sdk::models::usage::{CapUsage, RateLimitUsage, Usage};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn usage_with_limits() {
    let response = json!({
        "success": true,
        "plan": "default",
        "rateLimit": {"limit": 60, "used": 60, "remaining": 0, "windowSecs": 60,
                      "nextSlotAt": "2026-11-24T09:00:17Z", "resetsAt": "2026-11-24T09:01:00Z"},
        "daily": {"used": 5, "limit": 1000, "remaining": 995, "resetsAt": "2026-11-25T00:00:00Z"},
        "monthly": {"used": 5, "limit": 20000, "remaining": 19995,
                    "resetsAt": "2026-12-01T00:00:00Z"}
    });
    let usage = bodiless_both("GET", "/api/usage", response, |c| async move {
        c.usage().get().await
    })
    .await;
    assert_eq!(
        usage,
        Usage {
            plan: "default".into(),
            rate_limit: RateLimitUsage {
                limit: Some(60),
                used: 60,
                remaining: Some(0),
                window_secs: 60,
                next_slot_at: Some(at("2026-11-24T09:00:17Z")),
                resets_at: Some(at("2026-11-24T09:01:00Z")),
            },
            daily: CapUsage {
                used: 5,
                limit: Some(1000),
                remaining: Some(995),
                resets_at: at("2026-11-25T00:00:00Z"),
            },
            monthly: CapUsage {
                used: 5,
                limit: Some(20000),
                remaining: Some(19995),
                resets_at: at("2026-12-01T00:00:00Z"),
            },
        }
    );
}

#[tokio::test]
async fn unlimited_usage() {
    let response = json!({
        "success": true,
        "plan": "unlimited",
        "rateLimit": {"limit": null, "used": 3, "remaining": null, "windowSecs": 60},
        "daily": {"used": 0, "limit": null, "remaining": null, "resetsAt": "2026-11-25T00:00:00Z"},
        "monthly": {"used": 0, "limit": null, "remaining": null,
                    "resetsAt": "2026-12-01T00:00:00Z"}
    });
    let usage = bodiless_both("GET", "/api/usage", response, |c| async move {
        c.usage().get().await
    })
    .await;
    assert_eq!(usage.rate_limit.limit, None);
    assert_eq!(usage.rate_limit.resets_at, None);
    assert_eq!(usage.daily.remaining, None);
    assert_eq!(usage.monthly.limit, None);
}
