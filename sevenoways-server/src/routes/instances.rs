//! `/api/instances`: the numbers of an account. Pairing is [`super::qr`].

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::instances::{
    CreateInstanceRequest, DeleteInstance, InstanceCreated, InstanceList, ListInstances,
};
use sevenoways_sdk::{Empty, Endpoint, InstanceId};

use super::pages::{self, parts};
use super::{Reply, ok, on};
use crate::AppState;
use crate::auth::{Authed, qr_token};
use crate::engine::EngineKind;
use crate::error::ApiError;
use crate::extract::{Body, PathId, QueryParams};
use crate::idempotency::{Done, answer_with};
use crate::store::{InstanceRecord, ListKind};
use crate::transport::CreateOptions;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(ListInstances::ROUTE, on(ListInstances::METHOD, list))
        .route(
            CreateInstanceRequest::ROUTE,
            on(CreateInstanceRequest::METHOD, create),
        )
        .route(DeleteInstance::ROUTE, on(DeleteInstance::METHOD, delete))
}

/// `GET /api/instances?limit=&cursor=`.
pub async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    QueryParams(q): QueryParams<sevenoways_sdk::PageParams>,
) -> Reply<InstanceList> {
    let page = pages::request(&q, ListKind::Instances)?;
    let (instances, next_cursor) = parts(
        state.store.list_instances(account.id, &page).await?,
        ListKind::Instances,
    );
    ok(InstanceList {
        instances,
        next_cursor,
    })
}

/// `POST /api/instances`: creates it on the requested `engine` (else the server's
/// `default_engine`), sets it up there (a WAHA session; a Meta phone number id checked
/// with Meta), and links its QR page (and, for the sandbox, the page whose scan button
/// pairs). An engine the server has not configured is a 400 naming what is missing; an
/// engine that fails is a 502 and leaves nothing behind.
pub async fn create(
    State(state): State<AppState>,
    Authed(account): Authed,
    Body(req): Body<CreateInstanceRequest>,
) -> Reply<InstanceCreated> {
    let label = if req.label.trim().is_empty() {
        req.instance_id.as_str()
    } else {
        req.label.trim()
    };
    let engine = match req.engine {
        Some(named) => EngineKind::from_api(named)
            .ok_or_else(|| ApiError::BadRequest("engine: expected sandbox, waha or meta".into()))?,
        None => state.config.default_engine,
    };
    let chosen = if req.engine.is_some() {
        ""
    } else {
        " (instances created without an engine use the server's default_engine)"
    };
    state
        .config
        .engine_configured(engine)
        .map_err(|why| ApiError::BadRequest(format!("engine: {why}{chosen}")))?;
    match (engine, &req.phone_number_id) {
        (EngineKind::Meta, None) => {
            return Err(ApiError::BadRequest(format!(
                "phoneNumberId: is required for a meta instance: the number's phone number id \
                 in Meta Business Manager{chosen}"
            )));
        }
        (EngineKind::Sandbox | EngineKind::Waha, Some(_)) => {
            return Err(ApiError::BadRequest(format!(
                "phoneNumberId: only meta instances have one, and this one is {engine}{chosen}"
            )));
        }
        _ => {}
    }
    let driver = state.engines.get(engine)?;
    let max = state.plans.get(&account.plan).quotas.instances;
    let links = state.clone();
    let answer = move |record: &InstanceRecord| InstanceCreated {
        qr_url: qr_token::page_url(&links, record),
        sandbox_pair_url: qr_token::sandbox_pair_url(&links, record),
        instance: record.instance.clone(),
    };
    // A sandbox number is made by the insert alone: its answer is recorded in that
    // transaction. A real engine's number is made after it, outside the store: its answer
    // is recorded once the engine has it (see `Done`).
    let in_store = engine == EngineKind::Sandbox;
    if in_store {
        answer_with(answer.clone());
    } else {
        let answer = answer.clone();
        answer_with(move |done: &Done<InstanceRecord>| answer(&done.0));
    }
    let record = state
        .store
        .create_instance(account.id, &req.instance_id, label, engine, max)
        .await?;
    let options = CreateOptions {
        phone_number_id: req.phone_number_id,
    };
    let record = match driver.create(record, &options).await {
        Ok(record) => record,
        Err(e) => {
            // Nothing half-made stays behind: the id can be used again at once.
            if let Err(cleanup) = state
                .store
                .delete_instance(account.id, &req.instance_id)
                .await
            {
                tracing::warn!(error = %cleanup, "removing an instance whose engine refused it failed");
            }
            return Err(e.into());
        }
    };
    if !in_store {
        state.store.record_answer(&Done(record.clone())).await?;
    }
    ok(answer(&record))
}

/// `DELETE /api/instances/{id}`: the engine lets go of the number (WAHA's session is
/// deleted; a Meta number stays registered with Meta), then the instance goes. 502 if the
/// engine fails, and nothing is deleted.
pub async fn delete(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
) -> Reply<Empty> {
    let record = state
        .store
        .instance_record(account.id, &id)
        .await?
        .ok_or_else(|| ApiError::instance_not_found(&id))?;
    // The engine first (WAHA's session is deleted): if it fails, the instance stays, and
    // deleting it again retries.
    // An engine no longer configured has nothing to ask: the instance just goes.
    if let Ok(driver) = state.engines.get(record.engine) {
        driver.delete(&record).await?;
    }
    if !state.store.delete_instance(account.id, &id).await? {
        return Err(ApiError::instance_not_found(&id));
    }
    ok(Empty {})
}
