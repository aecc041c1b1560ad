//! `/console/instances`: the numbers, creating one, pairing it from its QR code (the
//! status turns online by itself), the sandbox's pair and add-group actions, groups with
//! their ids, and deleting with a confirmation.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use sevenoways_sdk::models::groups::GroupList;
use sevenoways_sdk::models::instances::{CreateInstanceRequest, InstanceStatus};
use sevenoways_sdk::models::sandbox::SandboxGroupRequest;
use sevenoways_sdk::{InstanceId, NoFields};

use super::layout::{self, badge, copy_button, csrf, time};
use super::session::{Signed, Submitted};
use super::{PageResult, Problem, fragment, page, see_other, value};
use crate::AppState;
use crate::auth::Authed;
use crate::auth::qr_token::{self, PairAuth};
use crate::engine::EngineKind;
use crate::error::ApiError;
use crate::extract::{Body, PathId, QueryParams};
use crate::routes::pages::page_params;
use crate::routes::{groups, instances, qr, sandbox};
use crate::store::InstanceRecord;
use crate::transport::sandbox::CODE_WINDOW_SECS;

/// The id in a console path; one that cannot be an id names nothing (404).
pub(crate) fn instance_id(raw: &str) -> Result<InstanceId, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found(format!("instance {raw:?} not found")))
}

/// The account's instance `id` with its engine; a 404 page for any other.
pub(crate) async fn record(
    state: &AppState,
    signed: &Signed,
    raw: &str,
) -> Result<InstanceRecord, Problem> {
    let id = instance_id(raw)?;
    state
        .store
        .instance_record(signed.account.id, &id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::instance_not_found(&id).into())
}

/// `?cursor=` of a list page.
#[derive(Debug, Default, Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

/// What the create form shows again after a failure.
#[derive(Default)]
struct Typed<'a> {
    id: &'a str,
    label: &'a str,
    error: Option<String>,
}

async fn list_page(
    state: &AppState,
    signed: &Signed,
    cursor: Option<String>,
    typed: Typed<'_>,
) -> Result<Markup, Problem> {
    let list = value(
        instances::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, cursor)?),
        )
        .await,
    )?;
    // The engine is not part of the API's instance; it is read per row (a page is at most
    // the plan's instances, 20 by default).
    let mut engines = Vec::with_capacity(list.instances.len());
    for instance in &list.instances {
        let engine = state
            .store
            .instance_record(signed.account.id, &instance.instance_id)
            .await
            .map_err(ApiError::from)?
            .map(|r| r.engine.as_str());
        engines.push(engine.unwrap_or("—"));
    }
    Ok(layout::page(
        signed,
        "/console/instances",
        "Instances",
        html! {
            h1 { "Instances" }
            @if list.instances.is_empty() {
                p { "No instances yet: create one below, then pair it by scanning its QR code." }
            } @else {
                table {
                    caption.visually-hidden { "Your instances" }
                    thead { tr { th scope="col" { "Instance ID" } th scope="col" { "Label" }
                        th scope="col" { "Engine" } th scope="col" { "Status" }
                        th scope="col" { "Phone" } th scope="col" { "Created" } } }
                    tbody {
                        @for (instance, engine) in list.instances.iter().zip(&engines) {
                            tr {
                                td { a href={ "/console/instances/" (instance.instance_id) } { (instance.instance_id) } }
                                td { (instance.label) }
                                td { (engine) }
                                td { (badge(instance.status.as_str())) }
                                td { (instance.phone.as_deref().unwrap_or("—")) }
                                td { (time(instance.created_at)) }
                            }
                        }
                    }
                }
                @if let Some(next) = &list.next_cursor {
                    p { a href={ "/console/instances?cursor=" (next.as_str()) } { "More instances" } }
                }
            }
            section aria-labelledby="create" {
                h2 #create { "Create an instance" }
                (layout::notice(None, typed.error.as_deref()))
                form.stack method="post" action="/console/instances" {
                    (csrf(signed))
                    label for="instance-id" { "Instance ID" }
                    input #instance-id name="instanceId" required value=(typed.id)
                        autocomplete="off" spellcheck="false" pattern="[A-Za-z0-9_.\\-]{1,64}"
                        aria-describedby="instance-id-hint";
                    p.hint #instance-id-hint { "Letters, digits, " code { "_" } ", " code { "-" }
                        " and " code { "." } ", at most 64: the " code { "instanceId" } " of API calls." }
                    label for="label" { "Label" }
                    input #label name="label" value=(typed.label) autocomplete="off";
                    button type="submit" { "Create instance" }
                }
            }
        },
    ))
}

