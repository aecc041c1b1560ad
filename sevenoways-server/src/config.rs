//! Server configuration: defaults, then an optional TOML file, then flags and env.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::limits::{PlanLimits, Plans};

/// Everything the server can be told. Every field has a default, so an empty TOML
/// file (or none) is a working configuration.
///
/// ```toml
/// listen = "127.0.0.1:8080"
/// data_dir = "./sevenoways-data"
/// public_url = "https://relay.example.com"
///
/// [pacing]
/// min_gap_ms = 1000
/// jitter_ms = 500
///
/// [sandbox]
/// delivered_after_ms = 2000
/// read_after_ms = 5000
///
/// # Plans: the send rate and message caps of each API key's plan. A plan named
/// # "default" replaces the built-in one (60 requests/minute, 1000 messages/day,
/// # 20000 messages/month, reset at UTC midnight / the 1st of the month).
/// [[plans]]
/// name = "pro"
/// requests_per_minute = 120
/// daily_cap = 10000
/// monthly_cap = 200000
/// timezone = "UTC"
///
/// [network]
/// allow_loopback = false   # default: allowed while listening on loopback only
/// allow_private = false
///
/// [webhooks]
/// timeout_ms = 10000
/// give_up_after_secs = 259200
///
/// [scheduler]
/// tick_ms = 1000
///
/// [idempotency]
/// ttl_secs = 86400   # how long an Idempotency-Key's answer is kept (24 hours)
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite database lives.
    pub data_dir: PathBuf,
    /// The base URL users reach the server at, for links (QR pages). Defaults to
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// Days to keep finished webhook deliveries, old events and old cap counters
    /// (0 keeps them forever). Queue entries, schedules and the outbox are never pruned.
    pub retention_days: u64,
    /// How long one request may take, reading its body included (seconds).
    pub request_timeout_secs: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Send pacing per WhatsApp number.
    pub pacing: PacingConfig,
    /// Queue worker settings.
    pub queue: QueueConfig,
    /// The sandbox transport's simulated timings.
    pub sandbox: SandboxConfig,
    /// Plans (rate limit and message caps), by name; see [`crate::limits`].
    pub plans: Vec<PlanConfig>,
    /// Which addresses webhook and media URLs may point at; see [`crate::ssrf`].
    pub network: NetworkConfig,
    /// Webhook delivery timings; see [`crate::webhooks`].
    pub webhooks: WebhookConfig,
    /// The schedule firing loop; see [`crate::scheduler`].
    pub scheduler: SchedulerConfig,
    /// `Idempotency-Key` answers; see [`crate::idempotency`].
    pub idempotency: IdempotencyConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./sevenoways-data"),
            public_url: None,
            retention_days: 30,
            request_timeout_secs: 30,
            max_body_bytes: 64 * 1024,
            pacing: PacingConfig::default(),
            queue: QueueConfig::default(),
            sandbox: SandboxConfig::default(),
            plans: Vec::new(),
            network: NetworkConfig::default(),
            webhooks: WebhookConfig::default(),
            scheduler: SchedulerConfig::default(),
            idempotency: IdempotencyConfig::default(),
        }
    }
}

/// A minimum gap, with jitter, between two sends from one number: bursts from one
/// number are what gets numbers banned.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacingConfig {
    /// Milliseconds between two sends from one number.
    pub min_gap_ms: u64,
    /// Up to this many more milliseconds, at random.
    pub jitter_ms: u64,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            min_gap_ms: 1000,
            jitter_ms: 500,
        }
    }
}

/// How the queue worker retries.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// How long a worker holds an entry before another may take it over.
    pub lease_secs: u64,
    /// Attempts before an entry fails for good.
    pub max_attempts: u32,
    /// The first retry's delay; it doubles each time, capped at 10 minutes.
    pub retry_base_ms: u64,
    /// How often the worker looks for due entries when not woken by a send.
    pub poll_ms: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            lease_secs: 60,
            max_attempts: 5,
            retry_base_ms: 2000,
            poll_ms: 250,
        }
    }
}

/// The sandbox's delivery lifecycle: `sent → delivered → read`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// After `sent`, when the message counts as delivered.
    pub delivered_after_ms: u64,
    /// After `delivered`, when it counts as read.
    pub read_after_ms: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            delivered_after_ms: 2000,
            read_after_ms: 5000,
        }
    }
}

impl Config {
    /// Reads a TOML file over the defaults.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid config {}: {e}", path.display()))
    }

    /// The base URL for links.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }
}

/// One plan: the send rate of its keys and how many messages they may send.
///
/// `0` means unlimited for any of the three numbers. Caps count messages (one per
/// recipient), the rate counts send requests. Periods are the calendar day and month
/// in `timezone` (UTC unless set).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanConfig {
    /// The name keys refer to (`sevenoways-server keys create --plan NAME`).
    pub name: String,
    /// Send requests per minute per API key (a sliding 60-second window).
    pub requests_per_minute: u32,
    /// Messages per day.
    pub daily_cap: u64,
    /// Messages per calendar month.
    pub monthly_cap: u64,
    /// The IANA zone whose midnight and first of the month reset the caps.
    pub timezone: String,
}

impl Default for PlanConfig {
    /// The built-in `default` plan's numbers ([`PlanLimits::builtin_default`]), without a
    /// name.
    fn default() -> Self {
        let builtin = PlanLimits::builtin_default();
        Self {
            name: String::new(),
            requests_per_minute: builtin.requests_per_minute,
            daily_cap: builtin.daily_cap,
            monthly_cap: builtin.monthly_cap,
            timezone: builtin.timezone.name().into(),
        }
    }
}

