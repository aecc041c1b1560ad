//! `client.webhooks()`: subscriptions, test events and deliveries.

use crate::common::{bodiless_both, post_both};
use chrono::{DateTime, Utc};
use insta::assert_snapshot;
use serde_json::json;
use sevenoways_sdk::models::webhooks::{
    CreateWebhookRequest, Delivery, DeliveryAttempt, DeliveryDetail, DeliveryList,
    RotateSecretRequest, SecretRotated, Webhook, WebhookCreated, WebhookList,
};
use sevenoways_sdk::{DeliveryId, Empty, WebhookId, WebhookSecret};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn wh() -> WebhookId {
    "wh_abc123".parse().unwrap()
}

fn webhook_json() -> serde_json::Value {
    json!({
        "id": "wh_abc123",
        "url": "https://hooks.example.com/sevenoways?src=relay",
        "events": ["message.sent", "message.failed"],
        "createdAt": "2026-11-24T09:00:00Z"
    })
}

fn webhook() -> Webhook {
    Webhook::new(
        wh(),
        "https://hooks.example.com/sevenoways?src=relay".into(),
        vec!["message.sent".into(), "message.failed".into()],
        at("2026-11-24T09:00:00Z"),
    )
}

#[tokio::test]
async fn list_webhooks() {
    let list = bodiless_both(
        "GET",
        "/api/webhooks",
        json!({"success": true, "webhooks": [webhook_json()]}),
        |c| async move { c.webhooks().list().await },
    )
    .await;
    assert_eq!(
        list,
        WebhookList {
            webhooks: vec![webhook()],
            next_cursor: None,
        }
    );
}

#[tokio::test]
async fn a_disabled_webhook_is_listed_with_why() {
    let mut disabled = webhook_json();
    disabled["disabled"] = json!(true);
    disabled["disabledReason"] = json!("disabled after 20 failed attempts in a row");
    disabled["disabledAt"] = json!("2026-11-27T09:00:00Z");
    disabled["failureStreak"] = json!(20);
    disabled["pausedUntil"] = json!("2026-11-27T10:00:00Z");
    let list = bodiless_both(
        "GET",
        "/api/webhooks",
        json!({"success": true, "webhooks": [disabled, webhook_json()]}),
        |c| async move { c.webhooks().list().await },
    )
    .await;
    let first = &list.webhooks[0];
    assert!(first.disabled);
    assert_eq!(
        first.disabled_reason.as_deref(),
        Some("disabled after 20 failed attempts in a row")
    );
    assert_eq!(first.failure_streak, 20);
    assert_eq!(first.disabled_at, Some(at("2026-11-27T09:00:00Z")));
    assert_eq!(first.paused_until, Some(at("2026-11-27T10:00:00Z")));
    // A server that does not send the fields: an enabled webhook with no failures.
    assert_eq!(list.webhooks[1], webhook());
}

#[tokio::test]
async fn enable_a_webhook() {
    let got = post_both(
        "/api/webhooks/wh_abc123/enable",
        &Empty {},
        json!({"success": true, "webhook": webhook_json()}),
        |c, _| async move { c.webhooks().enable(&wh()).await },
    )
    .await;
    assert_eq!(got.json_response, webhook());
    assert_eq!(got.json, "{}");
}

