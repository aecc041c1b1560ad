//! `/api/schedules`: cron schedules. Firing them is [`crate::scheduler`].

use axum::Router;
use axum::extract::State;
use chrono::{DateTime, Utc};
use sevenoways_sdk::models::schedules::{
    CreateScheduleRequest, DeleteSchedule, ListSchedules, Schedule, ScheduleCreated, ScheduleList,
};
use sevenoways_sdk::{Empty, Endpoint, ScheduleId, Target};

use super::messages::resolve_groups;
use super::{Reply, answer_from, ok, on};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Body, PathId};
use crate::ids::Generate;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(ListSchedules::ROUTE, on(ListSchedules::METHOD, list))
        .route(
            CreateScheduleRequest::ROUTE,
            on(CreateScheduleRequest::METHOD, create),
        )
        .route(DeleteSchedule::ROUTE, on(DeleteSchedule::METHOD, delete))
}

/// `GET /api/schedules`, each with its next run.
pub async fn list(State(state): State<AppState>, Authed(account): Authed) -> Reply<ScheduleList> {
    ok(ScheduleList {
        schedules: state.store.list_schedules(account.id).await?,
    })
}

/// `POST /api/schedules`. Group ids and names are checked now, so a typo is a 404 today
/// rather than a failed send at 9 tomorrow; names are resolved again at each run.
pub async fn create(
    State(state): State<AppState>,
    Authed(account): Authed,
    Body(req): Body<CreateScheduleRequest>,
) -> Reply<ScheduleCreated> {
    if state
        .store
        .get_instance(account.id, &req.instance_id)
        .await?
        .is_none()
    {
        return Err(ApiError::instance_not_found(&req.instance_id));
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
            .create_schedule(account.id, &id, &req, Some(first_run), now),
        |schedule: &Schedule| ScheduleCreated {
            schedule: schedule.clone(),
        },
    )
    .await
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
