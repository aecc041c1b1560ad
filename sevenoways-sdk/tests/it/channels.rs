//! `client.channels()`: the saved-channel list, adding and removing channels, and the
//! three channel sends.

use crate::common::{bodiless_both, post_both, queued_json};
use insta::assert_snapshot;
use serde_json::json;
use sevenoways_sdk::models::channels::{
    AddChannelRequest, Channel, ChannelList, SendDocumentToChannelRequest,
    SendImageToChannelRequest, SendToChannelRequest,
};
use sevenoways_sdk::{ChannelId, MediaUrl, NewsletterJid, QueueId, Queued};

const JID: &str = "120363222222222222@newsletter";

fn jid() -> NewsletterJid {
    JID.parse().unwrap()
}

fn queued(id: u64) -> Queued {
    Queued {
        queued: true,
        queue_id: QueueId(id),
        recipients: vec![],
    }
}

/// The documented channel, with a JID made of digits as real JIDs are.
fn documented_channel_json() -> serde_json::Value {
    json!({
        "id": "ch_abc123",
        "channelJid": JID,
        "name": "My Brand Updates",
        "description": "Latest news from our brand",
        "subscribers": 4820,
        "isAdmin": true,
        "inviteLink": "https://whatsapp.com/channel/XXXXXXX",
        "instanceId": "inst_abc123"
    })
}

fn documented_channel() -> Channel {
    Channel {
        id: "ch_abc123".parse().unwrap(),
        channel_jid: jid(),
        name: "My Brand Updates".into(),
        description: "Latest news from our brand".into(),
        subscribers: 4820,
        is_admin: true,
        invite_link: "https://whatsapp.com/channel/XXXXXXX".into(),
        instance_id: "inst_abc123".parse().unwrap(),
    }
}

#[tokio::test]
async fn list_channels() {
    let response = json!({"success": true, "channels": [documented_channel_json()]});
    let list = bodiless_both("GET", "/api/channels", response, |c| async move {
        c.channels().list().await
    })
    .await;
    assert_eq!(
        list,
        ChannelList {
            channels: vec![documented_channel()],
            next_cursor: None,
        }
    );
}

#[tokio::test]
async fn add_channel_by_invite_link() {
    let req = AddChannelRequest::new(
        "number2".parse().unwrap(),
        "https://whatsapp.com/channel/0029VaAbCdEfGhIjKlMn",
    );
    let response = json!({"success": true, "channel": documented_channel_json()});
    let got = post_both("/api/channels", &req, response, |c, r| async move {
        c.channels().add(&r).await
    })
    .await;
    assert_eq!(got.json_response.channel, documented_channel());
    assert_snapshot!("add_channel_json", got.json);
    assert_snapshot!("add_channel_form", got.form);
}

#[tokio::test]
async fn remove_channel() {
    let id: ChannelId = "ch_abc123".parse().unwrap();
    bodiless_both(
        "DELETE",
        "/api/channels/ch_abc123",
        json!({"success": true}),
        |c| {
            let id = id.clone();
            async move { c.channels().remove(&id).await }
        },
    )
    .await;
}

#[tokio::test]
async fn send_text_to_channel() {
    let req = SendToChannelRequest::new(
        "number2".parse().unwrap(),
        jid(),
        "📢 Big announcement coming tomorrow — stay tuned!"
            .try_into()
            .unwrap(),
    );
    let response = json!({"success": true, "queued": true, "queueId": 158});
    let got = post_both("/api/send-to-channel", &req, response, |c, r| async move {
        c.channels().send(&r).await
    })
    .await;
    assert_eq!(got.json_response, queued(158));
    assert_eq!(got.form_response, queued(158));
    assert_snapshot!("send_to_channel_json", got.json);
    assert_snapshot!("send_to_channel_form", got.form);
}

#[tokio::test]
async fn send_image_to_channel() {
    let req = SendImageToChannelRequest::new(
        "number2".parse().unwrap(),
        jid(),
        MediaUrl::for_field("https://example.com/promo.jpg", "imageUrl").unwrap(),
    )
    .caption("Our summer sale starts today! 🌞");
    let got = post_both(
        "/api/send-image-to-channel",
        &req,
        queued_json(159),
        |c, r| async move { c.channels().send_image(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(159));
    assert_snapshot!("send_image_to_channel_json", got.json);
    assert_snapshot!("send_image_to_channel_form", got.form);
}

#[tokio::test]
async fn send_document_to_channel() {
    let req = SendDocumentToChannelRequest::new(
        "number2".parse().unwrap(),
        jid(),
        "https://example.com/monthly-report.pdf".parse().unwrap(),
        "August-Report.pdf",
    )
    .mimetype("application/pdf");
    let got = post_both(
        "/api/send-document-to-channel",
        &req,
        queued_json(160),
        |c, r| async move { c.channels().send_document(&r).await },
    )
    .await;
    assert_eq!(got.json_response, queued(160));
    assert_snapshot!("send_document_to_channel_json", got.json);
    assert_snapshot!("send_document_to_channel_form", got.form);
}
