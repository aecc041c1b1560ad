//! The sandbox transport: a stateful, persistent stand-in for WhatsApp.
//!
//! It refuses what WhatsApp would refuse (an unpaired number, an unknown group, a channel
//! the number does not administer) and records everything else in the outbox. Receipts
//! (`delivered`, `read`) follow on the configured timings; see [`crate::worker`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use sevenoways_sdk::NewsletterJid;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::sandbox::OutboxMessage;

use super::{Transport, TransportError};
use crate::engine::EngineKind;
use crate::store::{Claimed, RecipientKind, Store, StoreError};

/// See the module docs.
pub struct SandboxTransport {
    store: Arc<dyn Store>,
}

impl SandboxTransport {
    /// A sandbox over the server's store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

fn transient(e: StoreError) -> TransportError {
    TransportError::Transient(e.to_string())
}

#[async_trait]
impl Transport for SandboxTransport {
    async fn send(&self, entry: &Claimed) -> Result<(), TransportError> {
        let record = self
            .store
            .instance_record(entry.account_id, &entry.instance_id)
            .await
            .map_err(transient)?
            .ok_or_else(|| {
                TransportError::Permanent(format!("instance {} was deleted", entry.instance_id))
            })?;
        // Never pretend to deliver for a number another engine serves: its messages fail
        // rather than land in the simulation's outbox with made-up receipts.
        if record.engine != EngineKind::Sandbox {
            return Err(TransportError::Permanent(format!(
                "instance {} is served by the {} engine, which this server cannot send \
                 through",
                entry.instance_id, record.engine
            )));
        }
        let instance = record.instance;
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
            .map_err(transient)
    }
}
