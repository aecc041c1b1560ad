//! Client behaviour against a mock server: which failures are retried (a POST always with
//! the `Idempotency-Key` of its first attempt, so a send cannot go out twice), how answers
//! map onto [`Error`], timeouts, decoding errors, validation before sending, and that the
//! API key never leaks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{API_KEY, client, received};
use insta::assert_snapshot;
use serde_json::json;
use sevenoways_sdk::models::channels::{AddChannelRequest, SendDocumentToChannelRequest};
use sevenoways_sdk::models::instances::CreateInstanceRequest;
use sevenoways_sdk::models::messages::{
    SendDocumentRequest, SendNumberImageRequest, SendNumberRequest, SendRequest,
};
use sevenoways_sdk::models::schedules::CreateScheduleRequest;
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_sdk::{
    BodyEncoding, Client, Error, GroupTarget, QueueId, RATE_LIMIT_MESSAGE, ScheduleId,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

// ---------------------------------------------------------------------------------------
// helpers

/// A server that gives each response once, in order, and the last one from then on.
async fn answering_in_turn(responses: Vec<ResponseTemplate>) -> MockServer {
    let server = MockServer::start().await;
    let last = responses.len() - 1;
    for (i, response) in responses.into_iter().enumerate() {
        let mock = Mock::given(any()).respond_with(response);
        let mock = if i < last {
            mock.up_to_n_times(1)
        } else {
            mock
        };
        mock.mount(&server).await;
    }
    server
}

fn ok_queued() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"success": true, "queued": true, "queueId": 142}))
}

fn ok_channels() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"success": true, "channels": []}))
}

fn failure(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"success": false, "error": message}))
}

fn rate_limited(retry_after: Option<&str>) -> ResponseTemplate {
    let response = failure(429, RATE_LIMIT_MESSAGE);
    match retry_after {
        Some(secs) => response.insert_header("Retry-After", secs),
        None => response,
    }
}

fn builder(server: &MockServer) -> sevenoways_sdk::ClientBuilder {
    Client::builder().api_key(API_KEY).base_url(server.uri())
}

fn send_number_req() -> SendNumberRequest {
    SendNumberRequest::new(
        "number2".parse().unwrap(),
        "971501234567".parse().unwrap(),
        "Hello! Your order is ready 🎉".try_into().unwrap(),
    )
}

/// A POST (`/api/send-number`): repeatable only with its Idempotency-Key.
async fn post(client: &Client) -> sevenoways_sdk::Result<QueueId> {
    client
        .messages()
        .send_number(&send_number_req())
        .await
        .map(|q| q.queue_id)
}

/// A GET (`/api/channels`): idempotent.
async fn get(client: &Client) -> sevenoways_sdk::Result<usize> {
    client.channels().list().await.map(|l| l.channels.len())
}

/// Every error is checked for the key, in both its Display and Debug forms.
fn no_key(err: &Error) {
    assert!(!err.to_string().contains(API_KEY), "{err}");
    assert!(!format!("{err:?}").contains(API_KEY), "{err:?}");
    assert!(!err.to_string().contains("7f3a9c2e"), "{err}");
}

async fn request_count(server: &MockServer) -> usize {
    received(server).await.len()
}

/// The `Idempotency-Key` of each request `server` received (`None` for one without).
async fn keys(server: &MockServer) -> Vec<Option<String>> {
    received(server)
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect()
}

/// Asserts every request carried one and the same key, a UUID v4 as the client makes
/// them; returns it.
async fn one_generated_key(server: &MockServer) -> String {
    let keys = keys(server).await;
    let first = keys[0].clone().expect("a POST carries an Idempotency-Key");
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(first.as_str())),
        "{keys:?}"
    );
    let bytes = first.as_bytes();
    assert_eq!(first.len(), 36, "{first}");
    assert!(
        [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-')
            && bytes[14] == b'4'
            && b"89ab".contains(&bytes[19]),
        "a UUID v4: {first}"
    );
    first
}

// ---------------------------------------------------------------------------------------
// 429

