//! Cron schedules: `client.schedules()`.

use crate::Client;
use crate::error::Result;
use crate::ids::ScheduleId;
use crate::models::schedules::{
    CreateScheduleRequest, DeleteSchedule, ListSchedules, ScheduleCreated, ScheduleList,
};

/// Cron schedules. Get one with [`Client::schedules`].
#[derive(Debug)]
pub struct SchedulesApi<'a> {
    pub(crate) client: &'a Client,
}

impl SchedulesApi<'_> {
    /// `GET /api/schedules` ([`ListSchedules`]), each with its `nextRunAt`.
    pub async fn list(&self) -> Result<ScheduleList> {
        self.client.call(&ListSchedules).await
    }

    /// `POST /api/schedules`.
    pub async fn create(&self, req: &CreateScheduleRequest) -> Result<ScheduleCreated> {
        self.client.call(req).await
    }

    /// `DELETE /api/schedules/{id}` ([`DeleteSchedule`]).
    pub async fn delete(&self, id: &ScheduleId) -> Result<()> {
        let req = DeleteSchedule { id: id.clone() };
        self.client.call(&req).await.map(drop)
    }
}
