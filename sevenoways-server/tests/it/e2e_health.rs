//! `/readyz` tells the truth about this process: every background loop running, and the
//! write path working. A loop that panics is restarted, reported, and readiness fails
//! until it is back (audit F11: a dead loop stayed dead while `/readyz` said 200).

use serde_json::Value;
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::models::queue::QueueStatus;
use sevenoways_server::testing::*;

async fn readyz(base: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    let status = r.status().as_u16();
    if status == 503 {
        assert!(
            r.headers().contains_key("retry-after"),
            "a 503 says when to retry"
        );
    }
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn readyz_lists_the_loops_and_proves_a_write() {
    let t = start().await;
    let (status, body) = readyz(&t.base()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    for name in [
        "queue",
        "receipts",
        "scheduler",
        "webhooks",
        "retention",
        "checkpoint",
        "keys",
        "engine-pruning",
    ] {
        assert_eq!(body["loops"][name]["running"], true, "{name}: {body}");
        assert_eq!(body["loops"][name]["restarts"], 0, "{name}: {body}");
    }
    t.shutdown().await;
}

#[tokio::test]
async fn a_panicking_loop_is_restarted_and_readyz_fails_until_it_is_back() {
    let t = start().await;
    let c = t.client();
    let inst = paired_instance(&c, "n1").await;
    // The receipts loop panics now and at its next three starts (backoff 0.1 + 0.2 + 0.4
    // + 0.8 s): readiness fails meanwhile.
    t.server.health().inject_panics("receipts", 4);
    let down = eventually(10, || async {
        let (status, body) = readyz(&t.base()).await;
        (status == 503).then_some(body)
    })
    .await;
    assert_eq!(down["success"], false);
    assert!(
        down["error"].as_str().unwrap().contains("receipts"),
        "{down}"
    );
    let back = eventually(20, || async {
        let (status, body) = readyz(&t.base()).await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(back["loops"]["receipts"]["restarts"], 4, "{back}");
    assert_eq!(back["loops"]["queue"]["restarts"], 0, "{back}");
    // And it does its work again: a message goes on to `read`.
    let queued = c
        .messages()
        .send_number(&SendNumberRequest::new(
            inst,
            "971501234567".parse().unwrap(),
            "after the restart".try_into().unwrap(),
        ))
        .await
        .unwrap();
    eventually(10, || async {
        (c.queue().status(queued.queue_id).await.unwrap().status == QueueStatus::Read).then_some(())
    })
    .await;
    t.shutdown().await;
}
