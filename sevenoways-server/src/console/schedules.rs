//! `/console/schedules`: the account's schedules with their next run, creating one with
//! a cron expression and an IANA time zone (a searchable list) while the next five runs
//! in that zone show before saving, resuming a paused one, deleting.
//!
//! The preview runs the server's own cron code ([`crate::cron::next_after`], which the
//! scheduler uses), and saving is `POST /api/schedules`
//! (`crate::routes::schedules::create`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::{CronExpr, NoFields, ScheduleId, TimeZone, ValidationError};

use super::form::FormData;
use super::layout::{self, csrf, maybe_time};
use super::send::{Typed, content_fields, content_of, instance_select, target_fields, target_of};
use super::session::{Signed, Submitted};
use super::{PageResult, Problem, fragment, page, see_other, value};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Body, PathId, QueryParams};
use crate::routes::pages::page_params;
use crate::routes::{instances, schedules};

/// How many upcoming runs the preview shows.
const PREVIEW: usize = 5;

/// `?cronExpr=&timezone=` of the preview.
#[derive(Debug, Default, Deserialize)]
pub struct PreviewQuery {
    #[serde(rename = "cronExpr")]
    cron_expr: Option<String>,
    timezone: Option<String>,
}

/// The next [`PREVIEW`] runs of `cron` in `zone`, or what is wrong with them.
fn preview(cron: &str, zone: &str) -> Markup {
    let parsed = (|| {
        let expr: CronExpr = cron.parse()?;
        let tz: TimeZone = zone.parse()?;
        Ok::<_, ValidationError>((expr, tz))
    })();
    let (expr, tz) = match parsed {
        Ok(parsed) => parsed,
        Err(e) if cron.trim().is_empty() => {
            let _ = e;
            return html! { p.hint { "Type a cron expression to see its next runs." } };
        }
        Err(e) => return html! { p.error { (e.to_string()) } },
    };
    let tz = tz.tz();
    let mut runs = Vec::with_capacity(PREVIEW);
    let mut after = Utc::now();
    while runs.len() < PREVIEW {
        match crate::cron::next_after(&expr, tz, after) {
            Some(next) => {
                runs.push(next);
                after = next;
            }
            None => break,
        }
    }
    html! {
        @if runs.is_empty() {
            p.error { "cronExpr: " (expr.as_str()) " never fires (check the day of month against the month)" }
        } @else {
            p { "Next runs in " (tz.name()) ":" }
            ol.next-runs {
                @for run in &runs {
                    li { time datetime=(run.to_rfc3339()) { (run.with_timezone(&tz).format("%a %Y-%m-%d %H:%M %Z")) } }
                }
            }
        }
    }
}

