//! `/console/webhooks`: subscriptions, creating one (its secret shown once, with a copy
//! button), sending a test, the delivery log (status code, latency, attempts, next retry,
//! last error) updating live, redelivering, enabling a disabled one, deleting with a
//! confirmation. Every action is the API's handler in `crate::routes::webhooks`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use sevenoways_sdk::models::webhooks::{
    CreateWebhookRequest, DeliveryList, RotateSecretRequest, SUBSCRIBABLE_EVENTS, Webhook,
};
use sevenoways_sdk::{NoFields, Validate, WebhookId};

use super::layout::{self, badge, copy_button, csrf, maybe_time, time};
use super::session::{Signed, Submitted};
use super::{PageResult, Problem, fragment, page, see_other, value};
use crate::AppState;
use crate::auth::Authed;
use crate::extract::{Body, PathId, QueryParams};
use crate::routes::pages::page_params;
use crate::routes::webhooks;

/// `?cursor=` of a list.
#[derive(Debug, Default, Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

fn webhook_id(raw: &str) -> Result<WebhookId, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found(format!("webhook {raw:?} not found")))
}

/// The account's webhook `id`, looked up through the API's list (the API has no
/// single-webhook read); a 404 page for any other. At most ten pages are read: plans
/// allow far fewer webhooks than that.
async fn find(state: &AppState, signed: &Signed, id: &WebhookId) -> Result<Webhook, Problem> {
    let mut cursor = None;
    for _ in 0..10 {
        let list = value(
            webhooks::list(
                State(state.clone()),
                Authed(signed.account.clone()),
                QueryParams(page_params(Some("100".into()), cursor)?),
            )
            .await,
        )?;
        if let Some(found) = list.webhooks.into_iter().find(|w| w.id == *id) {
            return Ok(found);
        }
        match list.next_cursor {
            Some(next) => cursor = Some(next.as_str().to_owned()),
            None => break,
        }
    }
    Err(Problem::not_found(format!(
        "webhook {:?} not found",
        id.as_str()
    )))
}

fn state_of(w: &Webhook) -> Markup {
    html! {
        @if w.disabled {
            (badge("disabled"))
            @if let Some(why) = &w.disabled_reason { " " (why) }
        } @else if w.paused_until.is_some() {
            (badge("paused")) " until " (maybe_time(w.paused_until))
        } @else {
            (badge("active"))
        }
        @if w.failure_streak > 0 { " · " (w.failure_streak) " failures in a row" }
    }
}

async fn list_page(
    state: &AppState,
    signed: &Signed,
    cursor: Option<String>,
    typed_url: &str,
    error: Option<&str>,
) -> Result<Markup, Problem> {
    let list = value(
        webhooks::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, cursor)?),
        )
        .await,
    )?;
    Ok(layout::page(
        signed,
        "/console/webhooks",
        "Webhooks",
        html! {
            h1 { "Webhooks" }
            @if list.webhooks.is_empty() {
                p { "No webhooks yet." }
            } @else {
                table {
                    caption.visually-hidden { "Your webhooks" }
                    thead { tr { th scope="col" { "URL" } th scope="col" { "Events" }
                        th scope="col" { "State" } th scope="col" { "Created" } } }
                    tbody {
                        @for w in &list.webhooks {
                            tr {
                                td { a href={ "/console/webhooks/" (w.id.as_str()) } { (w.url) } }
                                td { @if w.events.is_empty() { "all" } @else { (w.events.join(", ")) } }
                                td { (state_of(w)) }
                                td { (time(w.created_at)) }
                            }
                        }
                    }
                }
                @if let Some(next) = &list.next_cursor {
                    p { a href={ "/console/webhooks?cursor=" (next.as_str()) } { "More webhooks" } }
                }
            }
            section aria-labelledby="create" {
                h2 #create { "Create a webhook" }
                (layout::notice(None, error))
                form.stack method="post" action="/console/webhooks" {
                    (csrf(signed))
                    label for="webhook-url" { "URL" }
                    input #webhook-url name="url" type="url" required value=(typed_url)
                        placeholder="https://example.com/hooks/sevenoways";
                    fieldset {
                        legend { "Events (none checked: all)" }
                        @for (i, event) in SUBSCRIBABLE_EVENTS.iter().enumerate() {
                            span.choice {
                                input type="checkbox" name="events" id={ "event-" (i) } value=(event);
                                label for={ "event-" (i) } { (event) }
                            }
                        }
                    }
                    button type="submit" { "Create webhook" }
                }
            }
        },
    ))
}

/// `GET /console/webhooks`.
pub async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<CursorQuery>,
) -> PageResult {
    let markup = list_page(&state, &signed, q.cursor, "", None).await?;
    Ok(page(StatusCode::OK, markup))
}

