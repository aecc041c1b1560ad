//! Migrations on a database made by an earlier version: rows written before a column
//! existed read back as that column's documented default.

use sevenoways_sdk::InstanceId;
use sevenoways_server::config::EngineKind;
use sevenoways_server::store::Store;
use sevenoways_server::store::sqlite::SqliteStore;

/// A database migrated only up to (not including) `version`, as an older server left it.
async fn database_before(version: u32, dir: &std::path::Path) -> sqlx::SqlitePool {
    let older = dir.join("older-migrations");
    std::fs::create_dir_all(&older).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let number: u32 = name.split('_').next().unwrap().parse().unwrap();
        if number < version {
            std::fs::copy(&path, older.join(&name)).unwrap();
        }
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("sevenoways.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate::Migrator::new(older.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool
}

#[tokio::test]
async fn instances_from_before_engines_are_sandbox_ones_with_their_own_qr_reference() {
    let dir = tempfile::tempdir().unwrap();
    let old = database_before(6, dir.path()).await;
    sqlx::query(
        "INSERT INTO accounts (id, name, plan, key_hash, created_at) VALUES (1, 'a', 'default', x'00', 0)",
    )
    .execute(&old)
    .await
    .unwrap();
    for id in ["n1", "n2"] {
        sqlx::query(
            "INSERT INTO instances (account_id, instance_id, label, status, created_at)
             VALUES (1, ?, 'old', 'online', 0)",
        )
        .bind(id)
        .execute(&old)
        .await
        .unwrap();
    }
    old.close().await;

    let store = SqliteStore::open(dir.path()).await.unwrap();
    let mut refs = Vec::new();
    for id in ["n1", "n2"] {
        let record = store
            .instance_record(
                sevenoways_server::store::AccountId(1),
                &InstanceId::new(id).unwrap(),
            )
            .await
            .unwrap()
            .expect("the old row is still there");
        assert_eq!(record.engine, EngineKind::Sandbox, "{id}");
        assert_eq!(record.qr_ref.len(), 32, "{id}: {}", record.qr_ref);
        assert!(record.qr_ref.bytes().all(|b| b.is_ascii_hexdigit()));
        refs.push(record.qr_ref);
    }
    assert_ne!(refs[0], refs[1], "each instance gets its own reference");
    // A new instance next to them works (the reference column is unique).
    let created = store
        .create_instance(
            sevenoways_server::store::AccountId(1),
            &InstanceId::new("n3").unwrap(),
            "new",
            EngineKind::Sandbox,
            0,
        )
        .await
        .unwrap();
    assert!(!refs.contains(&created.qr_ref));
}