/// `GET /console/instances`.
pub async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<CursorQuery>,
) -> PageResult {
    let markup = list_page(&state, &signed, q.cursor, Typed::default()).await?;
    Ok(page(StatusCode::OK, markup))
}

/// `POST /console/instances`: `POST /api/instances`, then its pairing page.
pub async fn create(
    State(state): State<AppState>,
    Submitted { signed, form }: Submitted,
) -> PageResult {
    let (raw_id, label) = (form.text("instanceId"), form.text("label"));
    let attempt = async {
        let id: InstanceId = raw_id.parse().map_err(ApiError::from)?;
        let created = value(
            instances::create(
                State(state.clone()),
                Authed(signed.account.clone()),
                Body(CreateInstanceRequest::new(id, label)),
            )
            .await,
        )?;
        Ok::<_, ApiError>(created.instance.instance_id)
    };
    match attempt.await {
        Ok(id) => Ok(see_other(&format!("/console/instances/{id}"))),
        Err(e) => {
            let problem = Problem::from(e);
            let typed = Typed {
                id: raw_id,
                label,
                error: Some(problem.message),
            };
            let markup = list_page(&state, &signed, None, typed).await?;
            Ok(page(problem.status, markup))
        }
    }
}

/// The status, and while pairing the QR code: the live part of an instance's page. The
/// image's URL changes with the code's window, so the page reloads the image only when
/// the code changes.
fn live_status(record: &InstanceRecord) -> Markup {
    let instance = &record.instance;
    let id = &instance.instance_id;
    let window = Utc::now().timestamp() / CODE_WINDOW_SECS;
    html! {
        p { "Status: " (badge(instance.status.as_str()))
            @if let Some(phone) = &instance.phone { " as +" (phone) } }
        @if instance.status == InstanceStatus::Online {
            p.ok { "Paired: sends from " strong { (id) } " go out." }
        } @else {
            p { "Open WhatsApp on the phone › Settings › Linked devices › Link a device, and scan:" }
            img.qr src={ "/console/instances/" (id) "/qr.svg?w=" (window) }
                alt={ "QR code to pair " (id) } width="264" height="264";
            p.hint { "The code changes every " (CODE_WINDOW_SECS) " seconds; this page follows it and shows when the number is paired." }
        }
    }
}

