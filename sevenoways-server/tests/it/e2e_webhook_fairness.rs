//! One tenant's failing webhooks must not hold up another tenant's deliveries: fair
//! claiming with per-account and per-endpoint caps, a short connect timeout, and the
//! circuit breaker that pauses and then disables an endpoint that keeps failing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sevenoways_server::testing::{self, paired_instance};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::e2e_webhooks::{inbound, local_listener, receiver, start_with, subscribe, url};

/// A receiver that accepts every connection and never answers: each attempt waits for the
/// whole request timeout. Returns its address and how many connections it has accepted.
async fn silent_receiver() -> (SocketAddr, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let task = tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (addr, accepted, task)
}

/// A port that listens with a backlog of one and never accepts: once the backlog is full
/// the kernel drops new handshakes, so a connection attempt hangs until it times out.
fn unaccepting_receiver() -> (SocketAddr, TcpListener) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    (listener.local_addr().unwrap(), listener)
}

/// The audit's starvation (F4), reproduced: tenant A points 24 webhooks at black holes
/// (half accept and never answer, half never accept) and raises 20 events for each, 480
/// deliveries that each hold an attempt for the full 10 s timeout. Tenant B's deliveries
/// must still arrive within a couple of seconds, every time.
#[tokio::test]
async fn black_hole_webhooks_of_one_tenant_do_not_delay_another() {
    // The shipped delivery settings: 10 s timeouts, 32 attempts in flight, 500 ms polls.
    let t = testing::start().await;
    let a = t.client();
    let b = t.other_client().await;
    paired_instance(&a, "a1").await;
    paired_instance(&b, "b1").await;

    let (silent, accepted, _silent_task) = silent_receiver().await;
    let (unaccepting, _keep) = unaccepting_receiver();
    for i in 0..24 {
        let target = if i % 2 == 0 { silent } else { unaccepting };
        subscribe(
            &a,
            &format!("http://{target}/hook/{i}"),
            &["message.received"],
            None,
        )
        .await;
    }
    for i in 0..20 {
        inbound(&a, "a1", &format!("noise {i}")).await;
    }
    // A's attempts are under way: the silent receiver holds connections open.
    testing::eventually(20, || {
        let accepted = accepted.clone();
        async move { (accepted.load(Ordering::SeqCst) >= 8).then_some(()) }
    })
    .await;

    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let (rx, _task) = receiver(listener, Arc::new(|_, _| (200, None))).await;
    subscribe(&b, &url(addr), &["message.received"], None).await;
    for round in 1..=3 {
        let started = Instant::now();
        inbound(&b, "b1", &format!("B's message {round}")).await;
        let deadline = started + Duration::from_secs(15);
        while rx.hits.lock().unwrap().len() < round && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = started.elapsed();
        assert_eq!(
            rx.hits.lock().unwrap().len(),
            round,
            "tenant B's delivery {round} had not arrived after {took:?}"
        );
        assert!(
            took < Duration::from_secs(2),
            "tenant B's delivery {round} took {took:?} behind tenant A's black holes"
        );
    }
    // A receiver that never completes the handshake gives the slot back after the connect
    // timeout (2 s), well before the 10 s request timeout.
    let unaccepting_hooks: Vec<_> = a
        .webhooks()
        .list()
        .await
        .unwrap()
        .webhooks
        .into_iter()
        .filter(|w| w.url.contains(&unaccepting.to_string()))
        .collect();
    let fast_failure = testing::eventually(20, || {
        let (a, hooks) = (a.clone(), unaccepting_hooks.clone());
        async move {
            for hook in &hooks {
                let list = crate::e2e_webhooks::deliveries(&a, &hook.id).await;
                if let Some(d) = list.into_iter().find(|d| {
                    d.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains("timed out"))
                        && d.latency_ms.is_some_and(|ms| ms < 5_000)
                }) {
                    return Some(d);
                }
            }
            None
        }
    })
    .await;
    assert!(fast_failure.response_code.is_none(), "{fast_failure:?}");
    t.shutdown().await;
}

/// A receiver answering 500 while `failing` is set, 200 after.
async fn flaky_receiver(
    failing: Arc<std::sync::atomic::AtomicBool>,
) -> (SocketAddr, crate::e2e_webhooks::Receiver) {
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let (rx, _task) = receiver(
        listener,
        Arc::new(move |_, _| {
            if failing.load(Ordering::SeqCst) {
                (500, None)
            } else {
                (200, None)
            }
        }),
    )
    .await;
    (addr, rx)
}

