use crate::Client;
use crate::error::Result;
use crate::ids::QueueId;
use crate::models::queue::QueueEntry;

/// The send queue. Get one with [`Client::queue`].
#[derive(Debug)]
pub struct QueueApi<'a> {
    pub(crate) client: &'a Client,
}

impl QueueApi<'_> {
    /// `GET /api/queue/:queueId`: status, attempts, timestamps, failure reason.
    pub async fn status(&self, id: QueueId) -> Result<QueueEntry> {
        self.client.get(&format!("/api/queue/{id}")).await
    }
}
