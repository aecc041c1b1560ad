//! Following a queued message: `client.queue()`.

use crate::Client;
use crate::error::Result;
use crate::ids::QueueId;
use crate::models::queue::{GetQueueEntry, QueueEntry};

/// The send queue. Get one with [`Client::queue`].
#[derive(Debug)]
pub struct QueueApi<'a> {
    pub(crate) client: &'a Client,
}

impl QueueApi<'_> {
    /// `GET /api/queue/{id}` ([`GetQueueEntry`]): status, attempts, timestamps, failure
    /// reason.
    pub async fn status(&self, id: QueueId) -> Result<QueueEntry> {
        self.client.call(&GetQueueEntry { id }).await
    }
}
