//! `client.sandbox()`: the sandbox transport's simulation endpoints.

use crate::common::{bodiless_both, post_both};
use chrono::{DateTime, Utc};
use insta::assert_snapshot;
use serde_json::json;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::sandbox::{
    Outbox, OutboxMessage, SandboxGroup, SandboxGroupRequest, SandboxInboundRequest,
};
use sevenoways_sdk::{Content, Empty, InstanceId, QueueId};

fn number2() -> InstanceId {
    "number2".parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn pair() {
    let got = post_both(
        "/api/sandbox/instances/number2/pair",
        &Empty {},
        json!({"success": true}),
        |c, _| async move { c.sandbox().pair(&number2()).await },
    )
    .await;
    assert_snapshot!("pair_json", got.json);
    assert_snapshot!("pair_form", got.form);
}

#[tokio::test]
async fn add_group() {
    let req = SandboxGroupRequest {
        name: "Team A & Friends".into(),
        id: Some("120363025246125888@g.us".parse().unwrap()),
    };
    let response = json!({"success": true, "group": {
        "id": "120363025246125888@g.us", "name": "Team A & Friends", "participants": 3
    }});
    let got = post_both(
        "/api/sandbox/instances/number2/groups",
        &req,
        response,
        |c, r| async move { c.sandbox().add_group(&number2(), &r).await },
    )
    .await;
    assert_eq!(
        got.json_response,
        SandboxGroup {
            group: Group {
                id: "120363025246125888@g.us".parse().unwrap(),
                name: "Team A & Friends".into(),
                participants: 3,
            }
        }
    );
    assert_snapshot!("add_group_json", got.json);
    assert_snapshot!("add_group_form", got.form);
}

#[tokio::test]
async fn add_group_with_a_generated_id() {
    let req = SandboxGroupRequest {
        name: "Ventes".into(),
        id: None,
    };
    let response = json!({"success": true, "group": {
        "id": "120363000000000001@g.us", "name": "Ventes"
    }});
    let got = post_both(
        "/api/sandbox/instances/number2/groups",
        &req,
        response,
        |c, r| async move { c.sandbox().add_group(&number2(), &r).await },
    )
    .await;
    assert_eq!(got.json, r#"{"name":"Ventes"}"#);
    assert_eq!(got.form, "name=Ventes");
    assert_eq!(
        got.json_response.group.id.as_str(),
        "120363000000000001@g.us"
    );
}

#[tokio::test]
async fn inbound() {
    let req = SandboxInboundRequest {
        from: "971501234567".into(),
        message: "مرحبا! Is my order ready? 🙏\nThanks".into(),
    };
    let got = post_both(
        "/api/sandbox/instances/number2/inbound",
        &req,
        json!({"success": true}),
        |c, r| async move { c.sandbox().inbound(&number2(), &r).await },
    )
    .await;
    assert_snapshot!("inbound_json", got.json);
    assert_snapshot!("inbound_form", got.form);
}

#[tokio::test]
async fn outbox() {
    let response = json!({"success": true, "messages": [
        {"queueId": 142, "instanceId": "number2", "to": "120363025246125888@g.us",
         "kind": "text", "message": "Hello everyone! 👋", "sentAt": "2026-11-24T09:00:01Z"},
        {"queueId": 143, "instanceId": "number2", "to": "971501234567",
         "kind": "document", "fileUrl": "https://example.com/contract.pdf",
         "filename": "Contract.pdf", "sentAt": "2026-11-24T09:00:02Z"}
    ]});
    let outbox = bodiless_both(
        "GET",
        "/api/sandbox/outbox?instanceId=number2",
        response,
        |c| async move { c.sandbox().outbox(&number2()).await },
    )
    .await;
    assert_eq!(
        outbox,
        Outbox {
            messages: vec![
                OutboxMessage {
                    queue_id: QueueId(142),
                    instance_id: number2(),
                    to: "120363025246125888@g.us".into(),
                    content: Content::Text {
                        message: "Hello everyone! 👋".try_into().unwrap()
                    },
                    sent_at: at("2026-11-24T09:00:01Z"),
                },
                OutboxMessage {
                    queue_id: QueueId(143),
                    instance_id: number2(),
                    to: "971501234567".into(),
                    content: Content::Document {
                        file_url: "https://example.com/contract.pdf".parse().unwrap(),
                        filename: "Contract.pdf".into(),
                        mimetype: None,
                    },
                    sent_at: at("2026-11-24T09:00:02Z"),
                },
            ],
            next_cursor: None,
        }
    );
}
