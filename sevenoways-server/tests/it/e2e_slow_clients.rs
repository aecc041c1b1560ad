//! Slow clients cannot hold the server: a client that stops sending its body mid-way gets
//! a 408 in the envelope; one that never finishes its headers, or idles after an answer,
//! is disconnected; and shutdown completes with such clients connected (audit F6).

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

/// Reads until the server closes the connection; what it sent, or `None` if it was still
/// open after `secs`.
async fn read_until_closed(conn: &mut tokio::net::TcpStream, secs: u64) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(secs), async {
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let t = start_with(|c| {
        c.http.header_read_timeout_secs = 1;
        c.http.idle_timeout_secs = 60;
    })
    .await;
    // Half a request, and nothing at all: both are closed by the header timeout.
    for sent in [&b"GET /healthz HTTP/1.1\r\nHost: x\r\nx-api-"[..], b""] {
        let mut conn = tokio::net::TcpStream::connect(t.server.local_addr())
            .await
            .unwrap();
        conn.write_all(sent).await.unwrap();
        let answer = read_until_closed(&mut conn, 10).await;
        let answer = answer.unwrap_or_else(|| {
            panic!(
                "a client that sent {:?} was still connected after 10 s",
                String::from_utf8_lossy(sent)
            )
        });
        // Whatever the server said, it was not an answer to a request.
        assert!(!answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    }
    t.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_its_answers_is_disconnected() {
    let t = start_with(|c| {
        c.http.header_read_timeout_secs = 600;
        c.http.idle_timeout_secs = 1;
    })
    .await;
    // 100 pipelined requests for the ~100 KB OpenAPI document, and then no reading: the
    // answers fill the socket buffers and the server's writes stall. Its handlers are
    // done and it waits for no header, so only the idle timeout ends this.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let mut conn = socket.connect(t.server.local_addr()).await.unwrap();
    let requests = "GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
    conn.write_all(requests.as_bytes()).await.unwrap();
    // The client stalls (this is the behaviour under test, not a wait for the server).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let answer = read_until_closed(&mut conn, 10)
        .await
        .expect("a client that stopped reading is disconnected");
    let answers = answer.windows(12).filter(|w| w == b"HTTP/1.1 200").count();
    assert!(answers < 100, "all {answers} answers were delivered");
    t.shutdown().await;
}

#[tokio::test]
async fn shutdown_completes_with_stuck_clients_connected() {
    let t = start_with(|c| {
        // Neither timeout would end these clients within the test: the shutdown bound must.
        c.http.header_read_timeout_secs = 600;
        c.http.idle_timeout_secs = 600;
        c.request_timeout_secs = 600;
        c.http.shutdown_timeout_secs = 1;
    })
    .await;
    let addr = t.server.local_addr();
    let mut partial_headers = tokio::net::TcpStream::connect(addr).await.unwrap();
    partial_headers
        .write_all(b"GET /api/instances HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A request in progress whose body never comes: its handler is waiting on it.
    let mut partial_body = tokio::net::TcpStream::connect(addr).await.unwrap();
    partial_body
        .write_all(
            format!(
                "POST /api/send-number HTTP/1.1\r\nHost: x\r\nx-api-key: {}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"instanceId\"",
                t.key
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Let the server read both before stopping it.
    eventually(5, || async {
        reqwest::get(format!("{}/healthz", t.base()))
            .await
            .is_ok()
            .then_some(())
    })
    .await;
    let stopped =
        tokio::time::timeout(std::time::Duration::from_secs(20), t.server.shutdown()).await;
    assert!(
        stopped.is_ok(),
        "shutdown hung on clients that never finish"
    );
    // Both connections were dropped.
    assert!(read_until_closed(&mut partial_headers, 5).await.is_some());
    assert!(read_until_closed(&mut partial_body, 5).await.is_some());
}
