//! The first start on an empty database.
//!
//! A development server (the sandbox is the default engine) creates a demo account and a
//! paired sandbox number `sandbox` with the group "Team A", so the README's first
//! command is followed by a curl that works, and hands the new key back once for the
//! binary to print. A production server creates nothing: its operator makes keys with
//! `sevenoways-server keys create`. Whether this is the first start is decided by the
//! store in one statement ([`Store::create_first_account`]), so of several processes
//! starting together on one database exactly one seeds and shows a key.

use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::{GroupId, InstanceId};

use crate::auth::{generate_key, hash_key};
use crate::engine::EngineKind;
use crate::routes::SANDBOX_PHONE;
use crate::store::{AccountId, Store, StoreError};

/// The demo number's instance id.
pub const DEMO_INSTANCE: &str = "sandbox";
/// The demo number's group.
pub const DEMO_GROUP: &str = "Team A";
/// The demo group's id.
pub const DEMO_GROUP_ID: &str = "120363000000000001@g.us";

/// What the first start did.
#[derive(PartialEq, Eq)]
pub enum FirstStart {
    /// This start created the demo account and its sandbox number. The key is in
    /// nothing but this value: show it once.
    Seeded {
        /// The demo account's API key.
        key: String,
    },
    /// A production server with no account yet: nothing was created.
    NoAccount,
    /// Accounts exist: nothing to do.
    NotFirst,
}

// By hand, so the key never reaches a log through `{:?}`.
impl std::fmt::Debug for FirstStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Seeded { .. } => f.write_str("Seeded { key: <redacted> }"),
            Self::NoAccount => f.write_str("NoAccount"),
            Self::NotFirst => f.write_str("NotFirst"),
        }
    }
}

/// Seeds a development server's empty database (see the module docs).
pub async fn first_start(
    store: &dyn Store,
    default_engine: EngineKind,
) -> Result<FirstStart, StoreError> {
    if default_engine != EngineKind::Sandbox {
        return Ok(if store.count_accounts().await? == 0 {
            FirstStart::NoAccount
        } else {
            FirstStart::NotFirst
        });
    }
    let key = generate_key();
    let Some(account) = store
        .create_first_account("default", "default", &hash_key(&key))
        .await?
    else {
        return Ok(FirstStart::NotFirst);
    };
    seed_sandbox(store, account).await?;
    Ok(FirstStart::Seeded { key })
}

/// A paired sandbox number with one group, so the first curl command works as printed.
async fn seed_sandbox(store: &dyn Store, account: AccountId) -> Result<(), StoreError> {
    let id = InstanceId::new(DEMO_INSTANCE).expect("valid id");
    store
        .create_instance(account, &id, "Sandbox number", EngineKind::Sandbox, 0)
        .await?;
    store
        .set_instance_status(
            account,
            &id,
            InstanceStatus::Online,
            Some(SANDBOX_PHONE),
            None,
        )
        .await?;
    let group = Group {
        id: GroupId::new(DEMO_GROUP_ID).expect("valid id"),
        name: DEMO_GROUP.into(),
        participants: 3,
    };
    store.upsert_group(account, &id, &group, 0).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn one_of_several_first_starts_seeds_and_gets_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let starts = (0..4).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { first_start(&store, EngineKind::Sandbox).await.unwrap() })
        });
        let mut keys = Vec::new();
        for start in starts {
            if let FirstStart::Seeded { key } = start.await.unwrap() {
                keys.push(key);
            }
        }
        assert_eq!(keys.len(), 1, "exactly one start shows a key");
        assert_eq!(store.count_accounts().await.unwrap(), 1);
        let account = store
            .account_by_key_hash(&hash_key(&keys[0]))
            .await
            .unwrap()
            .expect("the shown key works");
        let id = InstanceId::new(DEMO_INSTANCE).unwrap();
        let record = store
            .instance_record(account.id, &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.engine, EngineKind::Sandbox);
        assert_eq!(record.instance.status, InstanceStatus::Online);
        let groups = store.list_groups(account.id, &id).await.unwrap();
        assert_eq!(groups[0].name, DEMO_GROUP);
        assert_eq!(
            first_start(&store, EngineKind::Sandbox).await.unwrap(),
            FirstStart::NotFirst
        );
    }

    #[tokio::test]
    async fn a_production_server_seeds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        for engine in [EngineKind::Waha, EngineKind::Meta] {
            assert_eq!(
                first_start(&store, engine).await.unwrap(),
                FirstStart::NoAccount
            );
        }
        assert_eq!(store.count_accounts().await.unwrap(), 0);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let seeded = FirstStart::Seeded {
            key: "svw_secret".into(),
        };
        assert!(!format!("{seeded:?}").contains("svw_secret"));
    }
}
