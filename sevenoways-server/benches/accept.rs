//! Load harness for the accept path: how many durable sends per second the server takes.
//!
//! `cargo bench -p sevenoways-server --bench accept [-- SECONDS CONCURRENCY]`
//!
//! Two measurements, each against a fresh server and data directory:
//! 1. `store`: `Store::enqueue` called from CONCURRENCY tasks: the group-commit writer
//!    alone (every call returns only after its rows are committed with synchronous=FULL).
//! 2. `http`: `POST /api/send-number` over loopback HTTP/1.1 keep-alive from CONCURRENCY
//!    clients, through auth, body parsing, validation, the instance lookup, the plan's
//!    rate-limit and cap check and the queue insert (one transaction per group commit).
//!
//! Results are printed as a table and recorded by hand in `docs/benchmarks.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::{Content, InstanceId};
use sevenoways_server::Config;
use sevenoways_server::config::PlanConfig;
use sevenoways_server::store::{AccountId, NewEntry, RecipientKind};

struct Run {
    ops: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn report(&mut self, name: &str) {
        self.latencies.sort();
        let pct = |p: f64| {
            self.latencies
                .get(
                    ((self.latencies.len() as f64 * p) as usize)
                        .min(self.latencies.len().saturating_sub(1)),
                )
                .copied()
                .unwrap_or_default()
        };
        println!(
            "{name:<6} {:>10.0} ops/s   p50 {:>8.2?}   p99 {:>8.2?}   ({} ops in {:.1?})",
            self.ops as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            self.ops,
            self.elapsed
        );
    }
}

async fn drive<F, Fut>(seconds: u64, concurrency: usize, op: F) -> Run
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (stop, ops, op) = (stop.clone(), ops.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                op().await;
                lat.push(t.elapsed());
                ops.fetch_add(1, Ordering::Relaxed);
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Run {
        ops: ops.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        latencies,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let concurrency: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    println!(
        "accept path, {seconds}s per run, {concurrency} concurrent callers, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // 1. The store alone.
    let dir = tempfile::tempdir().unwrap();
    let server = launch(dir.path()).await;
    let store = server.store();
    let (account, instance) = setup(&server).await;
    let entry = NewEntry {
        account_id: account,
        instance_id: instance.clone(),
        to: "971501234567".into(),
        kind: RecipientKind::Phone,
        content: Content::Text {
            message: "Benchmark 👋".try_into().unwrap(),
        },
        schedule_id: None,
    };
    let mut run = drive(seconds, concurrency, move || {
        let (store, entry) = (store.clone(), entry.clone());
        async move {
            store.enqueue(vec![entry]).await.unwrap();
        }
    })
    .await;
    run.report("store");
    server.shutdown().await;

    // 2. Over HTTP.
    let dir = tempfile::tempdir().unwrap();
    let server = launch(dir.path()).await;
    let key = server.create_key("bench", "bench").await.unwrap();
    let account = server
        .store()
        .account_by_key_hash(&sevenoways_server::auth::hash_key(&key))
        .await
        .unwrap()
        .unwrap()
        .id;
    seed_instance(&server, account, &instance).await;
    let url = format!("{}/api/send-number", server.base_url());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let body = r#"{"instanceId":"bench","phone":"971501234567","message":"Benchmark 👋"}"#;
    let refused = Arc::new(AtomicU64::new(0));
    let refused2 = refused.clone();
    let mut run = drive(seconds, concurrency, move || {
        let (http, url, key, refused) = (http.clone(), url.clone(), key.clone(), refused2.clone());
        async move {
            let r = http
                .post(&url)
                .header("x-api-key", &key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let ok = r.status().is_success();
            let body = r.bytes().await.unwrap_or_default();
            if !ok && refused.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!("first refusal: {}", String::from_utf8_lossy(&body));
            }
        }
    })
    .await;
    run.report("http");
    let refused = refused.load(Ordering::Relaxed);
    if refused > 0 {
        println!("       ({refused} answered non-2xx, e.g. rate-limited: see docs/benchmarks.md)");
    }
    server.shutdown().await;
}

async fn launch(dir: &std::path::Path) -> sevenoways_server::Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // An unlimited plan: this measures the accept path, not the 60/minute limit. Pacing
    // stays at its default, so the worker sends about one message a second meanwhile.
    let bench = PlanConfig {
        name: "bench".into(),
        requests_per_minute: 0,
        daily_cap: 0,
        monthly_cap: 0,
        ..PlanConfig::default()
    };
    let config = Config {
        data_dir: dir.to_owned(),
        plans: vec![bench],
        ..Config::default()
    };
    sevenoways_server::launch(config, listener).await.unwrap()
}

async fn setup(server: &sevenoways_server::Server) -> (AccountId, InstanceId) {
    let key = server.create_key("bench", "bench").await.unwrap();
    let account = server
        .store()
        .account_by_key_hash(&sevenoways_server::auth::hash_key(&key))
        .await
        .unwrap()
        .unwrap()
        .id;
    let instance = InstanceId::new("bench").unwrap();
    seed_instance(server, account, &instance).await;
    (account, instance)
}

async fn seed_instance(
    server: &sevenoways_server::Server,
    account: AccountId,
    instance: &InstanceId,
) {
    let store = server.store();
    store
        .create_instance(
            account,
            instance,
            "bench",
            sevenoways_server::config::EngineKind::Sandbox,
            0,
        )
        .await
        .unwrap();
    store
        .set_instance_status(
            account,
            instance,
            InstanceStatus::Online,
            Some("971500000000"),
            None,
        )
        .await
        .unwrap();
}