#[tokio::test]
async fn rate_limit_is_retried_after_the_servers_retry_after() {
    let server = answering_in_turn(vec![rate_limited(Some("1")), ok_queued()]).await;
    let client = client(&server, BodyEncoding::Json);
    let started = Instant::now();
    let queue_id = post(&client).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(queue_id, QueueId(142));
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2, "one 429, then the retry");
    assert_eq!(
        requests[0].body, requests[1].body,
        "the retry sends the same body"
    );
    // Without Retry-After the first backoff is at most 250 ms: waiting a whole second
    // shows the header was read.
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
}

#[tokio::test]
async fn rate_limit_with_retry_after_zero_is_retried_at_once() {
    let server = answering_in_turn(vec![
        rate_limited(Some("0")),
        rate_limited(Some("0")),
        ok_channels(),
    ])
    .await;
    let started = Instant::now();
    assert_eq!(get(&client(&server, BodyEncoding::Json)).await.unwrap(), 0);
    assert_eq!(request_count(&server).await, 3);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn retry_after_longer_than_max_retry_wait_is_not_waited_for() {
    let server = answering_in_turn(vec![rate_limited(Some("120")), ok_queued()]).await;
    let client = builder(&server)
        .max_retry_wait(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = post(&client).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match &err {
        Error::RateLimited {
            retry_after,
            message,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(120)));
            assert_eq!(message, RATE_LIMIT_MESSAGE);
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(err.status(), Some(429));
    assert_eq!(request_count(&server).await, 1, "no retry");
    no_key(&err);
    assert_snapshot!("display_rate_limited", err.to_string());
}

#[tokio::test]
async fn rate_limit_without_retry_after_gives_up_after_max_retries() {
    let server = answering_in_turn(vec![rate_limited(None)]).await;
    let client = builder(&server).max_retries(2).build().unwrap();
    let err = post(&client).await.unwrap_err();
    assert!(
        matches!(&err, Error::RateLimited { retry_after: None, message } if message == RATE_LIMIT_MESSAGE),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 3, "first try and two retries");
    no_key(&err);
    assert_snapshot!("display_rate_limited_without_retry_after", err.to_string());
}

// ---------------------------------------------------------------------------------------
// 4xx: answered, final

#[tokio::test]
async fn unauthorized() {
    let server = answering_in_turn(vec![failure(401, "Invalid API key"), ok_queued()]).await;
    let err = post(&client(&server, BodyEncoding::Json))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unauthorized { message } if message == "Invalid API key"),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(401));
    assert_eq!(request_count(&server).await, 1, "a 401 is not retried");
    no_key(&err);
    assert_snapshot!("display_unauthorized", err.to_string());
}

#[tokio::test]
async fn not_found() {
    let server = answering_in_turn(vec![failure(404, "Schedule not found: sch_gone")]).await;
    let id: ScheduleId = "sch_gone".parse().unwrap();
    let err = client(&server, BodyEncoding::Json)
        .schedules()
        .delete(&id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { message } if message == "Schedule not found: sch_gone"),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(404));
    assert_eq!(request_count(&server).await, 1, "a 404 is not retried");
    no_key(&err);
    assert_snapshot!("display_not_found", err.to_string());
}

#[tokio::test]
async fn other_client_errors_carry_status_and_message() {
    let server = answering_in_turn(vec![failure(
        400,
        "phone: expected digits only, country code first",
    )])
    .await;
    let err = post(&client(&server, BodyEncoding::Form))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 400, message, .. } if message.starts_with("phone: ")),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 1);
    no_key(&err);
    assert_snapshot!("display_api", err.to_string());
}

#[tokio::test]
async fn an_error_without_the_envelope_keeps_an_excerpt_of_the_body() {
    let server = answering_in_turn(vec![
        ResponseTemplate::new(502).set_body_string("<html><body>Bad Gateway</body></html>"),
    ])
    .await;
    let client = builder(&server).max_retries(0).build().unwrap();
    let err = get(&client).await.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 502, message, .. } if message == "<html><body>Bad Gateway</body></html>"),
        "{err:?}"
    );
    assert_snapshot!("display_api_without_envelope", err.to_string());
}

// ---------------------------------------------------------------------------------------
// 5xx: what may be retried

