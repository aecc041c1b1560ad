//! The real binary, killed with SIGKILL while sends are in flight, then started again on
//! the same data directory: every accepted message is sent, none is lost.

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_sevenoways-server"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
