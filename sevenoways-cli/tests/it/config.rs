//! Profiles: `svw config set/show`, file mode 0600, flags > env > profile, a masked key.

use crate::common::{KEY, ok, stderr, stdout, svw};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

#[tokio::test]
async fn set_then_show_masks_the_key_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let set = svw(dir.path())
        .args(["config", "set", "api-key"])
        .write_stdin(format!("{KEY}\n"))
        .assert()
        .success();
    let out = set.get_output();
    assert!(!stdout(out).contains(KEY) && !stderr(out).contains(KEY));
    assert!(stdout(out).contains("svw_…cdef"), "{}", stdout(out));
    svw(dir.path())
        .args(["config", "set", "instance", "number2"])
        .assert()
        .success();
    svw(dir.path())
        .args(["config", "set", "base-url", "http://127.0.0.1:8080"])
        .assert()
        .success();

    let file = dir.path().join("config.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("[profiles.default]") && text.contains(KEY),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let out = svw(dir.path()).args(["config", "show"]).assert().success();
    let shown = stdout(out.get_output());
    assert!(!shown.contains(KEY), "{shown}");
    assert!(
        shown.contains("api-key\tsvw_…cdef\tprofile default"),
        "{shown}"
    );
    assert!(
        shown.contains("instance\tnumber2\tprofile default"),
        "{shown}"
    );

    let out = svw(dir.path())
        .env("SEVENOWAYS_INSTANCE", "from-env")
        .args(["--json", "config", "show"])
        .assert()
        .success();
    let shown: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        shown["instance"],
        json!({"value": "from-env", "source": "env SEVENOWAYS_INSTANCE"})
    );
    assert_eq!(shown["apiKey"]["value"], "svw_…cdef");
    assert_eq!(shown["baseUrl"]["value"], "http://127.0.0.1:8080");
}

#[tokio::test]
async fn flags_beat_the_environment_which_beats_the_profile() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/instances"))
        .respond_with(ok(json!({"instances": []})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    svw(dir.path())
        .args(["config", "set", "api-key", "profile-key"])
        .assert()
        .success();
    svw(dir.path())
        .args(["config", "set", "base-url", &server.uri()])
        .assert()
        .success();

    svw(dir.path())
        .args(["instances", "list"])
        .assert()
        .success();
    svw(dir.path())
        .env("SEVENOWAYS_API_KEY", "env-key")
        .args(["instances", "list"])
        .assert()
        .success();
    svw(dir.path())
        .env("SEVENOWAYS_API_KEY", "env-key")
        .args(["instances", "list", "--api-key", "flag-key"])
        .assert()
        .success();
    let keys: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("x-api-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys, ["profile-key", "env-key", "flag-key"]);
}

#[tokio::test]
async fn named_profiles_are_chosen_with_profile() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/instances"))
        .respond_with(ok(json!({"instances": []})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    svw(dir.path())
        .args([
            "--profile",
            "staging",
            "config",
            "set",
            "api-key",
            "staging-key",
        ])
        .assert()
        .success();
    svw(dir.path())
        .args([
            "--profile",
            "staging",
            "config",
            "set",
            "base-url",
            &server.uri(),
        ])
        .assert()
        .success();
    svw(dir.path())
        .env("SEVENOWAYS_PROFILE", "staging")
        .args(["instances", "list"])
        .assert()
        .success();
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(req.headers.get("x-api-key").unwrap(), "staging-key");

    // No key in the default profile: an auth failure, with a hint.
    let out = svw(dir.path())
        .args(["instances", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // A profile that does not exist is a usage error, not a silent fallback.
    let out = svw(dir.path())
        .args(["--profile", "prod", "instances", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no profile named \"prod\""),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn bad_values_and_a_broken_file_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["config", "set", "base-url", "ftp://x"],
        ["config", "set", "base-url", "http://"],
        ["config", "set", "base-url", "https://"],
        ["config", "set", "base-url", "http//sevenoways.app"],
        ["config", "set", "instance", "my number"],
    ] {
        assert_eq!(
            svw(dir.path()).args(args).output().unwrap().status.code(),
            Some(2),
            "{args:?}"
        );
    }
    assert!(
        !dir.path().join("config.toml").exists(),
        "nothing was stored"
    );
    let out = svw(dir.path())
        .args(["config", "set", "base-url", "http://"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("base-url must be an http(s) URL with a host")
            && stderr(&out).contains("; hint: "),
        "{}",
        stderr(&out)
    );
    for good in ["http://127.0.0.1:8080", "https://sevenoways.app/"] {
        svw(dir.path())
            .args(["config", "set", "base-url", good])
            .assert()
            .success();
    }
    std::fs::write(dir.path().join("config.toml"), "profiles = 3").unwrap();
    let out = svw(dir.path()).args(["config", "show"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Commands that need no settings still work.
    svw(dir.path())
        .args(["completions", "bash"])
        .assert()
        .success();
}
