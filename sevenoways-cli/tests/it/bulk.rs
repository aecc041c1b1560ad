//! `svw send --csv`: templates, the journal and what it is a journal of, resuming, each
//! row's Idempotency-Key, failed rows and rate limits. (Exactly once against a real server
//! whose answers are lost: `server`.)

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{self, api_error, bodies, queued, stderr, stdout, svw_at};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

fn write_csv(dir: &Path, rows: usize) -> PathBuf {
    let mut text = String::from("phone,name,order\n");
    for i in 1..=rows {
        text.push_str(&format!("9715012345{i:02},Name {i} 👋,A-{i}\n"));
    }
    let file = dir.join("orders.csv");
    std::fs::write(&file, text).unwrap();
    file
}

/// How many times each phone number was accepted.
fn accepted(bodies: &[Value]) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for b in bodies {
        *count
            .entry(b["phone"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    count
}

const TEMPLATE: &str = "Hi {{name}}, order {{ order }} is ready";

/// The journal's row records (`row<TAB>recipient<TAB>queue id`), without its comment and
/// its run record.
fn journal_rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("orders.csv.svw-journal"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

/// The phone and Idempotency-Key of each send `server` received, in order.
async fn sends(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let key = r
                .headers
                .get("idempotency-key")
                .expect("every send is keyed");
            (
                body["phone"].as_str().unwrap_or_default().to_owned(),
                key.to_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn one_message_per_row_with_fields_filled_then_a_rerun_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(7))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 3);
    let out = svw_at(&server, dir.path())
        .args(["send", "--rate", "6000", "--message", TEMPLATE, "--csv"])
        .arg(&csv)
        .assert()
        .success();
    assert!(
        stdout(out.get_output()).contains("3 of 3 rows: sent 3"),
        "{:?}",
        out.get_output()
    );
    let got = bodies(&server).await;
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[1],
        json!({"instanceId": "number2", "phone": "971501234502", "message": "Hi Name 2 👋, order A-2 is ready"})
    );
    assert_eq!(journal_rows(dir.path()).len(), 3);
    // Each row its own key, made from the run and the row.
    let keys: Vec<String> = sends(&server).await.into_iter().map(|(_, k)| k).collect();
    assert!(keys.iter().all(|k| k.starts_with("svw-")), "{keys:?}");
    assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);

    let out = svw_at(&server, dir.path())
        .args([
            "--json",
            "send",
            "--rate",
            "6000",
            "--message",
            TEMPLATE,
            "--csv",
        ])
        .arg(&csv)
        .assert()
        .success();
    let summary: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        (summary["sent"].as_u64(), summary["skipped"].as_u64()),
        (Some(0), Some(3))
    );
    assert!(
        summary["runId"].as_str().is_some_and(|id| !id.is_empty()),
        "{summary}"
    );
    assert_eq!(bodies(&server).await.len(), 3, "nothing sent again");
}

#[tokio::test]
async fn a_run_stopped_by_a_server_error_resumes_and_resends_the_unanswered_row_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 6);

    // First run: the server accepts 3 sends, then fails for longer than the SDK retries.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(1))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(api_error(503, "maintenance"))
        .mount(&server)
        .await;
    let run = || {
        svw_at(&server, dir.path())
            .args(["send", "--rate", "6000", "-m", TEMPLATE, "--csv"])
            .arg(&csv)
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("run stopped") && err.contains("re-run the same command"),
        "{err}"
    );
    assert!(
        err.contains("row 4 whose answer was lost is sent with the same Idempotency-Key"),
        "{err}"
    );
    assert!(stdout(&out).contains("not attempted 2"), "{}", stdout(&out));
    let first = sends(&server).await;
    // Rows 1-3, then row 4 tried and retried by the SDK, always with row 4's key: the
    // 503s (without Retry-After) do not say it was not queued.
    assert_eq!(first.len(), 7, "{first:?}");
    assert!(first[3..].iter().all(|s| *s == first[3]), "{first:?}");
    assert_eq!(journal_rows(dir.path()).len(), 3);

    // The server is back: the re-run sends row 4 with the key it had, then rows 5 and 6.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(2))
        .mount(&server)
        .await;
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    let second = sends(&server).await;
    assert_eq!(second.len(), 3);
    assert_eq!(second[0], first[3], "the same row, the same key");
    let all: Vec<&(String, String)> = first[..4].iter().chain(&second[1..]).collect();
    let phones: BTreeSet<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(phones.len(), 6, "every row, each with one key: {all:?}");
    assert_eq!(journal_rows(dir.path()).len(), 6);
    assert!(
        !dir.path().join("orders.failed.csv").exists(),
        "stale failed rows removed"
    );
}

