//! `Client::send_message`: each recipient kind × content kind reaches its documented endpoint.

use sevenoways_sdk::{
    BodyEncoding, Client, Content, GroupTarget, MediaUrl, NewsletterJid, Phone, Target,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn every_target_and_content_pair_has_its_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"success": true, "queued": true, "queueId": 1, "recipients": []}),
        ))
        .mount(&server)
        .await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.uri())
        .encoding(BodyEncoding::Json)
        .build()
        .unwrap();
    let jid = || NewsletterJid::new("120363111111111111@newsletter").unwrap();
    let targets = [
        ("", Target::Groups(GroupTarget::names(["Team A"]).unwrap())),
        ("number", Target::Phone(Phone::new("971501234567").unwrap())),
        ("community", Target::Community(jid())),
        ("channel", Target::Channel(jid())),
    ];
    let contents = [
        (
            "text",
            Content::Text {
                message: "Hi".try_into().unwrap(),
            },
        ),
        (
            "image",
            Content::Image {
                image_url: MediaUrl::new("https://e.com/a.jpg").unwrap(),
                caption: None,
            },
        ),
        (
            "document",
            Content::Document {
                file_url: MediaUrl::new("https://e.com/a.pdf").unwrap(),
                filename: "a.pdf".into(),
                mimetype: None,
            },
        ),
    ];
    let mut expected = Vec::new();
    for (to, target) in &targets {
        for (kind, content) in &contents {
            client
                .send_message("n1".parse().unwrap(), target.clone(), content.clone())
                .await
                .unwrap();
            let path = match (*to, *kind) {
                ("", "text") => "/api/send".to_owned(),
                ("", k) => format!("/api/send-{k}"),
                ("number", "text") => "/api/send-number".to_owned(),
                ("number", k) => format!("/api/send-number-{k}"),
                (place, "text") => format!("/api/send-to-{place}"),
                (place, k) => format!("/api/send-{k}-to-{place}"),
            };
            expected.push(path);
        }
    }
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, expected);
}