/// `GET /console/instances/{id}`: status, pairing, sandbox actions, groups, delete.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
    Query(q): Query<CursorQuery>,
) -> PageResult {
    let record = record(&state, &signed, &raw).await?;
    let id = record.instance.instance_id.clone();
    let groups: GroupList = value(
        groups::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            PathId(id.clone()),
            QueryParams(page_params(None, q.cursor)?),
        )
        .await,
    )?;
    let online = record.instance.status == InstanceStatus::Online;
    let share = qr_token::page_url(&state, &record);
    let sandbox = record.engine == EngineKind::Sandbox;
    let markup = layout::page(
        &signed,
        "/console/instances",
        &format!("Instance {id}"),
        html! {
            h1 { (record.instance.label) }
            dl.facts {
                dt { "Instance ID" } dd { code #instance-id-value { (id) } " " (copy_button("instance-id-value", "Copy the instance ID")) }
                dt { "Engine" } dd { (record.engine.as_str()) }
                dt { "Created" } dd { (time(record.instance.created_at)) }
            }
            section aria-labelledby="pairing" {
                h2 #pairing { "Pairing" }
                @if online {
                    div #live-status aria-live="polite" { (live_status(&record)) }
                } @else {
                    div #live-status aria-live="polite" data-live={ "/console/instances/" (id) "/status" } {
                        (live_status(&record))
                    }
                    details {
                        summary { "Link to share with whoever holds the phone" }
                        p.hint { "It shows the code for 30 minutes and cannot pair by itself." }
                        p { code #share-link { (share) } " " (copy_button("share-link", "Copy the QR link")) }
                    }
                }
                @if sandbox {
                    h3 { "Sandbox" }
                    p.hint { "A sandbox number needs no phone: simulate the scan, and give it groups to send to." }
                    @if !online {
                        form method="post" action={ "/console/instances/" (id) "/pair" } data-inline {
                            (csrf(&signed))
                            button type="submit" { "Simulate the scan" }
                            span.inline-result role="status" {}
                        }
                    }
                    form.row method="post" action={ "/console/instances/" (id) "/groups" } {
                        (csrf(&signed))
                        label for="group-name" { "Group name" }
                        input #group-name name="name" required autocomplete="off";
                        button type="submit" { "Add group" }
                    }
                }
            }
            section aria-labelledby="groups" {
                h2 #groups { "Groups" }
                @if groups.groups.is_empty() {
                    p { "No groups yet." }
                } @else {
                    table {
                        caption.visually-hidden { "Groups of " (id) }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Group ID" } th scope="col" { "Participants" } } }
                        tbody {
                            @for (i, group) in groups.groups.iter().enumerate() {
                                tr {
                                    td { (group.name) }
                                    td { code id={ "group-" (i) } { (group.id) } " "
                                        (copy_button(&format!("group-{i}"), &format!("Copy the group ID of {}", group.name))) }
                                    td { (group.participants) }
                                }
                            }
                        }
                    }
                    @if let Some(next) = &groups.next_cursor {
                        p { a href={ "/console/instances/" (id) "?cursor=" (next.as_str()) } { "More groups" } }
                    }
                }
            }
            section aria-labelledby="danger" {
                h2 #danger { "Delete" }
                p { a.danger href={ "/console/instances/" (id) "/delete" } { "Delete this instance…" } }
            }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

/// `GET /console/instances/{id}/status`: the live part of the page.
pub async fn status(
    State(state): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> PageResult {
    let record = record(&state, &signed, &raw).await?;
    let online = record.instance.status == InstanceStatus::Online;
    Ok(fragment(live_status(&record), online))
}

/// `GET /console/instances/{id}/qr.svg`: the current pairing code (what the API's QR
/// endpoint shows).
pub async fn qr_svg(
    State(state): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> PageResult {
    let record = record(&state, &signed, &raw).await?;
    // The engine's code, as the API's QR endpoint shows it (the sandbox's simulated one,
    // or WAHA's); none once paired or while the engine starts.
    let pairing = state
        .engines
        .get(record.engine)
        .map_err(ApiError::from)?
        .pairing(&record)
        .await
        .map_err(ApiError::from)?;
    let Some(code) = pairing.code else {
        return Err(ApiError::Conflict(format!(
            "instance {:?} has no code to scan right now (status {})",
            record.instance.instance_id.as_str(),
            pairing.status.as_str()
        ))
        .into());
    };
    let svg = qr::svg(&code)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// `POST /console/instances/{id}/pair`: the sandbox's simulated scan
/// (`POST /api/sandbox/instances/{id}/pair`).
pub async fn pair(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let record = record(&state, &signed, &raw).await?;
    let id = record.instance.instance_id.clone();
    value(sandbox::pair(State(state.clone()), PairAuth { record }, Body(NoFields {})).await)?;
    Ok(see_other(&format!("/console/instances/{id}")))
}

/// `POST /console/instances/{id}/groups`: the sandbox's add-group
/// (`POST /api/sandbox/instances/{id}/groups`).
pub async fn add_group(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, form }: Submitted,
) -> PageResult {
    let id = instance_id(&raw)?;
    let req = SandboxGroupRequest {
        name: form.text("name").to_owned(),
        id: None,
    };
    sevenoways_sdk::Validate::validate(&req).map_err(ApiError::from)?;
    value(
        sandbox::add_group(
            State(state.clone()),
            Authed(signed.account.clone()),
            PathId(id.clone()),
            Body(req),
        )
        .await,
    )?;
    Ok(see_other(&format!("/console/instances/{id}#groups")))
}

/// `GET /console/instances/{id}/delete`: "are you sure?".
pub async fn confirm_delete(
    State(state): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> PageResult {
    let record = record(&state, &signed, &raw).await?;
    let id = &record.instance.instance_id;
    let markup = layout::page(
        &signed,
        "/console/instances",
        &format!("Delete {id}"),
        html! {
            h1 { "Delete instance " (id) "?" }
            p { "Its groups and saved channels go with it, and its unsent messages fail. This cannot be undone." }
            form.row method="post" action={ "/console/instances/" (id) "/delete" } {
                (csrf(&signed))
                button.danger type="submit" { "Delete instance" }
                a href={ "/console/instances/" (id) } { "Cancel" }
            }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

/// `POST /console/instances/{id}/delete` (`DELETE /api/instances/{id}`).
pub async fn delete(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let id = instance_id(&raw)?;
    value(
        instances::delete(
            State(state.clone()),
            Authed(signed.account.clone()),
            PathId(id),
        )
        .await,
    )?;
    Ok(see_other("/console/instances"))
}
