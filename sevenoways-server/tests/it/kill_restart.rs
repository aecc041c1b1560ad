//! The real binary, killed with SIGKILL while sends are in flight, then started again on
//! the same data directory: every accepted message is sent, none is lost; and killed
//! between committing a keyed send and answering it: the retry gets the committed answer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &std::path::Path, port: u16) -> (Proc, Option<String>) {
    spawn_with(
        dir,
        port,
        Command::new(env!("CARGO_BIN_EXE_sevenoways-server")),
    )
}

/// [`spawn`] with `command` set up further by the caller (environment, stderr).
fn spawn_with(dir: &std::path::Path, port: u16, mut command: Command) -> (Proc, Option<String>) {
    if command.get_envs().all(|(k, _)| k != "RUST_LOG") {
        command.env("RUST_LOG", "warn");
    }
    let mut child = command
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    // The first start prints the key once (`export SEVENOWAYS_API_KEY=svw_…`); later
    // starts print no key.
    let stdout = child.stdout.take().unwrap();
    let mut key = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(at) = line.find("svw_") {
            key = Some(line[at..].trim().to_owned());
        }
        if line.starts_with("Stop with Ctrl-C") || line.starts_with("Create another API key") {
            break;
        }
    }
    (Proc(child), key)
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn killed_mid_queue_then_restarted_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Slow pacing keeps entries queued and leased when the process is killed; short
    // leases make the restarted process take over the in-flight one quickly.
    std::fs::write(
        dir.path().join("config.toml"),
        "[pacing]\nmin_gap_ms = 150\njitter_ms = 0\n[queue]\nlease_secs = 1\npoll_ms = 20\n",
    )
    .unwrap();
    let http = reqwest::Client::new();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (first, key) = spawn(dir.path(), port);
    let key = key.expect("first start prints a key");
    wait_healthy(&http, &base).await;

    let mut accepted = Vec::new();
    for i in 0..20 {
        let r: Value = http
            .post(format!("{base}/api/send-number"))
            .header("x-api-key", &key)
            .json(&json!({"instanceId": "sandbox", "phone": "971501234567", "message": format!("msg {i} 👋")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["success"], true, "{r}");
        accepted.push(r["queueId"].as_u64().unwrap());
    }
    drop(first); // SIGKILL: no graceful shutdown, leases left behind.

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_second, key2) = spawn(dir.path(), port);
    assert!(key2.is_none(), "a restart must not print a new key");
    wait_healthy(&http, &base).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let sent: Vec<u64> = loop {
        let r: Value = http
            .get(format!("{base}/api/sandbox/outbox?instanceId=sandbox"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ids: Vec<u64> = r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["queueId"].as_u64().unwrap())
            .collect();
        if ids.len() >= accepted.len() {
            break ids;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} sent after restart",
            ids.len(),
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        sent, accepted,
        "every accepted message in the outbox once, in order"
    );
    for id in accepted {
        let e: Value = http
            .get(format!("{base}/api/queue/{id}"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            ["sent", "delivered", "read"].contains(&e["status"].as_str().unwrap()),
            "{e}"
        );
    }
}

#[tokio::test]
async fn killed_after_the_commit_and_before_the_answer_the_retry_gets_the_committed_answer() {
    use sevenoways_server::testing::{HALT_AFTER_COMMIT_ENV, HALTED_AFTER_COMMIT};

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        // A short lease: the first process's worker may have claimed the entry before the
        // kill, and the second must not wait out a long lease to send it.
        "[pacing]\nmin_gap_ms = 0\njitter_ms = 0\n[queue]\npoll_ms = 20\nlease_secs = 2\n",
    )
    .unwrap();
    let http = reqwest::Client::new();
    let send = |base: &str, key: &str| {
        http.post(format!("{base}/api/send-number"))
            .header("x-api-key", key)
            .header("idempotency-key", "order-77")
            .json(&json!({"instanceId": "sandbox", "phone": "971501234567", "message": "Order 77 is ready"}))
            .send()
    };

    // This server halts a request keyed "order-77" once its effect and answer are committed.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_sevenoways-server"));
    command
        .env(HALT_AFTER_COMMIT_ENV, "order-77")
        .stderr(Stdio::piped());
    let (mut first, key) = spawn_with(dir.path(), port, command);
    let key = key.expect("first start prints a key");
    let stderr = first.0.stderr.take().unwrap();
    let halted = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.starts_with(HALTED_AFTER_COMMIT))
    });
    wait_healthy(&http, &base).await;

    let in_flight = tokio::spawn(send(&base, &key));
    // No sleeping: the server says when it has committed and stopped short of answering.
    let reached = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || halted.join().unwrap()),
    )
    .await
    .expect("the server halts after the commit (a build with the `testing` feature)")
    .unwrap();
    assert!(reached, "the server never reached the commit");
    assert!(!in_flight.is_finished(), "no answer was sent");
    drop(first); // SIGKILL between the commit and the answer.
    let lost = in_flight.await.unwrap();
    assert!(
        lost.is_err(),
        "the client saw the connection drop: {lost:?}"
    );

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_second, _) = spawn(dir.path(), port);
    wait_healthy(&http, &base).await;
    let retry = send(&base, &key).await.unwrap();
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let answer: Value = retry.json().await.unwrap();
    let queue_id = answer["queueId"].as_u64().expect("the committed answer");

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r: Value = http
            .get(format!("{base}/api/sandbox/outbox?instanceId=sandbox"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ids: Vec<u64> = r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["queueId"].as_u64().unwrap())
            .collect();
        if !ids.is_empty() {
            assert_eq!(ids, [queue_id], "sent once, as the answer says");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the committed send was never sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queued =
        sevenoways_server::testing::count(&dir.path().join("data"), "SELECT COUNT(*) FROM queue")
            .await;
    assert_eq!(queued, 1, "one queue entry: the retry queued nothing");
}
