//! `sevenoways-server backup --to FILE` copies a running server's database consistently,
//! refuses to overwrite unless told, and the copy restored as docs/operations.md says
//! runs a working server with the same keys, numbers and queue (audit F14).

use std::os::unix::fs::PermissionsExt;

use sevenoways_sdk::BodyEncoding;
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_server::testing::{client, paired_instance};

use crate::server_process::{Spawn, cli, create_key};

#[tokio::test]
async fn a_running_servers_backup_restores_into_a_working_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "t");
    let server = Spawn::new(&data, "[pacing]\nmin_gap_ms = 600000\njitter_ms = 0\n")
        .start()
        .await;
    let c = client(&server.base, &key, BodyEncoding::Json);
    let number = paired_instance(&c, "n1").await;
    let send = {
        let (c, number) = (c.clone(), number.clone());
        move |i: usize| {
            let (c, number) = (c.clone(), number.clone());
            async move {
                c.messages()
                    .send_number(&SendNumberRequest::new(
                        number,
                        "971501234567".parse().unwrap(),
                        format!("msg {i}").try_into().unwrap(),
                    ))
                    .await
                    .unwrap()
                    .queue_id
            }
        }
    };
    let mut before = Vec::new();
    for i in 0..10 {
        before.push(send(i).await);
    }
    // Sends keep arriving while the backup is taken.
    let writer = tokio::spawn({
        let send = send.clone();
        async move {
            for i in 10..40 {
                send(i).await;
            }
        }
    });
    let backup = dir.path().join("backups").join("relay.db");
    std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "backup".to_owned(),
            "--to".into(),
            backup.to_str().unwrap().into(),
            "--data-dir".into(),
            data.to_str().unwrap().into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: Vec<String>| cli(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args(&[]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checked"));
    writer.await.unwrap();
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup holds secrets");

    let again = run(args(&[]));
    assert!(
        !again.status.success(),
        "an existing backup is not overwritten"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = run(args(&["--force"]));
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );

    // Restore as documented: a data directory (0700) holding the copy as sevenoways.db.
    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::set_permissions(&restored, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(&backup, restored.join("sevenoways.db")).unwrap();
    let second = Spawn::new(&restored, "").start().await;
    let c2 = client(&second.base, &key, BodyEncoding::Json);
    let numbers = c2
        .instances()
        .list()
        .await
        .expect("the key works on the restored server");
    assert!(numbers.instances.iter().any(|i| i.instance_id == number));
    for id in before {
        c2.queue()
            .status(id)
            .await
            .expect("every message accepted before the backup is there");
    }
    // And it takes new work.
    c2.messages()
        .send_number(&SendNumberRequest::new(
            number,
            "971501234567".parse().unwrap(),
            "after the restore".try_into().unwrap(),
        ))
        .await
        .unwrap();
}