async fn list_page(
    state: &AppState,
    signed: &Signed,
    cursor: Option<String>,
    typed: Typed<'_>,
) -> Result<Markup, Problem> {
    let list = value(
        schedules::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, cursor)?),
        )
        .await,
    )?;
    let instances = value(
        instances::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, None)?),
        )
        .await,
    )?;
    let cron = typed.text("cronExpr");
    let zone = match typed.text("timezone") {
        z if z.is_empty() => "UTC".to_owned(),
        z => z,
    };
    Ok(layout::page(
        signed,
        "/console/schedules",
        "Schedules",
        html! {
            h1 { "Schedules" }
            @if list.schedules.is_empty() {
                p { "No schedules yet." }
            } @else {
                table {
                    caption.visually-hidden { "Your schedules" }
                    thead { tr { th scope="col" { "Label" } th scope="col" { "Instance" }
                        th scope="col" { "Cron" } th scope="col" { "Time zone" }
                        th scope="col" { "Next run" } th scope="col" { "Last run" }
                        th scope="col" { "State" } th scope="col" { "Actions" } } }
                    tbody {
                        @for s in &list.schedules {
                            tr {
                                td { (s.spec.label) }
                                td { (s.spec.instance_id) }
                                td { code { (s.spec.cron_expr.as_str()) } }
                                td { (s.spec.timezone.as_str()) }
                                td { (maybe_time(s.next_run_at)) }
                                td { (maybe_time(s.last_run_at)) }
                                td {
                                    @if let Some(why) = &s.pause_reason { "paused: " (why) }
                                    @else if s.paused_at.is_some() { "paused" }
                                    @else { "active" }
                                }
                                td.row {
                                    @if s.paused_at.is_some() {
                                        form method="post" action={ "/console/schedules/" (s.id.as_str()) "/resume" } {
                                            (csrf(signed))
                                            button type="submit" aria-label={ "Resume " (s.spec.label) } { "Resume" }
                                        }
                                    }
                                    form method="post" action={ "/console/schedules/" (s.id.as_str()) "/delete" } {
                                        (csrf(signed))
                                        button.danger type="submit" aria-label={ "Delete schedule " (s.spec.label) } { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &list.next_cursor {
                    p { a href={ "/console/schedules?cursor=" (next.as_str()) } { "More schedules" } }
                }
            }
            section aria-labelledby="create" {
                h2 #create { "Create a schedule" }
                @if instances.instances.is_empty() {
                    p { "No instances yet: " a href="/console/instances" { "create and pair one" } " first." }
                } @else {
                    (layout::notice(None, typed.error.as_deref()))
                    form.stack method="post" action="/console/schedules" data-choices {
                        (csrf(signed))
                        (instance_select(&instances.instances, &typed))
                        label for="schedule-label" { "Label" }
                        input #schedule-label name="label" value=(typed.text("label")) autocomplete="off";
                        label for="cron" { "Cron expression" }
                        input #cron name="cronExpr" required value=(cron) autocomplete="off"
                            spellcheck="false" placeholder="0 9 * * 1-5" aria-describedby="cron-hint";
                        p.hint #cron-hint { "Five fields: minute, hour, day of month, month, day of week. "
                            code { "0 9 * * 1-5" } " is 09:00 on weekdays." }
                        label for="timezone" { "Time zone" }
                        input #timezone name="timezone" required list="zones" value=(zone)
                            autocomplete="off" spellcheck="false" aria-describedby="timezone-hint";
                        p.hint #timezone-hint { "Type to search, e.g. " code { "Asia/Dubai" } "." }
                        datalist #zones {
                            @for tz in chrono_tz::TZ_VARIANTS { option value=(tz.name()) {} }
                        }
                        div #next-runs aria-live="polite" data-preview="/console/schedules/next-runs" {
                            (preview(&cron, &zone))
                        }
                        (target_fields(&super::send::TARGETS[..4], &[], &typed))
                        (content_fields(&typed))
                        button type="submit" { "Create schedule" }
                    }
                }
            }
        },
    ))
}

/// `?cursor=` of the list.
#[derive(Debug, Default, Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

/// `GET /console/schedules`.
pub async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<CursorQuery>,
) -> PageResult {
    let markup = list_page(&state, &signed, q.cursor, Typed::default()).await?;
    Ok(page(StatusCode::OK, markup))
}

/// `GET /console/schedules/next-runs?cronExpr=&timezone=`: the preview.
pub async fn next_runs(_signed: Signed, Query(q): Query<PreviewQuery>) -> PageResult {
    let markup = preview(
        q.cron_expr.as_deref().unwrap_or_default(),
        q.timezone.as_deref().unwrap_or("UTC"),
    );
    Ok(fragment(markup, true))
}

fn request(form: &FormData) -> Result<CreateScheduleRequest, ValidationError> {
    let target = ScheduleTarget::try_from(target_of(form)?)?;
    CreateScheduleRequest::new(
        form.text("instanceId").parse()?,
        form.text("label"),
        form.text("cronExpr").parse()?,
        form.text("timezone").parse()?,
        target,
        content_of(form)?,
    )
}

/// `POST /console/schedules` (`POST /api/schedules`).
pub async fn create(
    State(state): State<AppState>,
    Submitted { signed, form }: Submitted,
) -> PageResult {
    let attempt = async {
        let req = request(&form).map_err(ApiError::from)?;
        value(
            schedules::create(
                State(state.clone()),
                Authed(signed.account.clone()),
                Body(req),
            )
            .await,
        )
    };
    match attempt.await {
        Ok(_) => Ok(see_other("/console/schedules")),
        Err(e) => {
            let problem = Problem::from(e);
            let status = problem.status;
            let typed = Typed {
                form: Some(&form),
                error: Some(problem.message),
            };
            Ok(page(status, list_page(&state, &signed, None, typed).await?))
        }
    }
}

fn schedule_id(raw: &str) -> Result<ScheduleId, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found(format!("schedule {raw:?} not found")))
}

/// `POST /console/schedules/{id}/delete` (`DELETE /api/schedules/{id}`).
pub async fn delete(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let id = schedule_id(&raw)?;
    value(schedules::delete(State(state), Authed(signed.account), PathId(id)).await)?;
    Ok(see_other("/console/schedules"))
}

/// `POST /console/schedules/{id}/resume` (`POST /api/schedules/{id}/resume`).
pub async fn resume(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let id = schedule_id(&raw)?;
    value(
        schedules::resume(
            State(state),
            Authed(signed.account),
            PathId(id),
            Body(NoFields {}),
        )
        .await,
    )?;
    Ok(see_other("/console/schedules"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_lists_five_runs_in_the_zone_or_names_the_problem() {
        let html = preview("30 9 * * *", "Asia/Dubai").into_string();
        assert_eq!(html.matches("<li>").count(), 5, "{html}");
        assert!(html.contains("09:30 +04"), "{html}");
        assert!(
            preview("0 9 31 2 *", "UTC")
                .into_string()
                .contains("never fires")
        );
        assert!(preview("0 9 * *", "UTC").into_string().contains("cronExpr"));
        assert!(
            preview("0 9 * * *", "Mars/Olympus")
                .into_string()
                .contains("timezone")
        );
    }
}
