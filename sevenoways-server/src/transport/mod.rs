//! The WhatsApp side: whatever actually delivers a queued message.
//!
//! The queue worker hands each claimed entry to a [`Transport`] and records the outcome.
//! [`sandbox::SandboxTransport`] is the default: a simulated WhatsApp that keeps its state
//! in the store, so it survives restarts and can be inspected through `/api/sandbox/*`.

pub mod sandbox;

use async_trait::async_trait;

use crate::store::Claimed;

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

/// Delivers messages.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Sends one queue entry. `Ok` means WhatsApp accepted it.
    async fn send(&self, entry: &Claimed) -> Result<(), TransportError>;
}
