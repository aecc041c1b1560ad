//! The WhatsApp side: the engines that serve numbers.
//!
//! Two seams, both chosen per instance by [`InstanceRecord::engine`]:
//!
//! - **Data plane**, [`Transport`]: the queue worker hands each claimed entry to
//!   [`Engines`], which sends it through the instance's engine and answers the engine's
//!   id of the message ([`Sent`]). The worker stores that id with the entry, so the
//!   engine's receipts reach the right `queueId` ([`crate::store::Store::apply_engine_update`]).
//! - **Control plane**, [`Engine`]: what the routes ask of an engine: set a number up
//!   ([`Engine::create`]) and tear it down, its pairing code, its groups, channel lookups,
//!   and which recipients it can serve at all ([`Engine::check_target`]).
//!
//! Three engines implement both:
//! - [`sandbox::SandboxEngine`], the default: a simulated WhatsApp that keeps its state in
//!   the store, so it survives restarts and can be inspected through `/api/sandbox/*`;
//! - [`waha::WahaEngine`], a self-hosted WAHA (one WAHA session per instance);
//! - [`meta::MetaEngine`], Meta's WhatsApp Cloud API (one phone number id per instance).
//!
//! Engine URLs come from the operator's configuration and are trusted: they are not put
//! through [`crate::ssrf`] (WAHA usually runs on loopback or a private network), while
//! every call has a time limit and never follows redirects (the API key stays with the
//! host it was configured for).

pub mod meta;
pub mod sandbox;
pub mod waha;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sevenoways_sdk::models::channels::{Channel, ChannelRef};
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::{PhoneNumberId, Target};

use crate::engine::EngineKind;
use crate::store::{Claimed, InstanceRecord, Store, StoreError};

/// Why a hand-over failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Worth another try later (connection lost, WhatsApp busy).
    #[error("{0}")]
    Transient(String),
    /// Will never work (instance not paired, not a channel admin).
    #[error("{0}")]
    Permanent(String),
}

/// What an engine answered for an accepted message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The engine's id of the message, which its receipts name; `None` when the engine
    /// has no receipts (the sandbox, whose clock works on queue ids).
    pub provider_id: Option<String>,
}

/// Delivers messages: the queue worker's seam.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Sends one queue entry. `Ok` means WhatsApp accepted it.
    async fn send(&self, entry: &Claimed) -> Result<Sent, TransportError>;
}

/// Why a control-plane call failed; each maps to one HTTP status (see `routes`).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// 400: the request names something the engine does not know (a phone number id).
    #[error("{0}")]
    Invalid(String),
    /// 404: the engine does not know what was looked up (a channel).
    #[error("{0}")]
    NotFound(String),
    /// 409: not in this state (pairing an online number, a Cloud API number's QR code).
    #[error("{0}")]
    Conflict(String),
    /// 422: the engine can never do this (channels on the Cloud API).
    #[error("{0}")]
    Unsupported(String),
    /// 502: the engine failed or could not be reached. The message says which and why,
    /// never with a secret or the engine's URL.
    #[error("{0}")]
    Engine(String),
    /// The engine is not configured on this server (any more).
    #[error("{0}")]
    NotConfigured(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an engine's webhook was refused; `routes::engines` answers 401, 400 or 500 (the
/// last so the engine delivers it again).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// Unsigned, mis-signed, or for nobody this server knows: nothing is changed.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed, but not what the engine's contract describes.
    #[error("{0}")]
    Invalid(String),
    /// The store failed; the engine retries.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a number shows to pair: its status and, while pairing, the current code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    /// The number's status.
    pub status: InstanceStatus,
    /// The string to draw as a QR code; `None` once paired, or while the engine has none
    /// yet (WAHA starting a session).
    pub code: Option<String>,
    /// When to look for a new code.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What creating an instance needs besides its id and label.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The Meta Cloud API phone number id (`meta` instances).
    pub phone_number_id: Option<PhoneNumberId>,
}

/// One engine: how it sends for the numbers it serves, and how it manages them.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Which engine this is.
    fn kind(&self) -> EngineKind;

    /// Sends one claimed entry of `record`'s number (the data plane, through [`Engines`]).
    async fn send(&self, record: &InstanceRecord, entry: &Claimed) -> Result<Sent, TransportError>;

    /// Refuses, when a send or schedule is requested, recipients this engine can never
    /// reach (422), so nothing is queued that cannot go out.
    fn check_target(&self, _record: &InstanceRecord, _target: &Target) -> Result<(), ControlError> {
        Ok(())
    }

    /// Whether [`Engine::check_target`] refuses anything: an engine that overrides it says
    /// so here, and while no configured engine does, the send path need not read the
    /// instance's record (its existence is checked in the group commit).
    fn restricts_targets(&self) -> bool {
        false
    }

    /// Sets the number up on the engine after the store created `record`; answers the
    /// record as it now is. On an error the route deletes the instance again, so an
    /// engine undoes what it did before answering one.
    async fn create(
        &self,
        record: InstanceRecord,
        options: &CreateOptions,
    ) -> Result<InstanceRecord, ControlError>;

    /// Tears the number down on the engine before the store deletes it. Must succeed for
    /// something already gone.
    async fn delete(&self, record: &InstanceRecord) -> Result<(), ControlError>;

    /// The number's status and current pairing code.
    async fn pairing(&self, record: &InstanceRecord) -> Result<Pairing, ControlError>;

    /// Reads the number's groups from the engine and keeps them in the store; answers
    /// them, sorted by name.
    async fn refresh_groups(&self, record: &InstanceRecord) -> Result<Vec<Group>, ControlError>;

    /// Looks a channel up through the number. The answer's `id` is a placeholder the
    /// route replaces.
    async fn channel(
        &self,
        record: &InstanceRecord,
        reference: &ChannelRef,
    ) -> Result<Channel, ControlError>;
}

