//! A real server in-process on port 0, over a temporary data directory, and an SDK
//! client for it.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use sevenoways_sdk::models::instances::CreateInstanceRequest;
use sevenoways_sdk::models::sandbox::SandboxGroupRequest;
use sevenoways_sdk::{BodyEncoding, Client, GroupId, InstanceId};
use sevenoways_server::config::{PacingConfig, QueueConfig, SandboxConfig};
use sevenoways_server::{Config, Server};
use tempfile::TempDir;

/// A running server, its data directory and one account's key.
pub struct TestServer {
    pub server: Server,
    pub dir: TempDir,
    pub key: String,
}

/// Fast timings: no pacing, receipts within 100 ms, quick retries.
pub fn test_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_owned(),
        pacing: PacingConfig {
            min_gap_ms: 0,
            jitter_ms: 0,
        },
        queue: QueueConfig {
            lease_secs: 5,
            max_attempts: 3,
            retry_base_ms: 50,
            poll_ms: 20,
        },
        sandbox: SandboxConfig {
            delivered_after_ms: 100,
            read_after_ms: 100,
        },
        ..Config::default()
    }
}

pub async fn launch(config: Config) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sevenoways_server::launch(config, listener).await.unwrap()
}

pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let server = launch(test_config(dir.path())).await;
    let key = server.create_key("test", "default").await.unwrap();
    TestServer { server, dir, key }
}

impl TestServer {
    pub fn base(&self) -> String {
        self.server.base_url()
    }

    pub fn client(&self) -> Client {
        client(&self.base(), &self.key, BodyEncoding::Json)
    }

    pub fn form_client(&self) -> Client {
        client(&self.base(), &self.key, BodyEncoding::Form)
    }

    /// Another account on the same server.
    pub async fn other_client(&self) -> Client {
        let key = self.server.create_key("other", "default").await.unwrap();
        client(&self.base(), &key, BodyEncoding::Json)
    }
}

pub fn client(base: &str, key: &str, encoding: BodyEncoding) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(base)
        .encoding(encoding)
        .max_retries(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub fn id(s: &str) -> InstanceId {
    s.parse().unwrap()
}

pub const TEAM_A: &str = "120363000000000001@g.us";
pub const TEAM_B: &str = "120363000000000002@g.us";

/// Creates an instance, pairs it and gives it the groups "Team A" and "Team B".
pub async fn paired_instance(client: &Client, name: &str) -> InstanceId {
    let id = id(name);
    client
        .instances()
        .create(&CreateInstanceRequest::new(
            id.clone(),
            format!("{name} label"),
        ))
        .await
        .unwrap();
    client.sandbox().pair(&id).await.unwrap();
    for (gid, gname) in [(TEAM_A, "Team A"), (TEAM_B, "Team B")] {
        client
            .sandbox()
            .add_group(
                &id,
                &SandboxGroupRequest {
                    name: gname.into(),
                    id: Some(GroupId::new(gid).unwrap()),
                },
            )
            .await
            .unwrap();
    }
    id
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
