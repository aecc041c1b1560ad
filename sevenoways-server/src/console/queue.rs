//! `/console/queue`: the account's recent queue entries with status, recipient, time and
//! failure reason, filterable by instance and status, updating live; and one entry.
//!
//! The list reads [`crate::store::Store::recent_queue_entries`]: the newest entries among
//! the account's latest [`crate::store::QUEUE_SCAN`], a page of [`PAGE`] at a time, so a
//! filter that matches nothing still costs a bounded read.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use sevenoways_sdk::QueueId;
use sevenoways_sdk::models::queue::{QueueEntry, QueueStatus};

use super::layout::{self, badge, maybe_time, time};
use super::session::Signed;
use super::{PageResult, Problem, fragment, page, value};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{PathId, QueryParams};
use crate::routes::instances;
use crate::routes::pages::page_params;
use crate::store::QueueFilter;

/// Entries per page.
pub const PAGE: u32 = 50;

const STATUSES: [QueueStatus; 6] = [
    QueueStatus::Queued,
    QueueStatus::Sending,
    QueueStatus::Sent,
    QueueStatus::Delivered,
    QueueStatus::Read,
    QueueStatus::Failed,
];

/// `?instance=&status=&before=`: empty values mean "any".
#[derive(Debug, Default, Deserialize)]
pub struct FilterQuery {
    instance: Option<String>,
    status: Option<String>,
    before: Option<String>,
}

impl FilterQuery {
    /// The filter; a value that names nothing is a 400 page naming the parameter.
    fn filter(&self) -> Result<QueueFilter, Problem> {
        let instance = match self.instance.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(raw.parse().map_err(ApiError::from)?),
        };
        let status = match self.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                STATUSES
                    .into_iter()
                    .find(|s| s.as_str() == raw)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "status: expected queued, sending, sent, delivered, read or failed, got {raw:?}"
                        ))
                    })?,
            ),
        };
        let before = match self.before.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(QueueId(raw.parse().map_err(|_| {
                ApiError::BadRequest(format!("before: expected a queue id, got {raw:?}"))
            })?)),
        };
        Ok(QueueFilter {
            instance,
            status,
            before,
        })
    }

    fn query_string(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("instance", self.instance.as_deref().unwrap_or_default());
        q.append_pair("status", self.status.as_deref().unwrap_or_default());
        if let Some(before) = &self.before {
            q.append_pair("before", before);
        }
        q.finish()
    }
}

async fn rows_of(
    state: &AppState,
    signed: &Signed,
    filter: &QueueFilter,
) -> Result<Vec<QueueEntry>, Problem> {
    Ok(state
        .store
        .recent_queue_entries(signed.account.id, filter, PAGE)
        .await
        .map_err(ApiError::from)?)
}

fn table(entries: &[QueueEntry], q: &FilterQuery) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "No queue entries match." }
        } @else {
            table {
                caption.visually-hidden { "Queue entries, newest first" }
                thead { tr { th scope="col" { "Queue ID" } th scope="col" { "Instance" }
                    th scope="col" { "Recipient" } th scope="col" { "Kind" }
                    th scope="col" { "Status" } th scope="col" { "Queued at" }
                    th scope="col" { "Attempts" } th scope="col" { "Failure reason" } } }
                tbody {
                    @for e in entries {
                        tr {
                            td { a href={ "/console/queue/" (e.queue_id) } { (e.queue_id) } }
                            td { (e.instance_id) }
                            td { code { (e.to) } }
                            td { (e.content.kind()) }
                            td { (badge(e.status.as_str())) }
                            td { (time(e.created_at)) }
                            td { (e.attempts) }
                            td { (e.error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            @if entries.len() as u32 == PAGE {
                @if let Some(last) = entries.last() {
                    p { a href={ "/console/queue?" (FilterQuery {
                        instance: q.instance.clone(), status: q.status.clone(),
                        before: Some(last.queue_id.0.to_string()) }.query_string()) } { "Older entries" } }
                }
            }
        }
    }
}

/// `GET /console/queue`.
pub async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<FilterQuery>,
) -> PageResult {
    let filter = q.filter()?;
    let entries = rows_of(&state, &signed, &filter).await?;
    let instances = value(
        instances::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, None)?),
        )
        .await,
    )?;
    let chosen_instance = q.instance.as_deref().unwrap_or_default();
    let chosen_status = q.status.as_deref().unwrap_or_default();
    let markup = layout::page(
        &signed,
        "/console/queue",
        "Queue",
        html! {
            h1 { "Queue" }
            form.filters method="get" action="/console/queue" {
                div {
                    label for="filter-instance" { "Instance" }
                    select #filter-instance name="instance" {
                        option value="" { "Any instance" }
                        @for i in &instances.instances {
                            option value=(i.instance_id) selected[chosen_instance == i.instance_id.as_str()] { (i.instance_id) }
                        }
                    }
                }
                div {
                    label for="filter-status" { "Status" }
                    select #filter-status name="status" {
                        option value="" { "Any status" }
                        @for s in STATUSES {
                            option value=(s.as_str()) selected[chosen_status == s.as_str()] { (s.as_str()) }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            // The first page follows the queue live; an older page stays as it was read.
            @if filter.before.is_none() {
                div #queue-rows aria-live="polite" data-live={ "/console/queue/rows?" (q.query_string()) } {
                    (table(&entries, &q))
                }
            } @else {
                div #queue-rows { (table(&entries, &q)) }
            }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

/// `GET /console/queue/rows`: the live table.
pub async fn rows(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<FilterQuery>,
) -> PageResult {
    let entries = rows_of(&state, &signed, &q.filter()?).await?;
    Ok(fragment(table(&entries, &q), false))
}

/// `GET /console/queue/{id}` (`GET /api/queue/{id}`).
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> PageResult {
    let id = raw
        .parse::<u64>()
        .map(QueueId)
        .map_err(|_| Problem::not_found(format!("queue entry {raw:?} not found")))?;
    let e = value(
        crate::routes::queue::status(
            State(state.clone()),
            Authed(signed.account.clone()),
            PathId(id),
        )
        .await,
    )?;
    let content = match &e.content {
        sevenoways_sdk::Content::Text { message } => html! { pre { (message.as_str()) } },
        sevenoways_sdk::Content::Image { image_url, caption } => html! {
            p { "Image " code { (image_url.as_str()) } }
            @if let Some(c) = caption { pre { (c) } }
        },
        sevenoways_sdk::Content::Document {
            file_url, filename, ..
        } => html! { p { "Document " code { (filename) } " from " code { (file_url.as_str()) } } },
        _ => html! { p { (e.content.kind()) } },
    };
    let markup = layout::page(
        &signed,
        "/console/queue",
        &format!("Queue entry {id}"),
        html! {
            h1 { "Queue entry " (id) }
            dl.facts {
                dt { "Instance" } dd { a href={ "/console/instances/" (e.instance_id) } { (e.instance_id) } }
                dt { "Recipient" } dd { code { (e.to) } }
                dt { "Status" } dd { (badge(e.status.as_str())) }
                dt { "Attempts" } dd { (e.attempts) }
                dt { "Failure reason" } dd { (e.error.as_deref().unwrap_or("—")) }
                dt { "Queued at" } dd { (time(e.created_at)) }
                dt { "Sent at" } dd { (maybe_time(e.sent_at)) }
                dt { "Delivered at" } dd { (maybe_time(e.delivered_at)) }
                dt { "Read at" } dd { (maybe_time(e.read_at)) }
            }
            h2 { "Content" }
            (content)
        },
    );
    Ok(page(StatusCode::OK, markup))
}
