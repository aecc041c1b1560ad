//! The real binary's first start on an empty data directory: a development server (the
//! sandbox is the default engine) seeds a demo account and prints its key once, on
//! stdout and never in the log; later starts print no key; a production server seeds
//! nothing and says how to make a key.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sevenoways_server::store::Store;

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

/// Starts the server and returns it with what it printed to stdout up to its last
/// start-up line, and the path its stderr (the log) goes to.
fn start(dir: &std::path::Path, port: u16, config: &str) -> (Proc, String) {
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sevenoways-server"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the server binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Stop with Ctrl-C") {
            break;
        }
    }
    (Proc(child), printed)
}

/// Every `svw_…` key in `text`.
fn keys_in(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("svw_") {
        let key: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + key.len()..];
        keys.push(key);
    }
    keys
}

async fn get(http: &reqwest::Client, url: &str, key: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match http.get(url).header("x-api-key", key).send().await {
            Ok(r) => return r.json().await.unwrap(),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("server did not answer: {e}"),
        }
    }
}

#[tokio::test]
async fn a_development_server_prints_its_first_key_once_and_never_again() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let port = free_port();
    let (first, printed) = start(dir.path(), port, "");
    let keys = keys_in(&printed);
    assert_eq!(keys.len(), 1, "the key is printed exactly once:\n{printed}");
    let key = &keys[0];
    assert_eq!(key.len(), 52, "{printed}");
    assert!(
        printed.contains("$SEVENOWAYS_API_KEY") && printed.contains("/api/send-number \\\n"),
        "it still shows how to try it, as commands to paste:\n{printed}"
    );

    // The demo account works with that key: a paired sandbox number with "Team A".
    let base = format!("http://127.0.0.1:{port}");
    let list = get(&http, &format!("{base}/api/instances"), key).await;
    assert_eq!(list["instances"][0]["instanceId"], "sandbox", "{list}");
    assert_eq!(list["instances"][0]["status"], "online", "{list}");
    let groups = get(&http, &format!("{base}/api/instances/sandbox/groups"), key).await;
    assert_eq!(groups["groups"][0]["name"], "Team A", "{groups}");
    drop(first);

    let port = free_port();
    let (_second, printed) = start(dir.path(), port, "");
    assert!(
        keys_in(&printed).is_empty(),
        "a restart prints no key:\n{printed}"
    );
    assert!(printed.contains("keys create"), "{printed}");
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(
        !log.contains(key.as_str()),
        "the key reached the log:\n{log}"
    );
}

#[tokio::test]
async fn a_production_server_seeds_nothing_and_says_how_to_make_a_key() {
    for engine in ["waha", "meta"] {
        let dir = tempfile::tempdir().unwrap();
        let (server, printed) = start(
            dir.path(),
            free_port(),
            &format!("default_engine = \"{engine}\"\n"),
        );
        assert!(keys_in(&printed).is_empty(), "{engine}: {printed}");
        assert!(
            printed.contains("sevenoways-server keys create --name"),
            "{engine}: it says how to create a key:\n{printed}"
        );
        drop(server);
        let store = sevenoways_server::store::sqlite::SqliteStore::open(&dir.path().join("data"))
            .await
            .unwrap();
        assert_eq!(store.count_accounts().await.unwrap(), 0, "{engine}");
    }
}
