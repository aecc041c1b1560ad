//! Three real `sevenoways-server` processes on one Postgres database, behind no balancer
//! but the test itself, which spreads requests over them: the guarantees of one process
//! hold across replicas (issue 12).
//!
//! - 200 concurrent sends on one key, spread over the three, admit exactly the plan's 60
//!   a minute: the limit is decided in the database, not per process;
//! - a cron schedule fires once per occurrence though three schedulers watch it;
//! - a replica killed with SIGKILL while it is sending loses no accepted send: the others
//!   take its leases over;
//! - any replica answers for any instance (the sandbox's state is in the database), and
//!   `keys create --database-url` makes keys every replica accepts.
//!
//! Needs `SEVENOWAYS_TEST_DATABASE_URL` (see `postgres_matrix`); skips, saying so, without.

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sevenoways_sdk::BodyEncoding;
use sevenoways_server::testing::{self, matrix};

use crate::server_process::{Proc, Spawn, cli};

const CONFIG: &str = r#"
[pacing]
min_gap_ms = 0
jitter_ms = 0
[queue]
lease_secs = 2
poll_ms = 20
[scheduler]
tick_ms = 200
[[plans]]
name = "bulk"
requests_per_minute = 0
daily_cap = 0
monthly_cap = 0
"#;

fn key(url: &str, name: &str, plan: &str) -> String {
    let out = cli(&[
        "keys",
        "create",
        "--name",
        name,
        "--plan",
        plan,
        "--database-url",
        url,
    ]);
    assert!(
        out.status.success(),
        "keys create --database-url: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("svw:"), "the password is never printed");
    stdout.lines().last().unwrap().trim().to_owned()
}

async fn replica(dir: &std::path::Path, url: &str, n: usize) -> Proc {
    // Each has a data directory (unused on Postgres) beside which `Spawn` writes its
    // configuration file.
    let data = dir.join(format!("replica{n}"));
    Spawn {
        args: vec!["--database-url", url],
        ..Spawn::new(&data, CONFIG)
    }
    .start()
    .await
}

async fn send(http: &reqwest::Client, base: &str, key: &str, instance: &str, text: &str) -> Value {
    http.post(format!("{base}/api/send-number"))
        .header("x-api-key", key)
        .json(&json!({"instanceId": instance, "phone": "971501234567", "message": text}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn outbox(http: &reqwest::Client, base: &str, key: &str, instance: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/sandbox/outbox?instanceId={instance}&limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http
            .get(url)
            .header("x-api-key", key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        messages.extend(page["messages"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return messages,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_one_postgres_keep_every_guarantee() {
    let Ok(admin) = std::env::var(matrix::URL_VAR) else {
        let _ = writeln!(
            std::io::stderr(),
            "replicas_bin: SKIPPED three replicas on one Postgres: set {} (see postgres_matrix)",
            matrix::URL_VAR
        );
        return;
    };
    if matrix::postgres().is_some() {
        return; // The matrix's child process: the parent runs this.
    }
    let url = matrix::fresh_database(&admin, "replicas").await;
    let url = url.expose().to_owned();
    let dir = tempfile::tempdir().unwrap();
    // Started at once: one migrates, the others wait for it.
    let (a, b, c) = tokio::join!(
        replica(dir.path(), &url, 0),
        replica(dir.path(), &url, 1),
        replica(dir.path(), &url, 2)
    );
    let mut replicas = vec![a, b, c];
    let bases: Vec<String> = replicas.iter().map(|p| p.base.clone()).collect();
    let http = reqwest::Client::new();

    let limited = key(&url, "limited", "default");
    let bulk = key(&url, "bulk", "bulk");
    // Set up through replica 0; every other replica sees the pairing and groups.
    let sdk = testing::client(&bases[0], &bulk, BodyEncoding::Json);
    testing::paired_instance(&sdk, "shared").await;
    let sdk_limited = testing::client(&bases[1], &limited, BodyEncoding::Json);
    testing::paired_instance(&sdk_limited, "limited").await;
    for base in &bases {
        let r: Value = http
            .get(format!("{base}/api/instances/shared"))
            .header("x-api-key", &bulk)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["instance"]["status"], "connected", "{base}: {r}");
    }

    // The schedule first: its occurrence comes at the next minute, while the rest runs.
    let created_at = Instant::now();
    let r: Value = http
        .post(format!("{}/api/schedules", bases[2]))
        .header("x-api-key", &bulk)
        .json(&json!({"instanceId": "shared", "cronExpr": "* * * * *", "groups": ["Team A"], "message": "every minute, once"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["success"], true, "{r}");

    // 200 concurrent sends on one key over three replicas: exactly the plan's 60 pass.
    let sends = (0..200).map(|i| {
        let (http, base, key) = (http.clone(), bases[i % 3].clone(), limited.clone());
        tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/send-number"))
                .header("x-api-key", &key)
                .json(&json!({"instanceId": "limited", "phone": "971501234567", "message": format!("limit {i}")}))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        })
    });
    let mut statuses = Vec::new();
    for s in sends {
        statuses.push(s.await.unwrap());
    }
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (admitted, refused),
        (60, 140),
        "the 60/min limit across three replicas: {statuses:?}"
    );

    // A replica killed while sending loses no accepted send.
    let mut accepted = Vec::new();
    for i in 0..60 {
        let r = send(&http, &bases[i % 3], &bulk, "shared", &format!("kill {i}")).await;
        assert_eq!(r["success"], true, "{r}");
        accepted.push(r["queueId"].as_u64().unwrap());
    }
    let killed = replicas.remove(0);
    drop(killed); // SIGKILL: its leases stay behind until they expire.
    let survivor = &bases[1];
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let sent: Vec<u64> = outbox(&http, survivor, &bulk, "shared")
            .await
            .iter()
            .filter(|m| {
                m["message"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("kill "))
            })
            .map(|m| m["queueId"].as_u64().unwrap())
            .collect();
        let mut unique = sent.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), sent.len(), "no message sent twice: {sent:?}");
        if sent.len() == accepted.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} accepted sends were sent after a replica was killed",
            sent.len(),
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The schedule's first occurrence, once, though three schedulers watched it (two now).
    let wait = Duration::from_secs(63).saturating_sub(created_at.elapsed());
    tokio::time::sleep(wait).await;
    let runs: Vec<Value> = outbox(&http, survivor, &bulk, "shared")
        .await
        .into_iter()
        .filter(|m| m["message"] == "every minute, once")
        .collect();
    assert!(!runs.is_empty(), "the schedule fired within a minute");
    let times: Vec<i64> = runs
        .iter()
        .map(|m| {
            chrono::DateTime::parse_from_rfc3339(m["sentAt"].as_str().unwrap())
                .unwrap()
                .timestamp()
        })
        .collect();
    // Occurrences are a minute apart; a second firing of one occurrence would be seconds.
    for pair in times.windows(2) {
        assert!(
            (pair[1] - pair[0]).abs() > 30,
            "an occurrence fired twice: {runs:?}"
        );
    }
}
