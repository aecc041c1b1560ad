//! `sevenoways-server keys create|list|revoke|rotate`: keys are printed once, as the last
//! line of stdout, and stored only as hashes; `--plan` must name a plan; revocation by
//! another process reaches a running server within a second and stops the account's
//! work; a rotated key keeps working for its grace period only.

use std::process::Command;

#[test]
fn keys_create_prints_a_key_that_is_stored_only_as_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sevenoways-server"))
        .args([
            "keys",
            "create",
            "--name",
            "Ops team",
            "--plan",
            "default",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim();
    assert!(key.starts_with("svw_") && key.len() == 52, "{stdout}");

    // The key itself is nowhere in the data directory; its SHA-256 is.
    let mut db = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        db.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &[u8]| db.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(key.as_bytes()),
        "the plain key must not be stored"
    );
    assert!(
        contains(&sevenoways_server::auth::hash_key(key)),
        "its hash is stored"
    );

    // A second key is different.
    let out = Command::new(env!("CARGO_BIN_EXE_sevenoways-server"))
        .args(["keys", "create", "--name", "Other", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let second = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(second, key);
}

use std::time::{Duration, Instant};

use sevenoways_sdk::BodyEncoding;
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_sdk::{Content, GroupTarget};
use sevenoways_server::auth::hash_key;
use sevenoways_server::store::sqlite::SqliteStore;
use sevenoways_server::store::{PageRequest, Store};
use sevenoways_server::testing::{client, paired_instance};

use crate::server_process::{Spawn, cli, create_key};

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `GET /api/instances` with `key`: the status and the body.
async fn call(base: &str, key: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/instances"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[test]
fn keys_create_refuses_a_plan_the_config_does_not_define() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let out = cli(&[
        "keys",
        "create",
        "--name",
        "A",
        "--plan",
        "pro",
        "--data-dir",
        data,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--plan") && err.contains("\"pro\"") && err.contains("default"),
        "{err}"
    );

    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[plans]]\nname = \"pro\"\nrequests_per_minute = 120\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = cli(&[
        "keys",
        "create",
        "--name",
        "A",
        "--plan",
        "pro",
        "--data-dir",
        data,
        "--config",
        config,
    ]);
    let key = stdout(&out).lines().last().unwrap().trim().to_owned();
    assert!(key.starts_with("svw_"));
    let list = stdout(&cli(&["keys", "list", "--data-dir", data]));
    assert!(
        list.lines()
            .any(|l| l.contains(" A ") && l.contains(" pro ")),
        "{list}"
    );
}

#[test]
fn keys_list_shows_every_key_but_never_a_key_or_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = create_key(&data, "Ops team");
    let second = create_key(&data, "Shop");
    let typo = dir.path().join("typo");
    let missing = cli(&["keys", "list", "--data-dir", typo.to_str().unwrap()]);
    assert!(
        !missing.status.success(),
        "a mistyped data directory is not a new database"
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no database at"));
    let list = stdout(&cli(&[
        "keys",
        "list",
        "--data-dir",
        data.to_str().unwrap(),
    ]));
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("ACCOUNT") && lines[0].contains("LAST USED"),
        "{list}"
    );
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[1].contains("Ops team") && lines[1].contains("default"),
        "{list}"
    );
    assert!(
        lines[1].contains("never") && lines[1].ends_with("active"),
        "{list}"
    );
    assert!(lines[2].contains("Shop"), "{list}");
    for key in [&first, &second] {
        let body = key.trim_start_matches("svw_");
        assert!(!list.contains(&body[..12]), "a key is in the listing");
        assert!(
            !list.contains(&hex::encode(hash_key(key))[..12]),
            "a hash is in the listing"
        );
    }
}

