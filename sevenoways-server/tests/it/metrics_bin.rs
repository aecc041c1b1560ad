//! What an operator sees of a running server process: `GET /metrics` behind its token,
//! counters that move when a message is sent, `X-Request-Id` on every answer, and JSON
//! log lines that carry the request's id (`--log-format json`).

use std::collections::HashSet;

use sevenoways_server::testing::{client, eventually, paired_instance};

use crate::server_process::{Spawn, create_key};

/// The value of the sample of `metric` whose labels include every one of `labels`
/// (`name="value"` pairs), or 0 when there is none yet.
pub fn sample(page: &str, metric: &str, labels: &[&str]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (name, rest) = series.split_once('{').unwrap_or((series, ""));
            name == metric && labels.iter().all(|label| rest.contains(label))
        })
        .map(|(_, value)| value.parse::<f64>().expect("a sample value"))
        .sum()
}

#[tokio::test]
async fn metrics_move_after_a_send_and_logs_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "t");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut spawn = Spawn::new(&data, "[pacing]\nmin_gap_ms = 0\njitter_ms = 0\n");
    spawn.stderr = log.into();
    // The access log lines (tower_http, debug) are lines of the request's span.
    spawn.log = "info,tower_http=debug";
    spawn.args = vec!["--log-format", "json"];
    // The token from the environment, as a deployment would pass it.
    spawn.env = vec![("SEVENOWAYS_METRICS_TOKEN", "scrape-secret")];
    let mut server = spawn.start().await;
    let http = reqwest::Client::new();
    let metrics_url = format!("{}/metrics", server.base);

    // Without the token, or with another one: 401 in the error envelope.
    for auth in [None, Some("Bearer wrong-token"), Some("scrape-secret")] {
        let mut request = http.get(&metrics_url);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    }
    let scrape = || async {
        let response = http
            .get(&metrics_url)
            .bearer_auth("scrape-secret")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        response.text().await.unwrap()
    };
    let before = scrape().await;
    let send_route = [
        "route=\"/api/send-number\"",
        "status=\"200\"",
        "method=\"POST\"",
    ];
    assert_eq!(
        sample(&before, "sevenoways_http_requests_total", &send_route),
        0.0
    );

    let c = client(&server.base, &key, sevenoways_sdk::BodyEncoding::Json);
    let instance = paired_instance(&c, "metrics").await;
    let send = |request_id: Option<&'static str>| {
        let mut request = http
            .post(format!("{}/api/send-number", server.base))
            .header("x-api-key", &key)
            .json(&serde_json::json!({
                "instanceId": instance.as_str(),
                "phone": "971501234567",
                "message": "hello",
            }));
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        request.send()
    };
    // A sane incoming id is kept and echoed...
    let response = send(Some("deploy-42.check:7")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "deploy-42.check:7");
    // ...one that is not (spaces, too long) is replaced by a generated one...
    let response = send(Some("not a sane id")).await.unwrap();
    assert_eq!(response.status(), 200);
    let replaced = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(replaced, "not a sane id");
    assert_eq!(replaced.len(), 32, "{replaced}");
    // ...and a request without one gets its own, different each time.
    let mut generated = HashSet::new();
    for _ in 0..3 {
        let response = send(None).await.unwrap();
        assert_eq!(response.status(), 200);
        generated.insert(
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(generated.len(), 3, "{generated:?}");
    // Errors carry one too.
    let response = http
        .get(format!("{}/api/no-such-thing", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("x-request-id"));

    // Five sends answered, committed in group commits, and handed to the sandbox engine.
    let page = eventually(20, || async {
        let page = scrape().await;
        (sample(
            &page,
            "sevenoways_sends_total",
            &["engine=\"sandbox\"", "outcome=\"sent\""],
        ) >= 5.0)
            .then_some(page)
    })
    .await;
    assert_eq!(
        sample(&page, "sevenoways_http_requests_total", &send_route),
        5.0,
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            "sevenoways_http_request_duration_seconds_count",
            &send_route
        ),
        5.0
    );
    // The 404 is counted under no route template (never the raw path).
    assert!(
        sample(
            &page,
            "sevenoways_http_requests_total",
            &["route=\"unmatched\"", "status=\"404\""]
        ) >= 1.0
    );
    assert!(!page.contains("no-such-thing"));
    assert!(sample(&page, "sevenoways_group_commit_batch_size_sum", &[]) >= 5.0);
    assert!(sample(&page, "sevenoways_group_commit_duration_seconds_count", &[]) >= 1.0);
    assert!(
        page.contains("sevenoways_queue_depth{state=\"queued\"}"),
        "{page}"
    );
    // Never a secret on the page.
    assert!(!page.contains(&key) && !page.contains("scrape-secret"));

    server.terminate();
    server.wait_exit(20).expect("the server stops on SIGTERM");
    // Every line of the log is a JSON object; the request's lines carry its id.
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of_request: Vec<_> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "deploy-42.check:7")
        .collect();
    assert!(!of_request.is_empty(), "{text}");
    for line in &of_request {
        assert_eq!(line["span"]["path"], "/api/send-number");
        assert!(line["level"].is_string() && line["timestamp"].is_string());
    }
    assert!(!text.contains(&key), "the API key is never logged");
}
