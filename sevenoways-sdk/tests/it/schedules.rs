//! `client.schedules()` and `client.queue()`: cron schedules and queue entry status.

use crate::common::{bodiless_both, post_both};
use chrono::{DateTime, Utc};
use insta::assert_snapshot;
use serde_json::json;
use sevenoways_sdk::models::queue::{QueueEntry, QueueStatus};
use sevenoways_sdk::models::schedules::{
    CreateScheduleRequest, Schedule, ScheduleCreated, ScheduleList, ScheduleTarget,
};
use sevenoways_sdk::{Content, GroupTarget, QueueId, ScheduleId};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The documented schedule: daily at 09:00 Dubai time, text to one group.
fn documented() -> CreateScheduleRequest {
    CreateScheduleRequest::new(
        "number2".parse().unwrap(),
        "Daily Morning Update",
        "0 9 * * *".parse().unwrap(),
        "Asia/Dubai".parse().unwrap(),
        ScheduleTarget::Groups(GroupTarget::ids(["120363025246125888@g.us"]).unwrap()),
        Content::Text {
            message: "Good morning team! ☀️".try_into().unwrap(),
        },
    )
    .unwrap()
}

fn documented_schedule_json() -> serde_json::Value {
    json!({
        "id": "sch_abc123",
        "instanceId": "number2",
        "label": "Daily Morning Update",
        "cronExpr": "0 9 * * *",
        "timezone": "Asia/Dubai",
        "groupIds": ["120363025246125888@g.us"],
        "message": "Good morning team! ☀️",
        // 09:00 in Dubai (UTC+4) is 05:00 UTC.
        "nextRunAt": "2026-11-25T05:00:00Z",
        "createdAt": "2026-11-24T09:00:00Z"
    })
}

fn documented_schedule() -> Schedule {
    Schedule {
        id: "sch_abc123".parse().unwrap(),
        spec: documented(),
        next_run_at: Some(at("2026-11-25T05:00:00Z")),
        last_run_at: None,
        created_at: at("2026-11-24T09:00:00Z"),
        skipped_runs: 0,
        paused_at: None,
        pause_reason: None,
    }
}

#[tokio::test]
async fn list_schedules() {
    let response = json!({"success": true, "schedules": [documented_schedule_json()]});
    let list = bodiless_both("GET", "/api/schedules", response, |c| async move {
        c.schedules().list().await
    })
    .await;
    assert_eq!(
        list,
        ScheduleList {
            schedules: vec![documented_schedule()],
            next_cursor: None,
        }
    );
}

#[tokio::test]
async fn create_the_documented_schedule() {
    let req = documented();
    let response = json!({"success": true, "schedule": documented_schedule_json()});
    let got = post_both("/api/schedules", &req, response, |c, r| async move {
        c.schedules().create(&r).await
    })
    .await;
    assert_eq!(
        got.json_response,
        ScheduleCreated {
            schedule: documented_schedule()
        }
    );
    assert_snapshot!("create_schedule_json", got.json);
    assert_snapshot!("create_schedule_form", got.form);
}

#[tokio::test]
async fn create_a_document_schedule_to_a_phone() {
    let req = CreateScheduleRequest::new(
        "number2".parse().unwrap(),
        "Weekly invoice",
        "0 9 * * 1-5".parse().unwrap(),
        "Europe/London".parse().unwrap(),
        ScheduleTarget::Phone("447911123456".parse().unwrap()),
        Content::Document {
            file_url: "https://example.com/invoice.pdf".parse().unwrap(),
            filename: "Invoice.pdf".into(),
            mimetype: Some("application/pdf".into()),
        },
    )
    .unwrap();
    let schedule = json!({
        "id": "sch_2", "instanceId": "number2", "label": "Weekly invoice",
        "cronExpr": "0 9 * * 1-5", "timezone": "Europe/London", "phone": "447911123456",
        "fileUrl": "https://example.com/invoice.pdf", "filename": "Invoice.pdf",
        "mimetype": "application/pdf", "nextRunAt": null,
        "lastRunAt": "2026-11-24T09:00:00Z", "createdAt": "2026-11-01T00:00:00Z"
    });
    let got = post_both(
        "/api/schedules",
        &req,
        json!({"success": true, "schedule": schedule}),
        |c, r| async move { c.schedules().create(&r).await },
    )
    .await;
    let created = got.json_response.schedule;
    assert_eq!(created.spec, req);
    assert_eq!(created.next_run_at, None);
    assert_eq!(created.last_run_at, Some(at("2026-11-24T09:00:00Z")));
    assert_snapshot!("create_document_schedule_json", got.json);
    assert_snapshot!("create_document_schedule_form", got.form);
}

#[tokio::test]
async fn delete_schedule() {
    let id: ScheduleId = "sch_abc123".parse().unwrap();
    bodiless_both(
        "DELETE",
        "/api/schedules/sch_abc123",
        json!({"success": true}),
        |c| {
            let id = id.clone();
            async move { c.schedules().delete(&id).await }
        },
    )
    .await;
}

#[tokio::test]
async fn queue_entry_status() {
    let response = json!({
        "success": true, "queueId": 142, "instanceId": "number2",
        "to": "120363025246125888@g.us", "status": "delivered", "attempts": 2,
        "error": "timeout talking to WhatsApp (attempt 1)",
        "kind": "image", "imageUrl": "https://example.com/banner.jpg", "caption": "Hi 👋",
        "createdAt": "2026-11-24T09:00:00Z", "updatedAt": "2026-11-24T09:00:07Z",
        "sentAt": "2026-11-24T09:00:05Z", "deliveredAt": "2026-11-24T09:00:07Z"
    });
    let entry = bodiless_both("GET", "/api/queue/142", response, |c| async move {
        c.queue().status(QueueId(142)).await
    })
    .await;
    assert_eq!(
        entry,
        QueueEntry {
            queue_id: QueueId(142),
            instance_id: "number2".parse().unwrap(),
            to: "120363025246125888@g.us".into(),
            status: QueueStatus::Delivered,
            attempts: 2,
            error: Some("timeout talking to WhatsApp (attempt 1)".into()),
            content: Content::Image {
                image_url: "https://example.com/banner.jpg".parse().unwrap(),
                caption: Some("Hi 👋".into()),
            },
            created_at: at("2026-11-24T09:00:00Z"),
            updated_at: at("2026-11-24T09:00:07Z"),
            sent_at: Some(at("2026-11-24T09:00:05Z")),
            delivered_at: Some(at("2026-11-24T09:00:07Z")),
            read_at: None,
        }
    );
    assert!(entry.status.is_final());
}
