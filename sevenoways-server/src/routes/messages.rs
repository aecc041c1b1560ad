//! Sends to groups and phone numbers (`/api/send*`), and [`send`], the one handler over
//! [`SendMessage`] that the community and channel sends share.
//!
//! A send is accepted once every recipient's queue entry is committed; then the worker is
//! woken. Group names and `sendAll` are resolved here, against the instance's groups now,
//! so the queue holds concrete recipients.
//!
//! The order of work is the order of cost. A key the store refused until a known
//! instant (a full rate window, a used-up cap) is answered 429 from the
//! [`RefusalCache`](crate::limits::RefusalCache) before anything else; only then are the
//! instance read, the groups resolved ([`crate::recipients`], linear in the request and
//! the instance's groups, both bounded) and media hosts looked up, and the store admits
//! the send exactly, in the transaction that queues it.

use axum::Router;
use axum::extract::State;
use chrono::Utc;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::messages::{
    QueuedRecipient, SendDocumentRequest, SendImageRequest, SendNumberDocumentRequest,
    SendNumberImageRequest, SendNumberRequest, SendRequest,
};
use sevenoways_sdk::{Endpoint, GroupTarget, InstanceId, QueueId, Queued, SendMessage, Target};

use super::{Reply, ok};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::Body;
use crate::limits::{Admission, Refusal};
use crate::store::{Account, AccountId, NewEntry, RecipientKind, Store};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(SendRequest::ROUTE, post_send::<SendRequest>())
        .route(SendImageRequest::ROUTE, post_send::<SendImageRequest>())
        .route(
            SendDocumentRequest::ROUTE,
            post_send::<SendDocumentRequest>(),
        )
        .route(SendNumberRequest::ROUTE, post_send::<SendNumberRequest>())
        .route(
            SendNumberImageRequest::ROUTE,
            post_send::<SendNumberImageRequest>(),
        )
        .route(
            SendNumberDocumentRequest::ROUTE,
            post_send::<SendNumberDocumentRequest>(),
        )
}

/// [`send`] for `R`, on `R`'s method.
pub(super) fn post_send<R>() -> axum::routing::MethodRouter<AppState>
where
    R: SendMessage + Send + Sync + 'static,
{
    super::on(R::METHOD, send::<R>)
}

/// `POST /api/send`, `/api/send-number`, `/api/send-to-channel`, ... (see the routers).
pub async fn send<R: SendMessage>(
    State(state): State<AppState>,
    Authed(account): Authed,
    Body(req): Body<R>,
) -> Reply<Queued> {
    ok(send_message(&state, &account, &req).await?)
}

/// The send path every sender shares (the API's twelve send endpoints and the console's
/// send form): the refusal cache, the instance, recipient resolution, the SSRF check of
/// media URLs, then admission and queueing in the group commit. `req` is validated.
pub(crate) async fn send_message<R: SendMessage>(
    state: &AppState,
    account: &Account,
    req: &R,
) -> Result<Queued, ApiError> {
    let arrived = Utc::now();
    if let Some(refusal) = state.refusals.check(account.id, &account.plan, arrived) {
        return Err(refused(&refusal, arrived));
    }
    let instance = req.instance_id();
    let target = req.target()?;
    // The instance's record is read only when something needs it before queueing: a group
    // send (its groups are the instance's; an unknown instance must answer 404, not "group
    // not found"), or an engine that refuses some recipients (422, so nothing is queued
    // that cannot go out). Otherwise the group commit checks that the instance exists, in
    // the transaction that queues the send, and the request makes no read of its own. (So
    // a send to a missing instance whose media URL fails the SSRF check below answers that
    // 400 rather than the 404: both are the caller's to fix.)
    if matches!(target, Target::Groups(_)) || state.engines.restricts_targets() {
        let record = state
            .store
            .instance_record(account.id, instance)
            .await?
            .ok_or_else(|| ApiError::instance_not_found(instance))?;
        // (An engine no longer configured fails the entries later, with the reason.)
        if let Ok(engine) = state.engines.get(record.engine) {
            engine.check_target(&record, &target)?;
        }
    }
    let recipients = resolve(&*state.store, account.id, instance, target).await?;
    let content = req.content();
    crate::ssrf::check_content(&state.config.network, &content).await?;
    let entries: Vec<NewEntry> = recipients
        .iter()
        .map(|(to, kind)| NewEntry {
            account_id: account.id,
            instance_id: instance.clone(),
            to: to.clone(),
            kind: *kind,
            content: content.clone(),
            schedule_id: None,
        })
        .collect();
    // The rate limit and caps are checked in the transaction that queues the entries
    // (see `store::sqlite::commit`), so a refusal has written nothing.
    let admission = Admission {
        account_id: account.id,
        limits: state.plans.get(&account.plan).clone(),
        now: Utc::now(),
    };
    let now = admission.now;
    // Rendered by the group commit too, for a request with an Idempotency-Key: the answer
    // is recorded with the queue entries (see `crate::idempotency`).
    let answer = move |ids: &Vec<QueueId>| queued(&recipients, ids);
    crate::idempotency::answer_with(answer.clone());
    let ids = state
        .store
        .enqueue_admitted(admission, entries)
        .await?
        .map_err(|refusal| match refusal {
            Refusal::InstanceNotFound => ApiError::instance_not_found(instance),
            refusal => {
                state.refusals.record(account.id, &account.plan, &refusal);
                refused(&refusal, now)
            }
        })?;
    state.queue_wake.notify_one();
    if ids.is_empty() {
        return Err(ApiError::Internal("a send queued no entry".into()));
    }
    Ok(answer(&ids))
}

