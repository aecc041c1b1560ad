//! `--database-url` on the real binary, without a database: the password never shows,
//! whatever goes wrong, and a URL that is not Postgres is refused by name.

use std::process::Command;

use crate::server_process::{bin, free_port};

const PASSWORD: &str = "hunter2-not-for-logs";

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(bin())
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "debug")
        .env_remove("SEVENOWAYS_DATABASE_URL")
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn an_unreachable_database_fails_the_start_without_showing_the_password() {
    // A port nothing listens on: the connection is refused.
    let url = format!("postgres://relay:{PASSWORD}@127.0.0.1:{}/relay", free_port());
    let listen = format!("127.0.0.1:{}", free_port());
    for args in [
        vec!["--database-url", &url, "--listen", &listen],
        vec!["keys", "list", "--database-url", &url],
        vec!["migrate", "--database-url", &url],
    ] {
        let (ok, text) = run(&args, &[]);
        assert!(!ok, "{args:?} must fail: {text}");
        assert!(text.contains("database"), "{args:?} says what failed: {text}");
        assert!(!text.contains(PASSWORD), "{args:?} showed the password: {text}");
    }
    // From the environment, and in --help (which lists the variable, not its value).
    let (ok, text) = run(&["keys", "list"], &[("SEVENOWAYS_DATABASE_URL", &url)]);
    assert!(!ok && !text.contains(PASSWORD), "{text}");
    let (_, help) = run(&["--help"], &[("SEVENOWAYS_DATABASE_URL", &url)]);
    assert!(help.contains("--database-url"), "{help}");
    assert!(!help.contains(PASSWORD), "{help}");
}

#[test]
fn a_url_that_is_not_postgres_is_refused_by_name() {
    let (ok, text) = run(&["keys", "list", "--database-url", "mysql://u:p@db/relay"], &[]);
    assert!(!ok);
    assert!(text.contains("postgres://"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, "database_url = \"sqlite://relay.db\"\n").unwrap();
    let (ok, text) = run(&["migrate", "--config", config.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(
        text.contains("database_url") && text.contains("postgres://"),
        "{text}"
    );
}
