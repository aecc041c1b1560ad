//! Server configuration: defaults, then an optional TOML file, then flags and env.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono_tz::Tz;
use serde::Deserialize;

pub use crate::engine::{EngineKind, EngineSecret};
use crate::limits::{PlanLimits, Plans};

/// Everything the server can be told. Every field has a default, so an empty TOML
/// file (or none) is a working configuration.
///
/// ```toml
/// listen = "127.0.0.1:8080"
/// data_dir = "./sevenoways-data"
/// # Postgres instead of SQLite in data_dir, for several replicas on one database:
/// # database_url = "postgres://relay:password@db.internal/relay"
/// public_url = "https://relay.example.com"
/// # "sandbox" | "waha" | "meta": the engine of instances created without one. With the
/// # sandbox this is a development server (see `Config::is_development`).
/// default_engine = "sandbox"
///
/// [pacing]
/// min_gap_ms = 1000
/// jitter_ms = 500
///
/// [sandbox]
/// delivered_after_ms = 2000
/// read_after_ms = 5000
///
/// # Plans: the send rate, message caps and quotas of each API key's plan. A plan named
/// # "default" replaces the built-in one (60 requests/minute, 1000 messages/day,
/// # 20000 messages/month, reset at UTC midnight / the 1st of the month; the quotas
/// # below). 0 means unlimited.
/// [[plans]]
/// name = "pro"
/// requests_per_minute = 120
/// daily_cap = 10000
/// monthly_cap = 200000
/// timezone = "UTC"
/// max_instances = 20
/// max_channels = 100
/// max_schedules = 100
/// max_webhooks = 25
/// max_groups_per_instance = 1000
/// schedule_pause_after = 5
///
/// [network]
/// allow_loopback = false   # default: allowed only on a development server listening on loopback
/// allow_private = false
///
/// [webhooks]
/// timeout_ms = 10000
/// connect_timeout_ms = 2000
/// give_up_after_secs = 259200
/// max_in_flight = 64
/// max_in_flight_per_account = 8
/// max_in_flight_per_endpoint = 4
/// breaker_after_failures = 5
/// breaker_max_pause_ms = 3600000
/// disable_after_failures = 20
/// disable_after_secs = 259200
/// test_and_redeliver_per_minute = 10
/// rotation_overlap_secs = 86400
///
/// [scheduler]
/// tick_ms = 1000
///
/// # Slow and idle clients, and how many connections are served at once.
/// [http]
/// header_read_timeout_secs = 10
/// idle_timeout_secs = 60
/// max_connections = 1024
/// shutdown_timeout_secs = 10
///
/// [database]
/// checkpoint_secs = 300
///
/// # Real numbers (see the README, "Connect a real number"). Every secret can come from
/// # the environment instead: SEVENOWAYS_WAHA_API_KEY, SEVENOWAYS_META_ACCESS_TOKEN,
/// # SEVENOWAYS_META_APP_SECRET, SEVENOWAYS_META_VERIFY_TOKEN.
/// [engines.waha]
/// url = "http://127.0.0.1:3000"   # WAHA posts events to {public_url}/engines/waha/events
/// api_key = "..."
///
/// [engines.meta]
/// graph_url = "https://graph.facebook.com/v23.0"
/// access_token = "..."
/// app_secret = "..."
/// verify_token = "..."
///
/// # The web console at /console (see docs/console.md).
/// [console]
/// enabled = true
/// session_ttl_secs = 43200
/// max_sessions_per_account = 20
/// sign_in_failures_per_minute = 10
///
/// [idempotency]
/// ttl_secs = 86400   # how long an Idempotency-Key's answer is kept (24 hours)
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite database lives (unused with `database_url`).
    pub data_dir: PathBuf,
    /// A Postgres database to run on instead of SQLite in `data_dir`: several servers
    /// (replicas) may share it. Also `--database-url` and `SEVENOWAYS_DATABASE_URL`.
    pub database_url: Option<DatabaseUrl>,
    /// The base URL users reach the server at, for links (QR pages). Defaults to
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// Days to keep finished queue entries (sent, delivered, read or failed), the sandbox
    /// outbox, finished webhook deliveries, old events and old cap counters (0 keeps them
    /// forever). Queued and sending entries, pending deliveries and schedules are never
    /// pruned.
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
    /// The engine of instances created without one. The sandbox (the default) makes this
    /// a development server; see [`Config::is_development`].
    pub default_engine: EngineKind,
    /// Webhook delivery timings; see [`crate::webhooks`].
    pub webhooks: WebhookConfig,
    /// The schedule firing loop; see [`crate::scheduler`].
    pub scheduler: SchedulerConfig,
    /// `Idempotency-Key` answers; see [`crate::idempotency`].
    pub idempotency: IdempotencyConfig,
    /// Connection limits and timeouts; see [`crate::serve`].
    pub http: HttpConfig,
    /// Database upkeep.
    pub database: DatabaseConfig,
    /// The web console; see [`crate::console`].
    pub console: ConsoleConfig,
    /// The key that seals webhook secrets at rest ([`crate::secrets`]). Never read from
    /// the TOML file: `sevenoways-server` takes it from `SEVENOWAYS_SECRETS_KEY`.
    #[serde(skip)]
    pub secrets_key: Option<crate::secrets::SecretsKey>,
    /// The key the secrets were sealed with before `secrets_key` replaced it: they are
    /// sealed again with `secrets_key` at startup (`SEVENOWAYS_SECRETS_KEY_PREVIOUS`).
    #[serde(skip)]
    pub secrets_key_previous: Option<crate::secrets::SecretsKey>,
    /// The engines that serve real numbers: `[engines.waha]`, `[engines.meta]`.
    pub engines: EnginesConfig,
    /// Where `GET /metrics` is served, if anywhere; see [`crate::telemetry`].
    pub metrics: crate::telemetry::MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./sevenoways-data"),
            database_url: None,
            public_url: None,
            retention_days: 30,
            request_timeout_secs: 30,
            max_body_bytes: 64 * 1024,
            pacing: PacingConfig::default(),
            queue: QueueConfig::default(),
            sandbox: SandboxConfig::default(),
            plans: Vec::new(),
            network: NetworkConfig::default(),
            default_engine: EngineKind::default(),
            webhooks: WebhookConfig::default(),
            scheduler: SchedulerConfig::default(),
            idempotency: IdempotencyConfig::default(),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            console: ConsoleConfig::default(),
            secrets_key: None,
            secrets_key_previous: None,
            engines: EnginesConfig::default(),
            metrics: Default::default(),
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

