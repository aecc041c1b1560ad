//! `client.messages()`: the six send endpoints for groups and phone numbers, in JSON and
//! form encoding, against a mock server.

use crate::common::{post_both, queued_json};
use insta::assert_snapshot;
use sevenoways_sdk::models::messages::{
    QueuedRecipient, SendDocumentRequest, SendImageRequest, SendNumberDocumentRequest,
    SendNumberImageRequest, SendNumberRequest, SendRequest,
};
use sevenoways_sdk::{GroupTarget, MediaUrl, Phone, QueueId, Queued};

const G1: &str = "120363025246125888@g.us";
const G2: &str = "120363099999999999@g.us";

fn queued(id: u64) -> Queued {
    Queued {
        queued: true,
        queue_id: QueueId(id),
        recipients: vec![],
    }
}

#[tokio::test]
async fn send_to_group_ids_and_names() {
    // Ids and names mixed; a message with emoji, a newline and characters that mean
    // something in a form body (& = + %).
    let to = GroupTarget::ids([G1, G2])
        .unwrap()
        .and_names(["Team A", "Ventes & Marketing"])
        .unwrap();
    let req = SendRequest::new(
        "number2".parse().unwrap(),
        to,
        "Hello everyone! 👋\nQ3: 50% off & free shipping = 1+1"
            .try_into()
            .unwrap(),
    );
    let response = serde_json::json!({
        "success": true, "queued": true, "queueId": 142,
        "recipients": [
            {"to": G1, "queueId": 142}, {"to": G2, "queueId": 143},
            {"to": "120363000000000001@g.us", "queueId": 144},
            {"to": "120363000000000002@g.us", "queueId": 145}
        ]
    });
    let got = post_both("/api/send", &req, response, |c, r| async move {
        c.messages().send(&r).await
    })
    .await;
    assert_eq!(got.json_response.queue_id, QueueId(142));
    assert_eq!(got.json_response.recipients.len(), 4);
    assert_eq!(
        got.json_response.recipients[1],
        QueuedRecipient {
            to: G2.into(),
            queue_id: QueueId(143)
        }
    );
    // Decoded, the form is the bracket notation n8n and Pabbly send: `groupIds[]=A&groupIds[]=B`
    // (the brackets themselves travel percent-encoded, as every form encoder writes them).
    let pairs: Vec<(String, String)> = form_urlencoded::parse(got.form.as_bytes())
        .into_owned()
        .collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    assert_eq!(
        pairs,
        [
            ("instanceId", "number2"),
            ("groupIds[]", G1),
            ("groupIds[]", G2),
            ("groups[]", "Team A"),
            ("groups[]", "Ventes & Marketing"),
            (
                "message",
                "Hello everyone! 👋\nQ3: 50% off & free shipping = 1+1"
            ),
        ]
    );
    assert_snapshot!("send_json", got.json);
    assert_snapshot!("send_form", got.form);
}

#[tokio::test]
async fn send_to_all_groups() {
    let req = SendRequest::new(
        "number2".parse().unwrap(),
        GroupTarget::all(),
        "Broadcast to everyone!".try_into().unwrap(),
    );
    let got = post_both("/api/send", &req, queued_json(7), |c, r| async move {
        c.messages().send(&r).await
    })
    .await;
    assert_eq!(got.json_response, queued(7));
    assert_eq!(got.form_response, queued(7));
    assert_snapshot!("send_all_json", got.json);
    assert_snapshot!("send_all_form", got.form);
}

#[tokio::test]
async fn send_image_to_groups() {
    let req = SendImageRequest::new(
        "number2".parse().unwrap(),
        GroupTarget::ids([G1]).unwrap(),
        MediaUrl::for_field("https://example.com/banner.jpg?size=large&v=2", "imageUrl").unwrap(),
    )
    .caption("Check this out! 🚀");
    let got = post_both(
        "/api/send-image",
        &req,
        queued_json(143),
        |c, r| async move { c.messages().send_image(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(143));
    assert_snapshot!("send_image_json", got.json);
    assert_snapshot!("send_image_form", got.form);
}

#[tokio::test]
async fn send_image_without_caption() {
    let req = SendImageRequest::new(
        "number2".parse().unwrap(),
        GroupTarget::names(["Team A"]).unwrap(),
        "https://example.com/banner.jpg".parse().unwrap(),
    );
    let got = post_both("/api/send-image", &req, queued_json(1), |c, r| async move {
        c.messages().send_image(&r).await
    })
    .await;
    assert!(!got.json.contains("caption"), "{}", got.json);
    assert_snapshot!("send_image_no_caption_json", got.json);
    assert_snapshot!("send_image_no_caption_form", got.form);
}

#[tokio::test]
async fn send_document_to_groups() {
    let req = SendDocumentRequest::new(
        "number2".parse().unwrap(),
        GroupTarget::ids([G1, G2]).unwrap(),
        "https://example.com/report.pdf".parse().unwrap(),
        "Monthly Report.pdf",
    )
    .mimetype("application/pdf");
    let got = post_both(
        "/api/send-document",
        &req,
        queued_json(144),
        |c, r| async move { c.messages().send_document(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(144));
    assert_snapshot!("send_document_json", got.json);
    assert_snapshot!("send_document_form", got.form);
}

#[tokio::test]
async fn send_number() {
    let req = SendNumberRequest::new(
        "number2".parse().unwrap(),
        Phone::normalize("+971 50 123 4567").unwrap(),
        "Hello! Your order is ready 🎉".try_into().unwrap(),
    );
    let got = post_both(
        "/api/send-number",
        &req,
        queued_json(145),
        |c, r| async move { c.messages().send_number(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(145));
    assert_eq!(got.form_response, queued(145));
    assert_snapshot!("send_number_json", got.json);
    assert_snapshot!("send_number_form", got.form);
}

#[tokio::test]
async fn send_number_image() {
    let req = SendNumberImageRequest::new(
        "number2".parse().unwrap(),
        "447911123456".parse().unwrap(),
        MediaUrl::for_field("https://example.com/invoice.png", "imageUrl").unwrap(),
    )
    .caption("Your invoice");
    let got = post_both(
        "/api/send-number-image",
        &req,
        queued_json(146),
        |c, r| async move { c.messages().send_number_image(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(146));
    assert_snapshot!("send_number_image_json", got.json);
    assert_snapshot!("send_number_image_form", got.form);
}

#[tokio::test]
async fn send_number_document() {
    let req = SendNumberDocumentRequest::new(
        "number2".parse().unwrap(),
        "12125551234".parse().unwrap(),
        "https://example.com/contract.pdf".parse().unwrap(),
        "Contract (signed).pdf",
    )
    .mimetype("application/pdf");
    let got = post_both(
        "/api/send-number-document",
        &req,
        queued_json(147),
        |c, r| async move { c.messages().send_number_document(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(147));
    assert_snapshot!("send_number_document_json", got.json);
    assert_snapshot!("send_number_document_form", got.form);
}