#[tokio::test]
async fn rotate_a_secret() {
    let answer = json!({
        "success": true,
        "secret": "whsec_bmV3LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm",
        "previousSecretExpiresAt": "2026-11-25T09:00:00Z"
    });
    let want = SecretRotated {
        secret: WebhookSecret::new("whsec_bmV3LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"),
        previous_secret_expires_at: at("2026-11-25T09:00:00Z"),
    };
    // A generated secret: an empty body.
    let got = post_both(
        "/api/webhooks/wh_abc123/rotate-secret",
        &RotateSecretRequest::default(),
        answer.clone(),
        |c, _| async move { c.webhooks().rotate_secret(&wh(), None).await },
    )
    .await;
    assert_eq!(got.json_response, want);
    assert_eq!(got.json, "{}");
    // The caller's own secret.
    let mine = RotateSecretRequest {
        secret: Some(WebhookSecret::new("my-own-new-secret-0123")),
    };
    let got = post_both(
        "/api/webhooks/wh_abc123/rotate-secret",
        &mine,
        answer,
        |c, r| async move { c.webhooks().rotate_secret(&wh(), r.secret).await },
    )
    .await;
    assert_eq!(got.json, r#"{"secret":"my-own-new-secret-0123"}"#);
    assert!(!format!("{:?}", got.json_response).contains("bmV3LXNlY3JldC0"));
}

#[tokio::test]
async fn a_short_new_secret_is_refused_before_sending() {
    let server = wiremock::MockServer::start().await;
    let client = crate::common::client(&server, sevenoways_sdk::BodyEncoding::Json);
    let err = client
        .webhooks()
        .rotate_secret(&wh(), Some(WebhookSecret::new("short")))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("secret: expected a secret of at least 16 characters"),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn create_webhook() {
    let req = CreateWebhookRequest {
        url: "https://hooks.example.com/sevenoways?src=relay".into(),
        events: vec!["message.sent".into(), "message.failed".into()],
        secret: Some(WebhookSecret::new("whsec_test_0123456789abcdef")),
    };
    let response = json!({
        "success": true,
        "webhook": webhook_json(),
        "secret": "whsec_test_0123456789abcdef"
    });
    let got = post_both("/api/webhooks", &req, response, |c, r| async move {
        c.webhooks().create(&r).await
    })
    .await;
    assert_eq!(
        got.json_response,
        WebhookCreated {
            webhook: webhook(),
            secret: WebhookSecret::new("whsec_test_0123456789abcdef"),
        }
    );
    // The secret is in the response, but its Debug form is redacted.
    assert!(!format!("{:?}", got.json_response).contains("whsec_test_0123456789abcdef"));
    assert_snapshot!("create_webhook_json", got.json);
    assert_snapshot!("create_webhook_form", got.form);
}

#[tokio::test]
async fn create_webhook_for_all_events_with_a_generated_secret() {
    let req = CreateWebhookRequest {
        url: "http://127.0.0.1:3000/webhook".into(),
        events: vec![],
        secret: None,
    };
    let response = json!({
        "success": true,
        "webhook": {"id": "wh_2", "url": "http://127.0.0.1:3000/webhook", "events": [],
                    "createdAt": "2026-11-24T09:00:00Z"},
        "secret": "generated-secret-0123456789"
    });
    let got = post_both("/api/webhooks", &req, response, |c, r| async move {
        c.webhooks().create(&r).await
    })
    .await;
    assert_eq!(
        got.json_response.secret.expose(),
        "generated-secret-0123456789"
    );
    assert!(got.json_response.webhook.events.is_empty());
    assert_snapshot!("create_webhook_all_events_json", got.json);
    assert_snapshot!("create_webhook_all_events_form", got.form);
}

#[tokio::test]
async fn delete_webhook() {
    bodiless_both(
        "DELETE",
        "/api/webhooks/wh_abc123",
        json!({"success": true}),
        |c| async move { c.webhooks().delete(&wh()).await },
    )
    .await;
}

#[tokio::test]
async fn send_a_test_event() {
    let got = post_both(
        "/api/webhooks/wh_abc123/test",
        &Empty {},
        json!({"success": true}),
        |c, _| async move { c.webhooks().test(&wh()).await },
    )
    .await;
    assert_eq!(got.json, "{}");
    assert_eq!(got.form, "");
    assert_snapshot!("test_webhook_json", got.json);
    assert_snapshot!("test_webhook_form", got.form);
}

#[tokio::test]
async fn list_deliveries() {
    let response = json!({"success": true, "deliveries": [
        {"id": "dlv_2", "eventId": "evt_2", "event": "message.failed", "status": "pending",
         "attempts": 2, "responseCode": 503, "latencyMs": 1200,
         "lastError": "503 Service Unavailable", "nextAttemptAt": "2026-11-24T09:05:00Z",
         "createdAt": "2026-11-24T09:01:00Z"},
        {"id": "dlv_1", "eventId": "evt_1", "event": "message.sent", "status": "succeeded",
         "attempts": 1, "responseCode": 200, "latencyMs": 35,
         "createdAt": "2026-11-24T09:00:00Z"}
    ]});
    let list = bodiless_both(
        "GET",
        "/api/webhooks/wh_abc123/deliveries",
        response,
        |c| async move { c.webhooks().deliveries(&wh()).await },
    )
    .await;
    assert_eq!(
        list,
        DeliveryList {
            deliveries: vec![
                Delivery {
                    id: "dlv_2".parse().unwrap(),
                    event_id: "evt_2".parse().unwrap(),
                    event: "message.failed".into(),
                    status: "pending".into(),
                    attempts: 2,
                    response_code: Some(503),
                    latency_ms: Some(1200),
                    last_error: Some("503 Service Unavailable".into()),
                    next_attempt_at: Some(at("2026-11-24T09:05:00Z")),
                    created_at: at("2026-11-24T09:01:00Z"),
                },
                Delivery {
                    id: "dlv_1".parse().unwrap(),
                    event_id: "evt_1".parse().unwrap(),
                    event: "message.sent".into(),
                    status: "succeeded".into(),
                    attempts: 1,
                    response_code: Some(200),
                    latency_ms: Some(35),
                    last_error: None,
                    next_attempt_at: None,
                    created_at: at("2026-11-24T09:00:00Z"),
                },
            ],
            next_cursor: None,
        }
    );
}

#[tokio::test]
async fn one_delivery_with_its_attempts() {
    let response = json!({
        "success": true,
        "delivery": {"id": "dlv_2", "eventId": "evt_2", "event": "message.failed",
                     "status": "failed", "attempts": 2, "responseCode": 500,
                     "lastError": "500 Internal Server Error",
                     "createdAt": "2026-11-24T09:01:00Z"},
        "attempts": [
            {"attempt": 1, "startedAt": "2026-11-24T09:01:00Z", "latencyMs": 10000,
             "error": "timed out after 10s"},
            {"attempt": 2, "startedAt": "2026-11-24T09:02:00Z", "responseCode": 500,
             "latencyMs": 42, "error": "500 Internal Server Error"}
        ]
    });
    let detail = bodiless_both(
        "GET",
        "/api/webhooks/wh_abc123/deliveries/dlv_2",
        response,
        |c| async move {
            c.webhooks()
                .delivery(&wh(), &"dlv_2".parse().unwrap())
                .await
        },
    )
    .await;
    assert_eq!(
        detail,
        DeliveryDetail {
            delivery: Delivery {
                id: "dlv_2".parse().unwrap(),
                event_id: "evt_2".parse().unwrap(),
                event: "message.failed".into(),
                status: "failed".into(),
                attempts: 2,
                response_code: Some(500),
                latency_ms: None,
                last_error: Some("500 Internal Server Error".into()),
                next_attempt_at: None,
                created_at: at("2026-11-24T09:01:00Z"),
            },
            attempts: vec![
                DeliveryAttempt {
                    attempt: 1,
                    started_at: at("2026-11-24T09:01:00Z"),
                    response_code: None,
                    latency_ms: 10000,
                    error: Some("timed out after 10s".into()),
                },
                DeliveryAttempt {
                    attempt: 2,
                    started_at: at("2026-11-24T09:02:00Z"),
                    response_code: Some(500),
                    latency_ms: 42,
                    error: Some("500 Internal Server Error".into()),
                },
            ],
        }
    );
}

#[tokio::test]
async fn redeliver() {
    let got = post_both(
        "/api/webhooks/wh_abc123/deliveries/dlv_1/redeliver",
        &Empty {},
        json!({"success": true}),
        |c, _| async move {
            c.webhooks()
                .redeliver(&wh(), &"dlv_1".parse().unwrap())
                .await
        },
    )
    .await;
    assert_snapshot!("redeliver_json", got.json);
    assert_snapshot!("redeliver_form", got.form);
}

#[test]
fn a_delivery_id_that_would_change_the_path_cannot_be_built() {
    // Delivery ids are typed now: a slash, a space or `..` is refused, naming the field,
    // before a request could carry it into the path.
    for bad in ["dlv 1/2?", "..", ""] {
        let err = bad.parse::<DeliveryId>().unwrap_err();
        assert_eq!(err.field(), "deliveryId", "{bad:?}");
    }
}
