use crate::Client;
use crate::error::Result;
use crate::models::usage::Usage;

/// The key's rate limit and message caps. Get one with [`Client::usage`].
#[derive(Debug)]
pub struct UsageApi<'a> {
    pub(crate) client: &'a Client,
}

impl UsageApi<'_> {
    /// `GET /api/usage`: counts, limits and reset times.
    pub async fn get(&self) -> Result<Usage> {
        self.client.get("/api/usage").await
    }
}
