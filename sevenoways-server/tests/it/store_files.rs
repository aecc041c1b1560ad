//! The database on disk: private to the server's user, and a write-ahead log that shrinks
//! back after a burst (audit F13, F14).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;
use sevenoways_server::store::Store;
use sevenoways_server::store::sqlite::{DB_FILE, SqliteStore};
use sevenoways_server::testing::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_data_directory_and_database_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay").join("data");
    let store = SqliteStore::open(&data).await.unwrap();
    store
        .create_account("t", "default", &[1; 32])
        .await
        .unwrap();
    let db = data.join(DB_FILE);
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(data.parent().unwrap()), 0o700, "created parents");
    for file in [
        db.clone(),
        data.join(format!("{DB_FILE}-wal")),
        data.join(format!("{DB_FILE}-shm")),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    // A database left readable by an older version is narrowed when opened.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = SqliteStore::open(&data).await.unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(again.count_accounts().await.unwrap(), 1);
}

#[tokio::test]
async fn the_write_ahead_log_shrinks_after_a_burst() {
    let t = start_with(|c| {
        // Longer than the burst takes, so it is not cut short by a checkpoint.
        c.database.checkpoint_secs = 5;
        unlimited(c);
    })
    .await;
    let c = t.client();
    paired_instance(&c, "n1").await;
    let http = reqwest::Client::new();
    let wal = t.dir.path().join(format!("{DB_FILE}-wal"));
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // 300 sends of 4000 characters to two groups, eight at a time.
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, base, key) = (http.clone(), t.base(), t.key.clone());
        burst.spawn(async move {
            for _ in 0..300 / 8 + 1 {
                let r = http
                    .post(format!("{base}/api/send"))
                    .header("x-api-key", &key)
                    .json(
                        &json!({"instanceId": "n1", "sendAll": true, "message": "x".repeat(4000)}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        });
    }
    let mut peak = 0;
    while !burst.is_empty() {
        peak = peak.max(size());
        tokio::select! {
            done = burst.join_next() => done.unwrap().unwrap(),
            _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {}
        }
    }
    peak = peak.max(size());
    assert!(peak > 1024 * 1024, "the burst grew the log to {peak} bytes");
    eventually(20, || async { (size() < peak / 4).then_some(()) }).await;
    t.shutdown().await;
}
