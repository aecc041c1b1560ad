//! Accounts: who an API key belongs to. A leaf module, so the limits, the store and the
//! routes can all name an account without depending on each other.

use std::fmt;
use std::str::FromStr;

/// An account's id: one API key and everything created with it. Its own type so an
/// account id is never confused with a queue id, a count or a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AccountId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

/// The account an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// A name for people (`keys create --name`).
    pub name: String,
    /// The plan its rate limit and caps come from (`[[plans]]`, `default` built in).
    pub plan: String,
}