/// A webhook that keeps failing is rested between probes by its circuit breaker, and a
/// manual test is let through at once as the next probe.
#[tokio::test]
async fn the_circuit_breaker_rests_a_failing_webhook() {
    let t = start_with(|c| {
        c.webhooks.breaker_after_failures = 2;
        // Long enough that nothing happens on its own while the test looks.
        c.webhooks.retry_base_ms = 60_000;
        c.webhooks.breaker_max_pause_ms = 120_000;
        c.webhooks.max_in_flight_per_endpoint = 1;
    })
    .await;
    let a = t.client();
    paired_instance(&a, "n1").await;
    let (addr, rx) = flaky_receiver(Arc::new(true.into())).await;
    let (hook, _) = subscribe(&a, &url(addr), &["message.received"], None).await;
    for i in 0..5 {
        inbound(&a, "n1", &format!("event {i}")).await;
    }
    let listed = testing::eventually(10, || {
        let a = a.clone();
        async move {
            let w = a.webhooks().list().await.unwrap().webhooks.remove(0);
            (w.failure_streak == 2 && w.paused_until.is_some()).then_some(w)
        }
    })
    .await;
    let rest = listed.paused_until.unwrap() - chrono::Utc::now();
    assert!(rest > chrono::Duration::seconds(50), "{listed:?}");
    assert!(!listed.disabled);
    // Five deliveries are due, but the breaker holds them: two attempts and no more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.hits.lock().unwrap().len(), 2);
    // A manual test is the next probe: it goes now, and fails, so the rest starts again.
    a.webhooks().test(&hook).await.unwrap();
    let rx2 = rx.clone();
    testing::eventually(10, || {
        let rx = rx2.clone();
        async move { (rx.hits.lock().unwrap().len() == 3).then_some(()) }
    })
    .await;
    testing::eventually(10, || {
        let a = a.clone();
        async move {
            let w = a.webhooks().list().await.unwrap().webhooks.remove(0);
            (w.failure_streak == 3 && w.paused_until.is_some()).then_some(())
        }
    })
    .await;
    t.shutdown().await;
}

