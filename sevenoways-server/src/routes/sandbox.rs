//! `/api/sandbox/*`: drive the simulated WhatsApp from scripts and tests.
//!
//! They act only on sandbox instances: an instance another engine serves is a 404 here, as
//! an id the key does not have, so a production number can never be "paired", given
//! groups or sent forged inbound messages by the simulation.

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::sandbox::{
    AddSandboxGroup, GetOutbox, Outbox, OutboxQuery, PairSandboxInstance, SandboxGroup,
    SandboxGroupRequest, SandboxInbound, SandboxInboundRequest, UnpairSandboxInstance,
};
use sevenoways_sdk::models::webhooks::{InstanceEvent, MessageReceived};
use sevenoways_sdk::{Empty, Endpoint, EventData, GroupId, InstanceId, NoFields};

use super::pages;
use super::{Reply, answer_from, ok, on};
use crate::AppState;
use crate::account::AccountId;
use crate::auth::Authed;
use crate::auth::qr_token::PairAuth;
use crate::engine::EngineKind;
use crate::error::ApiError;
use crate::extract::{Body, PathId, QueryParams};
use crate::ids::random_token;
use crate::store::{InstanceRecord, ListKind, NewEvent};

/// The number the sandbox pairs every instance with.
pub const SANDBOX_PHONE: &str = "971500000000";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            PairSandboxInstance::ROUTE,
            on(PairSandboxInstance::METHOD, pair),
        )
        .route(
            AddSandboxGroup::ROUTE,
            on(AddSandboxGroup::METHOD, add_group),
        )
        .route(SandboxInbound::ROUTE, on(SandboxInbound::METHOD, inbound))
        .route(GetOutbox::ROUTE, on(GetOutbox::METHOD, outbox))
        .route(
            UnpairSandboxInstance::ROUTE,
            on(UnpairSandboxInstance::METHOD, unpair),
        )
}

/// `record` if the sandbox serves it; 404 otherwise.
fn sandbox_only(record: InstanceRecord) -> Result<InstanceRecord, ApiError> {
    if record.engine == EngineKind::Sandbox {
        Ok(record)
    } else {
        Err(ApiError::not_found(format!(
            "instance {:?} is served by the {} engine: the sandbox endpoints act only on \
             sandbox instances",
            record.instance.instance_id.as_str(),
            record.engine
        )))
    }
}

/// The key's instance `id`, if it is a sandbox instance; 404 otherwise.
async fn sandbox_instance(
    state: &AppState,
    account: AccountId,
    id: &InstanceId,
) -> Result<InstanceRecord, ApiError> {
    let record = state
        .store
        .instance_record(account, id)
        .await?
        .ok_or_else(|| ApiError::instance_not_found(id))?;
    sandbox_only(record)
}

/// `POST /api/sandbox/instances/{id}/pair`: the simulated QR scan. Takes the API key, or
/// the pairing token the QR page's button sends (from `sandboxPairUrl`); a QR link's own
/// token, made to be shared, does not pair.
pub async fn pair(
    State(state): State<AppState>,
    auth: PairAuth,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<Empty> {
    let record = sandbox_only(auth.record)?;
    let (account, id) = (record.account_id, record.instance.instance_id);
    let event = NewEvent {
        account_id: account,
        instance_id: id.clone(),
        data: EventData::InstanceOnline(InstanceEvent {
            status: "online".into(),
            phone: Some(SANDBOX_PHONE.into()),
        }),
    };
    crate::idempotency::answer_with(|_: &bool| Empty {});
    let changed = state
        .store
        .set_instance_status(
            account,
            &id,
            InstanceStatus::Online,
            Some(SANDBOX_PHONE),
            Some(event),
        )
        .await?;
    if !changed {
        return Err(ApiError::instance_not_found(&id));
    }
    state.queue_wake.notify_one();
    ok(Empty {})
}

/// `POST /api/sandbox/instances/{id}/unpair`: the phone logs out (WhatsApp, Linked
/// devices, Log out). The instance goes `offline` and `instance.offline` is raised in
/// the same transaction; its sends fail until it is paired again. 409 if it is not online.
pub async fn unpair(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<Empty> {
    let instance = sandbox_instance(&state, account.id, &id).await?.instance;
    if instance.status != InstanceStatus::Online {
        return Err(ApiError::Conflict(format!(
            "instance {:?} is not online (status {}): nothing to unpair",
            id.as_str(),
            instance.status.as_str()
        )));
    }
    let event = NewEvent {
        account_id: account.id,
        instance_id: id.clone(),
        data: EventData::InstanceOffline(InstanceEvent {
            status: InstanceStatus::Offline.as_str().into(),
            phone: instance.phone,
        }),
    };
    crate::idempotency::answer_with(|_: &bool| Empty {});
    let changed = state
        .store
        .set_instance_status(account.id, &id, InstanceStatus::Offline, None, Some(event))
        .await?;
    if !changed {
        return Err(ApiError::instance_not_found(&id));
    }
    ok(Empty {})
}

/// `POST /api/sandbox/instances/{id}/groups`: adds a group to the number, or renames it.
pub async fn add_group(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
    Body(req): Body<SandboxGroupRequest>,
) -> Reply<SandboxGroup> {
    sandbox_instance(&state, account.id, &id).await?;
    let group_id = match req.id {
        Some(g) => g,
        None => {
            let digits: String = random_token("")
                .bytes()
                .map(|b| char::from(b'0' + b % 10))
                .take(18)
                .collect();
            GroupId::new(format!("120363{digits}@g.us")).expect("digits make a valid group id")
        }
    };
    let existing = state.store.list_groups(account.id, &id).await?;
    let participants = existing
        .iter()
        .find(|g| g.id == group_id)
        .map_or(3, |g| g.participants);
    let group = Group {
        id: group_id,
        name: req.name,
        participants,
    };
    let max = state.plans.get(&account.plan).quotas.groups_per_instance;
    let answer = SandboxGroup {
        group: group.clone(),
    };
    answer_from(
        state.store.upsert_group(account.id, &id, &group, max),
        move |()| answer.clone(),
    )
    .await
}

/// `POST /api/sandbox/instances/{id}/inbound`: someone writes to the number.
pub async fn inbound(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
    Body(req): Body<SandboxInboundRequest>,
) -> Reply<Empty> {
    sandbox_instance(&state, account.id, &id).await?;
    let event = NewEvent {
        account_id: account.id,
        instance_id: id,
        data: EventData::MessageReceived(MessageReceived {
            message_id: random_token("wamid_"),
            from: req.from.clone(),
            chat: Some(req.from),
            message: req.message,
        }),
    };
    crate::idempotency::answer_with(|_: &()| Empty {});
    state.store.record_event(event).await?;
    ok(Empty {})
}

/// `GET /api/sandbox/outbox?instanceId=ID&limit=&cursor=`.
pub async fn outbox(
    State(state): State<AppState>,
    Authed(account): Authed,
    QueryParams(q): QueryParams<OutboxQuery>,
) -> Reply<Outbox> {
    let page = pages::request(&q.page(), ListKind::Outbox)?;
    let id = q.instance_id;
    sandbox_instance(&state, account.id, &id).await?;
    let (messages, next_cursor) = pages::parts(
        state.store.list_outbox(account.id, &id, &page).await?,
        ListKind::Outbox,
    );
    ok(Outbox {
        messages,
        next_cursor,
    })
}
