//! The Postgres half of the test matrix: this suite's server tests again, on Postgres.
//!
//! With `SEVENOWAYS_TEST_DATABASE_URL` set (a postgres:// URL whose role may create
//! databases; `.ci/run` sets it), this test runs this very test binary again in a child
//! process with `SEVENOWAYS_TEST_BACKEND=postgres`, so that every server the harness starts
//! runs on a Postgres database of its own, and fails with the child's report when any test
//! fails there. Without the variable it says that it skipped the Postgres half, on stderr
//! where `cargo test` shows it, and passes.
//!
//! Which tests: every test of a server through `sevenoways_server::testing` (the `e2e_*`,
//! `engine_*` and `console_http` modules). Not in it: the `store_*` and `queue_leases`
//! tests (the SQLite store itself, with injected instants), the `*_bin` tests and
//! `e2e_disk_full` (SQLite's files and disk), and the browser and OpenAPI tool runs, which
//! test the HTTP face the store does not change.

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use sevenoways_server::testing::matrix;

/// Test-name filters of the Postgres half (libtest matches them as substrings).
const MODULES: &[&str] = &["e2e_", "engine_", "console_http::"];
/// Tests in those modules that are about SQLite itself.
const SKIP: &[&str] = &["e2e_disk_full"];

#[test]
fn the_server_suite_passes_on_postgres() {
    if matrix::postgres().is_some() {
        return; // The child: it runs the tests, not itself.
    }
    let Ok(admin) = std::env::var(matrix::URL_VAR) else {
        let _ = writeln!(
            std::io::stderr(),
            "postgres_matrix: SKIPPED the Postgres half of the test matrix: set {}=postgres://USER:PASSWORD@HOST/DB \
             (a role with CREATEDB; `.ci/run` starts PostgreSQL and sets it) to run the server tests on Postgres too",
            matrix::URL_VAR
        );
        return;
    };
    let _heavy = crate::HEAVY.blocking_lock();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(matrix::drop_test_databases(&admin));
    // The child's report goes straight to this process's stdout and stderr (not through
    // libtest's capture), so a run shows each test of the Postgres half as it finishes.
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(MODULES)
        .args(SKIP.iter().flat_map(|s| ["--skip", s]))
        .env(matrix::BACKEND_VAR, "postgres")
        .spawn()
        .expect("the test binary runs again");
    // A hung test must fail the run, not hold CI until its own timeout.
    let deadline = Instant::now() + Duration::from_secs(25 * 60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let dropped = runtime.block_on(matrix::drop_test_databases(&admin));
    let _ = writeln!(
        std::io::stderr(),
        "postgres_matrix: the server tests on Postgres: {} ({dropped} test databases dropped)",
        match status {
            Some(s) if s.success() => "passed".to_owned(),
            Some(s) => format!("FAILED ({s}); the failures are listed above"),
            None => "killed after 25 minutes".to_owned(),
        }
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "the server tests failed on Postgres (their report is above)"
    );
}
