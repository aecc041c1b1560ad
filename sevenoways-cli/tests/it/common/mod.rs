//! Shared by the integration tests: an `svw` with a clean environment, and wiremock answers.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

/// The API key the tests use. Long enough to be masked rather than hidden.
pub const KEY: &str = "svw_test_0123456789abcdef";

/// `svw` with nothing inherited: no SEVENOWAYS_* variables, no NO_COLOR, and a config
/// file inside `dir`, so a developer's own settings never leak into a test.
pub fn svw(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_svw"));
    cmd.env_clear().env("SVW_CONFIG", dir.join("config.toml"));
    cmd
}

/// `svw` pointed at `server` with a key and the instance `number2`.
pub fn svw_at(server: &MockServer, dir: &Path) -> Command {
    let mut cmd = svw(dir);
    cmd.args([
        "--base-url",
        &server.uri(),
        "--api-key",
        KEY,
        "--instance",
        "number2",
    ]);
    cmd
}

/// The documented send answer.
pub fn queued(id: u64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"success": true, "queued": true, "queueId": id}))
}

/// The documented error envelope.
pub fn api_error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"success": false, "error": message}))
}

/// `{"success":true, ...fields}`.
pub fn ok(fields: Value) -> ResponseTemplate {
    let mut body = json!({"success": true});
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    ResponseTemplate::new(200).set_body_json(body)
}

/// The JSON bodies the server received, in order.
pub async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// stdout as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// stderr as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}