/// After a long failure streak a webhook is disabled: `GET /api/webhooks` says why, the
/// account's other webhooks get `webhook.disabled`, nothing more is queued for it or sent
/// to it, and enabling it sends what was pending.
#[tokio::test]
async fn a_webhook_failing_for_too_long_is_disabled_until_enabled() {
    let t = start_with(|c| {
        c.webhooks.breaker_after_failures = 3;
        c.webhooks.breaker_max_pause_ms = 50;
        c.webhooks.disable_after_failures = 6;
        c.webhooks.disable_after_secs = 0;
    })
    .await;
    let a = t.client();
    paired_instance(&a, "n1").await;
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (bad_addr, bad) = flaky_receiver(failing.clone()).await;
    let (watch_addr, watch) = flaky_receiver(Arc::new(false.into())).await;
    let (hook, _) = subscribe(&a, &url(bad_addr), &["message.received"], None).await;
    let (watcher, _) = subscribe(&a, &url(watch_addr), &["webhook.disabled"], None).await;
    for i in 0..4 {
        inbound(&a, "n1", &format!("before {i}")).await;
    }
    let disabled = testing::eventually(20, || {
        let a = a.clone();
        async move {
            let list = a.webhooks().list().await.unwrap().webhooks;
            list.into_iter().find(|w| w.disabled)
        }
    })
    .await;
    assert_eq!(disabled.id, hook);
    assert!(disabled.failure_streak >= 6, "{disabled:?}");
    assert!(disabled.disabled_at.is_some());
    let reason = disabled.disabled_reason.clone().unwrap();
    assert!(
        reason.contains("failed attempts in a row") && reason.contains("HTTP 500"),
        "{reason}"
    );
    // The account's other webhook hears about it, signed like every event.
    let event = testing::eventually(10, || {
        let watch = watch.clone();
        async move { watch.hits.lock().unwrap().first().cloned() }
    })
    .await;
    let body = event.json();
    assert_eq!(body["event"], "webhook.disabled");
    assert_eq!(body["instanceId"], "webhooks");
    assert_eq!(body["data"]["webhookId"], hook.as_str());
    assert_eq!(body["data"]["reason"], reason.as_str());
    assert!(body["data"].get("url").is_none(), "{body}");
    let parsed: sevenoways_sdk::Event = serde_json::from_slice(&event.body).unwrap();
    assert!(matches!(
        parsed.data,
        sevenoways_sdk::EventData::WebhookDisabled(ref d) if d.webhook_id == hook
    ));
    let listed = a.webhooks().list().await.unwrap().webhooks;
    assert!(!listed.iter().find(|w| w.id == watcher).unwrap().disabled);

    // Disabled: new events are not queued for it, manual sends are refused.
    let attempts_then = bad.hits.lock().unwrap().len();
    let (late_addr, late) = flaky_receiver(Arc::new(false.into())).await;
    subscribe(&a, &url(late_addr), &["message.received"], None).await;
    inbound(&a, "n1", "while disabled").await;
    // Fanned out (the other webhook has it) while the first one is disabled.
    testing::eventually(10, || {
        let late = late.clone();
        async move { (!late.hits.lock().unwrap().is_empty()).then_some(()) }
    })
    .await;
    let (status, answer) = crate::e2e_webhooks::raw(
        &t,
        "POST",
        &format!("/api/webhooks/{}/test", hook.as_str()),
        None,
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains(&format!("POST /api/webhooks/{}/enable", hook.as_str())),
        "{answer}"
    );
    let pending = crate::e2e_webhooks::deliveries(&a, &hook).await;
    assert_eq!(pending.len(), 4, "{pending:?}");
    let (status, _) = crate::e2e_webhooks::raw(
        &t,
        "POST",
        &format!(
            "/api/webhooks/{}/deliveries/{}/redeliver",
            hook.as_str(),
            pending[0].id.as_str()
        ),
        None,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(bad.hits.lock().unwrap().len(), attempts_then);

    // Fixed and enabled: everything that was pending is delivered, at once.
    failing.store(false, Ordering::SeqCst);
    let enabled = a.webhooks().enable(&hook).await.unwrap();
    assert!(!enabled.disabled && enabled.disabled_reason.is_none());
    assert_eq!(enabled.failure_streak, 0);
    let hook2 = hook.clone();
    let done = testing::eventually(10, || {
        let (a, hook) = (a.clone(), hook2.clone());
        async move {
            let list = crate::e2e_webhooks::deliveries(&a, &hook).await;
            list.iter().all(|d| d.status == "succeeded").then_some(list)
        }
    })
    .await;
    assert_eq!(done.len(), 4);
    let delivered: std::collections::BTreeSet<String> = bad
        .hits
        .lock()
        .unwrap()
        .iter()
        .filter(|h| h.answered == 200)
        .map(|h| h.json()["data"]["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        delivered,
        (0..4).map(|i| format!("before {i}")).collect(),
        "what was pending is delivered; what came while disabled is not"
    );
    // Another key cannot enable it.
    let other = t.other_client().await;
    assert!(matches!(
        other.webhooks().enable(&hook).await,
        Err(sevenoways_sdk::Error::NotFound { .. })
    ));
    t.shutdown().await;
}

/// `test` and `redeliver` share an allowance per key (10 a minute): beyond it, 429 in the
/// envelope with `Retry-After`; other keys are not affected.
#[tokio::test]
async fn test_and_redeliver_are_rate_limited_per_key() {
    let t = start_with(|_| {}).await;
    let a = t.client();
    let (addr, _rx) = flaky_receiver(Arc::new(false.into())).await;
    let (hook, _) = subscribe(&a, &url(addr), &[], None).await;
    for _ in 0..10 {
        a.webhooks().test(&hook).await.unwrap();
    }
    let http = reqwest::Client::new();
    let over = |path: String| {
        let (http, key, base) = (http.clone(), t.key.clone(), t.base());
        async move {
            let answer = http
                .post(format!("{base}{path}"))
                .header("x-api-key", key)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let retry_after: Option<u64> = answer
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse().unwrap());
            let body: serde_json::Value = answer.json().await.unwrap();
            (status, retry_after, body)
        }
    };
    let (status, retry_after, body) = over(format!("/api/webhooks/{}/test", hook.as_str())).await;
    assert_eq!(status, 429, "the 11th call in a minute: {body}");
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );
    assert_eq!(body["success"], false);
    assert_eq!(
        body["error"],
        "Webhook test and redeliver limit exceeded — max 10 calls/minute per API key."
    );
    let delivery = crate::e2e_webhooks::deliveries(&a, &hook).await.remove(0);
    let (status, _, _) = over(format!(
        "/api/webhooks/{}/deliveries/{}/redeliver",
        hook.as_str(),
        delivery.id.as_str()
    ))
    .await;
    assert_eq!(status, 429);
    // The SDK reports it as rate limited, with the wait.
    assert!(matches!(
        a.webhooks().test(&hook).await,
        Err(sevenoways_sdk::Error::RateLimited { .. })
    ));
    // Only ten tests were queued.
    assert_eq!(crate::e2e_webhooks::deliveries(&a, &hook).await.len(), 10);
    // Another key has its own allowance.
    let b = t.other_client().await;
    let (addr, _rx2) = flaky_receiver(Arc::new(false.into())).await;
    let (theirs, _) = subscribe(&b, &url(addr), &[], None).await;
    b.webhooks().test(&theirs).await.unwrap();
    t.shutdown().await;
}