/// The engines of this server, by kind; the worker's [`Transport`].
pub struct Engines {
    store: Arc<dyn Store>,
    /// Always there.
    pub sandbox: Arc<sandbox::SandboxEngine>,
    /// With `[engines.waha]`.
    pub waha: Option<Arc<waha::WahaEngine>>,
    /// With `[engines.meta]`.
    pub meta: Option<Arc<meta::MetaEngine>>,
}

impl Engines {
    /// The engines of a configuration (see [`crate::launch`]).
    pub fn new(
        store: Arc<dyn Store>,
        sandbox: Arc<sandbox::SandboxEngine>,
        waha: Option<Arc<waha::WahaEngine>>,
        meta: Option<Arc<meta::MetaEngine>>,
    ) -> Self {
        Self {
            store,
            sandbox,
            waha,
            meta,
        }
    }

    /// Whether any configured engine refuses some recipients ([`Engine::restricts_targets`]).
    pub fn restricts_targets(&self) -> bool {
        self.sandbox.restricts_targets()
            || self.waha.as_ref().is_some_and(|e| e.restricts_targets())
            || self.meta.as_ref().is_some_and(|e| e.restricts_targets())
    }

    /// The engine of `kind`, if this server has it configured.
    pub fn get(&self, kind: EngineKind) -> Result<Arc<dyn Engine>, ControlError> {
        let engine: Option<Arc<dyn Engine>> = match kind {
            EngineKind::Sandbox => Some(self.sandbox.clone()),
            EngineKind::Waha => self.waha.clone().map(|e| e as Arc<dyn Engine>),
            EngineKind::Meta => self.meta.clone().map(|e| e as Arc<dyn Engine>),
        };
        engine.ok_or_else(|| {
            ControlError::NotConfigured(format!(
                "this server no longer has the {kind} engine configured (its {} table is \
                 missing)",
                kind.config_table().unwrap_or("engine")
            ))
        })
    }
}

#[async_trait]
impl Transport for Engines {
    async fn send(&self, entry: &Claimed) -> Result<Sent, TransportError> {
        let record = self
            .store
            .instance_record(entry.account_id, &entry.instance_id)
            .await
            .map_err(|e| TransportError::Transient(e.to_string()))?
            .ok_or_else(|| {
                TransportError::Permanent(format!("instance {} was deleted", entry.instance_id))
            })?;
        let engine = self
            .get(record.engine)
            .map_err(|e| TransportError::Permanent(e.to_string()))?;
        let result = engine.send(&record, entry).await;
        let outcome = match &result {
            Ok(_) => "sent",
            Err(TransportError::Transient(_)) => "transient",
            Err(TransportError::Permanent(_)) => "permanent",
        };
        crate::telemetry::send_outcome(record.engine.as_str(), outcome);
        result
    }
}

/// The HTTP client engines are called with: the operator's URLs, so no SSRF guard, but a
/// time limit, no redirects (an API key must not follow one to another host) and no
/// cookies.
pub(crate) fn engine_http(timeout_ms: u64) -> reqwest::Client {
    let timeout = std::time::Duration::from_millis(timeout_ms.max(1));
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sevenoways-relay/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a rustls client always builds")
}

/// What went wrong on the way to an engine, for a person: never the URL (an operator's
/// internal address) and never a header.
pub(crate) fn network_reason(engine: &str, e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("{engine} did not answer in time")
    } else if e.is_connect() {
        format!("cannot reach {engine} (connection refused or no route)")
    } else if e.is_decode() || e.is_body() {
        format!("{engine}'s answer could not be read")
    } else {
        format!("the connection to {engine} failed")
    }
}

/// Reads at most `limit` bytes of an answer; more is an error (an engine's list can be
/// large, but not unbounded).
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        if e.is_timeout() {
            "the answer did not arrive in time".to_owned()
        } else {
            "the answer was cut off".to_owned()
        }
    })? {
        if out.len() + chunk.len() > limit {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `s` cut to at most `max` characters, for engine messages quoted in reasons.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("héllo", 3), "hél…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