impl PlanConfig {
    /// Checks one `[[plans]]` entry: a name, and a time zone chrono-tz knows.
    pub fn validate(&self) -> Result<PlanLimits, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("plans: every [[plans]] entry needs a name".into());
        }
        let timezone = self.timezone.trim().parse::<Tz>().map_err(|_| {
            format!(
                "plans.{name}.timezone: expected an IANA time zone such as \"UTC\", got {:?}",
                self.timezone
            )
        })?;
        Ok(PlanLimits {
            name: name.to_owned(),
            requests_per_minute: self.requests_per_minute,
            daily_cap: self.daily_cap,
            monthly_cap: self.monthly_cap,
            timezone,
        })
    }
}

// Here rather than in `limits`, so the limits stay free of the configuration's shape:
// the dependency runs config → limits, never back.
impl Plans {
    /// The configured plans, each checked; a name given twice is an error.
    pub fn from_config(plans: &[PlanConfig]) -> Result<Self, String> {
        let mut checked: Vec<PlanLimits> = Vec::with_capacity(plans.len());
        for c in plans {
            let plan = c.validate()?;
            if checked.iter().any(|p| p.name == plan.name) {
                return Err(format!("plans: {:?} is defined twice", plan.name));
            }
            checked.push(plan);
        }
        Ok(Self::new(checked))
    }
}

/// Server-side request forgery guard: which addresses webhook URLs and media URLs
/// (`imageUrl`, `fileUrl`) may resolve to. Public addresses are always allowed;
/// unspecified (`0.0.0.0`, `::`), multicast, broadcast and documentation ranges never.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// `127.0.0.0/8`, `::1` and `localhost`. When not set, allowed exactly when the
    /// server itself listens on loopback: local development (a receiver on
    /// `http://127.0.0.1:3000`) works out of the box, and a server reachable from
    /// elsewhere cannot be pointed at its own host's services unless the operator says so.
    pub allow_loopback: Option<bool>,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), carrier-grade NAT (`100.64/10`)
    /// and IPv6 unique-local (`fc00::/7`).
    pub allow_private: bool,
    /// `169.254/16` and `fe80::/10`, except the metadata addresses below.
    pub allow_link_local: bool,
    /// Cloud metadata endpoints (`169.254.169.254`, `169.254.170.2`,
    /// `100.100.100.200`, `fd00:ec2::254`). Separate from `allow_link_local` on purpose.
    pub allow_metadata: bool,
}

/// Webhook delivery: timeouts and the retry schedule.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// One attempt's time limit (connect, send, and the receiver's answer).
    pub timeout_ms: u64,
    /// The first retry's delay; it doubles per attempt, with jitter.
    pub retry_base_ms: u64,
    /// The longest delay between two attempts (a `Retry-After` may ask for more).
    pub retry_max_ms: u64,
    /// Stop retrying this long after the event was raised (3 days).
    pub give_up_after_secs: u64,
    /// How often the delivery loop looks for new events and due retries.
    pub poll_ms: u64,
    /// Attempts in flight at once.
    pub max_in_flight: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            retry_base_ms: 5_000,
            retry_max_ms: 60 * 60 * 1000,
            give_up_after_secs: 3 * 24 * 60 * 60,
            poll_ms: 500,
            max_in_flight: 32,
        }
    }
}

/// The schedule loop.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// How often due schedules are looked for; a schedule fires at most this late.
    pub tick_ms: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self { tick_ms: 1000 }
    }
}

/// How long the answer to a request with an `Idempotency-Key` is kept.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// Seconds a key answers with its first answer (1 s to a year); after that the key
    /// is free again, and its row is pruned within the hour.
    pub ttl_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 24 * 60 * 60,
        }
    }
}

impl IdempotencyConfig {
    /// [`IdempotencyConfig::ttl_secs`] as a duration, kept between a second and a year.
    pub fn ttl(&self) -> chrono::Duration {
        const YEAR: u64 = 366 * 24 * 60 * 60;
        chrono::Duration::seconds(self.ttl_secs.clamp(1, YEAR) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_from_config() {
        let plans = Plans::from_config(&[
            PlanConfig {
                name: "pro".into(),
                requests_per_minute: 120,
                timezone: "Asia/Dubai".into(),
                ..PlanConfig::default()
            },
            PlanConfig {
                name: "default".into(),
                requests_per_minute: 30,
                ..PlanConfig::default()
            },
        ])
        .unwrap();
        assert_eq!(plans.get("pro").requests_per_minute, 120);
        assert_eq!(plans.get("pro").timezone, chrono_tz::Asia::Dubai);
        assert_eq!(plans.get("default").requests_per_minute, 30);
        assert_eq!(plans.get("nonexistent").name, "default");
        assert_eq!(Plans::default().get("default").requests_per_minute, 60);
        let bad = |c: PlanConfig| Plans::from_config(&[c]).unwrap_err();
        assert!(bad(PlanConfig::default()).contains("needs a name"));
        assert!(
            bad(PlanConfig {
                name: "x".into(),
                timezone: "Mars/Base".into(),
                ..PlanConfig::default()
            })
            .contains("plans.x.timezone")
        );
        let twice = PlanConfig {
            name: "pro".into(),
            ..PlanConfig::default()
        };
        assert!(
            Plans::from_config(&[twice.clone(), twice])
                .unwrap_err()
                .contains("defined twice")
        );
    }

    #[test]
    fn the_default_plan_config_is_the_builtin_plan() {
        let config = PlanConfig {
            name: "default".into(),
            ..PlanConfig::default()
        };
        assert_eq!(config.validate().unwrap(), PlanLimits::builtin_default());
    }
}
