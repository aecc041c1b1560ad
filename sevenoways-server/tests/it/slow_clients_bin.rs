//! Slow clients against the real binary: a flood of half-open connections under a small
//! open-file limit does not keep `/healthz` out (audit F6: 300 of them made the server
//! unreachable), and SIGTERM ends the process promptly with such clients connected.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::server_process::{Spawn, create_key};

#[tokio::test]
async fn many_slow_connections_do_not_make_healthz_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create_key(&data, "t");
    let mut spawn = Spawn::new(&data, "");
    // Few descriptors, as on a host with a low default limit: the connection cap fits
    // itself under this, so the slow connections cannot take the last descriptor.
    spawn.open_files = Some(256);
    let server = spawn.start().await;
    let addr = server.base.trim_start_matches("http://").to_owned();

    let mut slow = Vec::new();
    for _ in 0..400 {
        let mut conn = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(&addr),
        )
        .await
        .expect("the server stopped taking connections")
        .unwrap();
        // Never finished: each holds its connection as long as the server lets it.
        let _ = conn
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await;
        slow.push(conn);
    }
    let answer = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let status = answer.map(|r| r.status().as_u16());
    assert_eq!(
        status.as_ref().ok(),
        Some(&200),
        "healthz with 400 slow connections open: {status:?}"
    );
    drop(slow);
}

#[tokio::test]
async fn sigterm_ends_the_process_with_stuck_clients_connected() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "t");
    let mut spawn = Spawn::new(
        &data,
        "request_timeout_secs = 600\n[http]\nheader_read_timeout_secs = 600\nshutdown_timeout_secs = 1\n",
    );
    spawn.stderr = std::process::Stdio::piped();
    let mut server = spawn.start().await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut partial_headers = tokio::net::TcpStream::connect(&addr).await.unwrap();
    partial_headers
        .write_all(b"GET /api/instances HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut partial_body = tokio::net::TcpStream::connect(&addr).await.unwrap();
    partial_body
        .write_all(
            format!(
                "POST /api/send-number HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"in"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();

    server.terminate();
    let status = server.wait_exit(20);
    let status = status.expect("SIGTERM must end the process with stuck clients connected");
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("stopped cleanly"), "{stderr}");
}