#[tokio::test]
async fn internal_error_on_a_send_is_retried_with_the_same_key() {
    // The message may already be queued: the retry's key lets the server say so instead of
    // queuing it again.
    let server = answering_in_turn(vec![failure(500, "Internal server error"), ok_queued()]).await;
    let queue_id = post(&client(&server, BodyEncoding::Json)).await.unwrap();
    assert_eq!(queue_id, QueueId(142));
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2, "500, then the retry");
    assert_eq!(requests[0].body, requests[1].body);
    one_generated_key(&server).await;
}

#[tokio::test]
async fn a_send_whose_retries_ran_out_may_have_been_processed() {
    let server = answering_in_turn(vec![failure(500, "Internal server error")]).await;
    let client = builder(&server).max_retries(2).build().unwrap();
    let err = post(&client).await.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 500, message, .. } if message == "Internal server error"),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 3, "first try and two retries");
    one_generated_key(&server).await;
    assert!(err.may_have_been_processed());
    no_key(&err);
    assert_snapshot!("display_internal_error", err.to_string());
}

#[tokio::test]
async fn unavailable_with_retry_after_on_a_send_is_retried() {
    // A 503 that says when to come back was refused before anything was queued.
    let server = answering_in_turn(vec![
        failure(503, "Service Unavailable").insert_header("Retry-After", "0"),
        ok_queued(),
    ])
    .await;
    let queue_id = post(&client(&server, BodyEncoding::Form)).await.unwrap();
    assert_eq!(queue_id, QueueId(142));
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2, "503 then the retry");
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn gateway_errors_on_a_send_are_retried_with_the_same_key() {
    // A gateway's 502/504, or a 503 without Retry-After, may come after the application
    // queued the message: the key makes the retry safe.
    for (status, retry_after) in [(502, Some("0")), (504, Some("0")), (503, None)] {
        let mut answer = failure(status, "Bad Gateway");
        if let Some(secs) = retry_after {
            answer = answer.insert_header("Retry-After", secs);
        }
        let server = answering_in_turn(vec![answer, ok_queued()]).await;
        let queue_id = post(&client(&server, BodyEncoding::Json)).await.unwrap();
        assert_eq!(queue_id, QueueId(142), "{status}");
        assert_eq!(request_count(&server).await, 2, "{status}, then the retry");
        one_generated_key(&server).await;
    }
}

#[tokio::test]
async fn every_post_gets_a_fresh_key_and_reads_and_deletes_none() {
    let server = answering_in_turn(vec![ok_queued()]).await;
    let client = client(&server, BodyEncoding::Form);
    post(&client).await.unwrap();
    post(&client).await.unwrap();
    let _ = get(&client).await;
    let id: ScheduleId = "sch_1".parse().unwrap();
    let _ = client.schedules().delete(&id).await;
    let keys = keys(&server).await;
    assert!(keys[0].is_some() && keys[1].is_some(), "{keys:?}");
    assert_ne!(keys[0], keys[1], "each send is a request of its own");
    assert_eq!(
        keys[2..],
        [None, None],
        "GET and DELETE repeat safely as they are"
    );
}

#[tokio::test]
async fn a_key_of_the_callers_choosing_is_sent_on_every_attempt() {
    let server = answering_in_turn(vec![failure(502, "Bad Gateway"), ok_queued()]).await;
    let client = client(&server, BodyEncoding::Json);
    let queued = client
        .call(&send_number_req())
        .idempotency_key("order-1234 ready")
        .await
        .unwrap();
    assert_eq!(queued.queue_id, QueueId(142));
    assert_eq!(
        keys(&server).await,
        [
            Some("order-1234 ready".into()),
            Some("order-1234 ready".into())
        ]
    );

    // The same for a send whose endpoint is chosen at run time.
    let server = answering_in_turn(vec![ok_queued()]).await;
    let client = builder(&server).build().unwrap();
    client
        .send_message(
            "number2".parse().unwrap(),
            sevenoways_sdk::Target::Phone("971501234567".parse().unwrap()),
            sevenoways_sdk::Content::Text {
                message: "Hi".try_into().unwrap(),
            },
        )
        .idempotency_key("row-7")
        .await
        .unwrap();
    assert_eq!(keys(&server).await, [Some("row-7".into())]);
}