/// A server that reads each request in full, then hangs up without answering. Hands back
/// its URL and the Idempotency-Key of each request it read.
fn hanging_up_after_the_request() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys = Arc::new(Mutex::new(Vec::new()));
    let seen = keys.clone();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().map_while(Result::ok) {
            let mut bytes = Vec::new();
            let mut chunk = [0u8; 4096];
            let head = loop {
                if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if bytes.len() >= end + 4 + length {
                        break Some(head);
                    }
                }
                match socket.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                }
            };
            if let Some(head) = head {
                let key = head
                    .lines()
                    .find_map(|l| l.strip_prefix("idempotency-key:"))
                    .unwrap_or_default();
                seen.lock().unwrap().push(key.trim().to_owned());
            }
        }
    });
    (url, keys)
}

#[tokio::test]
async fn a_dropped_connection_is_retried_with_the_rows_key_and_so_is_the_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 2);
    let (url, keys) = hanging_up_after_the_request();
    let run = || {
        common::svw(dir.path())
            .args(["--base-url", &url, "--api-key", common::KEY])
            .args(["--instance", "number2", "send", "--rate", "6000", "-m", "x"])
            .arg("--csv")
            .arg(&csv)
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("run stopped") && err.contains("row 1 whose answer was lost"),
        "{err}"
    );
    let first = keys.lock().unwrap().clone();
    assert_eq!(
        first.len(),
        4,
        "the first try and the SDK's three retries: {first:?}"
    );
    assert!(
        first
            .iter()
            .all(|k| k.starts_with("svw-") && *k == first[0]),
        "{first:?}"
    );
    assert!(journal_rows(dir.path()).is_empty());

    let out = run();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let both = keys.lock().unwrap().clone();
    assert_eq!(both.len(), 8);
    assert!(
        both.iter().all(|k| *k == first[0]),
        "the re-run sends row 1 with its key"
    );
}

#[tokio::test]
async fn a_refused_connection_sends_nothing_and_journals_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 2);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = common::svw(dir.path())
        .args([
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
            "--api-key",
            common::KEY,
        ])
        .args([
            "--instance",
            "number2",
            "send",
            "--rate",
            "6000",
            "-m",
            "x",
            "--csv",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("run stopped: network error"), "{err}");
    assert!(
        !err.contains("whose answer was lost"),
        "nothing was sent: {err}"
    );
    assert!(!err.contains("a send may already be queued"), "{err}");
    assert!(journal_rows(dir.path()).is_empty());
}

#[tokio::test]
async fn a_killed_run_resumes_and_sends_every_row_exactly_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(3))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 4);

    // 30 a minute: a send every 2 s, at about 0 s and 2 s; killed at 3 s, between sends.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_svw"))
        .env_clear()
        .env("SVW_CONFIG", dir.path().join("config.toml"))
        .args([
            "--base-url",
            &server.uri(),
            "--api-key",
            common::KEY,
            "--instance",
            "number2",
        ])
        .args(["send", "--rate", "30", "-m", TEMPLATE, "--csv"])
        .arg(&csv)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    child.kill().unwrap();
    child.wait().unwrap();
    let sent_before = bodies(&server).await.len();
    assert!(
        (1..4).contains(&sent_before),
        "killed mid-run: {sent_before} sent"
    );

    svw_at(&server, dir.path())
        .args(["send", "--rate", "6000", "-m", TEMPLATE, "--csv"])
        .arg(&csv)
        .assert()
        .success();
    let count = accepted(&bodies(&server).await);
    assert_eq!(count.len(), 4, "{count:?}");
    assert!(count.values().all(|&n| n == 1), "{count:?}");
}