/// The answer to a send whose recipients were queued as `ids`, in order.
fn queued(recipients: &[(String, RecipientKind)], ids: &[QueueId]) -> Queued {
    Queued {
        queued: true,
        queue_id: ids.first().copied().unwrap_or(QueueId(0)),
        recipients: recipients
            .iter()
            .zip(ids)
            .map(|((to, _), &queue_id)| QueuedRecipient {
                to: to.clone(),
                queue_id,
            })
            .collect(),
    }
}

/// 429 with `Retry-After` for a refused send.
pub(crate) fn refused(refusal: &Refusal, now: chrono::DateTime<Utc>) -> ApiError {
    ApiError::RateLimited {
        retry_after_secs: refusal.retry_after_secs(now),
        message: refusal.message(),
    }
}

/// The concrete recipients of a send, deduplicated, in request order.
pub(crate) async fn resolve(
    store: &dyn Store,
    account: AccountId,
    instance: &InstanceId,
    target: Target,
) -> Result<Vec<(String, RecipientKind)>, ApiError> {
    Ok(match target {
        Target::Phone(p) => vec![(p.as_str().to_owned(), RecipientKind::Phone)],
        Target::Community(j) => vec![(j.as_str().to_owned(), RecipientKind::Community)],
        Target::Channel(j) => vec![(j.as_str().to_owned(), RecipientKind::Channel)],
        Target::Groups(target) => {
            let groups = store.list_groups(account, instance).await?;
            resolve_groups(&groups, &target, instance.as_str())?
                .into_iter()
                .map(|id| (id, RecipientKind::Group))
                .collect()
        }
        _ => return Err(ApiError::BadRequest("unsupported recipient".into())),
    })
}

/// Group ids must belong to the instance; names match case-insensitively (every group of
/// that name); `sendAll` takes them all. Nothing matching is a 404 naming what was not found
/// (the first unknown id, else the first unmatched name). Linear time: see
/// [`crate::recipients`].
pub(crate) fn resolve_groups(
    groups: &[Group],
    target: &GroupTarget,
    instance: &str,
) -> Result<Vec<String>, ApiError> {
    let resolved = crate::recipients::resolve(groups, target);
    if resolved.no_groups {
        return Err(ApiError::not_found(format!(
            "instance {instance:?} has no groups to send to"
        )));
    }
    if let Some(id) = resolved.unknown_ids.first() {
        return Err(ApiError::not_found(format!(
            "group {:?} not found on instance {instance:?}",
            id.as_str()
        )));
    }
    if let Some(name) = resolved.unmatched.first() {
        return Err(ApiError::not_found(format!(
            "no group named {:?} on instance {instance:?} (names match case-insensitively; \
             GET /api/instances/{instance}/groups lists them)",
            name.as_str()
        )));
    }
    Ok(resolved.ids)
}