/// The web console ([`crate::console`]): its sessions and its sign-in limit.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve `/console` (and redirect `/` to it).
    pub enabled: bool,
    /// How long a session lasts from sign-in, whatever is done meanwhile (seconds).
    pub session_ttl_secs: u64,
    /// Sessions kept per account; signing in again past it ends the oldest (0: no limit).
    pub max_sessions_per_account: u32,
    /// Failed sign-ins per client address in a sliding minute before further attempts
    /// are refused unchecked until the minute has passed (0: no limit).
    pub sign_in_failures_per_minute: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            session_ttl_secs: 12 * 3600,
            max_sessions_per_account: 20,
            sign_in_failures_per_minute: 10,
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

    /// A development server: the sandbox is the default engine. Only a development
    /// server seeds a demo account on its first start, and only one that also listens on
    /// loopback lets webhooks and media URLs reach loopback without `[network]
    /// allow_loopback`. Every other server is a production server.
    pub fn is_development(&self) -> bool {
        self.default_engine == EngineKind::Sandbox
    }

    /// Whether `engine` can serve instances here; the error names what the operator must
    /// add (the `[engines.*]` table, a secret, `public_url`). The sandbox always can.
    pub fn engine_configured(&self, engine: EngineKind) -> Result<(), String> {
        let missing = |table: &str| {
            format!(
                "{:?} is not configured on this server: its operator must add an {table} \
                 table to the server configuration",
                engine.as_str()
            )
        };
        match engine {
            EngineKind::Sandbox => Ok(()),
            EngineKind::Waha => {
                let waha = self
                    .engines
                    .waha
                    .as_ref()
                    .ok_or_else(|| missing("[engines.waha]"))?;
                require_secret(
                    "[engines.waha] api_key",
                    &waha.api_key,
                    sevenoways_sdk::env::WAHA_API_KEY,
                )?;
                // WAHA must reach the relay: a default `http://127.0.0.1:8080` is rarely
                // where WAHA (often in a container) finds it, so it is asked for, not guessed.
                if self
                    .public_url
                    .as_deref()
                    .is_none_or(|u| u.trim().is_empty())
                {
                    return Err(
                        "\"waha\" needs the top-level public_url: WAHA posts its events to \
                         {public_url}/engines/waha/events, so it must be an address WAHA reaches"
                            .into(),
                    );
                }
                Ok(())
            }
            EngineKind::Meta => {
                let meta = self
                    .engines
                    .meta
                    .as_ref()
                    .ok_or_else(|| missing("[engines.meta]"))?;
                require_secret(
                    "[engines.meta] access_token",
                    &meta.access_token,
                    sevenoways_sdk::env::META_ACCESS_TOKEN,
                )?;
                require_secret(
                    "[engines.meta] app_secret",
                    &meta.app_secret,
                    sevenoways_sdk::env::META_APP_SECRET,
                )?;
                require_secret(
                    "[engines.meta] verify_token",
                    &meta.verify_token,
                    sevenoways_sdk::env::META_VERIFY_TOKEN,
                )?;
                Ok(())
            }
        }
    }

    /// Fills the engines' secrets from the environment (`get` is `std::env::var`, a map in
    /// tests). A variable wins over the file, as flags do; it never creates a table, since
    /// the table holds the engine's address.
    pub fn apply_env_secrets(&mut self, get: impl Fn(&str) -> Option<String>) {
        use sevenoways_sdk::env;
        let read = |name: &str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .map(EngineSecret::new)
        };
        if let Some(waha) = &mut self.engines.waha
            && let Some(key) = read(env::WAHA_API_KEY)
        {
            waha.api_key = Some(key);
        }
        if let Some(meta) = &mut self.engines.meta {
            for (name, slot) in [
                (env::META_ACCESS_TOKEN, &mut meta.access_token),
                (env::META_APP_SECRET, &mut meta.app_secret),
                (env::META_VERIFY_TOKEN, &mut meta.verify_token),
            ] {
                if let Some(secret) = read(name) {
                    *slot = Some(secret);
                }
            }
        }
    }

    /// Checks what can be checked before serving: engine URLs parse as http(s). A wrong
    /// URL stops the start rather than failing every send later.
    pub fn validate_engines(&self) -> Result<(), String> {
        let check = |key: &str, raw: &str| match url::Url::parse(raw.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
            _ => Err(format!("{key}: expected an http or https URL, got {raw:?}")),
        };
        if let Some(waha) = &self.engines.waha {
            check("[engines.waha] url", &waha.url)?;
        }
        if let Some(meta) = &self.engines.meta {
            check("[engines.meta] graph_url", &meta.graph_url)?;
        }
        Ok(())
    }
}

