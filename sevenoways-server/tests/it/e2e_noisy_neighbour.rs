//! The "noisy neighbour": one account saturates everything it can reach at once (sends
//! far past its rate limit, every schedule it may hold due at the same moment, and two
//! dozen black-hole webhooks that hold each delivery attempt until it times out) while a
//! second account on the same server goes about its business. The second account must not
//! notice: every one of its sends is accepted, none waits behind the noise, and its
//! webhooks arrive within two seconds.
//!
//! What this test bounds, and what it leaves to the benchmark harness: here the server, the
//! noise and the measuring client share one debug-build process and two cores with the
//! rest of the test binary, so an absolute figure like the "50 ms p99" would flake
//! with the machine, not with the code (measured here: 28–330 ms p99 *alone* at load
//! average 10). The test therefore asserts what cannot be machine noise: no starvation
//! (p99 under two seconds while the neighbour runs, where a shared lock held by a
//! black hole or a schedule storm shows as many seconds) and webhooks within the issue's
//! 2 s. It prints both p99s; the 50 ms figure is a release-build measurement for the
//! harness described in `docs/benchmarks.md`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use sevenoways_sdk::models::messages::GroupTarget;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::{Content, InstanceId, ScheduleId, Target};
use sevenoways_server::limits::Quotas;
use sevenoways_server::testing::{self, TEAM_A, paired_instance};
use tokio::net::{TcpListener, TcpStream};

use crate::e2e_webhooks::{inbound, local_listener, receiver, subscribe, url};

/// Sends of the quiet account in each phase (baseline, then under noise).
const SENDS: usize = 60;

/// A receiver that accepts every connection and never answers.
async fn black_hole() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (addr, accepted)
}

async fn post(http: &reqwest::Client, base: &str, key: &str, path: &str, body: &Value) -> u16 {
    http.post(format!("{base}{path}"))
        .header("x-api-key", key)
        .json(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// `SENDS` sequential group sends by name, each timed from request to answer; all must be
/// accepted. Returns the 99th percentile.
async fn quiet_sends(http: &reqwest::Client, base: &str, key: &str, phase: &str) -> Duration {
    let mut took = Vec::with_capacity(SENDS);
    for i in 0..SENDS {
        let body =
            json!({"instanceId": "b1", "groups": ["Team A"], "message": format!("{phase} {i}")});
        let start = Instant::now();
        let status = post(http, base, key, "/api/send", &body).await;
        took.push(start.elapsed());
        assert_eq!(status, 200, "the quiet account's send {i} ({phase})");
    }
    took.sort();
    took[(SENDS * 99).div_ceil(100) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_saturating_everything_does_not_slow_another() {
    // Room for both phases of the quiet account under one rate window; the noisy one
    // blows through it within a second.
    let t = crate::e2e_webhooks::start_with(|config| {
        config.plans = vec![testing::plan("default", |p| p.requests_per_minute = 300)];
    })
    .await;
    let base = t.base();
    let a = t.client();
    let (b_key, b) = {
        let key = t
            .server
            .create_key("quiet", "default")
            .await
            .expect("an API key");
        let client = testing::client(&base, &key, sevenoways_sdk::BodyEncoding::Json);
        (key, client)
    };
    paired_instance(&a, "a1").await;
    paired_instance(&b, "b1").await;
    let http = reqwest::Client::new();

    // The quiet account's webhook, and its baseline.
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    let (hits, _task) = receiver(listener, Arc::new(|_, _| (200, None))).await;
    subscribe(&b, &url(addr), &["message.received"], None).await;
    let quiet_p99 = quiet_sends(&http, &base, &b_key, "quiet").await;

    // The noise. Webhooks: 24 black holes on every event the noisy account raises.
    let (hole, held) = black_hole().await;
    for i in 0..24 {
        subscribe(
            &a,
            &format!("http://{hole}/hook/{i}"),
            &["message.sent", "message.delivered", "message.received"],
            None,
        )
        .await;
    }
    // Schedules: as many as its plan allows, all due now.
    let account_a = t.account_id().await;
    let max = Quotas::BUILTIN.schedules;
    let target =
        ScheduleTarget::try_from(Target::Groups(GroupTarget::ids([TEAM_A]).unwrap())).unwrap();
    let spec = CreateScheduleRequest::new(
        InstanceId::new("a1").unwrap(),
        "noise",
        "* * * * *".parse().unwrap(),
        "UTC".parse().unwrap(),
        target,
        Content::Text {
            message: "scheduled noise".try_into().unwrap(),
        },
    )
    .unwrap();
    let due = Utc::now() - chrono::Duration::seconds(1);
    for n in 0..max {
        t.server
            .store()
            .create_schedule(
                account_a,
                &ScheduleId::new(format!("sch_noise{n}")).unwrap(),
                &spec,
                Some(due),
                Utc::now(),
                max,
            )
            .await
            .unwrap();
    }
    // Sends: 8 connections in a loop, far past the rate limit, plus inbound messages that
    // feed the black holes.
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut noise = Vec::new();
    for worker in 0..8 {
        let (http, base, key) = (http.clone(), base.clone(), t.key.clone());
        let (stop, refused) = (stop.clone(), refused.clone());
        noise.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"instanceId": "a1", "groupIds": [TEAM_A], "message": format!("noise {worker}/{i}")});
                if post(&http, &base, &key, "/api/send", &body).await == 429 {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    for i in 0..20 {
        inbound(&a, "a1", &format!("noise {i}")).await;
    }
    // The noise is at full strength: refusals are flowing and the black holes hold
    // delivery attempts open.
    testing::eventually(30, || {
        let (refused, held) = (refused.clone(), held.clone());
        async move {
            (refused.load(Ordering::Relaxed) > 500 && held.load(Ordering::SeqCst) >= 8)
                .then_some(())
        }
    })
    .await;

    let noisy_p99 = quiet_sends(&http, &base, &b_key, "noisy").await;
    eprintln!(
        "quiet account's send p99: {quiet_p99:?} alone, {noisy_p99:?} beside the noise \
         ({} of the noisy account's sends refused meanwhile)",
        refused.load(Ordering::Relaxed)
    );
    assert!(
        noisy_p99 < Duration::from_secs(2),
        "the quiet account waited behind its neighbour: p99 {noisy_p99:?} (alone {quiet_p99:?})"
    );

    for round in 1..=3 {
        let before = hits.hits.lock().unwrap().len();
        let start = Instant::now();
        inbound(&b, "b1", &format!("quiet {round}")).await;
        testing::eventually(10, || {
            let hits = hits.clone();
            async move { (hits.hits.lock().unwrap().len() > before).then_some(()) }
        })
        .await;
        let took = start.elapsed();
        eprintln!("quiet account's webhook, round {round}: {took:?}");
        assert!(
            took < Duration::from_secs(2),
            "round {round}: the quiet account's webhook took {took:?} beside the black holes"
        );
    }

    stop.store(true, Ordering::Relaxed);
    for task in noise {
        task.await.unwrap();
    }
    t.shutdown().await;
}
