//! Engines: what serves an instance's number. A leaf module, so the configuration
//! (`default_engine`), the store (`instances.engine`) and the routes name an engine the
//! same way without depending on each other.
//!
//! Today only the sandbox can serve instances. WAHA and the Meta Cloud API are the
//! engines issue 11 adds behind [`crate::transport::Transport`]; their names are fixed
//! here already because configurations and stored rows carry them, and a server whose
//! `default_engine` is one of them is a production server (no demo account, no loopback
//! targets by default) even before they can serve.

use std::fmt;

use serde::Deserialize;

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
}
