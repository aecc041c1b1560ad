//! The resource subcommands against wiremock: the right method and path, `--json`
//! printing the API's own answer, tab-separated rows when piped, ids with `-q`.

use std::time::Instant;

use crate::common::{self, api_error, ok, stderr, stdout, svw, svw_at};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer};

async fn get(server: &MockServer, route: &str, answer: Value) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ok(answer))
        .mount(server)
        .await;
}

async fn delete(server: &MockServer, route: &str) {
    Mock::given(method("DELETE"))
        .and(path(route))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(server)
        .await;
}

fn instance() -> Value {
    json!({"instanceId": "number2", "label": "Second Line", "status": "online", "phone": "971501234567", "createdAt": "2026-11-24T09:00:00Z"})
}

#[tokio::test]
async fn instances_list_create_delete() {
    let server = MockServer::start().await;
    get(
        &server,
        "/api/instances",
        json!({"instances": [instance()]}),
    )
    .await;
    let mut pairing = instance();
    pairing["status"] = json!("pairing");
    pairing["instanceId"] = json!("number3");
    pairing.as_object_mut().unwrap().remove("phone");
    Mock::given(method("POST"))
        .and(path("/api/instances"))
        .and(body_json(
            json!({"instanceId": "number3", "label": "number3"}),
        ))
        .respond_with(ok(
            json!({"instance": pairing, "qrUrl": "https://sevenoways.app/pair/tok"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    delete(&server, "/api/instances/number2").await;
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
        run(&["instances", "list"]),
        "number2\tSecond Line\tonline\t971501234567\t2026-11-24 09:00 UTC\n"
    );
    assert_eq!(run(&["-q", "instances", "list"]), "number2\n");
    let listed: Value = serde_json::from_str(&run(&["--json", "instances", "list"])).unwrap();
    assert_eq!(listed, json!({"success": true, "instances": [instance()]}));
    let created = run(&["instances", "create", "number3"]);
    assert!(
        created.contains("svw instances qr number3") && created.contains("/pair/tok"),
        "{created}"
    );
    run(&["instances", "delete", "number2"]);
}

#[tokio::test]
async fn qr_redraws_until_the_instance_is_online() {
    let server = MockServer::start().await;
    let qr = |status: &str, code: Option<&str>| {
        let mut v = json!({"instanceId": "number2", "status": status});
        if let Some(code) = code {
            v["pairingCode"] = json!(code);
            v["expiresAt"] = json!("2026-11-24T09:01:00Z");
        }
        ok(v)
    };
    Mock::given(method("GET"))
        .and(path("/api/instances/number2/qr"))
        .and(query_param("format", "json"))
        .respond_with(qr("pairing", Some("2@abc,def,ghi")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/instances/number2/qr"))
        .respond_with(qr("online", None))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = svw_at(&server, dir.path())
        .args(["instances", "qr", "number2", "--interval", "1"])
        .assert()
        .success();
    let text = stdout(out.get_output());
    assert!(
        text.contains('█') || text.contains('▀') || text.contains('▄'),
        "a QR code is drawn: {text}"
    );
    assert!(
        text.contains("Linked devices") && text.contains("Instance number2 is online"),
        "{text}"
    );
    assert!(
        started.elapsed().as_secs_f64() >= 1.0,
        "it waited between polls"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    // --json: one line per state; -q: just the pairing string.
    let out = svw_at(&server, dir.path())
        .args(["--json", "instances", "qr", "number2", "--once"])
        .assert()
        .success();
    let line: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(line["status"], "online");
}

#[tokio::test]
async fn groups_list_uses_the_sending_instance() {
    let server = MockServer::start().await;
    get(
        &server,
        "/api/instances/number2/groups",
        json!({"instanceId": "number2", "groups": [{"id": "120363025246125888@g.us", "name": "Team A", "participants": 12}]}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = svw_at(&server, dir.path())
        .args(["groups", "list"])
        .assert()
        .success();
    assert_eq!(
        stdout(out.get_output()),
        "120363025246125888@g.us\tTeam A\t12\n"
    );
}

#[tokio::test]
async fn channels_list_add_remove() {
    let server = MockServer::start().await;
    let channel = json!({"id": "ch_abc123", "channelJid": "120363111111111111@newsletter",
        "name": "My Brand Updates", "description": "Latest news from our brand", "subscribers": 4820,
        "isAdmin": true, "inviteLink": "https://whatsapp.com/channel/XXXXXXX", "instanceId": "number2"});
    get(&server, "/api/channels", json!({"channels": [channel]})).await;
    Mock::given(method("POST"))
        .and(path("/api/channels"))
        .and(body_json(json!({"instanceId": "number2", "inviteLink": "https://whatsapp.com/channel/0029VaAbCdEf"})))
        .respond_with(ok(json!({"channel": channel})))
        .expect(1)
        .mount(&server)
        .await;
    delete(&server, "/api/channels/ch_abc123").await;
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
        run(&["channels", "list"]),
        "ch_abc123\tMy Brand Updates\t120363111111111111@newsletter\t4820\tyes\tnumber2\n"
    );
    assert_eq!(
        run(&[
            "-q",
            "channels",
            "add",
            "https://whatsapp.com/channel/0029VaAbCdEf"
        ]),
        "ch_abc123\n"
    );
    run(&["channels", "remove", "ch_abc123"]);
}

#[tokio::test]
async fn schedules_list_create_delete() {
    let server = MockServer::start().await;
    let spec = json!({"instanceId": "number2", "label": "Daily Morning Update", "cronExpr": "0 9 * * *",
        "timezone": "Asia/Dubai", "groupIds": ["120363025246125888@g.us"], "message": "Good morning team! ☀️"});
    let mut schedule = spec.clone();
    schedule["id"] = json!("sch_1");
    schedule["nextRunAt"] = json!("2026-11-25T05:00:00Z");
    schedule["createdAt"] = json!("2026-11-24T09:00:00Z");
    get(&server, "/api/schedules", json!({"schedules": [schedule]})).await;
    Mock::given(method("POST"))
        .and(path("/api/schedules"))
        .and(body_json(spec))
        .respond_with(ok(json!({"schedule": schedule})))
        .expect(1)
        .mount(&server)
        .await;
    delete(&server, "/api/schedules/sch_1").await;
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
        run(&["schedules", "list"]),
        "sch_1\tDaily Morning Update\t0 9 * * *\tAsia/Dubai\t120363025246125888@g.us\t2026-11-25 05:00 UTC\n"
    );
    let created = run(&[
        "schedules",
        "create",
        "--label",
        "Daily Morning Update",
        "--cron",
        "0 9 * * *",
        "--timezone",
        "Asia/Dubai",
        "--group-id",
        "120363025246125888@g.us",
        "--message",
        "Good morning team! ☀️",
    ]);
    assert!(
        created.contains("Created schedule sch_1") && created.contains("2026-11-25 05:00 UTC"),
        "{created}"
    );
    run(&["schedules", "delete", "sch_1"]);
}

#[tokio::test]
async fn queue_status_shows_the_entry() {
    let server = MockServer::start().await;
    let entry = json!({"queueId": 142, "instanceId": "number2", "to": "971501234567", "status": "failed",
        "attempts": 3, "error": "not on WhatsApp", "kind": "text", "message": "Hi 👋",
        "createdAt": "2026-11-24T09:00:00Z", "updatedAt": "2026-11-24T09:05:00Z"});
    get(&server, "/api/queue/142", entry.clone()).await;
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
    assert_eq!(run(&["-q", "queue", "status", "142"]), "failed\n");
    let table = run(&["queue", "status", "142"]);
    assert!(
        table.contains("status\tfailed\n") && table.contains("error\tnot on WhatsApp\n"),
        "{table}"
    );
    let mut want = entry;
    want["success"] = json!(true);
    let printed: Value = serde_json::from_str(&run(&["--json", "queue", "status", "142"])).unwrap();
    assert_eq!(printed, want);
}

#[tokio::test]
async fn usage_prints_the_answer_as_given() {
    let server = MockServer::start().await;
    let answer = json!({
        "plan": "pro",
        "rateLimit": {"limit": 60, "used": 3, "remaining": 57, "windowSecs": 60,
                      "resetsAt": "2026-11-24T09:01:00Z"},
        "daily": {"used": 12, "limit": 1000, "remaining": 988, "resetsAt": "2026-11-25T00:00:00Z"},
        "monthly": {"used": 12, "limit": null, "remaining": null, "resetsAt": "2026-12-01T00:00:00Z"}
    });
    get(&server, "/api/usage", answer.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = svw_at(&server, dir.path())
        .args(["usage"])
        .assert()
        .success();
    assert_eq!(
        stdout(out.get_output()),
        "plan\tpro\n\
         rateLimit.limit\t60\nrateLimit.used\t3\nrateLimit.remaining\t57\nrateLimit.windowSecs\t60\n\
         rateLimit.resetsAt\t2026-11-24T09:01:00Z\n\
         daily.used\t12\ndaily.limit\t1000\ndaily.remaining\t988\ndaily.resetsAt\t2026-11-25T00:00:00Z\n\
         monthly.used\t12\nmonthly.limit\t-\nmonthly.remaining\t-\nmonthly.resetsAt\t2026-12-01T00:00:00Z\n"
    );
    let out = svw_at(&server, dir.path())
        .args(["--json", "usage"])
        .assert()
        .success();
    let mut want = answer;
    want["success"] = json!(true);
    assert_eq!(
        serde_json::from_slice::<Value>(&out.get_output().stdout).unwrap(),
        want
    );
    let out = svw_at(&server, dir.path())
        .args(["-q", "usage"])
        .assert()
        .success();
    assert!(out.get_output().stdout.is_empty());
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(req.headers.get("x-api-key").unwrap(), common::KEY);
}

#[tokio::test]
async fn usage_maps_errors_like_every_other_command() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/usage"))
        .respond_with(api_error(401, "bad key"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = svw_at(&server, dir.path())
        .args(["usage"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).starts_with("error: unauthorized (401): bad key; hint: "),
        "{}",
        stderr(&out)
    );
}

/// A list answered in pages: page 1 without a cursor, page 2 for `cursor=c1`.
async fn two_pages(server: &MockServer) {
    let second = |id: &str| {
        let mut i = instance();
        i["instanceId"] = json!(id);
        i
    };
    Mock::given(method("GET"))
        .and(path("/api/instances"))
        .and(query_param("cursor", "c1"))
        .respond_with(ok(json!({"instances": [second("number3")]})))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/instances"))
        .respond_with(ok(
            json!({"instances": [instance(), second("number9")], "nextCursor": "c1"}),
        ))
        .with_priority(2)
        .mount(server)
        .await;
}

#[tokio::test]
async fn lists_fetch_every_page_unless_limited() {
    let server = MockServer::start().await;
    two_pages(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let out = svw_at(&server, dir.path())
        .args(["-q", "instances", "list"])
        .assert()
        .success();
    assert_eq!(stdout(out.get_output()), "number2\nnumber9\nnumber3\n");
    let requests = server.received_requests().await.unwrap();
    let queries: Vec<Option<String>> = requests
        .iter()
        .map(|r| r.url.query().map(str::to_owned))
        .collect();
    assert_eq!(queries, [None, Some("cursor=c1".to_owned())]);
    let out = svw_at(&server, dir.path())
        .args(["--json", "instances", "list"])
        .assert()
        .success();
    let listed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(listed["instances"].as_array().unwrap().len(), 3);
    assert!(listed.get("nextCursor").is_none(), "{listed}");

    // --limit asks for no more than it shows, and says there is more.
    server.reset().await;
    two_pages(&server).await;
    let out = svw_at(&server, dir.path())
        .args(["instances", "list", "--limit", "2"])
        .assert()
        .success();
    assert_eq!(stdout(out.get_output()).lines().count(), 2);
    assert!(
        stderr(out.get_output()).contains("there are more (raise --limit"),
        "{}",
        stderr(out.get_output())
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url.query(), Some("limit=2"));
    let out = svw(dir.path())
        .args(["instances", "list", "--limit", "0"])
        .assert()
        .failure()
        .code(2);
    assert!(stderr(out.get_output()).contains("--limit"));
}

#[tokio::test]
async fn schedules_show_a_pause_and_resume_it() {
    let server = MockServer::start().await;
    let schedule = |paused: bool| {
        let mut s = json!({
            "id": "sch_1", "instanceId": "number2", "label": "daily", "cronExpr": "0 9 * * *",
            "timezone": "UTC", "groupIds": ["120363025246125888@g.us"], "message": "hi",
            "nextRunAt": "2026-11-25T09:00:00Z", "createdAt": "2026-11-24T09:00:00Z"
        });
        if paused {
            s["nextRunAt"] = Value::Null;
            s["skippedRuns"] = json!(5);
            s["pausedAt"] = json!("2026-11-24T10:00:00Z");
            s["pauseReason"] =
                json!("paused after 5 runs in a row were skipped: Daily message cap reached");
        }
        s
    };
    get(
        &server,
        "/api/schedules",
        json!({"schedules": [schedule(true)]}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/api/schedules/sch_1/resume"))
        .respond_with(ok(json!({"schedule": schedule(false)})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = svw_at(&server, dir.path())
        .args(["schedules", "list"])
        .assert()
        .success();
    assert!(
        stdout(out.get_output()).contains("paused since 2026-11-24 10:00 UTC"),
        "{}",
        stdout(out.get_output())
    );
    assert!(stderr(out.get_output()).contains("svw schedules resume sch_1"));
    let out = svw_at(&server, dir.path())
        .args(["schedules", "resume", "sch_1"])
        .assert()
        .success();
    assert!(
        stdout(out.get_output()).contains("next run 2026-11-25 09:00 UTC"),
        "{}",
        stdout(out.get_output())
    );
}