#[tokio::test]
async fn a_key_revoked_by_another_process_is_refused_within_a_second_and_its_work_stops() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "Leaked");
    let other = create_key(&data, "Other");
    // Slow pacing keeps sends queued; loopback webhooks are allowed.
    let server = Spawn::new(
        &data,
        "[pacing]\nmin_gap_ms = 600000\njitter_ms = 0\n[network]\nallow_loopback = true\n",
    )
    .start()
    .await;
    let c = client(&server.base, &key, BodyEncoding::Json);
    let number = paired_instance(&c, "n1").await;
    let mut queued = Vec::new();
    for i in 0..3 {
        let q = c
            .messages()
            .send_number(&SendNumberRequest::new(
                number.clone(),
                "971501234567".parse().unwrap(),
                format!("msg {i}").try_into().unwrap(),
            ))
            .await
            .unwrap();
        queued.push(q.queue_id);
    }
    c.schedules()
        .create(
            &CreateScheduleRequest::new(
                number.clone(),
                "every minute",
                "* * * * *".parse().unwrap(),
                "UTC".parse().unwrap(),
                ScheduleTarget::Groups(GroupTarget::names(["Team A"]).unwrap()),
                Content::Text {
                    message: "tick".try_into().unwrap(),
                },
            )
            .unwrap(),
        )
        .await
        .unwrap();
    c.webhooks()
        .create(&CreateWebhookRequest {
            url: "http://127.0.0.1:9/attacker".into(),
            events: Vec::new(),
            secret: None,
        })
        .await
        .unwrap();
    // The key is in the server's cache now.
    assert_eq!(call(&server.base, &key).await.0, 200);

    // Revoked by another process, naming the key itself.
    let out = cli(&["keys", "revoke", &key, "--data-dir", data.to_str().unwrap()]);
    let revoked_at = Instant::now();
    let said = stdout(&out);
    assert!(
        said.contains("Revoked account") && said.contains("\"Leaked\""),
        "{said}"
    );
    assert!(said.contains("unsent message(s) failed"), "{said}");
    assert!(said.contains("1 schedule(s) stopped"), "{said}");
    assert!(said.contains("1 webhook subscription(s) removed"), "{said}");
    assert!(said.contains("http://127.0.0.1:9/attacker"), "{said}");
    loop {
        let (code, body) = call(&server.base, &key).await;
        if code == 401 {
            assert!(body.contains("API key revoked"), "{body}");
            println!(
                "revoked key refused {:?} after keys revoke exited",
                revoked_at.elapsed()
            );
            break;
        }
        assert_eq!(code, 200, "{body}");
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the running server accepted a revoked key for {:?}",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        call(&server.base, &other).await.0,
        200,
        "other keys still work"
    );

    // Its work stopped: unsent messages failed, no schedule will run, no subscription left.
    let store = SqliteStore::open(&data).await.unwrap();
    let account = store
        .account_of_key(&hash_key(&key))
        .await
        .unwrap()
        .unwrap();
    let mut failed = 0;
    for id in queued {
        let entry = store.get_entry(account, id).await.unwrap().unwrap();
        if entry.error.as_deref() == Some("API key revoked before the message was sent") {
            failed += 1;
        }
    }
    assert!(
        failed >= 2,
        "the queued messages failed ({failed} of 3; one may have been sent)"
    );
    let schedules = store
        .list_schedules(account, &PageRequest::first(1000))
        .await
        .unwrap()
        .items;
    assert!(
        schedules.iter().all(|s| s.next_run_at.is_none()),
        "{schedules:?}"
    );
    assert!(
        store
            .list_webhooks(account, &PageRequest::first(1000))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let list = stdout(&cli(&[
        "keys",
        "list",
        "--data-dir",
        data.to_str().unwrap(),
    ]));
    assert!(
        list.lines()
            .any(|l| l.contains("Leaked") && l.contains("revoked")),
        "{list}"
    );
    let again = cli(&["keys", "revoke", &key, "--data-dir", data.to_str().unwrap()]);
    assert!(!again.status.success(), "revoking twice is an error");
}

#[tokio::test]
async fn a_rotated_key_works_for_its_grace_period_and_the_new_one_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let old = create_key(&data, "Shop");
    let server = Spawn::new(&data, "").start().await;
    assert_eq!(call(&server.base, &old).await.0, 200);
    let bad = cli(&[
        "keys",
        "rotate",
        "1",
        "--grace",
        "5x",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("24h"));

    let list = stdout(&cli(&[
        "keys",
        "list",
        "--data-dir",
        data.to_str().unwrap(),
    ]));
    let account = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let out = cli(&[
        "keys",
        "rotate",
        &account,
        "--grace",
        "3s",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let rotated_at = Instant::now();
    let said = stdout(&out);
    let new = said.lines().last().unwrap().trim().to_owned();
    assert!(new.starts_with("svw_") && new != old, "{said}");
    assert!(said.contains("the old key works until"), "{said}");
    assert_eq!(
        call(&server.base, &new).await.0,
        200,
        "the new key works at once"
    );
    assert_eq!(
        call(&server.base, &old).await.0,
        200,
        "the old key works in its grace period"
    );
    loop {
        let (code, body) = call(&server.base, &old).await;
        if code == 401 {
            assert!(body.contains("expired"), "{body}");
            break;
        }
        assert!(
            rotated_at.elapsed() < Duration::from_secs(5),
            "the old key outlived its 3 s grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        rotated_at.elapsed() >= Duration::from_secs(2),
        "refused before its grace period ended"
    );
    assert_eq!(call(&server.base, &new).await.0, 200);
    let list = stdout(&cli(&[
        "keys",
        "list",
        "--data-dir",
        data.to_str().unwrap(),
    ]));
    assert!(list.lines().any(|l| l.contains("expired")), "{list}");
    assert!(
        list.lines().filter(|l| l.ends_with("active")).count() == 1,
        "{list}"
    );
    // Both keys were used, and the listing says so (recorded off the request path).
    sevenoways_server::testing::eventually(5, || async {
        let list = stdout(&cli(&[
            "keys",
            "list",
            "--data-dir",
            data.to_str().unwrap(),
        ]));
        (!list.contains("never")).then_some(())
    })
    .await;
}