#[tokio::test]
async fn failed_rows_go_to_a_csv_and_the_rest_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send"))
        .respond_with(api_error(
            400,
            "group \"Nope\" not found on instance number2",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/send"))
        .and(wiremock::matchers::body_partial_json(
            json!({"groupIds": ["120363025246125888@g.us"]}),
        ))
        .respond_with(queued(9))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(8))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("mixed.csv");
    std::fs::write(
        &csv,
        "\u{feff}phone,groupId,group,name\n971501234567,,,Ana\n+44 12,,,Bad\n,120363025246125888@g.us,,Team\n,,Nope,Ghost\n",
    )
    .unwrap();
    let out = svw_at(&server, dir.path())
        .args(["send", "--rate", "6000", "-m", "Hi {{name}}", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("sent 2, failed 2"),
        "{}",
        stdout(&out)
    );
    let got = bodies(&server).await;
    assert!(got.contains(&json!({"instanceId": "number2", "groupIds": ["120363025246125888@g.us"], "message": "Hi Team"})));
    assert!(
        got.contains(&json!({"instanceId": "number2", "groups": ["Nope"], "message": "Hi Ghost"}))
    );
    let failed = std::fs::read_to_string(dir.path().join("mixed.failed.csv")).unwrap();
    let lines: Vec<&str> = failed.lines().collect();
    assert_eq!(lines[0], "phone,groupId,group,name,error");
    assert!(
        lines[1].starts_with("+44 12,,,Bad,\"invalid request: phone:"),
        "{failed}"
    );
    assert!(
        lines[2].starts_with(",,Nope,Ghost,") && lines[2].contains("not found"),
        "{failed}"
    );
    assert_eq!(lines.len(), 3);
}

#[tokio::test]
async fn a_429_is_waited_out_and_the_row_sent_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(
            api_error(
                429,
                "Send rate limit exceeded \u{2014} max 60 requests/minute per API key.",
            )
            .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(4))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 2);
    let started = Instant::now();
    svw_at(&server, dir.path())
        .args(["send", "--rate", "6000", "-m", "x", "--csv"])
        .arg(&csv)
        .assert()
        .success();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let got = bodies(&server).await;
    assert_eq!(got.len(), 3, "one refused, then both rows");
    assert_eq!(
        got[0]["phone"], got[1]["phone"],
        "the refused row was sent again"
    );
}

