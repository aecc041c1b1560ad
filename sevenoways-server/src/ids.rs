//! Ids the server makes up. Each id type owns its prefix (`wh_`, `dlv_`, ...), so an id
//! in a log or a support ticket says what it names, and the store and the routes share
//! one way to make them.
//!
//! Events and deliveries are made at message rates, and their ids are the keys of
//! B-tree indexes (`events.id`, `webhook_deliveries.id`, `webhook_attempts`). A random
//! key lands on a random leaf page, so a batch of a thousand deliveries dirtied about a
//! thousand pages of each index, each written to the WAL at commit: the webhook fan-out
//! was bound by those page writes, not by CPU (`docs/benchmarks.md`). Their ids start
//! with the time instead (like a UUIDv7), so new keys go to the index's right edge and a
//! batch touches a few pages. The random part that follows keeps them unguessable.

use sevenoways_sdk::{ChannelId, DeliveryId, EventId, ScheduleId, WebhookId};

/// An id type the server generates: its prefix and 24 random hex digits (96 bits), or,
/// for the [`ORDERED`](Generate::ORDERED) ones, the Unix time in milliseconds (12 hex
/// digits) and 16 random hex digits (64 bits).
pub trait Generate: Sized {
    /// What every generated id starts with.
    const PREFIX: &'static str;

    /// Whether ids made later sort after ids made earlier (to the millisecond).
    const ORDERED: bool;

    /// A fresh id.
    fn generate() -> Self;
}

macro_rules! generate {
    ($($ty:ty => $prefix:literal, $ordered:literal);* $(;)?) => {
        $(
            impl Generate for $ty {
                const PREFIX: &'static str = $prefix;
                const ORDERED: bool = $ordered;

                fn generate() -> Self {
                    let token = if Self::ORDERED {
                        ordered_token(Self::PREFIX, std::time::SystemTime::now())
                    } else {
                        random_token(Self::PREFIX)
                    };
                    <$ty>::new(token).expect("a prefix and hex digits make a valid id")
                }
            }
        )*
    };
}

generate! {
    ChannelId => "ch_", false;
    ScheduleId => "sch_", false;
    WebhookId => "wh_", false;
    DeliveryId => "dlv_", true;
    EventId => "evt_", true;
}

/// `prefix`, `at` in Unix milliseconds as 12 hex digits, and 16 random hex digits: ids
/// made in order sort in order. 64 random bits make two ids of one millisecond collide
/// with odds of about n²/2⁶⁵ (n ids that millisecond), and keep the id unguessable.
fn ordered_token(prefix: &str, at: std::time::SystemTime) -> String {
    let ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        & 0xffff_ffff_ffff;
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("OS randomness");
    format!("{prefix}{ms:012x}{}", hex::encode(bytes))
}

/// `prefix` and 24 random hex digits, for the few generated values that have no id type
/// (the sandbox's WhatsApp message ids).
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("OS randomness");
    format!("{prefix}{}", hex::encode(bytes))
}

/// `bytes` random bytes in hex, for values that are secret or must not be guessed (QR
/// link references, a page's script nonce).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("OS randomness");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_carry_their_prefix_and_differ() {
        let (a, b) = (WebhookId::generate(), WebhookId::generate());
        assert_ne!(a, b);
        assert!(
            a.as_str().starts_with("wh_") && a.as_str().len() == 3 + 24,
            "{a}"
        );
        assert!(DeliveryId::generate().as_str().starts_with("dlv_"));
        assert!(EventId::generate().as_str().starts_with("evt_"));
        assert!(ChannelId::generate().as_str().starts_with("ch_"));
        assert!(ScheduleId::generate().as_str().starts_with("sch_"));
    }

    #[test]
    fn event_and_delivery_ids_sort_in_the_order_they_were_made() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |ms| UNIX_EPOCH + Duration::from_millis(ms);
        let earlier = ordered_token("dlv_", at(1_764_670_000_000));
        let later = ordered_token("dlv_", at(1_764_670_000_001));
        assert!(earlier < later, "{earlier} {later}");
        assert_eq!(&earlier[..16], "dlv_019ade874b80");
        assert_eq!(earlier.len(), 4 + 12 + 16);
        // Two of one millisecond share the time and differ in the random part.
        assert_ne!(earlier, ordered_token("dlv_", at(1_764_670_000_000)));
        let (a, b) = (DeliveryId::generate(), EventId::generate());
        assert!(a.as_str().len() == 32 && b.as_str().len() == 32, "{a} {b}");
    }
}
