//! A full disk is a pause, not an outage: while the data directory's filesystem is full,
//! sends answer 503 with `Retry-After` (never 500) and `/readyz` says not ready; once
//! space is freed, sends and pool writes succeed again in the same process, without a
//! restart (audit F2: one `SQLITE_FULL` used to wedge the group-commit connection).
//!
//! Runs on a small tmpfs mounted for the test; where that cannot be done (not root, no
//! `mount`), it prints why and returns.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sevenoways_server::testing::*;

/// A tmpfs of a fixed size, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes `path` until the filesystem refuses; returns how many bytes fit.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    for chunk in [64 * 1024, 4096, 512] {
        let buf = vec![0xA5u8; chunk];
        while file.write_all(&buf).is_ok() {
            written += chunk as u64;
        }
    }
    let _ = file.sync_all();
    written
}

#[tokio::test]
async fn a_full_disk_answers_503_and_heals_without_a_restart() {
    let fs = match Tmpfs::mount("3m") {
        Ok(fs) => fs,
        Err(why) => {
            println!(
                "SKIPPED a_full_disk_answers_503_and_heals_without_a_restart: cannot mount a \
                 size-capped tmpfs here ({why}); run the tests as root where mount works"
            );
            return;
        }
    };
    let data: PathBuf = fs.path().join("data");
    let mut config = fast_config(&data);
    unlimited(&mut config);
    let server = launch(config).await;
    let key = server.create_key("t", "default").await.unwrap();
    let c = client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    let inst = paired_instance(&c, "n1").await;
    let http = reqwest::Client::new();
    let base = server.base_url();
    let send = || {
        http.post(format!("{base}/api/send"))
            .header("x-api-key", &key)
            .json(&json!({
                "instanceId": "n1",
                "groups": ["Team A", "Team B"],
                "message": "x".repeat(4000),
            }))
            .send()
    };
    assert_eq!(
        send().await.unwrap().status(),
        200,
        "a send before the disk fills"
    );

    let filler = fs.path().join("filler");
    assert!(fill(&filler) > 0, "the filler took the free space");

    // Sends until the database needs space it cannot get: each is 200 (it fitted in
    // space SQLite already had) or 503, never 500.
    let mut refused = None;
    for _ in 0..500 {
        let r = send().await.unwrap();
        match r.status().as_u16() {
            200 => continue,
            503 => {
                refused = Some(r);
                break;
            }
            other => panic!(
                "a send on a full disk answered {other}: {}",
                r.text().await.unwrap()
            ),
        }
    }
    let refused = refused.expect("a send on a full disk is refused with 503");
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .expect("a 503 says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("retry"),
        "the message says to retry: {body}"
    );
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "not ready while writes fail");
    assert!(ready.headers().contains_key("retry-after"));

    // Writes on the pool's connection (pairing uses BEGIN IMMEDIATE there) fail the
    // same way while the disk is full.
    for _ in 0..20 {
        let r = http
            .post(format!("{base}/api/sandbox/instances/n1/unpair"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        assert!(
            [200, 503].contains(&r.status().as_u16()),
            "unpair on a full disk: {}",
            r.status()
        );
        if r.status() == 503 {
            break;
        }
    }

    std::fs::remove_file(&filler).unwrap();
    let freed = std::time::Instant::now();

    // Same process: sends are accepted again, and the pool's writes work.
    eventually(15, || async {
        (send().await.unwrap().status() == 200).then_some(())
    })
    .await;
    println!(
        "first send accepted {:?} after the disk was freed",
        freed.elapsed()
    );
    for _ in 0..5 {
        assert_eq!(
            send().await.unwrap().status(),
            200,
            "every send after the disk is freed"
        );
    }
    c.sandbox()
        .unpair(&inst)
        .await
        .expect("unpair after the disk is freed");
    c.sandbox()
        .pair(&inst)
        .await
        .expect("pair after the disk is freed");
    eventually(15, || async {
        let r = http.get(format!("{base}/readyz")).send().await.unwrap();
        (r.status() == 200).then_some(())
    })
    .await;
    // And what was accepted is sent.
    let last = c
        .messages()
        .send(&sevenoways_sdk::models::messages::SendRequest::new(
            inst.clone(),
            sevenoways_sdk::GroupTarget::names(["Team A"]).unwrap(),
            "after".try_into().unwrap(),
        ))
        .await
        .unwrap();
    eventually(15, || async {
        let e = c.queue().status(last.queue_id).await.unwrap();
        (e.status != sevenoways_sdk::models::queue::QueueStatus::Queued).then_some(())
    })
    .await;
    server.shutdown().await;
    drop(fs);
}