fn require_secret(key: &str, value: &Option<EngineSecret>, env: &str) -> Result<(), String> {
    match value {
        Some(v) if !v.is_empty() => Ok(()),
        _ => Err(format!(
            "{key} is not set: add it to the server configuration or set {env}"
        )),
    }
}

/// `[engines]`: the engines that serve real numbers. Either table may be left out; an
/// engine without its table serves no instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnginesConfig {
    /// WAHA, a self-hosted WhatsApp HTTP API.
    pub waha: Option<WahaConfig>,
    /// Meta's WhatsApp Cloud API.
    pub meta: Option<MetaConfig>,
}

/// `[engines.waha]`. The URL is the operator's, so it is trusted: it is not put through
/// the [`crate::ssrf`] guard that tenants' URLs are (WAHA usually runs on loopback or a
/// private network).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WahaConfig {
    /// WAHA's base URL (`http://127.0.0.1:3000`).
    pub url: String,
    /// Sent as `X-Api-Key`; or `SEVENOWAYS_WAHA_API_KEY`.
    #[serde(default)]
    pub api_key: Option<EngineSecret>,
    /// One call's time limit, connecting included (milliseconds). WAHA itself waits up to
    /// 5 s for a session to be ready before it answers.
    #[serde(default = "default_engine_timeout_ms")]
    pub timeout_ms: u64,
}