#[tokio::test]
async fn pacing_spaces_the_sends_to_the_rate() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(5))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 3);
    let started = Instant::now();
    // 120 a minute: 0.5 s apart, so three sends take at least 1 s.
    svw_at(&server, dir.path())
        .args(["-q", "send", "--rate", "120", "-m", "x", "--csv"])
        .arg(&csv)
        .assert()
        .success()
        .stdout("");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn template_fields_must_be_columns_and_the_csv_must_say_where() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 1);
    let out = svw_at(&server, dir.path())
        .args(["send", "-m", "Hi {{nmae}}", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no column named {{nmae}}"),
        "{}",
        stderr(&out)
    );

    // Other common names for the phone column are taken as it.
    let server_ok = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(9))
        .mount(&server_ok)
        .await;
    for header in ["Phone Number", "mobile", "Number", "to"] {
        let file = dir.path().join("named.csv");
        std::fs::write(&file, format!("{header},name\n971501234567,Ana\n")).unwrap();
        std::fs::remove_file(dir.path().join("named.csv.svw-journal")).ok();
        svw_at(&server_ok, dir.path())
            .args(["send", "--rate", "6000", "-m", "Hi {{name}}", "--csv"])
            .arg(&file)
            .assert()
            .success();
    }
    let sent = bodies(&server_ok).await;
    assert_eq!(sent.len(), 4);
    assert!(
        sent.iter().all(|b| b["phone"] == "971501234567"),
        "{sent:?}"
    );

    // A quote left open would swallow every row after it: refused, naming the line.
    let open_quote = dir.path().join("quote.csv");
    std::fs::write(
        &open_quote,
        "phone,name\n971501234567,\"Ana\n971501234568,Bo\n",
    )
    .unwrap();
    let out = svw_at(&server, dir.path())
        .args(["send", "-m", "Hi {{name}}", "--csv"])
        .arg(&open_quote)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the quote opened on line 2 is never closed"),
        "{}",
        stderr(&out)
    );

    let nowhere = dir.path().join("nowhere.csv");
    std::fs::write(&nowhere, "name\nAna\n").unwrap();
    let out = svw_at(&server, dir.path())
        .args(["send", "-m", "x", "--csv"])
        .arg(&nowhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no phone, groupId or group column"),
        "{}",
        stderr(&out)
    );

    let out = svw_at(&server, dir.path())
        .args(["send", "--to", "971501234567", "-m", "x", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_journal_from_another_file_is_refused_until_restart() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(6))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 2);
    let run = |extra: &[&str]| {
        svw_at(&server, dir.path())
            .args(["send", "--rate", "6000", "-m", "x"])
            .args(extra)
            .arg("--csv")
            .arg(&csv)
            .output()
            .unwrap()
    };
    assert!(run(&[]).status.success());
    // One row changed (the recipients did not even move): another file, another run.
    std::fs::write(&csv, "phone\n971501234501\n971501234599\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("orders.csv.svw-journal is the journal of another run")
            && err.contains("it sent another version of")
            && err.contains("orders.csv (the file changed since)"),
        "{err}"
    );
    assert!(err.contains("--restart"), "{err}");
    assert_eq!(
        bodies(&server).await.len(),
        2,
        "the refused run sent nothing"
    );
    let first_keys: Vec<String> = sends(&server).await.into_iter().map(|(_, k)| k).collect();
    assert!(run(&["--restart"]).status.success());
    let all = sends(&server).await;
    assert_eq!(all.len(), 4);
    assert!(
        all[2..].iter().all(|(_, k)| !first_keys.contains(k)),
        "a new run, new keys: {all:?}"
    );
}

#[tokio::test]
async fn a_rerun_with_another_template_instance_or_server_is_refused_and_names_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(6))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 3);
    assert!(
        svw_at(&server, dir.path())
            .args(["send", "--rate", "6000", "-m", TEMPLATE, "--csv"])
            .arg(&csv)
            .output()
            .unwrap()
            .status
            .success()
    );
    let journal = std::fs::read_to_string(dir.path().join("orders.csv.svw-journal")).unwrap();
    let refused = |args: &[&str], base_url: &str, instance: &str| {
        let out = common::svw(dir.path())
            .args([
                "--base-url",
                base_url,
                "--api-key",
                common::KEY,
                "--instance",
                instance,
            ])
            .args(["send", "--rate", "6000", "--csv"])
            .arg(&csv)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("is the journal of another run") && err.contains("pass --restart"),
            "{err}"
        );
        err
    };
    let uri = server.uri();
    let err = refused(&["-m", "Hello {{name}}"], &uri, "number2");
    assert!(
        err.contains(
            "it sent the text \"Hi {{name}}, order {{ order }} is ready\", this run sends the text \"Hello {{name}}\""
        ),
        "{err}"
    );
    let err = refused(&["-m", TEMPLATE], &uri, "number3");
    assert!(
        err.contains("it sent from the instance \"number2\", this run sends from \"number3\""),
        "{err}"
    );
    // Another server, one that is not even up: refused before anything is tried.
    let err = refused(&["-m", TEMPLATE], "http://127.0.0.1:9", "number2");
    assert!(
        err.contains(&format!(
            "it went to the server {uri}, this run goes to http://127.0.0.1:9"
        )),
        "{err}"
    );
    let err = refused(&["-m", TEMPLATE, "--run-id", "mine"], &uri, "number2");
    assert!(err.contains("--run-id says \"mine\""), "{err}");
    assert_eq!(bodies(&server).await.len(), 3, "none of them sent anything");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("orders.csv.svw-journal")).unwrap(),
        journal,
        "nor touched the journal"
    );
}

