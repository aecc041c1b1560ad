//! The real `sevenoways-server` binary, for tests of what only a process shows: its
//! command line, signals, file-descriptor limits, its stderr, two processes on one
//! database. Each test runs it on a port of its own over a directory it owns.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: this build's, or the one `SEVENOWAYS_SERVER_BIN` names (to run
/// these tests against another build, such as the last release, and see them fail).
pub fn bin() -> String {
    std::env::var("SEVENOWAYS_SERVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sevenoways-server").to_owned())
}

/// A running server process, killed on drop.
pub struct Proc {
    pub child: Child,
    pub base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Sends SIGTERM, as an orchestrator stopping the service does.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits up to `secs` for the process to exit.
    pub fn wait_exit(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the binary with `args`, logging off.
pub fn cli(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("RUST_LOG", "off")
        .env_remove("SEVENOWAYS_CONFIG")
        .env_remove("SEVENOWAYS_DATA_DIR")
        .output()
        .expect("the binary runs")
}

/// `keys create` on `data` with plan `default`; the key it printed on its last line.
pub fn create_key(data: &Path, name: &str) -> String {
    let out = cli(&[
        "keys",
        "create",
        "--name",
        name,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().trim().to_owned()
}

/// How to start a server.
pub struct Spawn<'a> {
    /// The data directory.
    pub data: &'a Path,
    /// The TOML configuration, written beside the data directory.
    pub config: &'a str,
    /// Where its stderr goes.
    pub stderr: Stdio,
    /// `ulimit -n` for the process (soft and hard), if any.
    pub open_files: Option<u32>,
    /// `RUST_LOG`.
    pub log: &'a str,
}

impl<'a> Spawn<'a> {
    /// A server on `data` with `config`, stderr discarded, warnings logged.
    pub fn new(data: &'a Path, config: &'a str) -> Self {
        Self {
            data,
            config,
            stderr: Stdio::null(),
            open_files: None,
            log: "warn",
        }
    }

    /// Starts it on a free port and waits until `/healthz` answers.
    pub async fn start(self) -> Proc {
        let port = free_port();
        let config_path = self.data.with_extension("toml");
        std::fs::write(&config_path, self.config).unwrap();
        let mut command = match self.open_files {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let child = command
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(self.data)
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.stderr)
            .spawn()
            .expect("the server binary starts");
        let mut proc = Proc {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http
            .get(format!("{}/healthz", proc.base))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err()
        {
            if let Some(status) = proc.child.try_wait().unwrap() {
                panic!("the server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        proc
    }
}
