//! `svw send --csv`: templates, the journal, resuming, failed rows and rate limits.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{self, api_error, bodies, queued, stderr, stdout, svw_at};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
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
    let journal = std::fs::read_to_string(dir.path().join("orders.csv.svw-journal")).unwrap();
    assert_eq!(
        journal.lines().filter(|l| !l.starts_with('#')).count(),
        3,
        "{journal}"
    );

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
    assert_eq!(bodies(&server).await.len(), 3, "nothing sent again");
}

#[tokio::test]
async fn a_run_stopped_by_a_server_error_resumes_and_sends_every_row_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 6);

    // First run: the server accepts 3 sends, then fails.
    let first = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(1))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&first)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(api_error(503, "maintenance"))
        .mount(&first)
        .await;
    let out = svw_at(&first, dir.path())
        .args(["send", "--rate", "6000", "-m", TEMPLATE, "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("run stopped") && err.contains("re-run the same command"),
        "{err}"
    );
    assert!(stdout(&out).contains("not attempted 2"), "{}", stdout(&out));
    let first_bodies = bodies(&first).await;
    // 3 accepted; row 4's 503 (without Retry-After) does not say it was not queued.
    let first_accepted = &first_bodies[..3];

    // Second run against a healthy server: row 4 may have been queued, so it is skipped.
    let second = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(2))
        .mount(&second)
        .await;
    svw_at(&second, dir.path())
        .args(["send", "--rate", "6000", "-m", TEMPLATE, "--csv"])
        .arg(&csv)
        .assert()
        .success();
    assert_eq!(bodies(&second).await.len(), 2);
    // Once checked, --retry-uncertain sends it.
    svw_at(&second, dir.path())
        .args([
            "send",
            "--rate",
            "6000",
            "-m",
            TEMPLATE,
            "--retry-uncertain",
            "--csv",
        ])
        .arg(&csv)
        .assert()
        .success();
    let second_bodies = bodies(&second).await;
    assert_eq!(second_bodies.len(), 3);

    let all: Vec<Value> = first_accepted
        .iter()
        .chain(&second_bodies)
        .cloned()
        .collect();
    let count = accepted(&all);
    assert_eq!(count.len(), 6, "{count:?}");
    assert!(count.values().all(|&n| n == 1), "{count:?}");
    assert!(
        !dir.path().join("orders.failed.csv").exists(),
        "stale failed rows removed"
    );
}

