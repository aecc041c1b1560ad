use crate::Client;
use crate::client::segment;
use crate::error::Result;
use crate::ids::ScheduleId;
use crate::models::common::Empty;
use crate::models::schedules::{CreateScheduleRequest, ScheduleCreated, ScheduleList};

/// Cron schedules. Get one with [`Client::schedules`].
#[derive(Debug)]
pub struct SchedulesApi<'a> {
    pub(crate) client: &'a Client,
}

impl SchedulesApi<'_> {
    /// `GET /api/schedules`, each with its `nextRunAt`.
    pub async fn list(&self) -> Result<ScheduleList> {
        self.client.get("/api/schedules").await
    }

    /// `POST /api/schedules`.
    pub async fn create(&self, req: &CreateScheduleRequest) -> Result<ScheduleCreated> {
        self.client.post(req).await
    }

    /// `DELETE /api/schedules/:id`.
    pub async fn delete(&self, id: &ScheduleId) -> Result<()> {
        let _: Empty = self
            .client
            .delete(&format!("/api/schedules/{}", segment(id.as_str())))
            .await?;
        Ok(())
    }
}
