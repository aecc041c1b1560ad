//! The sandbox engine: a stateful, persistent stand-in for WhatsApp.
//!
//! It refuses what WhatsApp would refuse (an unpaired number, an unknown group, a channel
//! the number does not administer) and records everything else in the outbox. Receipts
//! (`delivered`, `read`) follow on the configured timings; see [`crate::worker`]. Pairing
//! is simulated (`/api/sandbox/instances/{id}/pair`), groups are made by
//! `/api/sandbox/instances/{id}/groups`, and every invite code names a made-up channel
//! the number administers.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sevenoways_sdk::models::channels::{Channel, ChannelRef};
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::sandbox::OutboxMessage;
use sevenoways_sdk::{ChannelId, InstanceId, NewsletterJid};
use sha2::{Digest, Sha256};

use super::{ControlError, CreateOptions, Engine, Pairing, Sent, TransportError};
use crate::engine::EngineKind;
use crate::store::{Claimed, InstanceRecord, RecipientKind, Store, StoreError};

/// How often the simulated pairing code changes, as WhatsApp's does.
pub const CODE_WINDOW_SECS: i64 = 20;

/// See the module docs.
pub struct SandboxEngine {
    store: Arc<dyn Store>,
    /// The server's secret, which the pairing codes are derived from.
    secret: Arc<[u8]>,
}

impl SandboxEngine {
    /// A sandbox over the server's store; `secret` derives the pairing codes.
    pub fn new(store: Arc<dyn Store>, secret: Arc<[u8]>) -> Self {
        Self { store, secret }
    }
}

fn transient(e: StoreError) -> TransportError {
    TransportError::Transient(e.to_string())
}

/// The current simulated pairing string: it changes every [`CODE_WINDOW_SECS`], and
/// with the instance's QR reference (a re-created instance shows other codes).
pub fn pairing_code(
    secret: &[u8],
    qr_ref: &str,
    instance: &InstanceId,
    now: DateTime<Utc>,
) -> (String, DateTime<Utc>) {
    let window = now.timestamp() / CODE_WINDOW_SECS;
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    m.update(format!("pair|{qr_ref}|{instance}|{window}").as_bytes());
    let tag = hex::encode(&m.finalize().into_bytes()[..12]);
    let expires = DateTime::from_timestamp((window + 1) * CODE_WINDOW_SECS, 0).unwrap_or(now);
    (format!("2@sevenoways-sandbox,{instance},{tag}"), expires)
}

/// The sandbox's channel directory: every invite code names a channel whose JID is
/// derived from the code, and everything else about a channel is derived from its JID,
/// so a code and its JID always find the same channel.
pub fn lookup_channel(reference: &ChannelRef) -> Channel {
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
        instance_id: InstanceId::new("pending").expect("valid"),
    }
}

#[async_trait]
impl Engine for SandboxEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Sandbox
    }

    async fn send(&self, record: &InstanceRecord, entry: &Claimed) -> Result<Sent, TransportError> {
        // Never pretend to deliver for a number another engine serves: its messages fail
        // rather than land in the simulation's outbox with made-up receipts.
        if record.engine != EngineKind::Sandbox {
            return Err(TransportError::Permanent(format!(
                "instance {} is served by the {} engine, which this server cannot send \
                 through",
                entry.instance_id, record.engine
            )));
        }
        let instance = &record.instance;
        if instance.status != InstanceStatus::Online {
            return Err(TransportError::Permanent(format!(
                "instance {} is not paired (status {}): open /api/instances/{}/qr and scan the code, \
                 or POST /api/sandbox/instances/{}/pair",
                entry.instance_id,
                instance.status.as_str(),
                entry.instance_id,
                entry.instance_id
            )));
        }
        match entry.kind {
            RecipientKind::Group => {
                let groups = self
                    .store
                    .list_groups(entry.account_id, &entry.instance_id)
                    .await
                    .map_err(transient)?;
                if !groups.iter().any(|g| g.id.as_str() == entry.to) {
                    return Err(TransportError::Permanent(format!(
                        "instance {} is not a member of group {}",
                        entry.instance_id, entry.to
                    )));
                }
            }
            RecipientKind::Channel => {
                let jid = NewsletterJid::new(&entry.to)
                    .map_err(|e| TransportError::Permanent(e.to_string()))?;
                let channel = self
                    .store
                    .channel_by_jid(entry.account_id, &entry.instance_id, &jid)
                    .await
                    .map_err(transient)?;
                match channel {
                    Some(c) if c.is_admin => {}
                    Some(_) => {
                        return Err(TransportError::Permanent(format!(
                            "instance {} is not an admin of channel {}: only admins and owners can post",
                            entry.instance_id, entry.to
                        )));
                    }
                    None => {
                        return Err(TransportError::Permanent(format!(
                            "channel {} is unknown to instance {}: add it with POST /api/channels first",
                            entry.to, entry.instance_id
                        )));
                    }
                }
            }
            // The sandbox number is in every community and reaches every phone.
            RecipientKind::Community | RecipientKind::Phone => {}
        }
        let message = OutboxMessage {
            queue_id: entry.id,
            instance_id: entry.instance_id.clone(),
            to: entry.to.clone(),
            content: entry.content.clone(),
            sent_at: Utc::now(),
        };
        self.store
            .record_outbox(&message, entry.account_id)
            .await
            .map_err(transient)?;
        Ok(Sent::default())
    }

    async fn create(
        &self,
        record: InstanceRecord,
        _: &CreateOptions,
    ) -> Result<InstanceRecord, ControlError> {
        Ok(record)
    }

    async fn delete(&self, _: &InstanceRecord) -> Result<(), ControlError> {
        Ok(())
    }

    async fn pairing(&self, record: &InstanceRecord) -> Result<Pairing, ControlError> {
        let status = record.instance.status;
        if status == InstanceStatus::Online {
            return Ok(Pairing {
                status,
                code: None,
                expires_at: None,
            });
        }
        let (code, expires) = pairing_code(
            &self.secret,
            &record.qr_ref,
            &record.instance.instance_id,
            Utc::now(),
        );
        Ok(Pairing {
            status,
            code: Some(code),
            expires_at: Some(expires),
        })
    }

    /// The sandbox's groups are the ones its endpoints made: nothing to read again.
    async fn refresh_groups(&self, record: &InstanceRecord) -> Result<Vec<Group>, ControlError> {
        Ok(self
            .store
            .list_groups(record.account_id, &record.instance.instance_id)
            .await?)
    }

    async fn channel(
        &self,
        _: &InstanceRecord,
        reference: &ChannelRef,
    ) -> Result<Channel, ControlError> {
        Ok(lookup_channel(reference))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_code_changes_each_window() {
        let id = InstanceId::new("n").unwrap();
        let t0 = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let (c1, e1) = pairing_code(b"s", "00ff", &id, t0);
        let (c2, _) = pairing_code(
            b"s",
            "00ff",
            &id,
            t0 + chrono::Duration::seconds(CODE_WINDOW_SECS),
        );
        assert_ne!(c1, c2);
        assert!(e1 > t0);
        let (other, _) = pairing_code(b"s", "00fe", &id, t0);
        assert_ne!(c1, other, "a re-created instance shows other codes");
    }
}