#[tokio::test]
async fn a_bad_key_is_refused_before_anything_is_sent() {
    let server = answering_in_turn(vec![ok_queued()]).await;
    let client = client(&server, BodyEncoding::Json);
    for (key, reason) in [
        ("", "empty"),
        ("ключ", "printable ASCII"),
        (&"k".repeat(256)[..], "at most 255"),
        (" padded", "no space at the start or end"),
    ] {
        let err = client
            .call(&send_number_req())
            .idempotency_key(key)
            .await
            .unwrap_err();
        let Error::Validation(e) = &err else {
            panic!("{key:?}: expected a validation error, got {err:?}");
        };
        assert_eq!(e.field(), "Idempotency-Key");
        assert!(e.reason().contains(reason), "{key:?}: {e}");
    }
    let err = client
        .call(&sevenoways_sdk::models::channels::ListChannels {
            page: Default::default(),
        })
        .idempotency_key("list-1")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid request: Idempotency-Key: only POST requests take one"),
        "{err}"
    );
    assert_eq!(request_count(&server).await, 0, "nothing was sent");
}

#[tokio::test]
async fn a_conflict_that_says_when_to_come_back_is_retried_with_the_key() {
    // 409 with Retry-After: the first request with this key is still being handled.
    let server = answering_in_turn(vec![
        failure(409, "another request with this key is in progress")
            .insert_header("Retry-After", "0"),
        ok_queued(),
    ])
    .await;
    assert_eq!(
        post(&client(&server, BodyEncoding::Json)).await.unwrap(),
        QueueId(142)
    );
    one_generated_key(&server).await;

    // Without Retry-After a 409 is an answer (an id taken): not retried.
    let server = answering_in_turn(vec![failure(409, "instance \"number2\" already exists")]).await;
    let err = client(&server, BodyEncoding::Json)
        .instances()
        .create(&CreateInstanceRequest::new("number2".parse().unwrap(), "x"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn gateway_errors_on_a_get_are_retried_with_backoff() {
    for status in [502, 503, 504] {
        let server = answering_in_turn(vec![failure(status, "down"), ok_channels()]).await;
        assert_eq!(
            get(&client(&server, BodyEncoding::Json)).await.unwrap(),
            0,
            "{status}"
        );
        assert_eq!(request_count(&server).await, 2, "{status}");
    }
}

#[tokio::test]
async fn internal_error_on_a_get_is_retried() {
    let server =
        answering_in_turn(vec![failure(500, "Internal server error"), ok_channels()]).await;
    assert_eq!(get(&client(&server, BodyEncoding::Json)).await.unwrap(), 0);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.method.as_str() == "GET"));
}

#[tokio::test]
async fn internal_error_on_a_delete_is_retried() {
    let server = answering_in_turn(vec![
        failure(500, "Internal server error"),
        ResponseTemplate::new(200).set_body_json(json!({"success": true})),
    ])
    .await;
    let id: ScheduleId = "sch_1".parse().unwrap();
    client(&server, BodyEncoding::Json)
        .schedules()
        .delete(&id)
        .await
        .unwrap();
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let server = answering_in_turn(vec![
        failure(503, "Service Unavailable").insert_header("Retry-After", "0"),
    ])
    .await;
    let client = builder(&server).max_retries(2).build().unwrap();
    let err = get(&client).await.unwrap_err();
    assert!(matches!(err, Error::Api { status: 503, .. }), "{err:?}");
    assert_eq!(request_count(&server).await, 3, "first try and two retries");
}

#[tokio::test]
async fn max_retries_zero_turns_retries_off() {
    let cases = [
        (
            "503 on GET",
            failure(503, "down").insert_header("Retry-After", "0"),
        ),
        ("500 on GET", failure(500, "boom")),
        ("429 on GET", rate_limited(Some("0"))),
    ];
    for (case, response) in cases {
        let server = answering_in_turn(vec![response, ok_channels()]).await;
        let client = builder(&server).max_retries(0).build().unwrap();
        let err = get(&client).await.unwrap_err();
        assert!(err.status().is_some(), "{case}: {err:?}");
        assert_eq!(request_count(&server).await, 1, "{case}");
    }
    // The same first answers with retries on do succeed: the off switch is what stopped them.
    let server = answering_in_turn(vec![
        failure(503, "down").insert_header("Retry-After", "0"),
        ok_channels(),
    ])
    .await;
    assert_eq!(get(&builder(&server).build().unwrap()).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// timeouts and the network

#[tokio::test]
async fn a_slow_send_times_out_and_is_retried_with_the_same_key() {
    let server = answering_in_turn(vec![
        ok_queued().set_delay(Duration::from_secs(5)),
        ok_queued(),
    ])
    .await;
    let client = builder(&server)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    assert_eq!(post(&client).await.unwrap(), QueueId(142));
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(request_count(&server).await, 2, "timed out, then the retry");
    one_generated_key(&server).await;

    // When every attempt times out, the call does.
    let server = answering_in_turn(vec![ok_queued().set_delay(Duration::from_secs(5))]).await;
    let client = builder(&server)
        .timeout(Duration::from_millis(200))
        .max_retries(1)
        .build()
        .unwrap();
    let err = post(&client).await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout(d) if d == Duration::from_millis(200)),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 2);
    assert_eq!(err.status(), None);
    no_key(&err);
    assert_snapshot!("display_timeout", err.to_string());
}

#[tokio::test]
async fn a_slow_get_times_out_and_is_retried() {
    let server = answering_in_turn(vec![
        ok_channels().set_delay(Duration::from_secs(5)),
        ok_channels(),
    ])
    .await;
    let client = builder(&server)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(get(&client).await.unwrap(), 0);
    assert_eq!(request_count(&server).await, 2);

    let server = answering_in_turn(vec![ok_channels().set_delay(Duration::from_secs(5))]).await;
    let client = builder(&server)
        .timeout(Duration::from_millis(200))
        .max_retries(0)
        .build()
        .unwrap();
    let err = get(&client).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn nothing_listening_is_a_transport_error() {
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .max_retries(0)
        .build()
        .unwrap();
    let err = post(&client).await.unwrap_err();
    let Error::Transport { source, sent } = &err else {
        panic!("expected Transport, got {err:?}");
    };
    assert!(!sent, "connection refused: nothing was sent");
    assert!(!err.may_have_been_processed());
    let message = source.to_string();
    assert!(message.starts_with("error sending request"), "{message}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause stays a typed error"
    );
    let display = err.to_string();
    assert!(
        !display.contains("127.0.0.1"),
        "the URL is left out of the message: {display}"
    );
    assert_eq!(err.status(), None);
    no_key(&err);
    // The last link of the chain is the operating system's wording ("Connection refused
    // (os error 111)" on Linux), so the snapshot keeps the links before it.
    let display = err.to_string();
    assert_snapshot!(
        "display_transport",
        display.split(": ").take(4).collect::<Vec<_>>().join(": ")
    );
}

// ---------------------------------------------------------------------------------------
// whether a failed request may have been acted on

/// A server that reads each request in full, then closes the connection without answering,
/// as a proxy or a crashing server does after the request went out. Hands back its URL and
/// the `Idempotency-Key` of each request it read (empty for none).
async fn hanging_up_after_the_request() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                if let Some(head) = read_request(&socket).await {
                    let key = head
                        .lines()
                        .find_map(|l| l.strip_prefix("idempotency-key:"))
                        .unwrap_or_default();
                    seen.lock().unwrap().push(key.trim().to_owned());
                }
                drop(socket);
            });
        }
    });
    (url, requests)
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes of body). Its head,
/// lower-cased, if it came in whole.
async fn read_request(socket: &tokio::net::TcpStream) -> Option<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if bytes.len() >= end + 4 + length {
                return Some(head);
            }
        }
        socket.readable().await.ok()?;
        match socket.try_read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn connection_refused_was_not_processed() {
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .max_retries(0)
        .build()
        .unwrap();
    let err = post(&client).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { sent: false, .. }),
        "{err:?}"
    );
    assert!(!err.may_have_been_processed(), "{err:?}");
}

