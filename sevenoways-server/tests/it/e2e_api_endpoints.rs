//! Every documented endpoint, driven through the SDK against a real server.

use sevenoways_sdk::models::channels::*;
use sevenoways_sdk::models::communities::*;
use sevenoways_sdk::models::instances::{CreateInstanceRequest, InstanceStatus};
use sevenoways_sdk::models::messages::*;
use sevenoways_sdk::models::queue::QueueStatus;
use sevenoways_sdk::models::sandbox::SandboxInboundRequest;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::{Content, Error, GroupTarget, MediaUrl, NewsletterJid, Phone};
use sevenoways_server::testing::*;

const COMMUNITY: &str = "120363111111111111@newsletter";

fn url(s: &str) -> MediaUrl {
    MediaUrl::new(s).unwrap()
}

#[tokio::test]
async fn instances_lifecycle() {
    let t = start().await;
    let c = t.client();
    assert!(c.instances().list().await.unwrap().instances.is_empty());

    let created = c
        .instances()
        .create(&CreateInstanceRequest::new(id("number2"), "Second Line"))
        .await
        .unwrap();
    assert_eq!(created.instance.status, InstanceStatus::Pairing);
    assert_eq!(created.instance.label, "Second Line");
    assert!(
        created
            .qr_url
            .starts_with(&format!("{}/api/instances/number2/qr?token=", t.base()))
    );
    assert!(
        !created.qr_url.contains(&t.key),
        "the QR link must not carry the API key"
    );

    let dup = c
        .instances()
        .create(&CreateInstanceRequest::new(id("number2"), "again"))
        .await;
    assert!(
        matches!(dup, Err(Error::Api { status: 409, .. })),
        "{dup:?}"
    );

    let qr = c.instances().qr(&id("number2")).await.unwrap();
    assert_eq!(qr.status, InstanceStatus::Pairing);
    assert!(qr.pairing_code.is_some() && qr.expires_at.is_some());

    c.sandbox().pair(&id("number2")).await.unwrap();
    let list = c.instances().list().await.unwrap().instances;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, InstanceStatus::Online);
    assert!(
        c.instances()
            .qr(&id("number2"))
            .await
            .unwrap()
            .pairing_code
            .is_none()
    );

    c.instances().delete(&id("number2")).await.unwrap();
    assert!(c.instances().list().await.unwrap().instances.is_empty());
    assert!(matches!(
        c.instances().delete(&id("number2")).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn qr_page_works_in_a_browser_with_the_link_alone() {
    let t = start().await;
    let created = t
        .client()
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let page = http.get(&created.qr_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Simulate the scan") && html.contains("format=svg"));

    let token = created.qr_url.split("token=").nth(1).unwrap();
    let png = http
        .get(format!(
            "{}/api/instances/n1/qr?format=png&token={token}",
            t.base()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await.unwrap()[..4], b"\x89PNG");
    let svg = http
        .get(format!(
            "{}/api/instances/n1/qr?format=svg&token={token}",
            t.base()
        ))
        .send()
        .await
        .unwrap();
    assert!(svg.text().await.unwrap().contains("<svg"));

    // The page's scan button, opened from the key holder's sandboxPairUrl: the pairing
    // token in the fragment pairs this instance (the shared QR link does not; see e2e_qr).
    let pair_url = created
        .sandbox_pair_url
        .as_deref()
        .expect("a sandbox instance");
    assert!(pair_url.starts_with(&created.qr_url), "{pair_url}");
    let pair_token = pair_url.split_once("#pair=").unwrap().1;
    let pair = http
        .post(format!("{}/api/sandbox/instances/n1/pair", t.base()))
        .header("x-sandbox-pair-token", pair_token)
        .send()
        .await
        .unwrap();
    assert_eq!(pair.status(), 200);
    assert_eq!(
        t.client().instances().qr(&id("n1")).await.unwrap().status,
        InstanceStatus::Online
    );

    let bad = http
        .get(format!(
            "{}/api/instances/n1/qr?token=1.9999999999.00",
            t.base()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let none = http
        .get(format!("{}/api/instances/n1/qr", t.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn every_send_endpoint_reaches_the_outbox() {
    let t = start().await;
    let c = t.client();
    let inst = paired_instance(&c, "shop").await;
    c.channels()
        .add(&AddChannelRequest::new(
            inst.clone(),
            "https://whatsapp.com/channel/0029VaBrand",
        ))
        .await
        .unwrap();
    let channel = c
        .channels()
        .list()
        .await
        .unwrap()
        .channels
        .remove(0)
        .channel_jid;
    let community = NewsletterJid::new(COMMUNITY).unwrap();
    let phone = Phone::new("971501234567").unwrap();
    let text = |s: &str| s.try_into().unwrap();
    let pdf = || url("https://example.com/report.pdf");
    let jpg = || url("https://example.com/banner.jpg");

    let m = c.messages();
    let mut expected = Vec::new();
    let mut push = |q: Queued, to: &str, kind: &str| {
        assert!(q.queued);
        assert_eq!(q.queue_id, q.recipients[0].queue_id);
        for r in &q.recipients {
            expected.push((r.queue_id, r.to.clone(), kind.to_owned()));
        }
        assert_eq!(q.recipients[0].to, to);
    };
    let both = GroupTarget::ids([TEAM_A])
        .unwrap()
        .and_names(["team b"])
        .unwrap();
    let q = m
        .send(&SendRequest::new(
            inst.clone(),
            both,
            text("Hello everyone! 👋"),
        ))
        .await
        .unwrap();
    assert_eq!(q.recipients.len(), 2, "one queue entry per group");
    push(q, TEAM_A, "text");
    let q = m
        .send(&SendRequest::new(
            inst.clone(),
            GroupTarget::all(),
            text("Broadcast"),
        ))
        .await
        .unwrap();
    assert_eq!(q.recipients.len(), 2);
    push(q, TEAM_A, "text");
    push(
        m.send_image(
            &SendImageRequest::new(inst.clone(), GroupTarget::names(["TEAM A"]).unwrap(), jpg())
                .caption("Check this out!"),
        )
        .await
        .unwrap(),
        TEAM_A,
        "image",
    );
    push(
        m.send_document(
            &SendDocumentRequest::new(
                inst.clone(),
                GroupTarget::ids([TEAM_B]).unwrap(),
                pdf(),
                "Monthly Report.pdf",
            )
            .mimetype("application/pdf"),
        )
        .await
        .unwrap(),
        TEAM_B,
        "document",
    );
    push(
        m.send_number(&SendNumberRequest::new(
            inst.clone(),
            phone.clone(),
            text("Your order is ready 🎉"),
        ))
        .await
        .unwrap(),
        "971501234567",
        "text",
    );
    push(
        m.send_number_image(&SendNumberImageRequest::new(
            inst.clone(),
            phone.clone(),
            jpg(),
        ))
        .await
        .unwrap(),
        "971501234567",
        "image",
    );
    push(
        m.send_number_document(&SendNumberDocumentRequest::new(
            inst.clone(),
            phone.clone(),
            pdf(),
            "Contract.pdf",
        ))
        .await
        .unwrap(),
        "971501234567",
        "document",
    );
    let co = c.communities();
    push(
        co.send(&SendToCommunityRequest::new(
            inst.clone(),
            community.clone(),
            text("📣 Community update"),
        ))
        .await
        .unwrap(),
        COMMUNITY,
        "text",
    );
    push(
        co.send_image(
            &SendImageToCommunityRequest::new(inst.clone(), community.clone(), jpg()).caption("🚀"),
        )
        .await
        .unwrap(),
        COMMUNITY,
        "image",
    );
    push(
        co.send_document(&SendDocumentToCommunityRequest::new(
            inst.clone(),
            community.clone(),
            pdf(),
            "Community-Update.pdf",
        ))
        .await
        .unwrap(),
        COMMUNITY,
        "document",
    );
    let ch = c.channels();
    push(
        ch.send(&SendToChannelRequest::new(
            inst.clone(),
            channel.clone(),
            text("📢 Big announcement"),
        ))
        .await
        .unwrap(),
        channel.as_str(),
        "text",
    );
    push(
        ch.send_image(
            &SendImageToChannelRequest::new(inst.clone(), channel.clone(), jpg()).caption("🌞"),
        )
        .await
        .unwrap(),
        channel.as_str(),
        "image",
    );
    push(
        ch.send_document(&SendDocumentToChannelRequest::new(
            inst.clone(),
            channel.clone(),
            pdf(),
            "August-Report.pdf",
        ))
        .await
        .unwrap(),
        channel.as_str(),
        "document",
    );

    let outbox = eventually(10, || async {
        let o = c.sandbox().outbox(&inst).await.unwrap().messages;
        (o.len() == expected.len()).then_some(o)
    })
    .await;
    for (queue_id, to, kind) in &expected {
        let sent = outbox
            .iter()
            .find(|m| m.queue_id == *queue_id)
            .expect("in the outbox");
        assert_eq!(&sent.to, to);
        assert_eq!(sent.content.kind(), kind);
    }
    let first = outbox.iter().find(|m| m.queue_id == expected[0].0).unwrap();
    assert_eq!(
        first.content,
        Content::Text {
            message: text("Hello everyone! 👋")
        }
    );
    assert!(
        outbox.windows(2).all(|w| w[0].queue_id < w[1].queue_id),
        "oldest first"
    );
}

#[tokio::test]
async fn queue_status_follows_the_delivery_lifecycle() {
    let t = start().await;
    let c = t.client();
    let inst = paired_instance(&c, "n1").await;
    let q = c
        .messages()
        .send_number(&SendNumberRequest::new(
            inst.clone(),
            Phone::new("447911123456").unwrap(),
            "Hi".try_into().unwrap(),
        ))
        .await
        .unwrap();
    let entry = eventually(10, || async {
        let e = c.queue().status(q.queue_id).await.unwrap();
        (e.status == QueueStatus::Read).then_some(e)
    })
    .await;
    assert_eq!(entry.attempts, 1);
    assert_eq!(entry.to, "447911123456");
    let (sent, delivered, read) = (
        entry.sent_at.unwrap(),
        entry.delivered_at.unwrap(),
        entry.read_at.unwrap(),
    );
    assert!(entry.created_at <= sent && sent <= delivered && delivered <= read);
    assert!(matches!(
        c.queue().status(sevenoways_sdk::QueueId(999_999)).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn sending_from_an_unpaired_number_fails_the_entry_with_a_reason() {
    let t = start().await;
    let c = t.client();
    c.instances()
        .create(&CreateInstanceRequest::new(id("fresh"), ""))
        .await
        .unwrap();
    let q = c
        .messages()
        .send_number(&SendNumberRequest::new(
            id("fresh"),
            Phone::new("12125551234").unwrap(),
            "Hi".try_into().unwrap(),
        ))
        .await
        .expect("accepted: the queue, not the request, fails");
    let entry = eventually(10, || async {
        let e = c.queue().status(q.queue_id).await.unwrap();
        (e.status == QueueStatus::Failed).then_some(e)
    })
    .await;
    let reason = entry.error.unwrap();
    assert!(
        reason.contains("not paired") && reason.contains("/api/instances/fresh/qr"),
        "{reason}"
    );
}

#[tokio::test]
async fn channels_are_saved_listed_and_removed() {
    let t = start().await;
    let c = t.client();
    let inst = paired_instance(&c, "n1").await;
    let saved = c
        .channels()
        .add(&AddChannelRequest::new(
            inst.clone(),
            "https://whatsapp.com/channel/0029VaAbCdEf",
        ))
        .await
        .unwrap()
        .channel;
    assert!(saved.id.as_str().starts_with("ch_"));
    assert!(saved.is_admin);
    assert_eq!(saved.instance_id, inst);
    assert_eq!(
        saved.invite_link,
        "https://whatsapp.com/channel/0029VaAbCdEf"
    );
    // The same channel by code again: refreshed, not duplicated, same id.
    let again = c
        .channels()
        .add(&AddChannelRequest::new(inst.clone(), "0029VaAbCdEf"))
        .await
        .unwrap()
        .channel;
    assert_eq!(again.id, saved.id);
    assert_eq!(again.channel_jid, saved.channel_jid);
    let by_jid = c
        .channels()
        .add(&AddChannelRequest::new(
            inst.clone(),
            saved.channel_jid.as_str(),
        ))
        .await
        .unwrap()
        .channel;
    assert_eq!(by_jid.id, saved.id);
    assert_eq!(
        c.channels().list().await.unwrap().channels,
        vec![saved.clone()]
    );
    c.channels().remove(&saved.id).await.unwrap();
    assert!(c.channels().list().await.unwrap().channels.is_empty());
    assert!(matches!(
        c.channels().remove(&saved.id).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn groups_are_listed_by_name_and_renamed_by_id() {
    let t = start().await;
    let c = t.client();
    let inst = paired_instance(&c, "n1").await;
    let groups = c.groups().list(&inst).await.unwrap();
    assert_eq!(groups.instance_id, inst);
    let names: Vec<_> = groups.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Team A", "Team B"]);
    let renamed = c
        .sandbox()
        .add_group(
            &inst,
            &sevenoways_sdk::models::sandbox::SandboxGroupRequest {
                name: "Alpha Team".into(),
                id: Some(TEAM_A.parse().unwrap()),
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.group.id.as_str(), TEAM_A);
    let groups = c.groups().list(&inst).await.unwrap().groups;
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].name, "Alpha Team");
    // Sends by the old name no longer match; by id still do.
    let old = c
        .messages()
        .send(&SendRequest::new(
            inst.clone(),
            GroupTarget::names(["Team A"]).unwrap(),
            "x".try_into().unwrap(),
        ))
        .await;
    assert!(matches!(old, Err(Error::NotFound { .. })), "{old:?}");
    assert!(matches!(
        c.groups().list(&id("ghost")).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn schedules_are_created_listed_and_deleted() {
    let t = start().await;
    let c = t.client();
    let inst = paired_instance(&c, "n1").await;
    let req = CreateScheduleRequest::new(
        inst.clone(),
        "Daily Morning Update",
        "0 9 * * *".parse().unwrap(),
        "Asia/Dubai".parse().unwrap(),
        ScheduleTarget::Groups(GroupTarget::ids([TEAM_A]).unwrap()),
        Content::Text {
            message: "Good morning team! ☀️".try_into().unwrap(),
        },
    )
    .unwrap();
    let created = c.schedules().create(&req).await.unwrap().schedule;
    assert_eq!(created.spec, req);
    let next = created.next_run_at.expect("a daily schedule runs again");
    // 09:00 in Dubai is 05:00 UTC, all year.
    assert_eq!(next.format("%H:%M").to_string(), "05:00");
    assert!(next > chrono::Utc::now());
    let list = c.schedules().list().await.unwrap().schedules;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, created.id);
    assert_eq!(list[0].next_run_at, Some(next));
    c.schedules().delete(&created.id).await.unwrap();
    assert!(c.schedules().list().await.unwrap().schedules.is_empty());
    assert!(matches!(
        c.schedules().delete(&created.id).await,
        Err(Error::NotFound { .. })
    ));

    let unknown_group = CreateScheduleRequest::new(
        inst.clone(),
        "x",
        "0 9 * * *".parse().unwrap(),
        "UTC".parse().unwrap(),
        ScheduleTarget::Groups(GroupTarget::names(["Nobody"]).unwrap()),
        Content::Text {
            message: "x".try_into().unwrap(),
        },
    )
    .unwrap();
    assert!(matches!(
        c.schedules().create(&unknown_group).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn inbound_messages_are_accepted_and_health_endpoints_answer() {
    let t = start().await;
    let c = t.client();
    let inst = paired_instance(&c, "n1").await;
    c.sandbox()
        .inbound(
            &inst,
            &SandboxInboundRequest {
                from: "971501234567".into(),
                message: "Hi back 👋".into(),
            },
        )
        .await
        .unwrap();
    let bad = c
        .sandbox()
        .inbound(
            &inst,
            &SandboxInboundRequest {
                from: "+971".into(),
                message: "x".into(),
            },
        )
        .await;
    assert!(
        matches!(bad, Err(Error::Api { status: 400, ref message, .. }) if message.starts_with("from: ")),
        "{bad:?}"
    );
    let http = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        let r = http
            .get(format!("{}{path}", t.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}
