//! Revocation reaches every server on the database within a second, also one whose cache
//! holds the key, whichever process revoked it (audit F7: a deleted key worked for 30 s).

use std::time::{Duration, Instant};

use sevenoways_server::auth::hash_key;
use sevenoways_server::testing::*;

async fn status(base: &str, key: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/instances"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_every_server_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let first = launch(fast_config(dir.path())).await;
    let second = launch(fast_config(dir.path())).await;
    let key = first.create_key("tenant", "default").await.unwrap();
    let other = first.create_key("other", "default").await.unwrap();
    // Both servers have the key in their caches.
    for server in [&first, &second] {
        assert_eq!(status(&server.base_url(), &key).await.0, 200);
    }
    // A third handle on the database, as `sevenoways-server keys revoke` would be.
    let admin = sevenoways_server::testing::open_store(dir.path()).await;
    let account = admin
        .account_of_key(&hash_key(&key))
        .await
        .unwrap()
        .unwrap();
    admin
        .revoke_account(account, chrono::Utc::now(), "API key revoked")
        .await
        .unwrap()
        .unwrap();
    let revoked_at = Instant::now();
    for server in [&first, &second] {
        loop {
            let (code, body) = status(&server.base_url(), &key).await;
            if code == 401 {
                assert!(body.contains("API key revoked"), "{body}");
                println!("refused {:?} after the revocation", revoked_at.elapsed());
                break;
            }
            assert_eq!(code, 200);
            assert!(
                revoked_at.elapsed() < Duration::from_secs(1),
                "a revoked key still worked after {:?}",
                revoked_at.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            status(&server.base_url(), &other).await.0,
            200,
            "other keys work"
        );
    }
    first.shutdown().await;
    second.shutdown().await;
}