/// `POST /console/webhooks` (`POST /api/webhooks`): the page showing the secret, once.
pub async fn create(
    State(state): State<AppState>,
    Submitted { signed, form }: Submitted,
) -> PageResult {
    let req = CreateWebhookRequest {
        url: form.text("url").to_owned(),
        events: form.all("events").map(str::to_owned).collect(),
        secret: None,
    };
    let attempt = async {
        req.validate()?;
        value(
            webhooks::create(
                State(state.clone()),
                Authed(signed.account.clone()),
                Body(req.clone()),
            )
            .await,
        )
    };
    let created = match attempt.await {
        Ok(created) => created,
        Err(e) => {
            let problem = Problem::from(e);
            let status = problem.status;
            let markup = list_page(&state, &signed, None, &req.url, Some(&problem.message)).await?;
            return Ok(page(status, markup));
        }
    };
    let id = created.webhook.id.as_str().to_owned();
    let markup = layout::page(
        &signed,
        "/console/webhooks",
        "Webhook created",
        html! {
            h1 { "Webhook created" }
            p.ok role="status" { "Events now go to " code { (created.webhook.url) } "." }
            h2 { "Signing secret" }
            p { "Copy it now: it is shown only this once. Your receiver checks each request's "
                code { "webhook-signature" } " with it (see " a href="/console/docs#webhooks" { "the docs" } ")." }
            p { code #webhook-secret { (created.secret.expose()) } " "
                (copy_button("webhook-secret", "Copy the signing secret")) }
            p { a href={ "/console/webhooks/" (id) } { "Go to the webhook" } }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

async fn deliveries_of(
    state: &AppState,
    signed: &Signed,
    id: &WebhookId,
    cursor: Option<String>,
) -> Result<DeliveryList, Problem> {
    Ok(value(
        webhooks::deliveries(
            State(state.clone()),
            Authed(signed.account.clone()),
            PathId(id.clone()),
            QueryParams(page_params(None, cursor)?),
        )
        .await,
    )?)
}

fn delivery_table(signed: &Signed, id: &WebhookId, list: &DeliveryList) -> Markup {
    html! {
        @if list.deliveries.is_empty() {
            p { "No deliveries yet: send a test." }
        } @else {
            table {
                caption.visually-hidden { "Deliveries, newest first" }
                thead { tr { th scope="col" { "Event" } th scope="col" { "Status" }
                    th scope="col" { "Response" } th scope="col" { "Latency" }
                    th scope="col" { "Attempts" } th scope="col" { "Next retry" }
                    th scope="col" { "Last error" } th scope="col" { "Raised" }
                    th scope="col" { "Action" } } }
                tbody {
                    @for d in &list.deliveries {
                        tr {
                            td { (d.event) }
                            td { (badge(&d.status)) }
                            td { @if let Some(code) = d.response_code { (code) } @else { "—" } }
                            td { @if let Some(ms) = d.latency_ms { (ms) " ms" } @else { "—" } }
                            td { (d.attempts) }
                            td { (maybe_time(d.next_attempt_at)) }
                            td { (d.last_error.as_deref().unwrap_or("")) }
                            td { (time(d.created_at)) }
                            td {
                                form method="post" action={ "/console/webhooks/" (id.as_str()) "/deliveries/" (d.id.as_str()) "/redeliver" } {
                                    (csrf(signed))
                                    button type="submit" aria-label={ "Redeliver " (d.event) " " (d.id.as_str()) } { "Redeliver" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console/webhooks/{id}`: the webhook, its test button and its delivery log.
pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
    Query(q): Query<CursorQuery>,
) -> PageResult {
    let id = webhook_id(&raw)?;
    let w = find(&state, &signed, &id).await?;
    let older = q.cursor.is_some();
    let deliveries = deliveries_of(&state, &signed, &id, q.cursor).await?;
    let markup = layout::page(
        &signed,
        "/console/webhooks",
        "Webhook",
        html! {
            h1 { "Webhook" }
            dl.facts {
                dt { "URL" } dd { code { (w.url) } }
                dt { "Events" } dd { @if w.events.is_empty() { "all" } @else { (w.events.join(", ")) } }
                dt { "State" } dd { (state_of(&w)) }
                dt { "Created" } dd { (time(w.created_at)) }
            }
            div.row {
                form method="post" action={ "/console/webhooks/" (id.as_str()) "/test" } {
                    (csrf(&signed))
                    button type="submit" { "Send a test" }
                }
                form method="post" action={ "/console/webhooks/" (id.as_str()) "/rotate-secret" } {
                    (csrf(&signed))
                    button type="submit" { "Rotate the secret" }
                }
                @if w.disabled || w.paused_until.is_some() {
                    form method="post" action={ "/console/webhooks/" (id.as_str()) "/enable" } {
                        (csrf(&signed))
                        button type="submit" { "Enable" }
                    }
                }
            }
            h2 { "Deliveries" }
            @if older {
                div #deliveries { (delivery_table(&signed, &id, &deliveries)) }
            } @else {
                div #deliveries aria-live="polite" data-live={ "/console/webhooks/" (id.as_str()) "/deliveries" } {
                    (delivery_table(&signed, &id, &deliveries))
                }
            }
            @if let Some(next) = &deliveries.next_cursor {
                p { a href={ "/console/webhooks/" (id.as_str()) "?cursor=" (next.as_str()) } { "Older deliveries" } }
            }
            h2 { "Delete" }
            p { a.danger href={ "/console/webhooks/" (id.as_str()) "/delete" } { "Delete this webhook…" } }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

/// `GET /console/webhooks/{id}/deliveries`: the live delivery log.
pub async fn deliveries(
    State(state): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> PageResult {
    let id = webhook_id(&raw)?;
    let list = deliveries_of(&state, &signed, &id, None).await?;
    Ok(fragment(delivery_table(&signed, &id, &list), false))
}

/// `POST /console/webhooks/{id}/test` (`POST /api/webhooks/{id}/test`).
pub async fn test(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let id = webhook_id(&raw)?;
    value(
        webhooks::test(
            State(state),
            Authed(signed.account),
            PathId(id.clone()),
            Body(NoFields {}),
        )
        .await,
    )?;
    Ok(see_other(&format!("/console/webhooks/{}", id.as_str())))
}

/// `POST /console/webhooks/{id}/rotate-secret` (`POST /api/webhooks/{id}/rotate-secret`,
/// with a generated secret): the new secret, once, and until when the old one still
/// signs `webhook-signature`.
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let id = webhook_id(&raw)?;
    let rotated = value(
        webhooks::rotate_secret(
            State(state),
            Authed(signed.account.clone()),
            PathId(id.clone()),
            Body(RotateSecretRequest::default()),
        )
        .await,
    )?;
    let markup = layout::page(
        &signed,
        "/console/webhooks",
        "Secret rotated",
        html! {
            h1 { "New signing secret" }
            p { "Copy it now: it is shown only this once. The old secret also signs "
                code { "webhook-signature" } " until " (time(rotated.previous_secret_expires_at))
                "; " code { "X-Webhook-Signature" } " uses the new one from now on." }
            p { code #webhook-secret { (rotated.secret.expose()) } " "
                (copy_button("webhook-secret", "Copy the signing secret")) }
            p { a href={ "/console/webhooks/" (id.as_str()) } { "Go to the webhook" } }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

/// `POST /console/webhooks/{id}/enable` (`POST /api/webhooks/{id}/enable`).
pub async fn enable(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let id = webhook_id(&raw)?;
    value(
        webhooks::enable(
            State(state),
            Authed(signed.account),
            PathId(id.clone()),
            Body(NoFields {}),
        )
        .await,
    )?;
    Ok(see_other(&format!("/console/webhooks/{}", id.as_str())))
}

/// `POST /console/webhooks/{id}/deliveries/{delivery}/redeliver`.
pub async fn redeliver(
    State(state): State<AppState>,
    Path((raw, delivery)): Path<(String, String)>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let id = webhook_id(&raw)?;
    value(
        webhooks::redeliver(
            State(state),
            Authed(signed.account),
            Ok(Path((raw.clone(), delivery))),
            Body(NoFields {}),
        )
        .await,
    )?;
    Ok(see_other(&format!("/console/webhooks/{}", id.as_str())))
}

/// `GET /console/webhooks/{id}/delete`: "are you sure?".
pub async fn confirm_delete(
    State(state): State<AppState>,
    signed: Signed,
    Path(raw): Path<String>,
) -> PageResult {
    let id = webhook_id(&raw)?;
    let w = find(&state, &signed, &id).await?;
    let markup = layout::page(
        &signed,
        "/console/webhooks",
        "Delete webhook",
        html! {
            h1 { "Delete the webhook to " (w.url) "?" }
            p { "Its delivery log goes with it, and pending deliveries are dropped. This cannot be undone." }
            form.row method="post" action={ "/console/webhooks/" (id.as_str()) "/delete" } {
                (csrf(&signed))
                button.danger type="submit" { "Delete webhook" }
                a href={ "/console/webhooks/" (id.as_str()) } { "Cancel" }
            }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

/// `POST /console/webhooks/{id}/delete` (`DELETE /api/webhooks/{id}`).
pub async fn delete(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Submitted { signed, .. }: Submitted,
) -> PageResult {
    let id = webhook_id(&raw)?;
    value(webhooks::delete(State(state), Authed(signed.account), PathId(id)).await)?;
    Ok(see_other("/console/webhooks"))
}
