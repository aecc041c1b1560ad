//! Ids the server makes up. Each id type owns its prefix (`wh_`, `dlv_`, ...), so an id
//! in a log or a support ticket says what it names, and the store and the routes share
//! one way to make them.

use sevenoways_sdk::{ChannelId, DeliveryId, EventId, ScheduleId, WebhookId};

/// An id type the server generates: its prefix and 24 random hex digits (96 bits).
pub trait Generate: Sized {
    /// What every generated id starts with.
    const PREFIX: &'static str;

    /// A fresh id.
    fn generate() -> Self;
}

macro_rules! generate {
    ($($ty:ty => $prefix:literal),* $(,)?) => {
        $(
            impl Generate for $ty {
                const PREFIX: &'static str = $prefix;

                fn generate() -> Self {
                    <$ty>::new(random_token(Self::PREFIX))
                        .expect("a prefix and hex digits make a valid id")
                }
            }
        )*
    };
}

generate! {
    ChannelId => "ch_",
    ScheduleId => "sch_",
    WebhookId => "wh_",
    DeliveryId => "dlv_",
    EventId => "evt_",
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
}