/// `[engines.meta]`. Like WAHA's, the Graph URL is the operator's and trusted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaConfig {
    /// The Graph API base, version included.
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    /// A system user's access token, sent as `Authorization: Bearer`; or
    /// `SEVENOWAYS_META_ACCESS_TOKEN`.
    #[serde(default)]
    pub access_token: Option<EngineSecret>,
    /// The app's secret, which signs Meta's webhooks (`X-Hub-Signature-256`); or
    /// `SEVENOWAYS_META_APP_SECRET`.
    #[serde(default)]
    pub app_secret: Option<EngineSecret>,
    /// What Meta's webhook handshake must present as `hub.verify_token`; or
    /// `SEVENOWAYS_META_VERIFY_TOKEN`.
    #[serde(default)]
    pub verify_token: Option<EngineSecret>,
    /// One call's time limit (milliseconds).
    #[serde(default = "default_engine_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_engine_timeout_ms() -> u64 {
    20_000
}

fn default_graph_url() -> String {
    "https://graph.facebook.com/v23.0".into()
}

/// One plan: the send rate of its keys, how many messages they may send, and how much
/// they may keep.
///
/// `0` means unlimited for any of the numbers. Caps count messages (one per recipient),
/// the rate counts send requests. Periods are the calendar day and month in `timezone`
/// (UTC unless set). Quotas (`max_*`) count what a key keeps; a create past one is
/// answered 409 naming the key. Unset fields take the built-in plan's values
/// ([`PlanLimits::builtin_default`]).
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
    /// Instances per API key.
    pub max_instances: u32,
    /// Saved channels per API key.
    pub max_channels: u32,
    /// Schedules per API key.
    pub max_schedules: u32,
    /// Webhook subscriptions per API key.
    pub max_webhooks: u32,
    /// Groups per instance.
    pub max_groups_per_instance: u32,
    /// A schedule whose runs are skipped for a cap this many times in a row is paused
    /// until resumed (`POST /api/schedules/{id}/resume`).
    pub schedule_pause_after: u32,
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
            max_instances: builtin.quotas.instances,
            max_channels: builtin.quotas.channels,
            max_schedules: builtin.quotas.schedules,
            max_webhooks: builtin.quotas.webhooks,
            max_groups_per_instance: builtin.quotas.groups_per_instance,
            schedule_pause_after: builtin.schedule_pause_after,
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
            quotas: crate::limits::Quotas {
                instances: self.max_instances,
                channels: self.max_channels,
                schedules: self.max_schedules,
                webhooks: self.max_webhooks,
                groups_per_instance: self.max_groups_per_instance,
            },
            schedule_pause_after: self.schedule_pause_after,
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
    /// `127.0.0.0/8`, `::1` and `localhost`. When not set, allowed only on a development
    /// server ([`Config::is_development`]) that itself listens on loopback: local
    /// development (a receiver on `http://127.0.0.1:3000`) works out of the box, while a
    /// production server behind a local reverse proxy, which also listens on loopback,
    /// cannot be pointed at its own host's services unless the operator says so.
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

