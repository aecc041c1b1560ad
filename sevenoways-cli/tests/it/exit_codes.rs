//! Each class of failure exits with its documented code and says why on one stderr line,
//! with a hint, and never with the API key in it.

use crate::common::{KEY, api_error, stderr, svw, svw_at};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs `svw send --to ... -m hi` against a server answering `answer`, returns the output.
async fn send_against(answer: ResponseTemplate) -> std::process::Output {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    svw_at(&server, dir.path())
        .args(["send", "--to", "971501234567", "-m", "hi"])
        .output()
        .unwrap()
}

fn assert_one_error_line(out: &std::process::Output, code: i32, cause: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(cause) && err.contains("; hint: "),
        "{err}"
    );
    assert!(!err.contains(KEY), "the key leaked: {err}");
}

#[tokio::test]
async fn api_errors_exit_1() {
    let out = send_against(api_error(400, "phone: expected digits only")).await;
    assert_one_error_line(&out, 1, "API error (400): phone: expected digits only");
    let out = send_against(api_error(404, "instance number2 not found")).await;
    assert_one_error_line(&out, 1, "not found (404)");
    // A 500 on a send is not retried (the message may be queued) and is an API error.
    let out = send_against(ResponseTemplate::new(500).set_body_string("boom\nstack trace")).await;
    assert_one_error_line(&out, 1, "API error (500): boom stack trace");
}

#[tokio::test]
async fn auth_failures_exit_3() {
    let out = send_against(api_error(401, &format!("invalid API key {KEY}"))).await;
    assert_one_error_line(&out, 3, "unauthorized (401): invalid API key <redacted>");
    let out = send_against(api_error(403, "key revoked")).await;
    assert_one_error_line(&out, 3, "key revoked");

    let dir = tempfile::tempdir().unwrap();
    let out = svw(dir.path())
        .args([
            "--instance",
            "number2",
            "send",
            "--to",
            "971501234567",
            "-m",
            "hi",
        ])
        .output()
        .unwrap();
    assert_one_error_line(&out, 3, "no API key");
}

#[tokio::test]
async fn rate_limits_exit_4() {
    // A Retry-After longer than the client waits for: the error reaches the user.
    let answer = api_error(
        429,
        "Send rate limit exceeded \u{2014} max 60 requests/minute per API key.",
    )
    .insert_header("Retry-After", "3600");
    let out = send_against(answer).await;
    assert_one_error_line(
        &out,
        4,
        "rate limited (429): Send rate limit exceeded \u{2014} max 60",
    );
    assert!(stderr(&out).contains("wait 3600s"));
}

