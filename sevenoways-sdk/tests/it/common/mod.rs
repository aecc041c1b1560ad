//! Shared helpers for the wiremock tests: start a mock server, point a client at it,
//! run one call and hand back exactly what the server received.
//!
//! The mock answers every request (`any()`); the tests then assert the method, path,
//! headers and body of the one captured request themselves, so a wrong path fails with
//! a message that names both paths instead of a bare 404.

use std::fmt::Debug;
use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sevenoways_sdk::{BodyEncoding, Client, body};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The key every test client sends. Distinctive, so a leak is easy to search for.
pub const API_KEY: &str = "svw_test_KEY-7f3a9c2e-do-not-print";

/// A client for `server` in `encoding`, with the default retry settings.
pub fn client(server: &MockServer, encoding: BodyEncoding) -> Client {
    Client::builder()
        .api_key(API_KEY)
        .base_url(server.uri())
        .encoding(encoding)
        .build()
        .expect("a valid client")
}

/// The `{"success":true,"queued":true,"queueId":N}` answer of every send.
pub fn queued_json(queue_id: u64) -> Value {
    serde_json::json!({"success": true, "queued": true, "queueId": queue_id})
}

/// A mock server that answers every request with `status` and `body`.
pub async fn server_answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

/// Every request `server` received.
pub async fn received(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on by default")
}

/// The only request `server` received.
pub async fn only_request(server: &MockServer) -> Request {
    let mut requests = received(server).await;
    assert_eq!(
        requests.len(),
        1,
        "expected exactly one request, got {:?}",
        requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect::<Vec<_>>()
    );
    requests.remove(0)
}

/// Asserts the parts every request shares: method, path (with query, if any), the
/// `x-api-key` header and the SDK's User-Agent.
pub fn assert_request(request: &Request, method: &str, path_and_query: &str) {
    assert_eq!(request.method.as_str(), method, "HTTP method");
    let got = match request.url.query() {
        Some(q) => format!("{}?{q}", request.url.path()),
        None => request.url.path().to_owned(),
    };
    assert_eq!(got, path_and_query, "request path");
    let keys: Vec<_> = request.headers.get_all("x-api-key").iter().collect();
    assert_eq!(keys.len(), 1, "exactly one x-api-key header");
    assert_eq!(keys[0].to_str().unwrap(), API_KEY, "x-api-key header");
    let ua = request
        .headers
        .get("user-agent")
        .expect("a User-Agent header")
        .to_str()
        .unwrap();
    assert!(ua.starts_with("sevenoways-sdk/"), "User-Agent {ua:?}");
}

fn content_type(request: &Request) -> Option<&str> {
    request
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap())
}

/// One call against a fresh mock server that answers `200` with `response`.
/// Returns the captured request and the call's typed result.
pub async fn call_once<T, F, Fut>(encoding: BodyEncoding, response: Value, call: F) -> (Request, T)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = sevenoways_sdk::Result<T>>,
{
    let server = server_answering(200, response).await;
    let result = call(client(&server, encoding)).await;
    let request = only_request(&server).await;
    let value = result.unwrap_or_else(|e| {
        panic!(
            "call failed: {e} (request was {} {})",
            request.method, request.url
        )
    });
    (request, value)
}

/// What a POST sent and decoded in both encodings.
pub struct Posted<T> {
    /// The JSON body, byte for byte.
    pub json: String,
    /// The form body, byte for byte.
    pub form: String,
    /// The typed answer to the JSON call.
    pub json_response: T,
    /// The typed answer to the form call.
    pub form_response: T,
}

/// Runs `call(client, req)` once with JSON and once with form bodies against a server
/// answering `response`, and checks each request: `POST path`, the API key, the
/// content type, and that the body reads back (with the SDK's own codec, as the server
/// does) into a value equal to `req`.
pub async fn post_both<Req, T, F, Fut>(path: &str, req: &Req, response: Value, call: F) -> Posted<T>
where
    Req: Serialize + DeserializeOwned + PartialEq + Debug + Clone,
    T: Debug + PartialEq,
    F: Fn(Client, Req) -> Fut,
    Fut: Future<Output = sevenoways_sdk::Result<T>>,
{
    let (json_request, json_response) = call_once(BodyEncoding::Json, response.clone(), |c| {
        call(c, req.clone())
    })
    .await;
    assert_request(&json_request, "POST", path);
    assert_eq!(content_type(&json_request), Some("application/json"));
    let json = String::from_utf8(json_request.body).expect("a UTF-8 JSON body");
    let back: Req = body::from_json(json.as_bytes())
        .unwrap_or_else(|e| panic!("JSON body {json:?} does not read back: {e}"));
    assert_eq!(&back, req, "JSON body {json}");

    let (form_request, form_response) =
        call_once(BodyEncoding::Form, response, |c| call(c, req.clone())).await;
    assert_request(&form_request, "POST", path);
    assert_eq!(
        content_type(&form_request),
        Some("application/x-www-form-urlencoded")
    );
    let form = String::from_utf8(form_request.body).expect("an ASCII form body");
    assert!(form.is_ascii(), "form bodies are percent-encoded: {form}");
    let back: Req = body::from_form(form.as_bytes())
        .unwrap_or_else(|e| panic!("form body {form:?} does not read back: {e}"));
    assert_eq!(&back, req, "form body {form}");

    assert_eq!(
        json_response, form_response,
        "the encoding changes the request, never the answer"
    );
    Posted {
        json,
        form,
        json_response,
        form_response,
    }
}

/// Runs a bodiless call (`GET` or `DELETE`) in both encodings and checks each request:
/// method, path, API key, and no body or content type. Returns the typed answer.
pub async fn bodiless_both<T, F, Fut>(method: &str, path: &str, response: Value, call: F) -> T
where
    T: Debug + PartialEq,
    F: Fn(Client) -> Fut,
    Fut: Future<Output = sevenoways_sdk::Result<T>>,
{
    let mut answers = Vec::new();
    for encoding in [BodyEncoding::Json, BodyEncoding::Form] {
        let (request, value) = call_once(encoding, response.clone(), &call).await;
        assert_request(&request, method, path);
        assert!(
            request.body.is_empty(),
            "{method} {path} sent a body: {:?}",
            String::from_utf8_lossy(&request.body)
        );
        assert_eq!(content_type(&request), None, "{method} {path} content type");
        answers.push(value);
    }
    let second = answers.pop().unwrap();
    let first = answers.pop().unwrap();
    assert_eq!(first, second);
    first
}
