//! The send rate limit (60 requests per sliding minute per API key) and the per-plan
//! daily and monthly message caps, through HTTP. The same limits with injected instants,
//! through the store the server uses, are in `store_limits`.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::models::sandbox::SandboxGroupRequest;
use sevenoways_sdk::{Error, InstanceId, RATE_LIMIT_MESSAGE};
use sevenoways_server::config::PlanConfig;
use sevenoways_server::testing::{self, TEAM_A, TEAM_B, paired_instance};

const DOCUMENTED_BODY: &str = "{\"success\":false,\"error\":\"Send rate limit exceeded \u{2014} max 60 requests/minute per API key.\"}";

async fn post(base: &str, key: &str, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get_json(base: &str, key: &str, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn send_number(i: usize) -> Value {
    json!({"instanceId": "n1", "phone": "971501234567", "message": format!("hello {i} 👋")})
}

#[tokio::test]
async fn the_61st_send_in_a_minute_gets_exactly_the_documented_429() {
    let t = testing::start().await;
    paired_instance(&t.client(), "n1").await;
    let base = t.base();
    let mut statuses = Vec::new();
    let mut refused = Vec::new();
    for i in 0..61 {
        let r = post(&base, &t.key, "/api/send-number", send_number(i)).await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let retry_after: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            refused.push((retry_after, r.text().await.unwrap()));
        }
    }
    assert!(statuses[..60].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses[60], 429);
    assert_eq!(refused.len(), 1);
    let (retry_after, body) = &refused[0];
    assert_eq!(body, DOCUMENTED_BODY);
    // The oldest request leaves the window within the minute.
    assert!((1..=60).contains(retry_after), "Retry-After {retry_after}");

    // Every send endpoint shares the allowance…
    let r = post(
        &base,
        &t.key,
        "/api/send",
        json!({"instanceId": "n1", "groupIds": [TEAM_A], "message": "hi"}),
    )
    .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.text().await.unwrap(), DOCUMENTED_BODY);
    // …other endpoints are not counted…
    for path in [
        "/api/instances",
        "/api/schedules",
        "/api/webhooks",
        "/api/instances/n1/groups",
    ] {
        assert_eq!(get_json(&base, &t.key, path).await.0, 200, "{path}");
    }
    let (_, usage) = get_json(&base, &t.key, "/api/usage").await;
    assert_eq!(usage["rateLimit"]["limit"], 60);
    assert_eq!(usage["rateLimit"]["used"], 60);
    assert_eq!(usage["rateLimit"]["remaining"], 0);
    assert!(usage["rateLimit"]["nextSlotAt"].is_string());
    assert_eq!(
        usage["daily"]["used"], 60,
        "refused sends are not counted: {usage}"
    );
    // …and the limit is per key.
    let other = t.server.create_key("other", "default").await.unwrap();
    paired_instance(
        &testing::client(&base, &other, sevenoways_sdk::BodyEncoding::Json),
        "n1",
    )
    .await;
    assert_eq!(
        post(&base, &other, "/api/send-number", send_number(0))
            .await
            .status(),
        200
    );

    // The SDK reports it as RateLimited with the wait.
    let err = t
        .client()
        .messages()
        .send_number(&SendNumberRequest::new(
            InstanceId::new("n1").unwrap(),
            "971501234567".parse().unwrap(),
            "hi".try_into().unwrap(),
        ))
        .await
        .unwrap_err();
    match err {
        Error::RateLimited {
            retry_after,
            message,
        } => {
            assert_eq!(message, RATE_LIMIT_MESSAGE);
            assert!(retry_after.is_some());
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn two_hundred_simultaneous_sends_let_exactly_sixty_through() {
    let t = testing::start().await;
    paired_instance(&t.client(), "n1").await;
    let base: Arc<str> = t.base().into();
    let key: Arc<str> = t.key.clone().into();
    let start = Arc::new(tokio::sync::Barrier::new(200));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (base, key, start) = (base.clone(), key.clone(), start.clone());
        tasks.spawn(async move {
            // A client each: 200 connections, all sending at once.
            let client = reqwest::Client::new();
            start.wait().await;
            let r = client
                .post(format!("{base}/api/send-number"))
                .header("x-api-key", &*key)
                .json(&send_number(i))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        });
    }
    let mut ok = 0;
    let mut limited = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            (200, _) => ok += 1,
            (429, body) => {
                assert_eq!(body, DOCUMENTED_BODY);
                limited += 1;
            }
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!((ok, limited), (60, 140));
    let (_, usage) = get_json(&base, &key, "/api/usage").await;
    assert_eq!(usage["daily"]["used"], 60);
    // Exactly the admitted sends were queued and go out.
    let client = t.client();
    let id = InstanceId::new("n1").unwrap();
    testing::eventually(20, || {
        let client = client.clone();
        let id = id.clone();
        async move { (client.sandbox().outbox(&id).await.unwrap().messages.len() == 60).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn caps_count_messages_refuse_whole_sends_and_show_in_usage() {
    // The day must not end mid-test (the cap resets at UTC midnight).
    let to_midnight = (Utc::now() + Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        - Utc::now();
    if to_midnight < Duration::seconds(30) {
        tokio::time::sleep((to_midnight + Duration::seconds(1)).to_std().unwrap()).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = sevenoways_server::Config {
        plans: vec![PlanConfig {
            name: "small".into(),
            requests_per_minute: 60,
            daily_cap: 5,
            monthly_cap: 100,
            timezone: "UTC".into(),
            ..PlanConfig::default()
        }],
        ..testing::fast_config(dir.path())
    };
    let server = testing::launch(config).await;
    let key = server.create_key("small", "small").await.unwrap();
    let base = server.base_url();
    let client = testing::client(&base, &key, sevenoways_sdk::BodyEncoding::Json);
    let inst = paired_instance(&client, "n1").await;
    client
        .sandbox()
        .add_group(
            &inst,
            &SandboxGroupRequest {
                name: "Team C".into(),
                id: None,
            },
        )
        .await
        .unwrap();

    // Three groups: one request, three messages.
    let all = json!({"instanceId": "n1", "sendAll": true, "message": "to everyone"});
    let r = post(&base, &key, "/api/send", all.clone()).await;
    assert_eq!(r.status(), 200);
    // Three more would make six: refused whole, with when it resets.
    let r = post(&base, &key, "/api/send", all.clone()).await;
    assert_eq!(r.status(), 429);
    let retry_after: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let midnight = (Utc::now() + Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let to_midnight = (midnight - Utc::now()).num_seconds();
    assert!(
        (retry_after - to_midnight).abs() <= 2,
        "Retry-After {retry_after}, midnight in {to_midnight}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
    let msg = body["error"].as_str().unwrap();
    assert!(msg.starts_with("Daily message cap reached: plan \"small\" allows 5 messages per day and 3 are used, this send needs 3."), "{msg}");
    assert!(
        msg.contains(&format!(
            "resets at {}",
            midnight.format("%Y-%m-%dT%H:%M:%SZ")
        )),
        "{msg}"
    );
    // Two single sends fit, a third does not.
    for i in 0..2 {
        assert_eq!(
            post(&base, &key, "/api/send-number", send_number(i))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        post(&base, &key, "/api/send-number", send_number(9))
            .await
            .status(),
        429
    );

    let usage = client.usage().get().await.unwrap();
    assert_eq!(usage.plan, "small");
    assert_eq!(
        (usage.daily.used, usage.daily.limit, usage.daily.remaining),
        (5, Some(5), Some(0))
    );
    assert_eq!(usage.daily.resets_at, midnight);
    assert_eq!((usage.monthly.used, usage.monthly.limit), (5, Some(100)));
    assert_eq!(usage.rate_limit.limit, Some(60));
    // Refused requests do not use the rate allowance either.
    assert_eq!(usage.rate_limit.used, 3);
    assert_eq!(usage.rate_limit.remaining, Some(57));
    // Nothing of the refused sends was queued: 3 + 2 messages go out.
    testing::eventually(10, || {
        let client = client.clone();
        let inst = inst.clone();
        async move { (client.sandbox().outbox(&inst).await.unwrap().messages.len() == 5).then_some(()) }
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        client.sandbox().outbox(&inst).await.unwrap().messages.len(),
        5
    );
    server.shutdown().await;
}

#[tokio::test]
async fn non_send_endpoints_are_never_rate_limited() {
    let t = testing::start().await;
    let client = t.client();
    paired_instance(&client, "n1").await;
    for _ in 0..150 {
        client.instances().list().await.unwrap();
    }
    let id = InstanceId::new("n1").unwrap();
    for _ in 0..80 {
        client.groups().list(&id).await.unwrap();
    }
    let usage = client.usage().get().await.unwrap();
    assert_eq!(usage.rate_limit.used, 0);
    let r = post(
        &t.base(),
        &t.key,
        "/api/send",
        json!({"instanceId": "n1", "groupIds": [TEAM_A, TEAM_B], "message": "still fine"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let usage = client.usage().get().await.unwrap();
    assert_eq!((usage.rate_limit.used, usage.daily.used), (1, 2));
}

/// A send to an instance that is not there (never made, or deleted a moment ago) is
/// answered 404 in the envelope and takes none of the minute's sends, whichever recipient
/// kind it names.
#[tokio::test]
async fn sends_to_a_missing_instance_are_404_and_use_no_allowance() {
    let t = testing::start().await;
    let client = t.client();
    paired_instance(&client, "n1").await;
    paired_instance(&client, "gone").await;
    let base = t.base();
    let r = post(&base, &t.key, "/api/send-number", send_number(0)).await;
    assert_eq!(r.status(), 200);
    client
        .instances()
        .delete(&InstanceId::new("gone").unwrap())
        .await
        .unwrap();
    for (path, body) in [
        (
            "/api/send-number",
            json!({"instanceId": "gone", "phone": "971501234567", "message": "x"}),
        ),
        (
            "/api/send-to-channel",
            json!({"instanceId": "gone", "channelJid": "120363000000000001@newsletter", "message": "x"}),
        ),
        (
            "/api/send-number",
            json!({"instanceId": "never", "phone": "971501234567", "message": "x"}),
        ),
    ] {
        let r = post(&base, &t.key, path, body.clone()).await;
        assert_eq!(r.status(), 404, "{path} {body}");
        let answer: Value = r.json().await.unwrap();
        let id = body["instanceId"].as_str().unwrap();
        assert_eq!(
            answer,
            json!({"success": false, "error": format!("instance \"{id}\" not found")})
        );
    }
    let (status, usage) = get_json(&base, &t.key, "/api/usage").await;
    assert_eq!(status, 200);
    assert_eq!(usage["rateLimit"]["used"], 1, "{usage}");
    t.shutdown().await;
}