#[tokio::test]
async fn a_connection_closed_after_the_request_is_retried_with_the_key_until_retries_run_out() {
    let (url, requests) = hanging_up_after_the_request().await;
    let client = Client::builder()
        .api_key(API_KEY)
        .base_url(url)
        .max_retries(2)
        .build()
        .unwrap();
    let err = post(&client).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { sent: true, .. }),
        "{err:?}"
    );
    assert!(err.may_have_been_processed(), "{err:?}");
    assert!(err.to_string().starts_with("network error: "), "{err}");
    assert_eq!(err.status(), None);
    no_key(&err);
    let keys = requests.lock().unwrap().clone();
    assert_eq!(keys.len(), 3, "the first try and two retries: {keys:?}");
    assert!(
        !keys[0].is_empty() && keys.iter().all(|k| *k == keys[0]),
        "one key for every attempt: {keys:?}"
    );
}

#[tokio::test]
async fn a_timed_out_send_may_have_been_processed() {
    let server = answering_in_turn(vec![ok_queued().set_delay(Duration::from_secs(5))]).await;
    let client = builder(&server)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = post(&client).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(err.may_have_been_processed());
}

#[tokio::test]
async fn which_answers_may_have_been_processed() {
    let cases = [
        ("429", rate_limited(Some("0")), false),
        ("429 without Retry-After", rate_limited(None), false),
        ("400", failure(400, "phone: bad"), false),
        ("401", failure(401, "Invalid API key"), false),
        ("403", failure(403, "Forbidden"), false),
        ("404", failure(404, "Instance not found"), false),
        (
            "an error envelope in a 200",
            failure(200, "Instance not connected"),
            false,
        ),
        ("500", failure(500, "Internal server error"), true),
        (
            "502",
            ResponseTemplate::new(502).set_body_string("Bad Gateway"),
            true,
        ),
        ("503", failure(503, "Service Unavailable"), true),
        (
            "503 with Retry-After",
            failure(503, "Service Unavailable").insert_header("Retry-After", "0"),
            false,
        ),
        ("504", failure(504, "Gateway Timeout"), true),
        (
            "a 200 that does not decode",
            ResponseTemplate::new(200).set_body_json(json!({"success": true, "queueId": "x"})),
            true,
        ),
    ];
    for (name, response, expected) in cases {
        let server = answering_in_turn(vec![response]).await;
        let client = builder(&server).max_retries(0).build().unwrap();
        let err = post(&client).await.unwrap_err();
        assert_eq!(err.may_have_been_processed(), expected, "{name}: {err:?}");
    }
    let invalid: Error = sevenoways_sdk::Phone::new("+1").unwrap_err().into();
    assert!(!invalid.may_have_been_processed());
}

