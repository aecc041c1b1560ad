//! `svw webhooks`: the API subcommands, `verify` and `listen`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::{ok, stderr, stdout, svw, svw_at};
use serde_json::{Value, json};
use sevenoways_sdk::WebhookSecret;
use sevenoways_sdk::signature::{sign, sign_standard};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec_0123456789abcdef";
const BODY: &str = r#"{"id":"evt_1","event":"message.sent","timestamp":"2026-11-24T09:00:00Z","instanceId":"number2","data":{"queueId":142,"to":"971501234567"}}"#;

fn signature(body: &str) -> String {
    sign(&WebhookSecret::new(SECRET), body.as_bytes())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The Standard Webhooks headers of `body` signed at `at`.
fn standard(body: &str, at: i64) -> [(&'static str, String); 3] {
    [
        ("webhook-id", "evt_1".to_owned()),
        ("webhook-timestamp", at.to_string()),
        (
            "webhook-signature",
            sign_standard(&WebhookSecret::new(SECRET), "evt_1", at, body.as_bytes()),
        ),
    ]
}

#[test]
fn verify_checks_the_standard_webhooks_headers_and_refuses_replays() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, BODY).unwrap();
    let verify = |at: i64, extra: &[&str]| {
        let [(_, id), (_, ts), (_, sig)] = standard(BODY, at);
        svw(dir.path())
            .args(["webhooks", "verify", "--secret", SECRET])
            .args(["--webhook-id", &id, "--webhook-timestamp", &ts])
            .args(["--webhook-signature", &sig])
            .args(extra)
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = verify(now(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Signature verified (message.sent evt_1)"));
    // Both kinds at once: both must verify.
    let out = verify(now(), &["--signature", &signature(BODY)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = verify(now(), &["--signature", &signature("{}")]);
    assert_eq!(out.status.code(), Some(1));
    // Recorded an hour ago and replayed: refused, with why.
    let out = verify(now() - 3600, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("outside the 300 s tolerance") && err.contains("replayed"),
        "{err}"
    );
    assert!(!err.contains(SECRET));
    // The wrong secret.
    let [(_, id), (_, ts), (_, sig)] = standard(BODY, now());
    let out = svw(dir.path())
        .args(["webhooks", "verify", "--secret", "another-secret-0123456"])
        .args([
            "--webhook-id",
            &id,
            "--webhook-timestamp",
            &ts,
            "--webhook-signature",
            &sig,
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Malformed or incomplete headers are bad input (exit 2), naming what is missing.
    for (args, want) in [
        (
            vec!["--webhook-signature", sig.as_str(), "--webhook-id", "evt_1"],
            "--webhook-timestamp is needed",
        ),
        (
            vec![
                "--webhook-signature",
                "v2,abc",
                "--webhook-id",
                "evt_1",
                "--webhook-timestamp",
                &ts,
            ],
            "invalid Standard Webhooks header",
        ),
        (
            vec![
                "--webhook-signature",
                sig.as_str(),
                "--webhook-id",
                "evt_1",
                "--webhook-timestamp",
                "soon",
            ],
            "malformed webhook-timestamp",
        ),
    ] {
        let out = svw(dir.path())
            .args(["webhooks", "verify", "--secret", SECRET])
            .args(&args)
            .arg(&file)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Neither signature: a usage error from the argument parser.
    let out = svw(dir.path())
        .args(["webhooks", "verify", "--secret", SECRET])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn verify_exits_0_for_a_good_signature_and_1_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, BODY).unwrap();
    let good = signature(BODY);

    let out = svw(dir.path())
        .args([
            "webhooks",
            "verify",
            "--secret",
            SECRET,
            "--signature",
            &good,
        ])
        .arg(&file)
        .assert()
        .success();
    assert!(stdout(out.get_output()).contains("Signature verified (message.sent evt_1)"));
    // From stdin, with the final newline `echo` adds, and the secret from the environment.
    svw(dir.path())
        .env("SEVENOWAYS_WEBHOOK_SECRET", SECRET)
        .args(["webhooks", "verify", "--signature", &good, "-"])
        .write_stdin(format!("{BODY}\n"))
        .assert()
        .success();

    let out = svw(dir.path())
        .args([
            "webhooks",
            "verify",
            "--secret",
            "another-secret-0123456",
            "--signature",
            &good,
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1);
    assert!(!stderr(&out).contains("another-secret-0123456"));
    // Something that is not a signature at all is bad input (exit 2), with the format.
    let short = format!("sha256={}", "ab".repeat(31));
    for sig in ["sha256=00", "md5=abc", short.as_str(), "", "sha256=xyz"] {
        let out = svw(dir.path())
            .args(["webhooks", "verify", "--secret", SECRET, "--signature", sig])
            .arg(&file)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{sig:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("invalid --signature")
                && err.contains("hint: ")
                && err.contains("sha256= followed by 64 hex digits"),
            "{err}"
        );
        assert!(!err.contains(SECRET));
    }
    // A body file that cannot be read says which, and what to pass instead.
    let out = svw(dir.path())
        .args([
            "webhooks",
            "verify",
            "--secret",
            SECRET,
            "--signature",
            &good,
            "nofile.json",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nofile.json") && err.contains("; hint: ") && err.contains("stdin"),
        "{err}"
    );
    // A re-formatted body does not verify.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(BODY).unwrap()).unwrap();
    svw(dir.path())
        .args([
            "webhooks",
            "verify",
            "--secret",
            SECRET,
            "--signature",
            &good,
        ])
        .write_stdin(pretty)
        .assert()
        .code(1);
}

/// Starts `svw webhooks listen` on a free port; returns the child and its address.
fn listen(dir: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_svw"))
        .env_clear()
        .env("SVW_CONFIG", dir.join("config.toml"))
        .args(["webhooks", "listen", "--port", "0", "--secret", SECRET])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (child, addr)
}

#[tokio::test]
async fn listen_verifies_prints_and_forwards_with_headers() {
    let target = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&target)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let forward = format!("{}/hooks", target.uri());
    let (mut child, addr) = listen(dir.path(), &["--forward-to", &forward]);

    let http = reqwest::Client::new();
    let signed = http
        .post(format!("{addr}/webhook"))
        .header("content-type", "application/json")
        .header("X-Webhook-Signature", signature(BODY))
        .header("X-Webhook-Id", "evt_1")
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed.status(),
        202,
        "the forward target's status is answered back"
    );
    let forged = http
        .post(format!("{addr}/webhook"))
        .header("X-Webhook-Signature", signature("{}"))
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let unsigned = http.post(&addr).body(BODY).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    // With the Standard Webhooks headers, those are checked: a replayed delivery is
    // refused even with a good X-Webhook-Signature.
    let mut replay = http
        .post(format!("{addr}/webhook"))
        .header("X-Webhook-Signature", signature(BODY))
        .body(BODY);
    for (name, value) in standard(BODY, now() - 3600) {
        replay = replay.header(name, value);
    }
    assert_eq!(replay.send().await.unwrap().status(), 401);

    let forwarded = target.received_requests().await.unwrap();
    assert_eq!(
        forwarded.len(),
        1,
        "only the verified delivery is forwarded"
    );
    let mut fresh = http.post(format!("{addr}/webhook")).body(BODY);
    for (name, value) in standard(BODY, now()) {
        fresh = fresh.header(name, value);
    }
    assert_eq!(fresh.send().await.unwrap().status(), 202);
    let forwarded = target.received_requests().await.unwrap();
    assert_eq!(forwarded.len(), 2);
    assert!(forwarded[1].headers.get("webhook-signature").is_some());
    assert_eq!(forwarded[0].body, BODY.as_bytes());
    assert_eq!(
        forwarded[0].headers.get("x-webhook-signature").unwrap(),
        signature(BODY).as_str()
    );
    assert_eq!(forwarded[0].headers.get("x-webhook-id").unwrap(), "evt_1");

    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.lines().count(), 2, "{printed}");
    assert!(
        printed.starts_with("2026-11-24T09:00:00Z  message.sent  evt_1  number2  {\"queueId\":142"),
        "{printed}"
    );
}

#[tokio::test]
async fn listen_json_prints_each_event_as_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = listen(dir.path(), &["--json"]);
    let answer = reqwest::Client::new()
        .post(&addr)
        .header("X-Webhook-Signature", signature(BODY))
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line, serde_json::from_str::<Value>(BODY).unwrap());
}

#[tokio::test]
async fn api_subcommands_use_the_webhook_endpoints() {
    let server = MockServer::start().await;
    let webhook = json!({"id": "wh_1", "url": "https://example.com/h", "events": [], "createdAt": "2026-11-24T09:00:00Z"});
    let failing = json!({"id": "wh_2", "url": "https://example.com/f", "events": ["message.sent"],
        "createdAt": "2026-11-24T09:00:00Z", "failureStreak": 7});
    let disabled = json!({"id": "wh_3", "url": "https://example.com/d", "events": [],
        "createdAt": "2026-11-24T09:00:00Z", "disabled": true, "failureStreak": 20,
        "disabledReason": "disabled after 20 failed attempts in a row"});
    Mock::given(method("GET"))
        .and(path("/api/webhooks"))
        .respond_with(ok(json!({"webhooks": [webhook, failing, disabled]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/wh_3/enable"))
        .respond_with(ok(json!({"webhook": webhook})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/wh_1/rotate-secret"))
        .and(body_json(json!({})))
        .respond_with(ok(
            json!({"secret": "whsec_bmV3LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm",
            "previousSecretExpiresAt": "2026-11-25T09:00:00Z"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/wh_2/rotate-secret"))
        .and(body_json(json!({"secret": "my-own-new-secret-0123"})))
        .respond_with(ok(json!({"secret": "my-own-new-secret-0123",
            "previousSecretExpiresAt": "2026-11-25T09:00:00Z"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks"))
        .and(body_json(
            json!({"url": "https://example.com/h", "events": ["message.sent", "message.read"]}),
        ))
        .respond_with(ok(json!({"webhook": webhook, "secret": SECRET})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/webhooks/wh_1"))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/wh_1/test"))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/webhooks/wh_1/deliveries"))
        .respond_with(ok(json!({"deliveries": [{
            "id": "dl_1", "eventId": "evt_1", "event": "message.sent", "status": "failed",
            "attempts": 5, "responseCode": 500, "lastError": "HTTP 500", "createdAt": "2026-11-24T09:00:00Z"
        }]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/wh_1/deliveries/dl_1/redeliver"))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        stdout(
            svw_at(&server, dir.path())
                .args(args)
                .assert()
                .success()
                .get_output(),
        )
    };

    assert_eq!(
        run(&["webhooks", "list"]),
        "wh_1\thttps://example.com/h\tall\t2026-11-24 09:00 UTC\tenabled\n\
         wh_2\thttps://example.com/f\tmessage.sent\t2026-11-24 09:00 UTC\tfailing (7)\n\
         wh_3\thttps://example.com/d\tall\t2026-11-24 09:00 UTC\tdisabled\n"
    );
    let enabled = run(&["webhooks", "enable", "wh_3"]);
    assert!(enabled.contains("Enabled webhook wh_3"), "{enabled}");
    // Quiet: the new secret alone, for scripts.
    let rotated = run(&["-q", "webhooks", "rotate-secret", "wh_1"]);
    assert_eq!(rotated, "whsec_bmV3LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm\n");
    // A secret that is not whsec_<base64> comes with the form Standard Webhooks
    // libraries take.
    let mine = run(&[
        "webhooks",
        "rotate-secret",
        "wh_2",
        "--secret",
        "my-own-new-secret-0123",
    ]);
    assert!(
        mine.contains("my-own-new-secret-0123")
            && mine.contains("whsec_bXktb3duLW5ldy1zZWNyZXQtMDEyMw=="),
        "{mine}"
    );
    let created = run(&[
        "webhooks",
        "create",
        "https://example.com/h",
        "--event",
        "message.sent",
        "--event",
        "message.read",
    ]);
    assert!(
        created.contains(SECRET),
        "the new webhook's secret is shown once: {created}"
    );
    run(&["webhooks", "delete", "wh_1"]);
    run(&["webhooks", "test", "wh_1"]);
    let deliveries = run(&["webhooks", "deliveries", "wh_1"]);
    assert!(
        deliveries.starts_with("dl_1\tmessage.sent\tfailed\t5\t500\t"),
        "{deliveries}"
    );
    let done: Value =
        serde_json::from_str(&run(&["--json", "webhooks", "redeliver", "wh_1", "dl_1"])).unwrap();
    assert_eq!(done, json!({"success": true}));

    let out = svw_at(&server, dir.path())
        .args([
            "webhooks",
            "create",
            "https://example.com/h",
            "--event",
            "message.bogus",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