/// Webhook delivery: timeouts, the retry schedule, fairness between tenants, the circuit
/// breaker, and the limits on manual sends. What each number protects against is in
/// `docs/security.md` ("Webhooks").
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// One attempt's time limit (connect, send, and the receiver's answer).
    pub timeout_ms: u64,
    /// How long connecting may take, within `timeout_ms`: a receiver that does not even
    /// accept the connection gives up its slot after this.
    pub connect_timeout_ms: u64,
    /// The first retry's delay; it doubles per attempt, with jitter.
    pub retry_base_ms: u64,
    /// The longest delay between two attempts (a `Retry-After` may ask for more).
    pub retry_max_ms: u64,
    /// Stop retrying this long after the event was raised (3 days).
    pub give_up_after_secs: u64,
    /// How often the delivery loop looks for new events and due retries. Events are
    /// also fanned out as they commit, without waiting for it; the poll finds those whose
    /// notice was lost (a Postgres listener reconnecting) and retries that fall due.
    pub poll_ms: u64,
    /// Attempts in flight at once in this process.
    pub max_in_flight: usize,
    /// Attempts in flight at once for one account (API key), across processes: one
    /// tenant's slow receivers cannot take every slot.
    pub max_in_flight_per_account: usize,
    /// Attempts in flight at once to one webhook, across processes (1 while its circuit
    /// breaker is open).
    pub max_in_flight_per_endpoint: usize,
    /// Consecutive failed attempts after which a webhook's circuit breaker opens: it rests
    /// (no attempts at all) for `retry_base_ms`, doubling with each further failure up to
    /// `breaker_max_pause_ms`, then one probe at a time until one succeeds.
    pub breaker_after_failures: u32,
    /// The longest rest of an open breaker.
    pub breaker_max_pause_ms: u64,
    /// A webhook is disabled (and a `webhook.disabled` event raised) once it has failed
    /// this many times in a row...
    pub disable_after_failures: u32,
    /// ...and for at least this long (3 days, the retry window).
    pub disable_after_secs: u64,
    /// `POST /api/webhooks/:id/test` and `.../redeliver` calls per API key per sliding
    /// minute, together (0: unlimited).
    pub test_and_redeliver_per_minute: u32,
    /// After `POST /api/webhooks/:id/rotate-secret`, how long the old secret keeps signing
    /// `webhook-signature` alongside the new one.
    pub rotation_overlap_secs: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            connect_timeout_ms: 2_000,
            retry_base_ms: 5_000,
            retry_max_ms: 60 * 60 * 1000,
            give_up_after_secs: 3 * 24 * 60 * 60,
            poll_ms: 500,
            max_in_flight: 64,
            max_in_flight_per_account: 8,
            max_in_flight_per_endpoint: 4,
            breaker_after_failures: 5,
            breaker_max_pause_ms: 60 * 60 * 1000,
            disable_after_failures: 20,
            disable_after_secs: 3 * 24 * 60 * 60,
            test_and_redeliver_per_minute: 10,
            rotation_overlap_secs: 24 * 60 * 60,
        }
    }
}

/// The schedule loop.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// The longest the loop sleeps. It wakes at the earliest run due, so a run fires at
    /// its instant; this bounds how late a schedule made (or resumed) while it sleeps is
    /// first seen.
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

/// How the HTTP listener treats slow, idle and numerous clients (see [`crate::serve`]).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A client must send a request's complete headers within this many seconds of
    /// connecting, or of its previous answer on a kept-alive connection; otherwise the
    /// connection is closed (with a 408 if it had started a request).
    pub header_read_timeout_secs: u64,
    /// A connection that moves no byte either way for this long while no request on it is
    /// being handled is closed: a client that stops reading its answer, or idles.
    pub idle_timeout_secs: u64,
    /// Connections served at once. Past it, the connection idle the longest is closed
    /// to make room, or, when every connection is busy with a request, new ones wait in
    /// the kernel's queue. Lowered at start-up to fit the process's open-file limit.
    pub max_connections: usize,
    /// On shutdown, connections still open this many seconds after the signal are
    /// dropped (requests in progress get that long to finish).
    pub shutdown_timeout_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            shutdown_timeout_secs: 10,
        }
    }
}

impl IdempotencyConfig {
    /// The longest `ttl_secs` accepted: a year (366 days).
    pub const MAX_TTL_SECS: u64 = 366 * 24 * 60 * 60;

