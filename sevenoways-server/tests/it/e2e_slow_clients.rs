//! A client that stops sending its body mid-way gets a 408 in the envelope, instead of
//! holding a connection and a task forever.

use sevenoways_server::testing::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_stalled_body_times_out_with_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let config = sevenoways_server::Config {
        request_timeout_secs: 1,
        ..fast_config(dir.path())
    };
    let server = launch(config).await;
    let key = server.create_key("t", "default").await.unwrap();
    let mut conn = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /api/send-number HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{{\"in"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server must answer a stalled body");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains(r#""success":false"#) && text.contains("too long"),
        "{text}"
    );
    server.shutdown().await;
}
