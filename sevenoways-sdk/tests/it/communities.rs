//! `client.communities()`: text, image and document sends to a community (`…@newsletter`).

use crate::common::{post_both, queued_json};
use insta::assert_snapshot;
use sevenoways_sdk::models::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};
use sevenoways_sdk::{MediaUrl, NewsletterJid, QueueId, Queued};

fn community() -> NewsletterJid {
    NewsletterJid::for_field("120363111111111111@newsletter", "communityId").unwrap()
}

fn queued(id: u64) -> Queued {
    Queued {
        queued: true,
        queue_id: QueueId(id),
        recipients: vec![],
    }
}

#[tokio::test]
async fn send_text_to_community() {
    let req = SendToCommunityRequest::new(
        "number2".parse().unwrap(),
        community(),
        "📣 Community update: New features released!"
            .try_into()
            .unwrap(),
    );
    // The documented answer, byte for byte.
    let response = serde_json::json!({"success": true, "queued": true, "queueId": 142});
    let got = post_both(
        "/api/send-to-community",
        &req,
        response,
        |c, r| async move { c.communities().send(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(142));
    assert_eq!(got.form_response, queued(142));
    assert_snapshot!("send_to_community_json", got.json);
    assert_snapshot!("send_to_community_form", got.form);
}

#[tokio::test]
async fn send_image_to_community() {
    let req = SendImageToCommunityRequest::new(
        "number2".parse().unwrap(),
        community(),
        MediaUrl::for_field("https://example.com/banner.jpg", "imageUrl").unwrap(),
    )
    .caption("Check out our new product! 🚀");
    let got = post_both(
        "/api/send-image-to-community",
        &req,
        queued_json(150),
        |c, r| async move { c.communities().send_image(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(150));
    assert_snapshot!("send_image_to_community_json", got.json);
    assert_snapshot!("send_image_to_community_form", got.form);
}

#[tokio::test]
async fn send_document_to_community() {
    let req = SendDocumentToCommunityRequest::new(
        "number2".parse().unwrap(),
        community(),
        "https://example.com/newsletter.pdf".parse().unwrap(),
        "Community-Update.pdf",
    );
    let got = post_both(
        "/api/send-document-to-community",
        &req,
        queued_json(151),
        |c, r| async move { c.communities().send_document(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(151));
    assert!(!got.json.contains("mimetype"), "{}", got.json);
    assert_snapshot!("send_document_to_community_json", got.json);
    assert_snapshot!("send_document_to_community_form", got.form);
}
