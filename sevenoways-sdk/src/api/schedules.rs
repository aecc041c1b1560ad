//! Cron schedules: `client.schedules()`.

use crate::Client;
use crate::error::Result;
use crate::ids::ScheduleId;
use crate::models::schedules::{
    CreateScheduleRequest, DeleteSchedule, ListSchedules, ResumeSchedule, ScheduleCreated,
    ScheduleList, ScheduleResumed,
};
use crate::page::PageParams;

/// Cron schedules. Get one with [`Client::schedules`].
#[derive(Debug)]
pub struct SchedulesApi<'a> {
    pub(crate) client: &'a Client,
}

impl SchedulesApi<'_> {
    /// `GET /api/schedules` ([`ListSchedules`]): every schedule with its `nextRunAt`,
    /// oldest first, fetching as many pages as that takes.
    pub async fn list(&self) -> Result<ScheduleList> {
        self.client.list_all(ListSchedules::default()).await
    }

    /// One page of `GET /api/schedules`; its `next_cursor` asks for the next.
    pub async fn list_page(&self, page: &PageParams) -> Result<ScheduleList> {
        let req = ListSchedules { page: page.clone() };
        self.client.call(&req).await
    }

    /// `POST /api/schedules/{id}/resume` ([`ResumeSchedule`]): runs a schedule that was
    /// paused after repeated runs over the plan's message cap again.
    pub async fn resume(&self, id: &ScheduleId) -> Result<ScheduleResumed> {
        let req = ResumeSchedule { id: id.clone() };
        self.client.call(&req).await
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