    /// Refuses a `ttl_secs` outside 1 s to a year, naming the key (checked at launch).
    pub fn check(&self) -> Result<(), String> {
        if (1..=Self::MAX_TTL_SECS).contains(&self.ttl_secs) {
            Ok(())
        } else {
            Err(format!(
                "idempotency.ttl_secs: expected 1 to {} seconds, got {}",
                Self::MAX_TTL_SECS,
                self.ttl_secs
            ))
        }
    }

    /// [`IdempotencyConfig::ttl_secs`] as a duration, kept between a second and a year
    /// ([`IdempotencyConfig::check`] refuses anything else at launch).
    pub fn ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.ttl_secs.clamp(1, Self::MAX_TTL_SECS) as i64)
    }
}

/// A `postgres://` (or `postgresql://`) URL. It holds the database password, so its
/// `Debug` and `Display` show it with the password replaced by `***`, and nothing logs
/// the URL itself.
///
/// ```
/// use sevenoways_server::config::DatabaseUrl;
///
/// let url: DatabaseUrl = "postgres://relay:hunter2@db/relay".parse().unwrap();
/// assert_eq!(url.to_string(), "postgres://relay:***@db/relay");
/// assert!(!format!("{url:?}").contains("hunter2"));
/// assert!("mysql://db/relay".parse::<DatabaseUrl>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DatabaseUrl(String);

