//! The real `svw` binary against a real `sevenoways-server` started in-process on port 0,
//! with a paired sandbox instance that has the groups "Team A" and "Team B".
//!
//! What the CLI sends is checked where it ends up: the sandbox outbox (what the
//! transport handed to "WhatsApp"), read through the SDK, and `GET /api/usage`, whose
//! counters say whether a send request reached the server at all. `svw` runs on a
//! blocking thread, so the server keeps serving on the multi-thread runtime meanwhile.

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{Value, json};
use sevenoways_sdk::models::sandbox::OutboxMessage;
use sevenoways_sdk::{Client, Content, InstanceId};
use sevenoways_server::testing::{self, TEAM_A, TEAM_B, TestServer};
use tempfile::TempDir;

use crate::common::{stderr, stdout, svw};

const INSTANCE: &str = "sandbox";
const PHONE: &str = "971501234567";

/// A running server with one account, its paired instance, and a home for svw's config.
struct Env {
    server: Option<TestServer>,
    base: String,
    key: String,
    client: Client,
    instance: InstanceId,
    home: TempDir,
}

async fn start() -> Env {
    let server = testing::start().await;
    let client = server.client();
    let instance = testing::paired_instance(&client, INSTANCE).await;
    Env {
        base: server.base(),
        key: server.key.clone(),
        client,
        instance,
        home: tempfile::tempdir().unwrap(),
        server: Some(server),
    }
}

impl Env {
    /// `svw` with a clean environment, pointed at the server with the key and instance.
    fn svw(&self) -> Command {
        self.svw_as(&self.key, INSTANCE)
    }

    /// `svw` pointed at the server with another key or sending instance.
    fn svw_as(&self, key: &str, instance: &str) -> Command {
        let mut cmd = svw(self.home.path());
        cmd.args([
            "--base-url",
            &self.base,
            "--api-key",
            key,
            "--instance",
            instance,
        ]);
        cmd
    }

    /// The outbox once it holds `n` messages (and exactly `n`).
    async fn outbox(&self, n: usize) -> Vec<OutboxMessage> {
        let mut seen = Vec::new();
        for _ in 0..250 {
            seen = self
                .client
                .sandbox()
                .outbox(&self.instance)
                .await
                .unwrap()
                .messages;
            if seen.len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen.len(), n, "outbox: {seen:#?}");
        seen
    }

    /// `svw --json usage`: the server's own counters for this key.
    async fn usage(&self) -> Value {
        let mut cmd = self.svw();
        cmd.args(["--json", "usage"]);
        json_ok(&run(cmd).await)
    }
}

/// Runs `svw` off the runtime's threads, so the in-process server answers it.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Exit 0 and stdout parsed as JSON.
fn json_ok(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(out)))
}

/// Exit `code`, nothing on stdout, one `error: ...; hint: ...` line containing `cause`.
fn assert_fails(out: &Output, code: i32, cause: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(cause) && err.contains("; hint: "),
        "{err}"
    );
}

fn text(m: &OutboxMessage) -> &str {
    match &m.content {
        Content::Text { message } => message.as_str(),
        other => panic!("not text: {other:?}"),
    }
}

