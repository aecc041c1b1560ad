//! The key's rate limit and message caps: `client.usage()`.

use crate::Client;
use crate::error::Result;
use crate::models::usage::{GetUsage, Usage};

/// The key's rate limit and message caps. Get one with [`Client::usage`].
#[derive(Debug)]
pub struct UsageApi<'a> {
    pub(crate) client: &'a Client,
}

impl UsageApi<'_> {
    /// `GET /api/usage` ([`GetUsage`]): counts, limits and reset times.
    pub async fn get(&self) -> Result<Usage> {
        self.client.call(&GetUsage).await
    }
}