impl TryFrom<String> for DatabaseUrl {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl DatabaseUrl {
    /// The URL as given, password included: for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| {
            format!("database_url: expected postgres://user:password@host/database ({e})")
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(format!(
                "database_url: expected a postgres:// URL, got a {}:// one",
                url.scheme()
            ));
        }
        Ok(Self(s.trim().to_owned()))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("***"));
                }
                f.write_str(url.as_str())
            }
            Err(_) => f.write_str("postgres://***"),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Database upkeep.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Seconds between checkpoints that copy the write-ahead log into the database and
    /// truncate it (0: only SQLite's automatic checkpoints, which never shrink the log
    /// file). The log is also capped at 64 MiB after each checkpoint.
    pub checkpoint_secs: u64,
    /// Connections each server keeps to Postgres at most (with `database_url`; at least
    /// 3: the group commit keeps one); the replicas' sum must stay under the database's
    /// `max_connections`.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            checkpoint_secs: 300,
            max_connections: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Quotas;

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
    fn default_engine_is_read_by_its_documented_name() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config.default_engine, EngineKind::Sandbox);
        assert!(config.is_development());
        for (text, engine) in [("waha", EngineKind::Waha), ("meta", EngineKind::Meta)] {
            let config: Config = toml::from_str(&format!("default_engine = {text:?}")).unwrap();
            assert_eq!(config.default_engine, engine);
            assert!(!config.is_development());
        }
        let err = toml::from_str::<Config>("default_engine = \"whatsapp\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sandbox") && err.contains("waha"), "{err}");
    }

    #[test]
    fn an_engine_without_its_table_is_not_configured() {
        let config = Config::default();
        assert!(config.engine_configured(EngineKind::Sandbox).is_ok());
        let err = config.engine_configured(EngineKind::Waha).unwrap_err();
        assert!(err.contains("[engines.waha]"), "{err}");
        let err = config.engine_configured(EngineKind::Meta).unwrap_err();
        assert!(err.contains("[engines.meta]"), "{err}");
    }

    #[test]
    fn engines_are_read_by_their_documented_names() {
        let text = r#"
            public_url = "https://relay.example"
            default_engine = "waha"
            [engines.waha]
            url = "http://127.0.0.1:3000"
            api_key = "waha-key"
            [engines.meta]
            access_token = "token"
            app_secret = "app-secret"
            verify_token = "verify"
        "#;
        let config: Config = toml::from_str(text).unwrap();
        let waha = config.engines.waha.as_ref().unwrap();
        assert_eq!(waha.url, "http://127.0.0.1:3000");
        assert_eq!(waha.api_key.as_ref().unwrap().expose(), "waha-key");
        let meta = config.engines.meta.as_ref().unwrap();
        assert_eq!(meta.graph_url, "https://graph.facebook.com/v23.0");
        assert_eq!(meta.app_secret.as_ref().unwrap().expose(), "app-secret");
        assert!(config.engine_configured(EngineKind::Waha).is_ok());
        assert!(config.engine_configured(EngineKind::Meta).is_ok());
        assert!(config.validate_engines().is_ok());
        // The whole configuration can be logged: no secret shows.
        let debug = format!("{config:?}");
        for secret in ["waha-key", "token\"", "app-secret", "verify\""] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn engine_secrets_come_from_the_environment_too() {
        let mut config: Config = toml::from_str(
            "public_url = \"https://relay.example\"\n[engines.waha]\nurl = \"http://waha:3000\"\n[engines.meta]\n",
        )
        .unwrap();
        let err = config.engine_configured(EngineKind::Waha).unwrap_err();
        assert!(
            err.contains("api_key") && err.contains("SEVENOWAYS_WAHA_API_KEY"),
            "{err}"
        );
        let err = config.engine_configured(EngineKind::Meta).unwrap_err();
        assert!(err.contains("SEVENOWAYS_META_ACCESS_TOKEN"), "{err}");
        let env = std::collections::HashMap::from([
            ("SEVENOWAYS_WAHA_API_KEY", "from-env"),
            ("SEVENOWAYS_META_ACCESS_TOKEN", "t"),
            ("SEVENOWAYS_META_APP_SECRET", "s"),
            ("SEVENOWAYS_META_VERIFY_TOKEN", "v"),
        ]);
        config.apply_env_secrets(|name| env.get(name).map(|v| v.to_string()));
        assert_eq!(
            config
                .engines
                .waha
                .as_ref()
                .unwrap()
                .api_key
                .as_ref()
                .unwrap()
                .expose(),
            "from-env"
        );
        assert!(config.engine_configured(EngineKind::Waha).is_ok());
        assert!(config.engine_configured(EngineKind::Meta).is_ok());
        // The environment never turns an engine on by itself.
        let mut bare = Config::default();
        bare.apply_env_secrets(|name| env.get(name).map(|v| v.to_string()));
        assert!(bare.engines.waha.is_none() && bare.engines.meta.is_none());
    }

    #[test]
    fn waha_needs_a_public_url_and_urls_must_be_http() {
        let mut config: Config =
            toml::from_str("[engines.waha]\nurl = \"waha:3000\"\napi_key = \"k\"").unwrap();
        let err = config.engine_configured(EngineKind::Waha).unwrap_err();
        assert!(err.contains("public_url"), "{err}");
        let err = config.validate_engines().unwrap_err();
        assert!(err.starts_with("[engines.waha] url"), "{err}");
        config.engines.waha.as_mut().unwrap().url = "http://waha:3000".into();
        assert!(config.validate_engines().is_ok());
    }

    #[test]
    fn the_default_plan_config_is_the_builtin_plan() {
        let config = PlanConfig {
            name: "default".into(),
            ..PlanConfig::default()
        };
        assert_eq!(config.validate().unwrap(), PlanLimits::builtin_default());
    }

    #[test]
    fn quotas_come_from_the_plan_and_default_to_the_builtin_ones() {
        let config: Config = toml::from_str(
            r#"
            [[plans]]
            name = "pro"
            max_instances = 50
            max_webhooks = 0
            schedule_pause_after = 0
            "#,
        )
        .unwrap();
        let plans = Plans::from_config(&config.plans).unwrap();
        let pro = plans.get("pro");
        assert_eq!(pro.quotas.instances, 50);
        assert_eq!(pro.quotas.webhooks, 0, "0 is unlimited");
        assert_eq!(pro.schedule_pause_after, 0);
        // Unset: the built-in plan's.
        assert_eq!(pro.quotas.channels, Quotas::BUILTIN.channels);
        assert_eq!(pro.quotas.groups_per_instance, 1000);
        assert_eq!(plans.get("default").quotas, Quotas::BUILTIN);
        let typo = toml::from_str::<Config>("[[plans]]\nname = \"x\"\nmax_webhook = 3\n");
        assert!(typo.unwrap_err().to_string().contains("max_webhook"));
    }
}
