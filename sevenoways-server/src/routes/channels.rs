//! `/api/channels`: saved channels, and the sends to them (through
//! [`super::messages::send`]).

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::channels::{
    AddChannelRequest, Channel, ChannelList, ChannelRef, ChannelSaved, ListChannels, RemoveChannel,
    SendDocumentToChannelRequest, SendImageToChannelRequest, SendToChannelRequest,
};
use sevenoways_sdk::{ChannelId, Empty, Endpoint};

use super::messages::post_send;
use super::pages::{self, parts};
use super::{Reply, answer_from, ok, on};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Body, PathId, QueryParams};
use crate::ids::Generate;
use crate::store::ListKind;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(ListChannels::ROUTE, on(ListChannels::METHOD, list))
        .route(AddChannelRequest::ROUTE, on(AddChannelRequest::METHOD, add))
        .route(RemoveChannel::ROUTE, on(RemoveChannel::METHOD, remove))
        .route(
            SendToChannelRequest::ROUTE,
            post_send::<SendToChannelRequest>(),
        )
        .route(
            SendImageToChannelRequest::ROUTE,
            post_send::<SendImageToChannelRequest>(),
        )
        .route(
            SendDocumentToChannelRequest::ROUTE,
            post_send::<SendDocumentToChannelRequest>(),
        )
}

/// `GET /api/channels?limit=&cursor=`.
pub async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    QueryParams(q): QueryParams<sevenoways_sdk::PageParams>,
) -> Reply<ChannelList> {
    let page = pages::request(&q, ListKind::Channels)?;
    let (channels, next_cursor) = parts(
        state.store.list_channels(account.id, &page).await?,
        ListKind::Channels,
    );
    ok(ChannelList {
        channels,
        next_cursor,
    })
}

/// `POST /api/channels`: looks the channel up through the instance's engine (WAHA
/// resolves invite links; the sandbox makes one up) and saves it. Saving the same channel
/// again refreshes it and keeps its id. 422 for a Meta Cloud API number.
pub async fn add(
    State(state): State<AppState>,
    Authed(account): Authed,
    Body(req): Body<AddChannelRequest>,
) -> Reply<ChannelSaved> {
    let record = state
        .store
        .instance_record(account.id, &req.instance_id)
        .await?
        .ok_or_else(|| ApiError::instance_not_found(&req.instance_id))?;
    let reference = ChannelRef::parse(&req.invite_link)?;
    let mut found = state
        .engines
        .get(record.engine)?
        .channel(&record, &reference)
        .await?;
    // A lookup by JID may know no invite code: keep the link saved earlier, if any.
    if matches!(reference, ChannelRef::Jid(_))
        && let Some(saved) = state
            .store
            .channel_by_jid(account.id, &req.instance_id, &found.channel_jid)
            .await?
        && (record.engine == crate::engine::EngineKind::Sandbox || found.invite_link.is_empty())
    {
        found.invite_link = saved.invite_link;
    }
    let channel = Channel {
        id: ChannelId::generate(),
        instance_id: req.instance_id,
        ..found
    };
    let max = state.plans.get(&account.plan).quotas.channels;
    answer_from(
        state.store.save_channel(account.id, &channel, max),
        |channel: &Channel| ChannelSaved {
            channel: channel.clone(),
        },
    )
    .await
}

/// `DELETE /api/channels/{id}`.
pub async fn remove(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<ChannelId>,
) -> Reply<Empty> {
    if !state.store.delete_channel(account.id, &id).await? {
        return Err(ApiError::not_found(format!(
            "channel {:?} not found",
            id.as_str()
        )));
    }
    ok(Empty {})
}