#[tokio::test]
async fn a_row_answered_with_a_500_is_journaled_uncertain_and_skipped_until_retried() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 3);
    let server = MockServer::start().await;
    // Row 2 gets a 500: it may have been queued before the server failed.
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .and(body_partial_json(json!({"phone": "971501234502"})))
        .respond_with(api_error(500, "internal error"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(3))
        .mount(&server)
        .await;
    let run = |extra: &[&str]| {
        svw_at(&server, dir.path())
            .args(["send", "--rate", "6000", "-m", TEMPLATE])
            .args(extra)
            .arg("--csv")
            .arg(&csv)
            .output()
            .unwrap()
    };
    let phones = |bodies: &[Value]| -> Vec<String> {
        bodies
            .iter()
            .map(|b| b["phone"].as_str().unwrap().to_owned())
            .collect()
    };

    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("run stopped") && err.contains("may have been queued"),
        "{err}"
    );
    assert!(err.contains("--retry-uncertain"), "{err}");
    assert_eq!(
        phones(&bodies(&server).await),
        ["971501234501", "971501234502"]
    );
    let journal = std::fs::read_to_string(dir.path().join("orders.csv.svw-journal")).unwrap();
    assert!(
        journal.contains("2\t971501234502\tuncertain\n"),
        "{journal}"
    );

    // The re-run skips row 2, says so, and sends row 3.
    let out = run(&["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["sent"], 1, "{summary}");
    assert_eq!(summary["skipped"], 1, "{summary}");
    assert_eq!(summary["skippedUncertain"], 1, "{summary}");
    assert!(
        stderr(&out).contains("may already have been queued"),
        "{}",
        stderr(&out)
    );
    let out = run(&[]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("skipped 1 (may have been queued; --retry-uncertain sends them)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        phones(&bodies(&server).await),
        ["971501234501", "971501234502", "971501234503"]
    );

    // --retry-uncertain sends row 2 again, and only row 2; afterwards it counts as sent.
    let out = run(&["--retry-uncertain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 of 3 rows: sent 1, skipped 2"),
        "{}",
        stdout(&out)
    );
    assert_eq!(phones(&bodies(&server).await)[3..], ["971501234502"]);
    let out = run(&["--retry-uncertain"]);
    assert!(out.status.success());
    assert_eq!(bodies(&server).await.len(), 4, "nothing left to send");
}

/// A server that reads each request in full, then hangs up without answering. Hands back
/// its URL and how many requests it read.
fn hanging_up_after_the_request() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().map_while(Result::ok) {
            let mut bytes = Vec::new();
            let mut chunk = [0u8; 4096];
            let whole = loop {
                if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if bytes.len() >= end + 4 + length {
                        break true;
                    }
                }
                match socket.read(&mut chunk) {
                    Ok(0) | Err(_) => break false,
                    Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                }
            };
            if whole {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (url, requests)
}

#[tokio::test]
async fn a_dropped_connection_is_uncertain_and_a_refused_one_is_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), 2);
    let journal_path = dir.path().join("orders.csv.svw-journal");
    let run = |base_url: &str| {
        common::svw(dir.path())
            .args(["--base-url", base_url, "--api-key", common::KEY])
            .args(["--instance", "number2", "send", "--rate", "6000", "-m", "x"])
            .arg("--csv")
            .arg(&csv)
            .output()
            .unwrap()
    };

    // Row 1 reaches a server that hangs up before answering: it may have been queued.
    let (url, requests) = hanging_up_after_the_request();
    let out = run(&url);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("run stopped") && err.contains("may have been queued"),
        "{err}"
    );
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "the send is not retried"
    );
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    assert!(
        journal.contains("1\t971501234501\tuncertain\n"),
        "{journal}"
    );

    // Row 2 meets a closed port: nothing was sent, so it is a plain failure, not journaled.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&format!("http://127.0.0.1:{port}"));
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("run stopped: network error"), "{err}");
    assert!(!err.contains("row 2 which may have been queued"), "{err}");
    assert!(!err.contains("a send may already be queued"), "{err}");
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    assert!(!journal.contains("971501234502"), "{journal}");

    // The re-run sends row 2 and still skips the uncertain row 1.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(9))
        .mount(&server)
        .await;
    let out = run(&server.uri());
    assert!(out.status.success(), "{}", stderr(&out));
    let got = bodies(&server).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["phone"], "971501234502");
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
    std::fs::write(&csv, "phone\n447911123456\n971501234502\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    assert!(run(&["--restart"]).status.success());
    assert_eq!(bodies(&server).await.len(), 4);
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
    let journal = std::fs::read_to_string(dir.path().join("orders.csv.svw-journal")).unwrap();
    assert_eq!(
        journal.lines().filter(|l| !l.starts_with('#')).count(),
        1,
        "{journal}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_second_ctrl_c_stops_at_once_and_journals_the_row_in_flight_as_uncertain() {
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
        stderr(&out).contains("row 1 which may have been queued"),
        "{}",
        stderr(&out)
    );
    assert_eq!(bodies(&server).await.len(), 1);
    let journal = std::fs::read_to_string(dir.path().join("orders.csv.svw-journal")).unwrap();
    let rows: Vec<&str> = journal.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows, ["1\t971501234501\tuncertain"], "{journal}");

    // A re-run leaves the row alone until --retry-uncertain.
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
    assert!(
        stderr(&out).contains("skipping 1 row(s) that may already have been queued"),
        "{}",
        stderr(&out)
    );
    let sent: Vec<Value> = bodies(&server).await;
    assert_eq!(
        accepted(&sent).into_keys().collect::<Vec<_>>(),
        ["971501234502", "971501234503"]
    );
}
