//! `/api/channels`: saved channels, and the sends to them (through
//! [`super::messages::send`]).

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::channels::{
    AddChannelRequest, Channel, ChannelList, ChannelRef, ChannelSaved, ListChannels, RemoveChannel,
    SendDocumentToChannelRequest, SendImageToChannelRequest, SendToChannelRequest,
};
use sevenoways_sdk::{ChannelId, Empty, Endpoint, NewsletterJid};
use sha2::{Digest, Sha256};

use super::messages::post_send;
use super::pages::{self, parts};
use super::{Reply, ok, on};
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

/// `POST /api/channels`: looks the channel up through the instance and saves it.
/// Saving the same channel again refreshes it and keeps its id.
pub async fn add(
    State(state): State<AppState>,
    Authed(account): Authed,
    Body(req): Body<AddChannelRequest>,
) -> Reply<ChannelSaved> {
    if state
        .store
        .get_instance(account.id, &req.instance_id)
        .await?
        .is_none()
    {
        return Err(ApiError::instance_not_found(&req.instance_id));
    }
    let mut found = sandbox_lookup(&ChannelRef::parse(&req.invite_link)?);
    // A lookup by JID knows no invite code: keep the link saved earlier, if any.
    if matches!(ChannelRef::parse(&req.invite_link)?, ChannelRef::Jid(_))
        && let Some(saved) = state
            .store
            .channel_by_jid(account.id, &req.instance_id, &found.channel_jid)
            .await?
    {
        found.invite_link = saved.invite_link;
    }
    let channel = Channel {
        id: ChannelId::generate(),
        instance_id: req.instance_id,
        ..found
    };
    let max = state.plans.get(&account.plan).quotas.channels;
    ok(ChannelSaved {
        channel: state.store.save_channel(account.id, &channel, max).await?,
    })
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

/// The sandbox's channel directory: every invite code names a channel whose JID is
/// derived from the code, and everything else about a channel is derived from its JID,
/// so a code and its JID always find the same channel.
fn sandbox_lookup(reference: &ChannelRef) -> Channel {
    let (link_code, jid) = match reference {
        ChannelRef::Jid(jid) => (
            jid.as_str().trim_end_matches("@newsletter").to_owned(),
            jid.clone(),
        ),
        ChannelRef::Code(code) => {
            let hash = Sha256::digest(code.as_bytes());
            let n = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes")) % 1_000_000_000_000;
            let jid = NewsletterJid::new(format!("120363{n:012}@newsletter"))
                .expect("digits are a valid JID");
            (code.clone(), jid)
        }
    };
    let digits = jid.as_str().trim_end_matches("@newsletter");
    let subscribers = u64::from(Sha256::digest(digits.as_bytes())[0]) * 37;
    Channel {
        id: ChannelId::new("ch_pending").expect("valid"),
        name: format!(
            "Sandbox channel {}",
            &digits[digits.len().saturating_sub(6)..]
        ),
        channel_jid: jid,
        description: "A simulated channel: the sandbox number is its admin.".into(),
        subscribers,
        is_admin: true,
        invite_link: format!("https://whatsapp.com/channel/{link_code}"),
        instance_id: sevenoways_sdk::InstanceId::new("pending").expect("valid"),
    }
}