// ---------------------------------------------------------------------------------------
// decoding

#[tokio::test]
async fn a_wrong_field_type_is_a_decode_error_with_its_path() {
    let server =
        answering_in_turn(vec![ResponseTemplate::new(200).set_body_json(
            json!({"success": true, "queued": true, "queueId": "142"}),
        )])
        .await;
    let err = post(&client(&server, BodyEncoding::Json))
        .await
        .unwrap_err();
    let Error::Decode {
        path,
        source,
        excerpt,
    } = &err
    else {
        panic!("expected Decode, got {err:?}");
    };
    assert_eq!(path, "queueId");
    assert!(source.to_string().contains("expected u64"), "{source}");
    assert_eq!(excerpt, r#"{"success":true,"queued":true,"queueId":"142"}"#);
    assert_eq!(
        request_count(&server).await,
        1,
        "a bad answer is not retried"
    );
    no_key(&err);
    assert_snapshot!("display_decode", err.to_string());
}

#[tokio::test]
async fn a_decode_error_names_the_list_index() {
    let body = json!({"success": true, "channels": [
        {"id": "ch_1", "channelJid": "120363111111111111@newsletter", "name": "One",
         "subscribers": 10, "instanceId": "number2"},
        {"id": "ch_2", "channelJid": "120363222222222222@newsletter", "name": "Two",
         "subscribers": "many", "instanceId": "number2"}
    ]});
    let server = answering_in_turn(vec![ResponseTemplate::new(200).set_body_json(body)]).await;
    let err = get(&client(&server, BodyEncoding::Json)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { path, .. } if path == "channels[1].subscribers"),
        "{err:?}"
    );

    // A value the id types refuse is a decode error too.
    let body = json!({"success": true, "channels": [
        {"id": "ch_1", "channelJid": "120363111111111111@g.us", "name": "One", "instanceId": "number2"}
    ]});
    let server = answering_in_turn(vec![ResponseTemplate::new(200).set_body_json(body)]).await;
    let err = get(&client(&server, BodyEncoding::Json)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { path, .. } if path == "channels[0].channelJid"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_success_that_is_not_json_is_a_decode_error() {
    let server = answering_in_turn(vec![ResponseTemplate::new(200).set_body_string("OK")]).await;
    let err = get(&client(&server, BodyEncoding::Json)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { excerpt, .. } if excerpt == "OK"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------
// validation happens before anything is sent

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ok_queued())
        .expect(0)
        .named("nothing may reach the server")
        .mount(&server)
        .await;
    let client = client(&server, BodyEncoding::Json);
    let number2 = || "number2".parse().unwrap();
    let text = || "Hi".try_into().unwrap();
    let jid = || "120363111111111111@newsletter".parse().unwrap();

    let mut results: Vec<(&str, sevenoways_sdk::Result<()>)> = Vec::new();

    // No recipients at all: the fields are public, so this can be built by hand.
    let no_groups = SendRequest {
        instance_id: number2(),
        group_ids: vec![],
        groups: vec![],
        send_all: false,
        message: text(),
    };
    results.push((
        "groupIds",
        client.messages().send(&no_groups).await.map(drop),
    ));

    let all_and_some = SendRequest {
        send_all: true,
        group_ids: vec!["120363025246125888@g.us".parse().unwrap()],
        ..no_groups.clone()
    };
    results.push((
        "sendAll",
        client.messages().send(&all_and_some).await.map(drop),
    ));

    let no_filename = SendDocumentRequest::new(
        number2(),
        GroupTarget::all(),
        "https://example.com/report.pdf".parse().unwrap(),
        "  ",
    );
    results.push((
        "filename",
        client
            .messages()
            .send_document(&no_filename)
            .await
            .map(drop),
    ));

    let long_caption = SendNumberImageRequest::new(
        number2(),
        "971501234567".parse().unwrap(),
        "https://example.com/a.png".parse().unwrap(),
    )
    .caption("x".repeat(4097));
    results.push((
        "caption",
        client
            .messages()
            .send_number_image(&long_caption)
            .await
            .map(drop),
    ));

    let bad_mimetype = SendDocumentToChannelRequest::new(
        number2(),
        jid(),
        "https://example.com/a.pdf".parse().unwrap(),
        "a.pdf",
    )
    .mimetype("pdf");
    results.push((
        "mimetype",
        client
            .channels()
            .send_document(&bad_mimetype)
            .await
            .map(drop),
    ));

    let bad_invite = AddChannelRequest::new(number2(), "https://example.com/channel/abc");
    results.push((
        "inviteLink",
        client.channels().add(&bad_invite).await.map(drop),
    ));

    let long_label = CreateInstanceRequest::new(number2(), "L".repeat(101));
    results.push((
        "label",
        client.instances().create(&long_label).await.map(drop),
    ));

    let phone_and_groups = CreateScheduleRequest {
        phone: Some("971501234567".parse().unwrap()),
        ..CreateScheduleRequest::new(
            number2(),
            "both",
            "0 9 * * *".parse().unwrap(),
            "UTC".parse().unwrap(),
            sevenoways_sdk::models::schedules::ScheduleTarget::Groups(GroupTarget::all()),
            sevenoways_sdk::Content::Text { message: text() },
        )
        .unwrap()
    };
    results.push((
        "phone",
        client.schedules().create(&phone_and_groups).await.map(drop),
    ));

    let ftp_hook = CreateWebhookRequest {
        url: "ftp://example.com/hook".into(),
        events: vec![],
        secret: None,
    };
    results.push(("url", client.webhooks().create(&ftp_hook).await.map(drop)));

    let unknown_event = CreateWebhookRequest {
        url: "https://example.com/hook".into(),
        events: vec!["message.sent".into(), "message.typed".into()],
        secret: None,
    };
    results.push((
        "events[1]",
        client.webhooks().create(&unknown_event).await.map(drop),
    ));

    let short_secret = CreateWebhookRequest {
        url: "https://example.com/hook".into(),
        events: vec![],
        secret: Some("short".into()),
    };
    results.push((
        "secret",
        client.webhooks().create(&short_secret).await.map(drop),
    ));

    for (field, result) in results {
        let err = result.expect_err(field);
        match &err {
            Error::Validation(v) => assert_eq!(v.field(), field, "{err}"),
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
        assert_eq!(err.status(), None);
        assert!(
            err.to_string()
                .starts_with(&format!("invalid request: {field}: ")),
            "{err}"
        );
        no_key(&err);
    }
    assert_eq!(request_count(&server).await, 0, "nothing was sent");
    // The webhook secret is not echoed in its own validation error.
    let err = client.webhooks().create(&short_secret).await.unwrap_err();
    assert!(!err.to_string().contains("short"), "{err}");
}

#[test]
fn display_of_a_validation_error() {
    let err: Error = "+971 50"
        .parse::<sevenoways_sdk::Phone>()
        .unwrap_err()
        .into();
    assert_snapshot!("display_validation", err.to_string());
}

#[test]
fn builder_refuses_bad_configuration() {
    let err = Client::builder().build().unwrap_err();
    assert!(
        matches!(&err, Error::Validation(v) if v.field() == "apiKey"),
        "{err:?}"
    );

    for url in ["ftp://sevenoways.app", "sevenoways.app", ""] {
        let err = Client::builder()
            .api_key(API_KEY)
            .base_url(url)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Validation(v) if v.field() == "baseUrl"),
            "{url}: {err:?}"
        );
        no_key(&err);
    }

    // A key that cannot be a header value: the error must not repeat it.
    let err = Client::builder()
        .api_key(format!("{API_KEY}\nX-Injected: 1"))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation(v) if v.field() == "apiKey"),
        "{err:?}"
    );
    no_key(&err);
}

