//! `sevenoways-server keys create` prints a working key as the last line of stdout, and
//! the database holds only its hash.

use std::process::Command;

#[test]
fn keys_create_prints_a_key_that_is_stored_only_as_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sevenoways-server"))
        .args([
            "keys",
            "create",
            "--name",
            "Ops team",
            "--plan",
            "default",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim();
    assert!(key.starts_with("svw_") && key.len() == 52, "{stdout}");

    // The key itself is nowhere in the data directory; its SHA-256 is.
    let mut db = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        db.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &[u8]| db.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(key.as_bytes()),
        "the plain key must not be stored"
    );
    assert!(
        contains(&sevenoways_server::auth::hash_key(key)),
        "its hash is stored"
    );

    // A second key is different.
    let out = Command::new(env!("CARGO_BIN_EXE_sevenoways-server"))
        .args(["keys", "create", "--name", "Other", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let second = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(second, key);
}
