//! Bad input of every kind gets the error envelope, the right 4xx and a message naming
//! the field. Never a 500.

use serde_json::{Value, json};
use sevenoways_server::testing::*;

struct Case {
    name: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: String,
    status: u16,
    error_starts: &'static str,
}

fn json_case(
    name: &'static str,
    path: &'static str,
    body: Value,
    status: u16,
    error_starts: &'static str,
) -> Case {
    Case {
        name,
        path,
        content_type: Some("application/json"),
        body: body.to_string(),
        status,
        error_starts,
    }
}

#[tokio::test]
async fn bad_input_matrix() {
    let t = start().await;
    paired_instance(&t.client(), "n1").await;
    let long = "x".repeat(4097);
    let cases = vec![
        Case {
            name: "malformed JSON",
            path: "/api/send-number",
            content_type: Some("application/json"),
            body: r#"{"instanceId": "n1", "#.into(),
            status: 400,
            error_starts: "body: invalid JSON: EOF while parsing",
        },
        json_case(
            "not an object",
            "/api/send-number",
            json!([1, 2]),
            400,
            "body: ",
        ),
        json_case(
            "missing message",
            "/api/send-number",
            json!({"instanceId": "n1", "phone": "971501234567"}),
            400,
            "message: is required",
        ),
        json_case(
            "missing instanceId",
            "/api/send",
            json!({"groupIds": [TEAM_A], "message": "x"}),
            400,
            "instanceId: is required",
        ),
        json_case(
            "wrong type",
            "/api/send-number",
            json!({"instanceId": "n1", "phone": "971501234567", "message": {"text": "x"}}),
            400,
            "message: ",
        ),
        json_case(
            "groupIds not a list of ids",
            "/api/send",
            json!({"instanceId": "n1", "groupIds": [TEAM_A, "Team A"], "message": "x"}),
            400,
            "groupIds[1]: expected a group id",
        ),
        json_case(
            "sendAll with ids",
            "/api/send",
            json!({"instanceId": "n1", "groupIds": [TEAM_A], "sendAll": true, "message": "x"}),
            400,
            "sendAll: ",
        ),
        json_case(
            "invalid phone",
            "/api/send-number",
            json!({"instanceId": "n1", "phone": "+971 50 123 4567", "message": "x"}),
            400,
            "phone: expected digits only",
        ),
        json_case(
            "short phone",
            "/api/send-number",
            json!({"instanceId": "n1", "phone": "12345", "message": "x"}),
            400,
            "phone: ",
        ),
        json_case(
            "text over 4096",
            "/api/send-number",
            json!({"instanceId": "n1", "phone": "971501234567", "message": long}),
            400,
            "message: expected at most 4096 characters",
        ),
        json_case(
            "blank text",
            "/api/send-to-channel",
            json!({"instanceId": "n1", "channelJid": "1@newsletter", "message": "  "}),
            400,
            "message: ",
        ),
        json_case(
            "ftp URL",
            "/api/send-number-image",
            json!({"instanceId": "n1", "phone": "971501234567", "imageUrl": "ftp://example.com/a.jpg"}),
            400,
            "imageUrl: expected a public http or https URL",
        ),
        json_case(
            "relative URL",
            "/api/send-document",
            json!({"instanceId": "n1", "groupIds": [TEAM_A], "fileUrl": "report.pdf", "filename": "r.pdf"}),
            400,
            "fileUrl: ",
        ),
        json_case(
            "missing filename",
            "/api/send-document-to-channel",
            json!({"instanceId": "n1", "channelJid": "1@newsletter", "fileUrl": "https://e.com/a.pdf"}),
            400,
            "filename: is required",
        ),
        json_case(
            "bad community id",
            "/api/send-to-community",
            json!({"instanceId": "n1", "communityId": "1@g.us", "message": "x"}),
            400,
            "communityId: ",
        ),
        json_case(
            "bad cron",
            "/api/schedules",
            json!({"instanceId": "n1", "cronExpr": "0 0 9 * * *", "timezone": "UTC", "groupIds": [TEAM_A], "message": "x"}),
            400,
            "cronExpr: expected 5 fields",
        ),
        json_case(
            "bad zone",
            "/api/schedules",
            json!({"instanceId": "n1", "cronExpr": "0 9 * * *", "timezone": "Mars/Base", "groupIds": [TEAM_A], "message": "x"}),
            400,
            "timezone: ",
        ),
        json_case(
            "bad invite",
            "/api/channels",
            json!({"instanceId": "n1", "inviteLink": "https://example.com/x"}),
            400,
            "inviteLink: ",
        ),
        json_case(
            "bad instance id",
            "/api/instances",
            json!({"instanceId": "my number", "label": "x"}),
            400,
            "instanceId: ",
        ),
        json_case(
            "unknown instance",
            "/api/send-number",
            json!({"instanceId": "ghost", "phone": "971501234567", "message": "x"}),
            404,
            "instance \"ghost\" not found",
        ),
        json_case(
            "unknown group id",
            "/api/send",
            json!({"instanceId": "n1", "groupIds": ["999@g.us"], "message": "x"}),
            404,
            "group \"999@g.us\" not found",
        ),
        json_case(
            "group name matches nothing",
            "/api/send",
            json!({"instanceId": "n1", "groups": ["Team Z"], "message": "x"}),
            404,
            "no group named \"Team Z\"",
        ),
        Case {
            name: "form bytes that are not UTF-8",
            path: "/api/send-number",
            content_type: Some("application/x-www-form-urlencoded"),
            body: "instanceId=n1&phone=971501234567&message=%FF%FE".into(),
            status: 400,
            error_starts: "message: expected UTF-8 text",
        },
        json_case(
            "dot-dot instance id",
            "/api/instances",
            json!({"instanceId": "..", "label": "x"}),
            400,
            "instanceId: ",
        ),
        json_case(
            "cron that never fires",
            "/api/schedules",
            json!({"instanceId": "n1", "cronExpr": "0 9 31 2 *", "timezone": "UTC", "groupIds": [TEAM_A], "message": "x"}),
            400,
            "cronExpr: \"0 9 31 2 *\" never fires",
        ),
        json_case(
            "white-space message",
            "/api/send-number",
            json!({"instanceId": "n1", "phone": "971501234567", "message": " \n "}),
            400,
            "message: expected message text, got only white space",
        ),
        json_case(
            "webhook URL with a password",
            "/api/webhooks",
            json!({"url": "https://user:secret@example.com/hook"}),
            400,
            "url: expected a URL without a user name or password",
        ),
        Case {
            name: "unsupported content type",
            path: "/api/send-number",
            content_type: Some("text/plain"),
            body: "hi".into(),
            status: 415,
            error_starts: "unsupported Content-Type",
        },
        Case {
            name: "multipart",
            path: "/api/send-number",
            content_type: Some("multipart/form-data; boundary=x"),
            body: "--x--".into(),
            status: 415,
            error_starts: "unsupported Content-Type",
        },
        Case {
            name: "oversized body",
            path: "/api/send-number",
            content_type: Some("application/json"),
            body: format!(r#"{{"message":"{}"}}"#, "a".repeat(70_000)),
            status: 413,
            error_starts: "request body is larger than",
        },
    ];
    let http = reqwest::Client::new();
    for case in cases {
        let mut req = http
            .post(format!("{}{}", t.base(), case.path))
            .header("x-api-key", &t.key)
            .body(case.body);
        if let Some(ct) = case.content_type {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", case.name));
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["success"], false, "{}", case.name);
        let error = body["error"].as_str().unwrap();
        assert!(
            error.starts_with(case.error_starts),
            "{}: {error:?}",
            case.name
        );
    }
}

#[tokio::test]
async fn missing_or_wrong_key_is_401_in_the_envelope() {
    let t = start().await;
    let http = reqwest::Client::new();
    // A header of bytes that are not text is a wrong key, not a missing one.
    let r = http
        .get(format!("{}/api/instances", t.base()))
        .header(
            "x-api-key",
            reqwest::header::HeaderValue::from_bytes(b"svw_\xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"success": false, "error": "invalid API key"})
    );
    for (key, message) in [
        (None, "missing x-api-key header"),
        (Some("svw_wrong"), "invalid API key"),
        (Some(""), "missing x-api-key header"),
    ] {
        for (method, path) in [
            ("GET", "/api/instances"),
            ("POST", "/api/send"),
            ("GET", "/api/queue/1"),
            ("DELETE", "/api/channels/ch_1"),
        ] {
            let mut req = http.request(method.parse().unwrap(), format!("{}{path}", t.base()));
            if let Some(k) = key {
                req = req.header("x-api-key", k);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{method} {path} {key:?}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body, json!({"success": false, "error": message}));
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_envelope() {
    let t = start().await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/api/nothing", t.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["success"], false);
    let r = http
        .put(format!("{}/api/send", t.base()))
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<Value>().await.unwrap()["success"], false);
    let r = http
        .get(format!(
            "{}/api/sandbox/outbox?instanceId=a&instanceId=b",
            t.base()
        ))
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a malformed query answers in the envelope");
    let error = r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.starts_with("instanceId: "), "{error}");
    let r = http
        .get(format!("{}/api/queue/abc", t.base()))
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["success"], false);
}
