//! One tenant's failing webhooks must not hold up another tenant's deliveries: fair
//! claiming with per-account and per-endpoint caps, a short connect timeout, and the
//! circuit breaker that pauses and then disables an endpoint that keeps failing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sevenoways_server::testing::{self, paired_instance};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::e2e_webhooks::{inbound, local_listener, receiver, subscribe, url};

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
    t.shutdown().await;
}
