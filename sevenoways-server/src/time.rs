//! Instants as stored: whole milliseconds since the Unix epoch (`INTEGER` columns), so
//! every backend sorts and compares them alike and an answer shows exactly what is stored.

use chrono::{DateTime, TimeZone, Utc};

/// `t` in milliseconds since the epoch (what is stored).
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored instant. Out of chrono's range (only a hand-edited row) reads as the epoch.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// An instant truncated to what is stored, so a value answered now equals the value read
/// back later.
pub fn stored(t: DateTime<Utc>) -> DateTime<Utc> {
    from_millis(millis(t))
}
