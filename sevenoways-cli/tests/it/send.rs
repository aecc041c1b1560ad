//! `svw send` against wiremock: each recipient and content flag reaches the documented
//! endpoint with the documented body, and text arrives byte for byte.

use crate::common::{self, KEY, bodies, queued, stdout, svw_at};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn expect_post(server: &MockServer, route: &str, body: Value) {
    Mock::given(method("POST"))
        .and(path(route))
        .and(header("x-api-key", KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
        .respond_with(queued(142))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn group_by_name_goes_to_api_send() {
    let server = MockServer::start().await;
    expect_post(
        &server,
        "/api/send",
        json!({"instanceId": "number2", "groups": ["team a"], "message": "Hi 👋"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = svw_at(&server, dir.path())
        .args(["send", "--group", "team a", "--message", "Hi 👋"])
        .assert()
        .success();
    assert!(
        stdout(out.get_output()).contains("queue id 142"),
        "{:?}",
        out.get_output()
    );
}

#[tokio::test]
async fn group_names_and_ids_repeat_and_mix() {
    let server = MockServer::start().await;
    expect_post(
        &server,
        "/api/send",
        json!({
            "instanceId": "number2",
            "groupIds": ["120363025246125888@g.us", "120363999@g.us"],
            "groups": ["Team A", "Ops"],
            "message": "x"
        }),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    svw_at(&server, dir.path())
        .args([
            "send",
            "--group",
            "Team A",
            "--group-id",
            "120363025246125888@g.us",
        ])
        .args(["--group", "Ops", "--group-id", "120363999@g.us", "-m", "x"])
        .assert()
        .success();
}

#[tokio::test]
async fn all_groups_sets_send_all() {
    let server = MockServer::start().await;
    expect_post(
        &server,
        "/api/send",
        json!({"instanceId": "number2", "sendAll": true, "message": "x"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    svw_at(&server, dir.path())
        .args(["send", "--all", "-m", "x"])
        .assert()
        .success();
}

#[tokio::test]
async fn piped_text_to_a_number_keeps_emoji_and_newlines() {
    let server = MockServer::start().await;
    let text = "  Your order is ready 🎉\n\nLine 3\twith tab  \n第四行";
    expect_post(
        &server,
        "/api/send-number",
        json!({"instanceId": "number2", "phone": "971501234567", "message": text}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    // As `echo` would send it: one final newline, which is not part of the message.
    svw_at(&server, dir.path())
        .args(["send", "--to", "971501234567"])
        .write_stdin(format!("{text}\n"))
        .assert()
        .success();
}

#[tokio::test]
async fn message_dash_and_message_file_read_text_verbatim() {
    let server = MockServer::start().await;
    let text = "Hello everyone! 👋\r\nSee you at 9\n";
    Mock::given(method("POST"))
        .and(path("/api/send-number"))
        .respond_with(queued(1))
        .expect(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msg.txt");
    // A file that ends in two newlines keeps one of them.
    std::fs::write(&file, format!("{text}\n")).unwrap();
    svw_at(&server, dir.path())
        .args(["send", "--to", "+971 50-123 4567", "--message", "-"])
        .write_stdin(format!("{text}\n"))
        .assert()
        .success();
    svw_at(&server, dir.path())
        .args(["send", "--to", "971501234567", "--message-file"])
        .arg(&file)
        .assert()
        .success();
    for body in bodies(&server).await {
        assert_eq!(body["message"], text);
        assert_eq!(body["phone"], "971501234567");
    }
}

#[tokio::test]
async fn image_to_a_number_and_document_to_groups() {
    let server = MockServer::start().await;
    expect_post(
        &server,
        "/api/send-number-image",
        json!({"instanceId": "number2", "phone": "447911123456", "imageUrl": "https://example.com/a.jpg", "caption": "New menu 🍕"}),
    )
    .await;
    expect_post(
        &server,
        "/api/send-document",
        json!({"instanceId": "number2", "groups": ["Team A"], "fileUrl": "https://example.com/r.pdf", "filename": "r.pdf", "mimetype": "application/pdf"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    svw_at(&server, dir.path())
        .args([
            "send",
            "--to",
            "447911123456",
            "--image",
            "https://example.com/a.jpg",
            "--caption",
            "New menu 🍕",
        ])
        .assert()
        .success();
    svw_at(&server, dir.path())
        .args([
            "send",
            "--group",
            "Team A",
            "--document",
            "https://example.com/r.pdf",
        ])
        .args(["--filename", "r.pdf", "--mimetype", "application/pdf"])
        .assert()
        .success();
}

#[tokio::test]
async fn communities_and_channels_have_their_own_endpoints() {
    let server = MockServer::start().await;
    let jid = "120363111111111111@newsletter";
    expect_post(
        &server,
        "/api/send-to-community",
        json!({"instanceId": "number2", "communityId": jid, "message": "hi"}),
    )
    .await;
    expect_post(
        &server,
        "/api/send-to-channel",
        json!({"instanceId": "number2", "channelJid": jid, "message": "hi"}),
    )
    .await;
    expect_post(
        &server,
        "/api/send-image-to-channel",
        json!({"instanceId": "number2", "channelJid": jid, "imageUrl": "https://example.com/a.jpg"}),
    )
    .await;
    expect_post(
        &server,
        "/api/send-document-to-community",
        json!({"instanceId": "number2", "communityId": jid, "fileUrl": "https://example.com/r.pdf", "filename": "r.pdf"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        svw_at(&server, dir.path())
            .arg("send")
            .args(args)
            .assert()
            .success()
    };
    run(&["--community", jid, "-m", "hi"]);
    run(&["--channel", jid, "-m", "hi"]);
    run(&["--channel", jid, "--image", "https://example.com/a.jpg"]);
    run(&[
        "--community",
        jid,
        "--document",
        "https://example.com/r.pdf",
        "--filename",
        "r.pdf",
    ]);
}

#[tokio::test]
async fn json_output_is_the_api_answer() {
    let server = MockServer::start().await;
    let answer = json!({
        "success": true, "queued": true, "queueId": 158,
        "recipients": [{"to": "120363025246125888@g.us", "queueId": 158}, {"to": "120363999@g.us", "queueId": 159}]
    });
    Mock::given(method("POST"))
        .and(path("/api/send"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer.clone()))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = svw_at(&server, dir.path())
        .args(["--json", "send", "--all", "-m", "x"])
        .assert()
        .success();
    let printed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(printed, answer);

    // -q: only the queue ids; without either, a row per recipient.
    let out = svw_at(&server, dir.path())
        .args(["-q", "send", "--all", "-m", "x"])
        .assert()
        .success();
    assert_eq!(stdout(out.get_output()), "158\n159\n");
    let out = svw_at(&server, dir.path())
        .args(["send", "--all", "-m", "x"])
        .assert()
        .success();
    let text = stdout(out.get_output());
    assert!(
        text.contains("Queued for 2 recipients") && text.contains("159\t120363999@g.us"),
        "{text}"
    );
}

#[tokio::test]
async fn form_flag_sends_form_urlencoded_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/send"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(
            "instanceId=number2&groupIds%5B%5D=1%40g.us&groupIds%5B%5D=2%40g.us&message=Hi+%F0%9F%91%8B%0Abye",
        ))
        .respond_with(queued(1))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    svw_at(&server, dir.path())
        .args([
            "send",
            "--form",
            "--group-id",
            "1@g.us",
            "--group-id",
            "2@g.us",
            "-m",
            "Hi 👋\nbye",
        ])
        .assert()
        .success();
}

#[tokio::test]
async fn instance_comes_from_the_environment_when_no_flag() {
    let server = MockServer::start().await;
    expect_post(
        &server,
        "/api/send-number",
        json!({"instanceId": "from-env", "phone": "971501234567", "message": "x"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    common::svw(dir.path())
        .env("SEVENOWAYS_API_KEY", KEY)
        .env("SEVENOWAYS_BASE_URL", server.uri())
        .env("SEVENOWAYS_INSTANCE", "from-env")
        .args(["send", "--to", "971501234567", "-m", "x"])
        .assert()
        .success();
}
