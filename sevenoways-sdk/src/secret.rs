//! Secrets that must never be printed: API keys and webhook secrets.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps the secret.
            pub fn new(secret: impl Into<String>) -> Self {
                Self(secret.into())
            }

            /// The secret itself. Call this only where it is used (a header, an HMAC key).
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

secret!(
    /// An API key, sent as the `x-api-key` header. Its `Debug` output is redacted and it has
    /// no `Display`, so it cannot end up in a log line by accident.
    ///
    /// ```
    /// use sevenoways_sdk::ApiKey;
    /// let key = ApiKey::new("svw_live_abc");
    /// assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
    /// ```
    ApiKey
);

secret!(
    /// A webhook signing secret (HMAC-SHA256 key). Redacted in `Debug`, no `Display`.
    WebhookSecret
);
