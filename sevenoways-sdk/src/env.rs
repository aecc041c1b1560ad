//! The `SEVENOWAYS_*` environment variables, named once for the SDK, `svw` and the server.
//!
//! ```no_run
//! // What `Client::from_env` reads:
//! let key = std::env::var(sevenoways_sdk::env::API_KEY);
//! ```

/// The API key (`svw --api-key`, [`Client::from_env`](crate::Client::from_env)).
pub const API_KEY: &str = "SEVENOWAYS_API_KEY";
/// The server's base URL; the production API when unset (`svw --base-url`).
pub const BASE_URL: &str = "SEVENOWAYS_BASE_URL";
/// The sending instance of `svw` commands (`svw --instance`).
pub const INSTANCE: &str = "SEVENOWAYS_INSTANCE";
/// The `svw` configuration profile (`svw --profile`).
pub const PROFILE: &str = "SEVENOWAYS_PROFILE";
/// A webhook signing secret, for `svw webhooks verify` and `svw webhooks listen`.
pub const WEBHOOK_SECRET: &str = "SEVENOWAYS_WEBHOOK_SECRET";

/// The server's listen address (`sevenoways-server --listen`).
pub const LISTEN: &str = "SEVENOWAYS_LISTEN";
/// The server's data directory (`sevenoways-server --data-dir`).
pub const DATA_DIR: &str = "SEVENOWAYS_DATA_DIR";
/// The server's Postgres database (`sevenoways-server --database-url`):
/// `postgres://user:password@host/db`. Unset: SQLite in the data directory.
pub const DATABASE_URL: &str = "SEVENOWAYS_DATABASE_URL";
/// The server's TOML configuration file (`sevenoways-server --config`).
pub const CONFIG: &str = "SEVENOWAYS_CONFIG";
/// The server's key for sealing webhook secrets at rest: 32 bytes as 64 hex digits or
/// base64 (`openssl rand -hex 32`). Unset: secrets are stored as given.
pub const SECRETS_KEY: &str = "SEVENOWAYS_SECRETS_KEY";
/// The sealing key being replaced: secrets sealed with it are sealed again with
/// [`SECRETS_KEY`] when the server starts. Unset it once that has happened.
pub const SECRETS_KEY_PREVIOUS: &str = "SEVENOWAYS_SECRETS_KEY_PREVIOUS";

/// WAHA's API key, sent as `X-Api-Key` (`[engines.waha] api_key`).
pub const WAHA_API_KEY: &str = "SEVENOWAYS_WAHA_API_KEY";
/// Meta's Cloud API access token (`[engines.meta] access_token`).
pub const META_ACCESS_TOKEN: &str = "SEVENOWAYS_META_ACCESS_TOKEN";
/// The Meta app's secret, which signs its webhooks (`[engines.meta] app_secret`).
pub const META_APP_SECRET: &str = "SEVENOWAYS_META_APP_SECRET";
/// The token Meta's webhook handshake must present (`[engines.meta] verify_token`).
pub const META_VERIFY_TOKEN: &str = "SEVENOWAYS_META_VERIFY_TOKEN";
