//! Server configuration: defaults, then an optional TOML file, then flags and env.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

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
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Send pacing per WhatsApp number.
    pub pacing: PacingConfig,
    /// Queue worker settings.
    pub queue: QueueConfig,
    /// The sandbox transport's simulated timings.
    pub sandbox: SandboxConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./sevenoways-data"),
            public_url: None,
            max_body_bytes: 64 * 1024,
            pacing: PacingConfig::default(),
            queue: QueueConfig::default(),
            sandbox: SandboxConfig::default(),
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