#[tokio::test]
async fn a_run_id_gives_the_same_keys_without_the_journal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(6))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 2);
    let run = |extra: &[&str]| {
        svw_at(&server, dir.path())
            .args(["--json", "send", "--rate", "6000", "-m", "x"])
            .args(extra)
            .arg("--csv")
            .arg(&csv)
            .output()
            .unwrap()
    };
    let out = run(&["--run-id", "newsletter-2026-12"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["runId"], "newsletter-2026-12");
    // The journal is lost (another machine, say): the same run id makes the same keys, so
    // a server that saw them answers without sending again.
    std::fs::remove_file(dir.path().join("orders.csv.svw-journal")).unwrap();
    assert!(run(&["--run-id", "newsletter-2026-12"]).status.success());
    let keys: Vec<String> = sends(&server).await.into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys[..2], keys[2..]);
    // Without it the journal's run id is used; --restart makes a new one.
    assert!(run(&[]).status.success());
    assert!(run(&["--restart"]).status.success());
    let keys: Vec<String> = sends(&server).await.into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys.len(), 6, "the plain re-run sent nothing");
    assert!(!keys[..2].contains(&keys[4]) && !keys[..2].contains(&keys[5]));
    let out = svw_at(&server, dir.path())
        .args(["send", "-m", "x", "--run-id", "bad\tid", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn an_older_journal_that_does_not_say_what_it_is_of_is_refused() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 2);
    std::fs::write(
        dir.path().join("orders.csv.svw-journal"),
        "# svw send --csv journal\n1\t971501234501\t10\n2\t971501234502\tuncertain\n",
    )
    .unwrap();
    let out = svw_at(&server, dir.path())
        .args(["send", "-m", "x", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not say which run it is the journal of"),
        "{}",
        stderr(&out)
    );
    assert!(bodies(&server).await.is_empty());
}

#[tokio::test]
async fn a_rate_limit_too_long_to_wait_stops_with_exit_4() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(
            api_error(429, "daily message cap reached").insert_header("Retry-After", "86400"),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 3);
    let out = svw_at(&server, dir.path())
        .args(["send", "--rate", "6000", "-m", "x", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(bodies(&server).await.len(), 1, "stopped at the first row");
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_finishes_the_row_in_flight_and_exits_130() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(8))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 3);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_svw"))
        .env_clear()
        .env("SVW_CONFIG", dir.path().join("config.toml"))
        .args([
            "--base-url",
            &server.uri(),
            "--api-key",
            common::KEY,
            "--instance",
            "number2",
        ])
        .args(["send", "--rate", "20", "-m", "x", "--csv"])
        .arg(&csv)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // One send at once, the next due 3 s later: SIGINT lands while it waits.
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("re-run the same command to resume"),
        "{}",
        stderr(&out)
    );
    assert_eq!(bodies(&server).await.len(), 1);
    assert_eq!(journal_rows(dir.path()).len(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn a_second_ctrl_c_stops_at_once_and_the_rerun_sends_that_row_with_its_key() {
    let server = MockServer::start().await;
    // The answer takes a minute: the row is in flight when Ctrl-C comes.
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(8).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 3);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_svw"))
        .env_clear()
        .env("SVW_CONFIG", dir.path().join("config.toml"))
        .args([
            "--base-url",
            &server.uri(),
            "--api-key",
            common::KEY,
            "--instance",
            "number2",
        ])
        .args(["send", "-m", "x", "--csv"])
        .arg(&csv)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while bodies(&server).await.is_empty() {
        assert!(Instant::now() < deadline, "the first row was never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ctrl-C until svw exits: the first asks it to stop after the row in flight, a later
    // one to stop now. A minute's wait for the answer would pass the deadline.
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "a second Ctrl-C did not stop svw"
        );
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("row 1 whose answer was lost is sent with the same Idempotency-Key"),
        "{}",
        stderr(&out)
    );
    let first = sends(&server).await;
    assert_eq!(first.len(), 1);
    assert!(journal_rows(dir.path()).is_empty());

    // The re-run sends every row, row 1 with the key it had: a server that queued it
    // answers without queuing it again.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(9))
        .mount(&server)
        .await;
    let out = svw_at(&server, dir.path())
        .args(["send", "--rate", "6000", "-m", "x", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = sends(&server).await;
    assert_eq!(
        sent.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["971501234501", "971501234502", "971501234503"]
    );
    assert_eq!(sent[0], first[0]);
}
