//! Where `GET /metrics` is served: nowhere by default, on the public listener only with a
//! token, and only on its own listener when `[metrics] listen` is set.

use sevenoways_server::engine::EngineSecret;
use sevenoways_server::testing::start_with;

async fn get(url: String, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn metrics_are_not_served_unless_configured() {
    let t = start_with(|_| {}).await;
    let response = get(format!("{}/metrics", t.base()), None).await;
    assert_eq!(response.status(), 404);
    // The answer still names its request.
    assert_eq!(response.headers()["x-request-id"].len(), 32);
    assert_eq!(t.server.metrics_addr(), None);
    t.shutdown().await;
}

#[tokio::test]
async fn a_metrics_listener_keeps_metrics_off_the_public_one() {
    let t = start_with(|c| c.metrics.listen = Some(([127, 0, 0, 1], 0).into())).await;
    let addr = t.server.metrics_addr().expect("a metrics listener");
    assert_ne!(addr, t.server.local_addr());
    // Not on the public listener, even with a token-looking header.
    assert_eq!(
        get(format!("{}/metrics", t.base()), Some("x"))
            .await
            .status(),
        404
    );
    let response = get(format!("http://{addr}/metrics"), None).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("sevenoways_queue_depth"), "{page}");
    // Only /metrics there: the API is not reachable through the scrape port.
    assert_eq!(
        get(format!("http://{addr}/api/instances"), None)
            .await
            .status(),
        404
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_metrics_listener_with_a_token_asks_for_it() {
    let t = start_with(|c| {
        c.metrics.listen = Some(([127, 0, 0, 1], 0).into());
        c.metrics.token = Some(EngineSecret::new("s3cret"));
    })
    .await;
    let addr = t.server.metrics_addr().unwrap();
    let url = format!("http://{addr}/metrics");
    assert_eq!(get(url.clone(), None).await.status(), 401);
    assert_eq!(get(url.clone(), Some("s3cre")).await.status(), 401);
    assert_eq!(get(url.clone(), Some("s3cret!")).await.status(), 401);
    assert_eq!(get(url, Some("s3cret")).await.status(), 200);
    t.shutdown().await;
}

#[tokio::test]
async fn a_metrics_listener_that_cannot_bind_stops_the_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = sevenoways_server::testing::fast_config(dir.path());
    config.metrics.listen = Some(addr);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = sevenoways_server::launch(config, listener)
        .await
        .err()
        .expect("the start fails");
    assert!(err.to_string().contains("metrics.listen"), "{err}");
}
