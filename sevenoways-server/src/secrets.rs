//! Webhook secrets sealed at rest with a key from the environment (`SEVENOWAYS_SECRETS_KEY`).
//!
//! The server must sign with each webhook's secret, so it cannot store a hash; with a key
//! configured it stores the secret sealed with XChaCha20-Poly1305 instead: a copy of the
//! database (a backup, a stolen disk) then holds no usable secret without the key. Each
//! sealed value is a version byte, a random 24-byte nonce, and the ciphertext with its tag;
//! the associated data names the row and column it belongs to, so a sealed value copied
//! into another row does not open.
//!
//! Rules (also in `docs/security.md`):
//! - secrets written before a key was configured are sealed when the server first starts
//!   with one (and stay readable until then);
//! - a key that does not open what is stored is a startup error, as is starting without a
//!   key once secrets are sealed: the server never signs with a secret it could not read.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// The first byte of every sealed value: the format, so it can change later.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The key that seals webhook secrets. Its `Debug` output is redacted.
#[derive(Clone)]
pub struct SecretsKey(XChaCha20Poly1305);

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(<redacted>)")
    }
}

/// Why a sealed value did not open: the key is another one, or the value was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed value does not open with this key")]
pub struct Unsealable;

impl SecretsKey {
    /// Reads a key of 32 bytes written as 64 hex digits or as base64 (standard or URL-safe
    /// alphabet, padding optional). The message names the variable and never echoes the
    /// value.
    ///
    /// ```
    /// use sevenoways_server::secrets::SecretsKey;
    /// assert!(SecretsKey::parse(&"ab".repeat(32)).is_ok());
    /// assert!(SecretsKey::parse("q83vEjRWeJC8q83vEjRWeJC8q83vEjRWeJC8q83vEjQ=").is_ok());
    /// let err = SecretsKey::parse("too-short").unwrap_err();
    /// assert!(err.starts_with("SEVENOWAYS_SECRETS_KEY: expected 32 bytes") && !err.contains("too-short"));
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        let text = text.trim();
        let unpadded = text.trim_end_matches('=');
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| STANDARD_NO_PAD.decode(unpadded).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(unpadded).ok())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                format!(
                    "{}: expected 32 bytes as 64 hex digits or as base64 (e.g. the output of \
                     `openssl rand -hex 32`), got {} characters that are neither",
                    sevenoways_sdk::env::SECRETS_KEY,
                    text.chars().count()
                )
            })?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| format!("{}: expected 32 bytes", sevenoways_sdk::env::SECRETS_KEY))?;
        Ok(Self(cipher))
    }

    /// A key of these bytes (the console derives one per session from its cookie).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new_from_slice(bytes).expect("a 32-byte key"))
    }

    /// A fresh random key, for tests and for `openssl`-less setups.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("OS randomness");
        Self(XChaCha20Poly1305::new_from_slice(&bytes).expect("a 32-byte key"))
    }

    /// Seals `plaintext`, bound to `context` (which row and column it is).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("OS randomness");
        let sealed = self
            .0
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals messages of any size we store");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SecretsKey::seal`] sealed with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, Unsealable> {
        let (&version, rest) = sealed.split_first().ok_or(Unsealable)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Unsealable)?;
        self.0
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key = SecretsKey::generate();
        let sealed = key.seal(b"whsec_abc", "webhook wh_1 current");
        assert!(!sealed.windows(9).any(|w| w == b"whsec_abc"));
        assert_eq!(
            key.open(&sealed, "webhook wh_1 current").unwrap(),
            b"whsec_abc"
        );
        // Another row, another key, a flipped bit, a truncated value: refused, no panic.
        assert_eq!(key.open(&sealed, "webhook wh_2 current"), Err(Unsealable));
        assert_eq!(
            SecretsKey::generate().open(&sealed, "webhook wh_1 current"),
            Err(Unsealable)
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&flipped, "webhook wh_1 current"), Err(Unsealable));
        for n in 0..sealed.len() {
            assert_eq!(
                key.open(&sealed[..n], "webhook wh_1 current"),
                Err(Unsealable)
            );
        }
        // A fresh nonce each time.
        assert_ne!(sealed, key.seal(b"whsec_abc", "webhook wh_1 current"));
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_of_32_bytes() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let hex = hex::encode(&bytes);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        let sealed = SecretsKey::parse(&hex).unwrap().seal(b"x", "c");
        for text in [hex.clone(), hex.to_uppercase(), format!(" {b64}\n"), url] {
            let key = SecretsKey::parse(&text).unwrap();
            assert_eq!(key.open(&sealed, "c").unwrap(), b"x", "{text}");
        }
        for bad in [
            "",
            &hex[..62],
            &format!("{hex}00"),
            "not a key at all, not a key at all, not a key at all, not a key!",
        ] {
            let err = SecretsKey::parse(bad).unwrap_err();
            assert!(
                err.starts_with("SEVENOWAYS_SECRETS_KEY: expected 32 bytes"),
                "{err}"
            );
            if !bad.is_empty() {
                assert!(!err.contains(bad), "{err}");
            }
        }
        assert_eq!(
            format!("{:?}", SecretsKey::parse(&hex).unwrap()),
            "SecretsKey(<redacted>)"
        );
    }
}