fn queue_id(v: &Value) -> u64 {
    v["queueId"]
        .as_u64()
        .unwrap_or_else(|| panic!("no queueId: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_a_group_by_name_lands_in_the_outbox() {
    let env = start().await;
    let mut cmd = env.svw();
    cmd.args(["--json", "send", "--group", "team a", "--message", "Hi 👋"]);
    let answer = json_ok(&run(cmd).await);
    assert_eq!(answer["success"], json!(true), "{answer}");
    assert_eq!(answer["queued"], json!(true), "{answer}");
    let id = queue_id(&answer);

    let outbox = env.outbox(1).await;
    assert_eq!(outbox[0].queue_id.0, id);
    assert_eq!(outbox[0].instance_id, env.instance);
    assert_eq!(outbox[0].to, TEAM_A, "matched case-insensitively");
    assert_eq!(text(&outbox[0]), "Hi 👋");

    // The human form names the queue id and how to follow it.
    let mut cmd = env.svw();
    cmd.args(["send", "--group-id", TEAM_B, "-m", "second"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = env.outbox(2).await;
    let line = stdout(&out);
    assert!(
        line.contains(&format!("queue id {}", second[1].queue_id)),
        "{line}"
    );
    assert!(
        stderr(&out).contains("svw queue status"),
        "{}",
        stderr(&out)
    );
    assert_eq!(second[1].to, TEAM_B);

    // `svw queue status` follows the first one until the sandbox reports it read.
    let mut status = Value::Null;
    for _ in 0..100 {
        let mut cmd = env.svw();
        cmd.args(["--json", "queue", "status", &id.to_string()]);
        status = json_ok(&run(cmd).await);
        if status["status"] == "read" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["success"], json!(true), "{status}");
    assert_eq!(status["status"], "read", "{status}");
    assert_eq!(queue_id(&status), id);
    assert_eq!(status["instanceId"], INSTANCE);
    assert_eq!(status["to"], TEAM_A);
    assert_eq!(status["kind"], "text");
    assert_eq!(status["message"], "Hi 👋");
    for field in ["createdAt", "sentAt", "deliveredAt", "readAt"] {
        assert!(status[field].is_string(), "{field}: {status}");
    }
    let mut cmd = env.svw();
    cmd.args(["-q", "queue", "status", &id.to_string()]);
    let out = run(cmd).await;
    assert_eq!(stdout(&out), "read\n", "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_text_arrives_byte_for_byte_but_one_final_newline() {
    let env = start().await;
    // (what is piped in, what must reach WhatsApp)
    let cases = [
        // `echo "Your order is ready" | svw send --to ...`
        ("Your order is ready\n", "Your order is ready"),
        // Only one final newline is dropped; inner and leading whitespace, blank lines,
        // tabs, a CR inside a line, emoji and non-Latin text stay as they are.
        (
            "  Order #42 👋\n\n\tItems:\r\n  - مرحبا\n- 你好 🇦🇪  \n\n",
            "  Order #42 👋\n\n\tItems:\r\n  - مرحبا\n- 你好 🇦🇪  \n",
        ),
        // A CRLF ending counts as one final newline.
        ("windows line\r\n", "windows line"),
        // No final newline: nothing is dropped.
        ("no newline at all  ", "no newline at all  "),
    ];
    for (i, (piped, sent)) in cases.iter().enumerate() {
        let mut cmd = env.svw();
        cmd.args(["--json", "send", "--to", PHONE])
            .write_stdin(*piped);
        let answer = json_ok(&run(cmd).await);
        let outbox = env.outbox(i + 1).await;
        let m = &outbox[i];
        assert_eq!(m.queue_id.0, queue_id(&answer));
        assert_eq!(m.to, PHONE);
        assert_eq!(text(m).as_bytes(), sent.as_bytes(), "case {i}: {piped:?}");
    }
    // `--message -` reads stdin too, and `--message-file -`.
    let mut cmd = env.svw();
    cmd.args(["-q", "send", "--to", "+971 50 123 4567", "--message", "-"])
        .write_stdin("dash\n");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let outbox = env.outbox(cases.len() + 1).await;
    let last = outbox.last().unwrap();
    assert_eq!(text(last), "dash");
    assert_eq!(last.to, PHONE, "+, spaces dropped");
    assert_eq!(
        stdout(&out),
        format!("{}\n", last.queue_id),
        "-q: only the id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_class_exits_with_its_code() {
    let mut env = start().await;

    // Wrong key → 3.
    let mut cmd = env.svw_as("svw_not_a_real_key_0123456789", INSTANCE);
    cmd.args(["send", "--to", PHONE, "-m", "hi"]);
    let out = run(cmd).await;
    assert_fails(&out, 3, "unauthorized (401)");
    assert!(!stderr(&out).contains("svw_not_a_real_key_0123456789"));

    // Unknown group → 1.
    let mut cmd = env.svw();
    cmd.args(["send", "--group", "No Such Group", "-m", "hi"]);
    let out = run(cmd).await;
    assert_fails(&out, 1, "No Such Group");

    // Unknown instance → 1 (sending and listing its groups).
    let mut cmd = env.svw_as(&env.key, "ghost");
    cmd.args(["send", "--to", PHONE, "-m", "hi"]);
    assert_fails(&run(cmd).await, 1, "not found (404)");
    let mut cmd = env.svw_as(&env.key, "ghost");
    cmd.args(["groups", "list"]);
    assert_fails(&run(cmd).await, 1, "not found (404)");

    // An invalid phone number is refused before anything is sent → 2.
    for phone in ["+44", "97150abc4567", "0097150123456789012345"] {
        let mut cmd = env.svw();
        cmd.args(["--json", "send", "--to", phone, "-m", "hi"]);
        let out = run(cmd).await;
        assert_eq!(out.status.code(), Some(2), "{phone}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert!(stderr(&out).contains("--to"), "{}", stderr(&out));
    }

    // None of the above queued anything, and the refused-before-sending ones never
    // reached the server: the key's counters are all zero.
    let usage = env.usage().await;
    assert_eq!(usage["daily"]["used"], 0, "{usage}");
    assert_eq!(usage["monthly"]["used"], 0, "{usage}");
    assert!(
        env.client
            .sandbox()
            .outbox(&env.instance)
            .await
            .unwrap()
            .messages
            .is_empty()
    );

    // The server stops: a network error → 5.
    env.server.take().unwrap().shutdown().await;
    let mut cmd = env.svw();
    cmd.args(["send", "--to", PHONE, "-m", "hi"]);
    assert_fails(&run(cmd).await, 5, "network error");
    let mut cmd = env.svw();
    cmd.args(["--json", "instances", "list"]);
    assert_fails(&run(cmd).await, 5, "network error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_61st_send_in_a_minute_exits_4() {
    let env = start().await;
    for i in 0..60 {
        let mut cmd = env.svw();
        cmd.args(["--json", "send", "--to", PHONE, "-m", &format!("n{i}")]);
        let answer = json_ok(&run(cmd).await);
        assert_eq!(answer["success"], json!(true), "send {i}: {answer}");
    }
    let mut cmd = env.svw();
    cmd.args(["--json", "send", "--to", PHONE, "-m", "one too many"]);
    let started = std::time::Instant::now();
    let out = run(cmd).await;
    assert_fails(
        &out,
        4,
        "rate limited (429): Send rate limit exceeded \u{2014} max 60 requests/minute per API key.",
    );
    assert!(stderr(&out).contains("and try again"), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 429 is reported, not sat out silently ({:?})",
        started.elapsed()
    );
    let usage = env.usage().await;
    assert_eq!(usage["rateLimit"]["limit"], 60, "{usage}");
    assert_eq!(usage["rateLimit"]["remaining"], 0, "{usage}");
    assert_eq!(
        usage["daily"]["used"], 60,
        "the refused one is not counted: {usage}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_create_list_delete() {
    let env = start().await;
    let mut cmd = env.svw();
    cmd.args([
        "--json",
        "instances",
        "create",
        "number2",
        "--label",
        "Second Line",
    ]);
    let created = json_ok(&run(cmd).await);
    assert_eq!(created["success"], json!(true), "{created}");
    assert_eq!(created["instance"]["instanceId"], "number2", "{created}");
    assert_eq!(created["instance"]["label"], "Second Line", "{created}");
    assert_ne!(created["instance"]["status"], "online", "{created}");
    let qr_url = created["qrUrl"].as_str().expect("qrUrl");
    assert!(qr_url.starts_with(&env.base), "{qr_url}");

    let list = |env: &Env| {
        let mut cmd = env.svw();
        cmd.args(["--json", "instances", "list"]);
        run(cmd)
    };
    let listed = json_ok(&list(&env).await);
    assert_eq!(listed["success"], json!(true));
    let mut ids: Vec<(String, String)> = listed["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["instanceId"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    ids.sort();
    assert_eq!(ids[0].0, "number2");
    assert_eq!(ids[1], (INSTANCE.to_owned(), "online".to_owned()));
    assert_eq!(ids.len(), 2, "{listed}");

    // Creating it twice is refused by the server.
    let mut cmd = env.svw();
    cmd.args(["instances", "create", "number2"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let mut cmd = env.svw();
    cmd.args(["--json", "instances", "delete", "number2"]);
    assert_eq!(json_ok(&run(cmd).await), json!({"success": true}));
    let listed = json_ok(&list(&env).await);
    let ids: Vec<&str> = listed["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [INSTANCE]);

    let mut cmd = env.svw();
    cmd.args(["instances", "delete", "number2"]);
    assert_fails(&run(cmd).await, 1, "not found (404)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_list_shows_the_instance_groups() {
    let env = start().await;
    let mut cmd = env.svw();
    cmd.args(["--json", "groups", "list"]);
    let listed = json_ok(&run(cmd).await);
    assert_eq!(listed["success"], json!(true));
    let mut groups: Vec<(&str, &str)> = listed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["id"].as_str().unwrap(), g["name"].as_str().unwrap()))
        .collect();
    groups.sort();
    assert_eq!(groups, [(TEAM_A, "Team A"), (TEAM_B, "Team B")], "{listed}");

    // Piped: tab-separated rows, id first.
    let mut cmd = env.svw();
    cmd.args(["groups", "list"]);
    let out = run(cmd).await;
    let mut firsts: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    firsts.sort();
    assert_eq!(firsts, [TEAM_A, TEAM_B]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_add_list_remove() {
    let env = start().await;
    let mut cmd = env.svw();
    cmd.args([
        "--json",
        "channels",
        "add",
        "https://whatsapp.com/channel/0029VaSandboxTest01",
    ]);
    let saved = json_ok(&run(cmd).await);
    assert_eq!(saved["success"], json!(true), "{saved}");
    let channel = &saved["channel"];
    let id = channel["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("ch_"), "{saved}");
    let jid = channel["channelJid"]
        .as_str()
        .expect("channelJid")
        .to_owned();
    assert!(jid.ends_with("@newsletter"), "{saved}");
    assert_eq!(channel["instanceId"], INSTANCE);
    for field in ["name", "description", "inviteLink"] {
        assert!(channel[field].is_string(), "{field}: {saved}");
    }
    assert!(channel["subscribers"].is_u64(), "{saved}");
    assert!(channel["isAdmin"].is_boolean(), "{saved}");

    let mut cmd = env.svw();
    cmd.args(["--json", "channels", "list"]);
    let listed = json_ok(&run(cmd).await);
    assert_eq!(listed["success"], json!(true));
    assert_eq!(listed["channels"], json!([channel]), "{listed}");

    // A send to the saved channel reaches the outbox.
    let mut cmd = env.svw();
    cmd.args(["--json", "send", "--channel", &jid, "-m", "Weekly update"]);
    let answer = json_ok(&run(cmd).await);
    let outbox = env.outbox(1).await;
    assert_eq!(outbox[0].queue_id.0, queue_id(&answer));
    assert_eq!(outbox[0].to, jid);
    assert_eq!(text(&outbox[0]), "Weekly update");

    let mut cmd = env.svw();
    cmd.args(["--json", "channels", "remove", &id]);
    assert_eq!(json_ok(&run(cmd).await), json!({"success": true}));
    let mut cmd = env.svw();
    cmd.args(["--json", "channels", "list"]);
    assert_eq!(
        json_ok(&run(cmd).await),
        json!({"success": true, "channels": []})
    );
    let mut cmd = env.svw();
    cmd.args(["channels", "remove", &id]);
    assert_fails(&run(cmd).await, 1, "not found (404)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_create_list_delete() {
    let env = start().await;
    let mut cmd = env.svw();
    cmd.args([
        "--json",
        "schedules",
        "create",
        "--label",
        "Daily Morning Update",
        "--cron",
        "0 9 * * *",
        "--timezone",
        "Asia/Dubai",
        "--group-id",
        TEAM_A,
        "--message",
        "Good morning team! ☀️",
    ]);
    let created = json_ok(&run(cmd).await);
    assert_eq!(created["success"], json!(true), "{created}");
    let s = &created["schedule"];
    let id = s["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("sch_"), "{created}");
    assert_eq!(s["instanceId"], INSTANCE);
    assert_eq!(s["label"], "Daily Morning Update");
    assert_eq!(s["cronExpr"], "0 9 * * *");
    assert_eq!(s["timezone"], "Asia/Dubai");
    assert_eq!(s["groupIds"], json!([TEAM_A]));
    assert_eq!(s["message"], "Good morning team! ☀️");
    // 09:00 in Dubai is 05:00 UTC.
    let next = s["nextRunAt"].as_str().expect("nextRunAt");
    assert!(next.contains("T05:00:00"), "{next}");

    let mut cmd = env.svw();
    cmd.args(["--json", "schedules", "list"]);
    let listed = json_ok(&run(cmd).await);
    assert_eq!(listed["success"], json!(true));
    assert_eq!(listed["schedules"], json!([s]), "{listed}");

    // To a number, ids only with -q.
    let mut cmd = env.svw();
    cmd.args([
        "-q",
        "schedules",
        "create",
        "--cron",
        "0 9 * * 1-5",
        "--to",
        PHONE,
        "-m",
        "reminder",
    ]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = stdout(&out).trim().to_owned();
    assert!(second.starts_with("sch_"), "{second}");

    let mut cmd = env.svw();
    cmd.args(["--json", "schedules", "delete", &id]);
    assert_eq!(json_ok(&run(cmd).await), json!({"success": true}));
    let mut cmd = env.svw();
    cmd.args(["-q", "schedules", "list"]);
    let out = run(cmd).await;
    assert_eq!(stdout(&out), format!("{second}\n"));
    let mut cmd = env.svw();
    cmd.args(["schedules", "delete", &id]);
    assert_fails(&run(cmd).await, 1, "not found (404)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_shows_the_server_counters() {
    let env = start().await;
    let before = env.usage().await;
    assert_eq!(before["success"], json!(true), "{before}");
    assert_eq!(before["plan"], "default", "{before}");
    assert_eq!(before["rateLimit"]["limit"], 60, "{before}");
    assert_eq!(before["rateLimit"]["used"], 0, "{before}");
    assert_eq!(before["daily"]["used"], 0, "{before}");

    // One request to two groups: one send request, two messages.
    let mut cmd = env.svw();
    cmd.args(["send", "--all", "-m", "to everyone"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = env.usage().await;
    assert_eq!(after["rateLimit"]["used"], 1, "{after}");
    assert_eq!(after["rateLimit"]["remaining"], 59, "{after}");
    assert_eq!(after["daily"]["used"], 2, "{after}");
    assert_eq!(after["monthly"]["used"], 2, "{after}");

    let mut cmd = env.svw();
    cmd.args(["usage"]);
    let out = run(cmd).await;
    let table = stdout(&out);
    assert!(table.contains("plan\tdefault\n"), "{table}");
    assert!(table.contains("rateLimit.used\t1\n"), "{table}");
    assert!(table.contains("daily.used\t2\n"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_csv_sends_every_row_once_and_a_rerun_skips_them() {
    let env = start().await;
    let csv = env.home.path().join("orders.csv");
    let mut rows = String::from("phone,name,order\n");
    for i in 1..=5 {
        rows.push_str(&format!("9715012345{i:02},Name {i} 👋,A-{i}\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let bulk = |env: &Env| {
        let mut cmd = env.svw();
        cmd.args([
            "--json",
            "send",
            "--rate",
            "6000",
            "--message",
            "Hi {{name}}, order {{order}} is ready",
            "--csv",
        ])
        .arg(&csv);
        run(cmd)
    };

    let summary = json_ok(&bulk(&env).await);
    assert_eq!(summary["success"], json!(true), "{summary}");
    assert_eq!(summary["total"], 5, "{summary}");
    assert_eq!(summary["sent"], 5, "{summary}");
    assert_eq!(summary["skipped"], 0, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    let results = summary["results"].as_array().unwrap();
    let outbox = env.outbox(5).await;
    let mut got: Vec<(String, String, u64)> = outbox
        .iter()
        .map(|m| (m.to.clone(), text(m).to_owned(), m.queue_id.0))
        .collect();
    got.sort();
    for (i, (to, message, queued)) in got.iter().enumerate() {
        let n = i + 1;
        assert_eq!(to, &format!("9715012345{n:02}"));
        assert_eq!(message, &format!("Hi Name {n} 👋, order A-{n} is ready"));
        let result = results
            .iter()
            .find(|r| r["to"] == json!(to))
            .unwrap_or_else(|| panic!("no result for {to}: {summary}"));
        assert_eq!(result["queueId"], json!(queued), "{summary}");
    }

    let again = json_ok(&bulk(&env).await);
    assert_eq!(again["success"], json!(true), "{again}");
    assert_eq!(again["sent"], 0, "{again}");
    assert_eq!(again["skipped"], 5, "{again}");
    assert_eq!(again["results"], json!([]), "{again}");
    // The re-run made no send request at all: the server counted five.
    let usage = env.usage().await;
    assert_eq!(usage["rateLimit"]["used"], 5, "{usage}");
    assert_eq!(usage["daily"]["used"], 5, "{usage}");
    assert_eq!(env.outbox(5).await.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_create_prints_the_link_to_share_and_the_sandbox_scan_link() {
    let env = start().await;
    let mut cmd = env.svw();
    cmd.args(["instances", "create", "number3"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let share = format!("or share: {}/api/instances/number3/qr?token=", env.base);
    assert!(printed.contains(&share), "{printed}");
    let pair_url = printed
        .split_whitespace()
        .find(|w| w.contains("#pair="))
        .unwrap_or_else(|| panic!("no sandbox scan link in:\n{printed}"));
    // The scan link's token pairs the new sandbox number, as the page's button does.
    let token = pair_url.split_once("#pair=").unwrap().1;
    let paired = reqwest::Client::new()
        .post(format!("{}/api/sandbox/instances/number3/pair", env.base))
        .header("x-sandbox-pair-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(paired.status(), 200);
}

/// `svw instances create --engine waha` and `--phone-number-id` against a server with
/// both engines (fakes of WAHA and the Graph API), the listing's engine column, and
/// `svw groups refresh` reading a WAHA number's groups again.
#[tokio::test]
async fn instances_on_real_engines_and_groups_refresh() {
    use sevenoways_server::testing::fake_meta::FakeMeta;
    use sevenoways_server::testing::fake_waha::{FakeWaha, Flavour};

    let waha = FakeWaha::start(Flavour::Gows).await;
    let meta = FakeMeta::start().await;
    meta.add_number("106540352242922", "+971 50 000 0000");
    let server = testing::start_at(|config, base| {
        config.public_url = Some(base.to_owned());
        config.engines.waha = Some(testing::waha_config(&waha.url()));
        config.engines.meta = Some(testing::meta_config(&meta.graph_url()));
    })
    .await;
    let env = Env {
        base: server.base(),
        key: server.key.clone(),
        client: server.client(),
        instance: testing::id("shop"),
        home: tempfile::tempdir().unwrap(),
        server: Some(server),
    };

    let mut cmd = env.svw();
    cmd.args(["instances", "create", "shop", "--engine", "waha"]);
    let out = run(cmd).await;
    let said = stdout(&out);
    assert!(
        said.contains("waha engine") && said.contains("svw instances qr shop"),
        "{said}"
    );
    let session = waha.sessions()[0].name.clone();

    // The phone number id alone means a Cloud API number; it needs no pairing.
    let mut cmd = env.svw();
    cmd.args([
        "instances",
        "create",
        "cloud",
        "--phone-number-id",
        "106540352242922",
    ]);
    let out = run(cmd).await;
    let said = stdout(&out);
    assert!(
        said.contains("meta engine") && said.contains("Meta Business Manager"),
        "{said}"
    );
    assert!(!said.contains("svw instances qr"), "{said}");
    let mut cmd = env.svw();
    cmd.args(["instances", "create", "x", "--engine", "telegram"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("expected sandbox, waha or meta"));

    let mut cmd = env.svw();
    cmd.args(["instances", "list"]);
    let listed = stdout(&run(cmd).await);
    assert!(listed.contains("shop\tshop\tpairing\twaha\t"), "{listed}");
    assert!(
        listed.contains("cloud\tcloud\tonline\tmeta\t971500000000\t"),
        "{listed}"
    );

    // Paired with the groups WAHA has; one is added later and refresh picks it up.
    waha.set_groups(&[(TEAM_A, "Team A")]);
    testing::eventually(5, || async {
        (waha.session(&session)?.status == "SCAN_QR_CODE").then_some(())
    })
    .await;
    assert_eq!(waha.pair(&session, "971500000001").await, 200);
    let shop = testing::id("shop");
    testing::eventually(5, || async {
        let groups = env.client.groups().list(&shop).await.unwrap().groups;
        (groups.len() == 1).then_some(())
    })
    .await;
    waha.set_groups(&[(TEAM_A, "Team A"), (TEAM_B, "Team B")]);
    let mut cmd = env.svw_as(&env.key, "shop");
    cmd.args(["groups", "refresh"]);
    let refreshed = stdout(&run(cmd).await);
    assert_eq!(
        refreshed,
        format!("{TEAM_A}\tTeam A\t0\n{TEAM_B}\tTeam B\t0\n")
    );
    let mut cmd = env.svw_as(&env.key, "shop");
    cmd.args(["groups", "list"]);
    assert_eq!(stdout(&run(cmd).await), refreshed);
    // A Cloud API number has no groups to read.
    let mut cmd = env.svw_as(&env.key, "cloud");
    cmd.args(["groups", "refresh"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("Cloud API"), "{}", stderr(&out));
    let mut env = env;
    env.server.take().unwrap().shutdown().await;
}
