//! `/api/channels`: saved channels.

use axum::extract::State;
use sevenoways_sdk::models::channels::{
    AddChannelRequest, Channel, ChannelList, ChannelRef, ChannelSaved,
};
use sevenoways_sdk::{ChannelId, Empty, NewsletterJid};
use sha2::{Digest, Sha256};

use super::instances::instance_not_found;
use super::{Reply, ok};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Body, PathId};
use crate::store::sqlite::random_id;

/// `GET /api/channels`.
pub async fn list(State(state): State<AppState>, Authed(account): Authed) -> Reply<ChannelList> {
    ok(ChannelList {
        channels: state.store.list_channels(account.id).await?,
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
        return Err(instance_not_found(&req.instance_id));
    }
    let found = sandbox_lookup(&ChannelRef::parse(&req.invite_link)?);
    let channel = Channel {
        id: ChannelId::new(random_id("ch_")).expect("generated ids are valid"),
        instance_id: req.instance_id,
        ..found
    };
    ok(ChannelSaved {
        channel: state.store.save_channel(account.id, &channel).await?,
    })
}

/// `DELETE /api/channels/:id`.
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

/// The sandbox's channel directory: every invite code names a channel, derived from the
/// code so the same code always finds the same channel (and JID).
fn sandbox_lookup(reference: &ChannelRef) -> Channel {
    let (code, jid) = match reference {
        ChannelRef::Jid(jid) => {
            let digits = jid.as_str().trim_end_matches("@newsletter");
            (digits.to_owned(), jid.clone())
        }
        ChannelRef::Code(code) => {
            let hash = Sha256::digest(code.as_bytes());
            let n = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes")) % 1_000_000_000_000;
            let jid = NewsletterJid::new(format!("120363{n:012}@newsletter"))
                .expect("digits are a valid JID");
            (code.clone(), jid)
        }
    };
    let subscribers = u64::from(Sha256::digest(code.as_bytes())[0]) * 37;
    Channel {
        id: ChannelId::new("ch_pending").expect("valid"),
        channel_jid: jid,
        name: format!("Sandbox channel {code}"),
        description: "A simulated channel: the sandbox number is its admin.".into(),
        subscribers,
        is_admin: true,
        invite_link: format!("https://whatsapp.com/channel/{code}"),
        instance_id: sevenoways_sdk::InstanceId::new("pending").expect("valid"),
    }
}