#[tokio::test]
async fn a_per_minute_429_is_reported_at_once_not_sat_out() {
    // The real limit answers with a Retry-After of up to 60 s: svw does not sit
    // silently through it (nor retry), it exits 4 and says how long to wait.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(
            api_error(
                429,
                "Send rate limit exceeded \u{2014} max 60 requests/minute per API key.",
            )
            .insert_header("Retry-After", "42"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = svw_at(&server, dir.path())
        .args(["send", "--to", "971501234567", "-m", "hi"])
        .output()
        .unwrap();
    assert_one_error_line(&out, 4, "rate limited (429)");
    assert!(stderr(&out).contains("wait 42s"), "{}", stderr(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn network_failures_exit_5() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out = svw(dir.path())
        .args([
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
            "--api-key",
            KEY,
            "--instance",
            "n",
        ])
        .args(["send", "--to", "971501234567", "-m", "hi"])
        .output()
        .unwrap();
    assert_one_error_line(&out, 5, "network error");
}

#[tokio::test]
async fn usage_errors_exit_2_before_any_request() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &["send", "--to", "+44", "-m", "hi"],
        &["send", "-m", "hi"],
        &["send", "--to", "971501234567"],
        &["send", "--group-id", "Team A", "-m", "hi"],
        &["send", "--group", "A", "--all", "-m", "hi"],
        &["send", "--to", "971501234567", "--image", "not a url"],
        &["send", "--to", "971501234567", "--caption", "no image"],
        &["send", "--to", "971501234567", "-m", "   "],
        &[
            "send",
            "--to",
            "971501234567",
            "--message-file",
            "/no/such/file",
        ],
        &["send", "--bogus"],
        &[
            "schedules",
            "create",
            "--cron",
            "0 25 * * *",
            "--all",
            "-m",
            "x",
        ],
        &["queue", "status", "abc"],
        &["nonsense"],
    ];
    for args in cases {
        let out = svw_at(&server, dir.path()).args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty());
    }
    // No instance anywhere.
    let out = svw(dir.path())
        .args([
            "--api-key",
            KEY,
            "--base-url",
            &server.uri(),
            "send",
            "--to",
            "971501234567",
            "-m",
            "x",
        ])
        .output()
        .unwrap();
    assert_one_error_line(&out, 2, "no sending instance");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn media_options_without_their_media_are_usage_errors_not_dropped() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--message", "hi", "--caption", "c"],
            "--caption is only for --image",
        ),
        (
            &["-m", "hi", "--filename", "r.pdf"],
            "--filename is only for --document",
        ),
        (
            &["-m", "hi", "--mimetype", "application/pdf"],
            "--mimetype is only for --document",
        ),
        (&["--caption", "no image"], "--caption is only for --image"),
        (
            &[
                "--image",
                "https://example.com/a.jpg",
                "--filename",
                "r.pdf",
            ],
            "--filename is only for --document",
        ),
    ];
    for (flags, cause) in cases {
        let out = svw_at(&server, dir.path())
            .args(["send", "--to", "971501234567"])
            .args(*flags)
            .output()
            .unwrap();
        assert_one_error_line(&out, 2, cause);
    }
    // In a bulk send and a schedule too.
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "phone\n971501234567\n").unwrap();
    let out = svw_at(&server, dir.path())
        .args(["send", "-m", "hi", "--caption", "c", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_one_error_line(&out, 2, "--caption is only for --image");
    let out = svw_at(&server, dir.path())
        .args([
            "schedules",
            "create",
            "--cron",
            "0 9 * * *",
            "--all",
            "-m",
            "x",
        ])
        .args(["--filename", "r.pdf"])
        .output()
        .unwrap();
    assert_one_error_line(&out, 2, "--filename is only for --document");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreadable_message_file_has_a_hint() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = svw_at(&server, dir.path())
        .args([
            "send",
            "--to",
            "971501234567",
            "--message-file",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert_one_error_line(&out, 2, "cannot read /nonexistent");
    assert!(stderr(&out).contains("--message"), "{}", stderr(&out));
}

#[tokio::test]
async fn an_unknown_profile_is_named_before_anything_else() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--profile", "nope", "groups", "list"][..],
        &[
            "--profile",
            "nope",
            "send",
            "--to",
            "971501234567",
            "-m",
            "x",
        ],
    ] {
        let out = svw(dir.path())
            .args(["--base-url", &server.uri()])
            .args(args)
            .output()
            .unwrap();
        assert_one_error_line(&out, 2, "no profile named \"nope\"");
        assert!(!stderr(&out).contains("instance"), "{}", stderr(&out));
    }
    assert!(server.received_requests().await.unwrap().is_empty());
    // `config set` is how a profile is made, so it may name a new one.
    svw(dir.path())
        .args(["--profile", "nope", "config", "set", "instance", "number2"])
        .assert()
        .success();
}

#[test]
fn no_color_reaches_claps_own_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = svw(dir.path());
        cmd.env("CLICOLOR_FORCE", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        stderr(&out)
    };
    assert!(
        run(&[], &["send", "--bogus"]).contains("\u{1b}["),
        "forced colour"
    );
    for err in [
        run(&[], &["--no-color", "send", "--bogus"]),
        run(&[], &["send", "--bogus", "--no-color"]),
        run(&[("NO_COLOR", "1")], &["send", "--bogus"]),
    ] {
        assert!(!err.contains('\u{1b}'), "{err:?}");
        assert!(err.contains("--bogus"), "{err}");
    }
}

#[tokio::test]
async fn colour_only_when_asked_for_and_never_with_no_color() {
    let out = send_against(api_error(400, "bad")).await;
    assert!(
        !stderr(&out).contains('\u{1b}'),
        "not a terminal: no colour"
    );

    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[(&str, &str)], flags: &[&str]| {
        let mut cmd = svw_at(&server, dir.path());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.args(flags).args(["send", "-m", "x"]).output().unwrap();
        stderr(&out)
    };
    assert!(
        run(&[("CLICOLOR_FORCE", "1")], &[]).contains("\u{1b}["),
        "forced colour"
    );
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], &[]).contains('\u{1b}'));
    assert!(!run(&[("CLICOLOR_FORCE", "1")], &["--no-color"]).contains('\u{1b}'));
}