// ---------------------------------------------------------------------------------------
// the key stays secret

#[tokio::test]
async fn the_api_key_is_never_printed() {
    let server = MockServer::start().await;
    let client = client(&server, BodyEncoding::Form);
    let debug = format!("{client:?}");
    assert!(!debug.contains(API_KEY), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(debug.contains(&server.uri()), "{debug}");

    let builder = builder(&server);
    let debug = format!("{builder:?}");
    assert!(!debug.contains(API_KEY), "{debug}");

    let alternate = format!("{client:#?}");
    assert!(!alternate.contains(API_KEY), "{alternate}");

    // ...while it is sent, once, on every request.
    Mock::given(any())
        .respond_with(ok_channels())
        .mount(&server)
        .await;
    get(&client).await.unwrap();
    let request = &received(&server).await[0];
    assert_eq!(request.headers.get("x-api-key").unwrap(), API_KEY);
}

#[tokio::test]
async fn clones_share_configuration() {
    let server = answering_in_turn(vec![ok_channels()]).await;
    let client = client(&server, BodyEncoding::Json);
    let clone = client.clone();
    drop(client);
    assert_eq!(clone.base_url(), server.uri());
    get(&clone).await.unwrap();
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn an_error_envelope_inside_a_200_is_an_api_error() {
    // Some proxies and no-code relays answer 200 with the envelope saying otherwise.
    let server =
        answering_in_turn(vec![ResponseTemplate::new(200).set_body_json(
            json!({"success": false, "error": "Instance not connected"}),
        )])
        .await;
    let err = post(&client(&server, BodyEncoding::Json))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 200, message, .. } if message == "Instance not connected"),
        "{err:?}"
    );
    assert_eq!(request_count(&server).await, 1);
}
