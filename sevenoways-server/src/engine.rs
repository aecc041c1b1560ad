//! Engines: what serves an instance's number. A leaf module, so the configuration
//! (`default_engine`, `[engines.*]`), the store (`instances.engine`) and the routes name
//! an engine the same way without depending on each other.
//!
//! Three engines exist: the sandbox (a simulation, always available), WAHA (a self-hosted
//! WhatsApp HTTP API, `[engines.waha]`) and Meta's WhatsApp Cloud API (`[engines.meta]`).
//! Their adapters live in [`crate::transport`]; a server whose `default_engine` is not the
//! sandbox is a production server (no demo account, no loopback targets by default).

use std::fmt;

use serde::Deserialize;
use subtle::ConstantTimeEq;

/// An engine's name, as configured (`default_engine = "waha"`) and stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// The simulated WhatsApp for development and tests: always available.
    #[default]
    Sandbox,
    /// WAHA, a self-hosted WhatsApp HTTP API (`[engines.waha]`).
    Waha,
    /// Meta's WhatsApp Cloud API (`[engines.meta]`).
    Meta,
}

impl EngineKind {
    /// Every engine, in the order the documentation lists them.
    pub const ALL: [Self; 3] = [Self::Sandbox, Self::Waha, Self::Meta];

    /// The configured and stored name (`sandbox`, `waha`, `meta`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Waha => "waha",
            Self::Meta => "meta",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The configuration table that turns the engine on (`[engines.waha]`); `None` for
    /// the sandbox, which needs none.
    pub fn config_table(&self) -> Option<&'static str> {
        match self {
            Self::Sandbox => None,
            Self::Waha => Some("[engines.waha]"),
            Self::Meta => Some("[engines.meta]"),
        }
    }
}

impl EngineKind {
    /// The engine an API request names; `None` for a name this server does not know.
    pub fn from_api(engine: sevenoways_sdk::models::instances::Engine) -> Option<Self> {
        use sevenoways_sdk::models::instances::Engine;
        match engine {
            Engine::Sandbox => Some(Self::Sandbox),
            Engine::Waha => Some(Self::Waha),
            Engine::Meta => Some(Self::Meta),
            _ => None,
        }
    }
}

impl From<EngineKind> for sevenoways_sdk::models::instances::Engine {
    fn from(engine: EngineKind) -> Self {
        match engine {
            EngineKind::Sandbox => Self::Sandbox,
            EngineKind::Waha => Self::Waha,
            EngineKind::Meta => Self::Meta,
        }
    }
}

/// A secret an engine uses: WAHA's API key, Meta's access token, app secret and verify
/// token, a WAHA session's HMAC key. `Debug` prints `<redacted>` and there is no
/// `Display`, so configurations and records that hold one can be logged whole.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct EngineSecret(String);

impl EngineSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself: only where it is used (a header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (an unset `api_key = ""`).
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// Compares with `other` in constant time (for the length of the shorter).
    pub fn matches(&self, other: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(other.as_bytes()))
    }
}

impl fmt::Debug for EngineSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in EngineKind::ALL {
            assert_eq!(EngineKind::parse(e.as_str()), Some(e));
        }
        assert_eq!(EngineKind::parse("Sandbox"), None);
        assert_eq!(EngineKind::default(), EngineKind::Sandbox);
    }

    #[test]
    fn secrets_never_print() {
        let s = EngineSecret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert!(s.matches("hunter2") && !s.matches("hunter3") && !s.matches("hunter"));
    }
}
