//! State survives a restart: queue entries still waiting are sent by the next process,
//! schedules keep their next run, and the same key still works.

use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::models::queue::QueueStatus;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::{Content, GroupTarget, Phone};
use sevenoways_server::config::PacingConfig;
use sevenoways_server::testing::*;

#[tokio::test]
async fn queue_and_schedules_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A pacing gap keeps most entries queued when the first process stops. The gap is
    // stored with the number, so the next process honours it too before sending on.
    let slow = sevenoways_server::Config {
        pacing: PacingConfig {
            min_gap_ms: 2_000,
            jitter_ms: 0,
        },
        ..fast_config(dir.path())
    };
    let server = launch(slow).await;
    let key = server.create_key("t", "default").await.unwrap();
    let c = client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    let inst = paired_instance(&c, "n1").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let q = c
            .messages()
            .send_number(&SendNumberRequest::new(
                inst.clone(),
                Phone::new("971501234567").unwrap(),
                format!("msg {i}").try_into().unwrap(),
            ))
            .await
            .unwrap();
        ids.push(q.queue_id);
    }
    let schedule = c
        .schedules()
        .create(
            &CreateScheduleRequest::new(
                inst.clone(),
                "weekly",
                "0 9 * * 1".parse().unwrap(),
                "Europe/London".parse().unwrap(),
                ScheduleTarget::Groups(GroupTarget::names(["Team A"]).unwrap()),
                Content::Text {
                    message: "Monday!".try_into().unwrap(),
                },
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .schedule;
    // Let the first entry go out, then stop with the rest still queued.
    eventually(10, || async {
        (c.queue().status(ids[0]).await.unwrap().status != QueueStatus::Queued).then_some(())
    })
    .await;
    let before = c.sandbox().outbox(&inst).await.unwrap().messages.len();
    assert!(
        before < 5,
        "entries must still be waiting when the first process stops"
    );
    server.shutdown().await;
    assert!(
        reqwest::get(format!("{}/healthz", c.base_url()))
            .await
            .is_err(),
        "first server is gone"
    );

    // A new process over the same data directory, without pacing.
    let server = launch(fast_config(dir.path())).await;
    let c = client(&server.base_url(), &key, sevenoways_sdk::BodyEncoding::Json);
    let outbox = eventually(20, || async {
        let o = c.sandbox().outbox(&inst).await.unwrap().messages;
        (o.len() == 5).then_some(o)
    })
    .await;
    let sent: Vec<_> = outbox.iter().map(|m| m.queue_id).collect();
    assert_eq!(
        sent, ids,
        "every accepted entry sent exactly once, in order"
    );
    // The sandbox records a message just before the worker marks it sent: wait for that.
    for id in &ids {
        let e = eventually(10, || async {
            let e = c.queue().status(*id).await.unwrap();
            e.status.is_final().then_some(e)
        })
        .await;
        assert_ne!(e.status, QueueStatus::Failed, "{e:?}");
    }
    let schedules = c.schedules().list().await.unwrap().schedules;
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0].id, schedule.id);
    assert_eq!(schedules[0].next_run_at, schedule.next_run_at);
    server.shutdown().await;
}
