//! `/api/schedules`: cron schedules. Firing them is [`crate::scheduler`].

use axum::Router;
use axum::extract::State;
use chrono::{DateTime, Utc};
use sevenoways_sdk::models::schedules::{
    CreateScheduleRequest, DeleteSchedule, ListSchedules, ResumeSchedule, Schedule,
    ScheduleCreated, ScheduleList, ScheduleResumed,
};
use sevenoways_sdk::{Empty, Endpoint, NoFields, ScheduleId, Target};

use super::messages::resolve_groups;
use super::pages::{self, parts};
use super::{Reply, answer_from, ok, on, room_for};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Body, PathId, QueryParams};
use crate::ids::Generate;
use crate::limits::Resource;
use crate::store::ListKind;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(ListSchedules::ROUTE, on(ListSchedules::METHOD, list))
        .route(
            CreateScheduleRequest::ROUTE,
            on(CreateScheduleRequest::METHOD, create),
        )
        .route(DeleteSchedule::ROUTE, on(DeleteSchedule::METHOD, delete))
        .route(ResumeSchedule::ROUTE, on(ResumeSchedule::METHOD, resume))
}

/// `GET /api/schedules?limit=&cursor=`, each with its next run (and, if paused, when and
/// why).
pub async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    QueryParams(q): QueryParams<sevenoways_sdk::PageParams>,
) -> Reply<ScheduleList> {
    let page = pages::request(&q, ListKind::Schedules)?;
    let (schedules, next_cursor) = parts(
        state.store.list_schedules(account.id, &page).await?,
        ListKind::Schedules,
    );
    ok(ScheduleList {
        schedules,
        next_cursor,
    })
}

/// `POST /api/schedules`. Group ids and names are checked now, so a typo is a 404 today
/// rather than a failed send at 9 tomorrow; names are resolved again at each run.
pub async fn create(
    State(state): State<AppState>,
    Authed(account): Authed,
    Body(req): Body<CreateScheduleRequest>,
) -> Reply<ScheduleCreated> {
    let max = room_for(&state, &account, Resource::Schedules).await?;
    let record = state
        .store
        .instance_record(account.id, &req.instance_id)
        .await?
        .ok_or_else(|| ApiError::instance_not_found(&req.instance_id))?;
    // A schedule whose sends the instance's engine can never deliver is refused now.
    // (An engine no longer configured fails the entries later, with the reason.)
    if let Ok(engine) = state.engines.get(record.engine) {
        engine.check_target(&record, &req.target()?)?;
    }
    if let Target::Groups(target) = req.target()? {
        let groups = state
            .store
            .list_groups(account.id, &req.instance_id)
            .await?;
        resolve_groups(&groups, &target, req.instance_id.as_str())?;
    }
    crate::ssrf::check_content(&state.config.network, &req.content()?).await?;
    let now = Utc::now();
    let id = ScheduleId::generate();
    // An expression that never matches again (`0 9 31 2 *`: 31 February) would be saved
    // and never fire; refuse it while the user is still looking.
    let first_run = next_run(&req, now).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "cronExpr: {:?} never fires (check the day of month against the month)",
            req.cron_expr.as_str()
        ))
    })?;
    answer_from(
        state
            .store
            .create_schedule(account.id, &id, &req, Some(first_run), now, max),
        |schedule: &Schedule| ScheduleCreated {
            schedule: schedule.clone(),
        },
    )
    .await
}

/// `POST /api/schedules/{id}/resume`: a paused schedule runs again from its next cron
/// time; one that is not paused is answered as it is.
pub async fn resume(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<ScheduleId>,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<ScheduleResumed> {
    crate::idempotency::answer_with(|schedule: &Schedule| ScheduleResumed {
        schedule: schedule.clone(),
    });
    match state
        .store
        .resume_schedule(account.id, &id, next_run, Utc::now())
        .await?
    {
        Some(schedule) => ok(ScheduleResumed { schedule }),
        None => Err(ApiError::not_found(format!(
            "schedule {:?} not found",
            id.as_str()
        ))),
    }
}

/// `DELETE /api/schedules/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<ScheduleId>,
) -> Reply<Empty> {
    if !state.store.delete_schedule(account.id, &id).await? {
        return Err(ApiError::not_found(format!(
            "schedule {:?} not found",
            id.as_str()
        )));
    }
    ok(Empty {})
}

/// The first run strictly after `after`, read in the schedule's time zone, with the
/// daylight-saving rules of [`crate::cron`] (the scheduler uses the same function).
pub fn next_run(spec: &CreateScheduleRequest, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    crate::cron::next_run(spec, after)
}
