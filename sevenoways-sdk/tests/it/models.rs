//! The documentation's own examples, parsed with the SDK's codec as the server parses
//! them, and the validation errors for values the API refuses.
//!
//! The bodies are copied from `shared/seed/api-documentation.txt`, formatting included,
//! with the placeholders replaced by valid values (`INSTANCE_ID` → `number2`,
//! `GROUP_ID_HERE` / `GROUP_ID@g.us` → a real-looking group id, `120363XXXXXXXX@newsletter`
//! → a JID made of digits) and the emoji restored where the documentation's copy of them
//! is garbled.

use chrono::{DateTime, TimeZone as _, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sevenoways_sdk::body::{from_form, from_json};
use sevenoways_sdk::models::channels::{
    AddChannelRequest, ChannelList, ChannelRef, SendDocumentToChannelRequest,
    SendImageToChannelRequest, SendToChannelRequest,
};
use sevenoways_sdk::models::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};
use sevenoways_sdk::models::instances::CreateInstanceRequest;
use sevenoways_sdk::models::messages::{
    SendDocumentRequest, SendImageRequest, SendNumberDocumentRequest, SendNumberImageRequest,
    SendNumberRequest, SendRequest,
};
use sevenoways_sdk::models::schedules::CreateScheduleRequest;
use sevenoways_sdk::{
    Content, CronExpr, ErrorBody, GroupTarget, MediaUrl, MessageText, Phone, QueueId, Queued,
    RATE_LIMIT_MESSAGE, SendMessage, Success, Target, TimeZone, Validate, ValidationError,
};

const G1: &str = "120363025246125888@g.us";
const JID: &str = "120363111111111111@newsletter";

/// Parses a documented body, validates it, and checks that serialising the value gives
/// back every field of the body unchanged (nothing dropped, renamed or rewritten).
fn documented<T>(body: &str) -> T
where
    T: DeserializeOwned + Validate + Serialize,
{
    let value: T = from_json(body.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{body}"));
    value.validate().unwrap_or_else(|e| panic!("{e}\n{body}"));
    let original: Value = serde_json::from_str(body).unwrap();
    assert_eq!(serde_json::to_value(&value).unwrap(), original, "{body}");
    value
}

fn text(s: &str) -> Content {
    Content::Text {
        message: MessageText::new(s).unwrap(),
    }
}

fn group_ids(ids: &[&str]) -> Target {
    Target::Groups(GroupTarget::ids(ids).unwrap())
}

// ---------------------------------------------------------------------------------------
// Instances

#[test]
fn create_instance() {
    let req: CreateInstanceRequest =
        documented(r#"{"instanceId":"number2","label":"Second Line"}"#);
    assert_eq!(req.instance_id.as_str(), "number2");
    assert_eq!(req.label, "Second Line");
}

// ---------------------------------------------------------------------------------------
// Send to groups

#[test]
fn send_text_to_group_ids() {
    let req: SendRequest = documented(
        r#"{
    "instanceId": "number2",
    "groupIds": ["120363025246125888@g.us"],
    "message": "Hello everyone! 👋"
  }"#,
    );
    assert_eq!(req.target().unwrap(), group_ids(&[G1]));
    assert_eq!(req.content(), text("Hello everyone! 👋"));
}

#[test]
fn send_text_to_group_names() {
    let req: SendRequest = documented(
        r#"{
    "instanceId": "number2",
    "groups": ["Group Name Here"],
    "message": "Hello everyone! 👋"
  }"#,
    );
    assert_eq!(
        req.target().unwrap(),
        Target::Groups(GroupTarget::names(["Group Name Here"]).unwrap())
    );
    assert!(
        req.groups[0].matches("group name HERE"),
        "names match case-insensitively"
    );
}

#[test]
fn send_text_to_all_groups() {
    let req: SendRequest = documented(
        r#"{
  "instanceId": "number2",
  "sendAll": true,
  "message": "Broadcast to everyone!"
}"#,
    );
    assert_eq!(req.target().unwrap(), Target::Groups(GroupTarget::All));
}

#[test]
fn send_image_to_groups() {
    let req: SendImageRequest = documented(
        r#"{
  "instanceId": "number2",
  "groupIds": ["120363025246125888@g.us"],
  "imageUrl": "https://example.com/banner.jpg",
  "caption": "Check this out!"
}"#,
    );
    assert_eq!(
        req.content(),
        Content::Image {
            image_url: "https://example.com/banner.jpg".parse().unwrap(),
            caption: Some("Check this out!".into()),
        }
    );
}

#[test]
fn send_document_to_groups() {
    let req: SendDocumentRequest = documented(
        r#"{
  "instanceId": "number2",
  "groupIds": ["120363025246125888@g.us"],
  "fileUrl": "https://example.com/report.pdf",
  "filename": "Monthly Report.pdf",
  "mimetype": "application/pdf"
}"#,
    );
    assert_eq!(
        req.content(),
        Content::Document {
            file_url: "https://example.com/report.pdf".parse().unwrap(),
            filename: "Monthly Report.pdf".into(),
            mimetype: Some("application/pdf".into()),
        }
    );
}

// ---------------------------------------------------------------------------------------
// Send to a number

#[test]
fn send_text_to_number() {
    let req: SendNumberRequest = documented(
        r#"{
    "instanceId": "number2",
    "phone": "971501234567",
    "message": "Hello! Your order is ready 🎉"
  }"#,
    );
    assert_eq!(
        req.target().unwrap(),
        Target::Phone("971501234567".parse().unwrap())
    );
}

#[test]
fn documented_phone_formats() {
    // UAE, UK and US, as the documentation lists them.
    for phone in ["971501234567", "447911123456", "12125551234"] {
        assert_eq!(Phone::new(phone).unwrap().as_str(), phone);
    }
}

#[test]
fn send_image_to_number() {
    let req: SendNumberImageRequest = documented(
        r#"{
  "instanceId": "number2",
  "phone": "971501234567",
  "imageUrl": "https://example.com/invoice.png",
  "caption": "Your invoice"
}"#,
    );
    assert_eq!(req.caption.as_deref(), Some("Your invoice"));
}

#[test]
fn send_document_to_number() {
    let req: SendNumberDocumentRequest = documented(
        r#"{
  "instanceId": "number2",
  "phone": "971501234567",
  "fileUrl": "https://example.com/contract.pdf",
  "filename": "Contract.pdf"
}"#,
    );
    assert_eq!(req.filename, "Contract.pdf");
    assert_eq!(req.mimetype, None);
}

// ---------------------------------------------------------------------------------------
// Communities

#[test]
fn send_text_to_community() {
    let req: SendToCommunityRequest = documented(
        r#"{
    "instanceId": "number2",
    "communityId": "120363111111111111@newsletter",
    "message": "📣 Community update: New features released!"
  }"#,
    );
    assert_eq!(
        req.target().unwrap(),
        Target::Community(JID.parse().unwrap())
    );
}

#[test]
fn send_image_to_community() {
    let req: SendImageToCommunityRequest = documented(
        r#"{
    "instanceId": "number2",
    "communityId": "120363111111111111@newsletter",
    "imageUrl": "https://example.com/banner.jpg",
    "caption": "Check out our new product! 🚀"
  }"#,
    );
    assert_eq!(req.content().kind(), "image");
}

#[test]
fn send_document_to_community() {
    let req: SendDocumentToCommunityRequest = documented(
        r#"{
    "instanceId": "number2",
    "communityId": "120363111111111111@newsletter",
    "fileUrl": "https://example.com/newsletter.pdf",
    "filename": "Community-Update.pdf"
  }"#,
    );
    assert_eq!(req.content().kind(), "document");
}

#[test]
fn documented_send_answer() {
    let answer: Success<Queued> = serde_json::from_str(
        r#"{
  "success": true,
  "queued": true,
  "queueId": 142
}"#,
    )
    .unwrap();
    assert_eq!(
        answer.0,
        Queued {
            queued: true,
            queue_id: QueueId(142),
            recipients: vec![],
        }
    );
}

// ---------------------------------------------------------------------------------------
// Channels

#[test]
fn documented_channel_list() {
    let body = r#"{
  "success": true,
  "channels": [
    {
      "id": "ch_abc123",
      "channelJid": "120363111111111111@newsletter",
      "name": "My Brand Updates",
      "description": "Latest news from our brand",
      "subscribers": 4820,
      "isAdmin": true,
      "inviteLink": "https://whatsapp.com/channel/XXXXXXX",
      "instanceId": "inst_abc123"
    }
  ]
}"#;
    let list: Success<ChannelList> = serde_json::from_str(body).unwrap();
    let channel = &list.0.channels[0];
    assert_eq!(list.0.channels.len(), 1);
    assert_eq!(channel.id.as_str(), "ch_abc123");
    assert_eq!(channel.channel_jid.as_str(), JID);
    assert_eq!(channel.name, "My Brand Updates");
    assert_eq!(channel.description, "Latest news from our brand");
    assert_eq!(channel.subscribers, 4820);
    assert!(channel.is_admin);
    assert_eq!(channel.invite_link, "https://whatsapp.com/channel/XXXXXXX");
    assert_eq!(channel.instance_id.as_str(), "inst_abc123");
    // And the server's answer, written from the type, is the documented body.
    let original: Value = serde_json::from_str(body).unwrap();
    assert_eq!(serde_json::to_value(&list).unwrap(), original);
}

#[test]
fn add_channel() {
    let req: AddChannelRequest = documented(
        r#"{
    "instanceId": "number2",
    "inviteLink": "https://whatsapp.com/channel/XXXXXXXXXXXXXXXX"
  }"#,
    );
    assert_eq!(
        ChannelRef::parse(&req.invite_link).unwrap(),
        ChannelRef::Code("XXXXXXXXXXXXXXXX".into())
    );
    // "Full invite URL or invite code or channel JID".
    for link in [
        "XXXXXXXXXXXXXXXX",
        JID,
        "https://www.whatsapp.com/channel/0029VaAbCdEf",
    ] {
        let req = AddChannelRequest::new("number2".parse().unwrap(), link);
        req.validate().unwrap_or_else(|e| panic!("{link}: {e}"));
    }
}

#[test]
fn send_text_to_channel() {
    let req: SendToChannelRequest = documented(
        r#"{
    "instanceId": "number2",
    "channelJid": "120363111111111111@newsletter",
    "message": "📢 Big announcement coming tomorrow — stay tuned!"
  }"#,
    );
    assert_eq!(req.target().unwrap(), Target::Channel(JID.parse().unwrap()));
}

#[test]
fn send_image_to_channel() {
    let req: SendImageToChannelRequest = documented(
        r#"{
    "instanceId": "number2",
    "channelJid": "120363111111111111@newsletter",
    "imageUrl": "https://example.com/promo.jpg",
    "caption": "Our summer sale starts today! 🌞"
  }"#,
    );
    assert_eq!(
        req.caption.as_deref(),
        Some("Our summer sale starts today! 🌞")
    );
}

#[test]
fn send_document_to_channel() {
    let req: SendDocumentToChannelRequest = documented(
        r#"{
    "instanceId": "number2",
    "channelJid": "120363111111111111@newsletter",
    "fileUrl": "https://example.com/monthly-report.pdf",
    "filename": "August-Report.pdf"
  }"#,
    );
    assert_eq!(req.filename, "August-Report.pdf");
}

// ---------------------------------------------------------------------------------------
// Schedules and the cron reference

#[test]
fn create_schedule() {
    let req: CreateScheduleRequest = documented(
        r#"{
  "instanceId": "number2",
  "label": "Daily Morning Update",
  "cronExpr": "0 9 * * *",
  "timezone": "Asia/Dubai",
  "groupIds": ["120363025246125888@g.us"],
  "message": "Good morning team! ☀️"
}"#,
    );
    assert_eq!(req.target().unwrap(), group_ids(&[G1]));
    assert_eq!(req.content().unwrap(), text("Good morning team! ☀️"));
    // 09:00 in Dubai (UTC+4, no daylight saving) is 05:00 UTC.
    let tz = req.timezone.tz();
    let after = Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap();
    let next = req
        .cron_expr
        .schedule()
        .find_next_occurrence(&after.with_timezone(&tz), false)
        .unwrap();
    assert_eq!(
        next.with_timezone(&Utc),
        Utc.with_ymd_and_hms(2026, 11, 25, 5, 0, 0).unwrap()
    );
}

#[test]
fn every_line_of_the_cron_reference() {
    // Each documented expression, its meaning, and the next run after
    // Friday 2026-11-27 09:30 UTC worked out by hand from that meaning.
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 27, 9, 30, 0).unwrap();
    let table = [
        ("0 9 * * *", "Every day at 9:00 AM", (11, 28, 9, 0)),
        ("0 9 * * 1", "Every Monday at 9:00 AM", (11, 30, 9, 0)),
        (
            "0 9 * * 1-5",
            "Weekdays (Mon–Fri) at 9:00 AM",
            (11, 30, 9, 0),
        ),
        (
            "0 8,17 * * *",
            "Every day at 8 AM and 5 PM",
            (11, 27, 17, 0),
        ),
        ("*/30 * * * *", "Every 30 minutes", (11, 27, 10, 0)),
        ("0 9 1 * *", "1st of every month at 9 AM", (12, 1, 9, 0)),
        ("0 9 * * 5", "Every Friday at 9 AM", (12, 4, 9, 0)),
    ];
    for (expr, meaning, (month, day, hour, minute)) in table {
        let cron = CronExpr::new(expr).unwrap_or_else(|e| panic!("{expr} ({meaning}): {e}"));
        assert_eq!(cron.as_str(), expr);
        let parsed: CronExpr = serde_json::from_value(Value::String(expr.into())).unwrap();
        assert_eq!(parsed, cron);
        let next = cron.schedule().find_next_occurrence(&start, false).unwrap();
        assert_eq!(
            next,
            Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0)
                .unwrap(),
            "{expr}: {meaning}"
        );
    }
}

#[test]
fn documented_time_zones() {
    for name in ["Asia/Dubai", "Europe/London", "America/New_York", "UTC"] {
        let tz = TimeZone::new(name).unwrap();
        assert_eq!(tz.as_str(), name);
        assert_eq!(serde_json::to_string(&tz).unwrap(), format!("\"{name}\""));
    }
}

// ---------------------------------------------------------------------------------------
// n8n, Pabbly Connect, Ottokit and the SDK examples

#[test]
fn n8n_json_bodies() {
    // Option B
    let req: SendRequest = documented(
        r#"{
  "instanceId": "number2",
  "groupIds": ["120363025246125888@g.us"],
  "message": "{{ $json.message }}"
}"#,
    );
    assert_eq!(req.message.as_str(), "{{ $json.message }}");

    // New form submission → notify group
    let _: SendRequest = documented(
        r#"{
  "instanceId": "number2",
  "groupIds": ["120363025246125888@g.us"],
  "message": "📋 New lead: {{ $json.name }} — {{ $json.email }}"
}"#,
    );

    // Send order confirmation to customer (the phone expression evaluated)
    let _: SendNumberRequest = documented(
        r#"{
  "instanceId": "number2",
  "phone": "971501234567",
  "message": "Hi {{ $json.name }}! Order #{{ $json.orderId }} confirmed ✅"
}"#,
    );

    // Daily report to all groups: a \n escape is a real newline in the message.
    let req: SendRequest = documented(
        r#"{
  "instanceId": "number2",
  "sendAll": true,
  "message": "📊 Daily report:\nSales: {{ $json.sales }}\nLeads: {{ $json.leads }}"
}"#,
    );
    assert_eq!(req.message.as_str().lines().count(), 3);
    assert_eq!(req.target().unwrap(), Target::Groups(GroupTarget::All));

    // Google Sheet row added → alert group
    let _: SendRequest = documented(
        r#"{
  "instanceId": "number2",
  "groupIds": ["120363025246125888@g.us"],
  "message": "📋 New entry:\n{{ $json.Name }} — AED {{ $json.Amount }}"
}"#,
    );

    // Send invoice PDF to customer: `mimetype` on send-number-document.
    let req: SendNumberDocumentRequest = documented(
        r#"{
  "instanceId": "number2",
  "phone": "971501234567",
  "fileUrl": "https://example.com/invoices/1042.pdf",
  "filename": "Invoice-{{ $json.invoiceNo }}.pdf",
  "mimetype": "application/pdf"
}"#,
    );
    assert_eq!(req.mimetype.as_deref(), Some("application/pdf"));
}

#[test]
fn sdk_examples_in_every_language_send_the_same_body() {
    // cURL, JavaScript fetch, Python requests and PHP cURL all send this shape.
    for (language, message) in [
        ("cURL", "Hello from cURL!"),
        ("JavaScript", "Hello from JavaScript!"),
        ("Python", "Hello from Python!"),
        ("PHP", "Hello from PHP!"),
    ] {
        let body = format!(
            r#"{{"instanceId":"number2","groupIds":["120363025246125888@g.us"],"message":"{message}"}}"#
        );
        let req: SendRequest = documented(&body);
        assert_eq!(req.message.as_str(), message, "{language}");
    }
}

#[test]
fn n8n_form_body_to_send_number() {
    // Option A: Form Urlencoded with instanceId, phone and message.
    for body in [
        "instanceId=number2&phone=971501234567&message=Hello%21%20Your%20order%20is%20ready%20%F0%9F%8E%89",
        "instanceId=number2&phone=971501234567&message=Hello%21+Your+order+is+ready+%F0%9F%8E%89",
    ] {
        let req: SendNumberRequest = from_form(body.as_bytes()).unwrap();
        req.validate().unwrap();
        assert_eq!(req.phone.as_str(), "971501234567");
        assert_eq!(req.message.as_str(), "Hello! Your order is ready 🎉");
    }
}

#[test]
fn pabbly_form_bodies() {
    // Send to a number.
    let req: SendNumberRequest = from_form(
        b"instanceId=number2&phone=447911123456&message=Hi%20Sara%2C%20your%20order%20is%20ready%21%20%E2%9C%85",
    )
    .unwrap();
    assert_eq!(req.message.as_str(), "Hi Sara, your order is ready! ✅");

    // Send to groups: `groupIds[]` repeated, brackets raw or percent-encoded, or the key
    // repeated without brackets.
    for body in [
        "instanceId=number2&groupIds[]=120363025246125888@g.us&groupIds[]=120363099999999999@g.us&message=Your+message+text",
        "instanceId=number2&groupIds%5B%5D=120363025246125888%40g.us&groupIds%5B%5D=120363099999999999%40g.us&message=Your+message+text",
        "instanceId=number2&groupIds=120363025246125888@g.us&groupIds=120363099999999999@g.us&message=Your+message+text",
    ] {
        let req: SendRequest = from_form(body.as_bytes()).unwrap();
        req.validate().unwrap();
        assert_eq!(
            req.target().unwrap(),
            group_ids(&[G1, "120363099999999999@g.us"]),
            "{body}"
        );
        assert_eq!(req.message.as_str(), "Your message text");
    }

    // One group: a single `groupIds[]`, or a bare `groupIds`.
    for body in [
        "instanceId=number2&groupIds[]=120363025246125888@g.us&message=Hi",
        "instanceId=number2&groupIds=120363025246125888@g.us&message=Hi",
    ] {
        let req: SendRequest = from_form(body.as_bytes()).unwrap();
        assert_eq!(req.target().unwrap(), group_ids(&[G1]), "{body}");
    }
}

#[test]
fn ottokit_and_html_form_bodies() {
    let req: SendNumberRequest =
        from_form(b"instanceId=number2&phone=12125551234&message=Your+message+text").unwrap();
    req.validate().unwrap();
    // Booleans arrive as text.
    for yes in ["true", "on", "1"] {
        let req: SendRequest =
            from_form(format!("instanceId=number2&sendAll={yes}&message=Hi").as_bytes()).unwrap();
        assert_eq!(
            req.target().unwrap(),
            Target::Groups(GroupTarget::All),
            "{yes}"
        );
    }
    // A spreadsheet's phone number arrives as a JSON number.
    let req: SendNumberRequest =
        from_json(br#"{"instanceId":"number2","phone":971501234567,"message":"Hi"}"#).unwrap();
    assert_eq!(req.phone.as_str(), "971501234567");
}

#[test]
fn documented_rate_limit_error() {
    let body: ErrorBody = serde_json::from_str(
        r#"{ "success": false, "error": "Send rate limit exceeded — max 60 requests/minute per API key." }"#,
    )
    .unwrap();
    assert!(!body.success);
    assert_eq!(body.error, RATE_LIMIT_MESSAGE);
    assert!(RATE_LIMIT_MESSAGE.contains('\u{2014}'));
}

// ---------------------------------------------------------------------------------------
// Values the API refuses: the error names the field

fn json_err<T: DeserializeOwned + Validate + std::fmt::Debug>(body: &str) -> ValidationError {
    match from_json::<T>(body.as_bytes()) {
        Err(e) => e,
        Ok(v) => v
            .validate()
            .expect_err(&format!("expected {body} to be refused, got {v:?}")),
    }
}

#[test]
fn bad_phone_numbers() {
    for phone in [
        r#""+971501234567""#,
        r#""971 50 123 4567""#,
        r#""0501234567""#,
        r#""12345""#,
        r#""9715012345678901""#,
        r#""97150abc4567""#,
        r#""""#,
        "true",
    ] {
        let body = format!(r#"{{"instanceId":"number2","phone":{phone},"message":"Hi"}}"#);
        let err = json_err::<SendNumberRequest>(&body);
        assert_eq!(err.field(), "phone", "{phone}: {err}");
    }
    // In a form body too, and through the constructor.
    let err =
        from_form::<SendNumberRequest>(b"instanceId=number2&phone=%2B971501234567&message=Hi")
            .unwrap_err();
    assert_eq!(err.field(), "phone");
    assert_eq!(Phone::new("+971501234567").unwrap_err().field(), "phone");
    assert_eq!(Phone::normalize("+971 50").unwrap_err().field(), "phone");
}

#[test]
fn a_bad_second_group_id_is_named_with_its_index() {
    let err = json_err::<SendRequest>(
        r#"{"instanceId":"number2","groupIds":["120363025246125888@g.us","Team A"],"message":"Hi"}"#,
    );
    assert_eq!(err.field(), "groupIds[1]");
    assert!(err.reason().contains("Team A"), "{err}");

    let err = from_form::<SendRequest>(
        b"instanceId=number2&groupIds[]=120363025246125888@g.us&groupIds[]=GROUP_ID_HERE&message=Hi",
    )
    .unwrap_err();
    assert_eq!(err.field(), "groupIds[1]");

    let err = GroupTarget::ids([G1, "120363@newsletter"]).unwrap_err();
    assert_eq!(err.field(), "groupIds[1]");

    // Built in steps, the index is still the position in the final list.
    let err = GroupTarget::ids([G1, "120363099999999999@g.us"])
        .unwrap()
        .and_ids(["Team A"])
        .unwrap_err();
    assert_eq!(err.field(), "groupIds[2]");
    let err = GroupTarget::names(["Team A"])
        .unwrap()
        .and_names([""])
        .unwrap_err();
    assert_eq!(err.field(), "groups[1]");
    assert_eq!(
        GroupTarget::all().and_ids([G1]).unwrap_err().field(),
        "sendAll"
    );
}

#[test]
fn message_length_is_counted_in_characters() {
    let body = |m: &str| {
        serde_json::json!({"instanceId": "number2", "phone": "971501234567", "message": m})
            .to_string()
    };
    // 4096 characters is the limit, even when each is a four-byte emoji.
    for ok in ["a".repeat(4096), "👋".repeat(4096)] {
        let req: SendNumberRequest = from_json(body(&ok).as_bytes()).unwrap();
        req.validate().unwrap();
    }
    for too_long in ["a".repeat(4097), "👋".repeat(4097)] {
        let err = json_err::<SendNumberRequest>(&body(&too_long));
        assert_eq!(err.field(), "message");
        assert!(err.reason().contains("4096"), "{err}");
        assert!(err.reason().contains("4097"), "{err}");
    }
    assert_eq!(
        MessageText::new("a".repeat(4097)).unwrap_err().field(),
        "message"
    );
    // Blank is refused too, and so is a missing message.
    assert_eq!(
        json_err::<SendNumberRequest>(&body(" \n ")).field(),
        "message"
    );
    let err = json_err::<SendNumberRequest>(r#"{"instanceId":"number2","phone":"971501234567"}"#);
    assert_eq!(err.to_string(), "message: is required");
    // Channel and community messages share the limit.
    let err = json_err::<SendToChannelRequest>(
        &serde_json::json!({"instanceId": "number2", "channelJid": JID, "message": "x".repeat(4097)})
            .to_string(),
    );
    assert_eq!(err.field(), "message");
}

#[test]
fn media_urls_must_be_public_http() {
    let err = json_err::<SendImageRequest>(
        r#"{"instanceId":"number2","groupIds":["120363025246125888@g.us"],"imageUrl":"ftp://example.com/banner.jpg"}"#,
    );
    assert_eq!(err.field(), "imageUrl");
    assert!(err.reason().contains("ftp"), "{err}");

    let err = json_err::<SendNumberDocumentRequest>(
        r#"{"instanceId":"number2","phone":"971501234567","fileUrl":"file:///etc/passwd","filename":"passwd"}"#,
    );
    assert_eq!(err.field(), "fileUrl");

    let err = json_err::<SendImageToCommunityRequest>(
        r#"{"instanceId":"number2","communityId":"120363111111111111@newsletter","imageUrl":"example.com/banner.jpg"}"#,
    );
    assert_eq!(err.field(), "imageUrl");

    assert_eq!(
        MediaUrl::for_field("ftp://example.com/banner.jpg", "imageUrl")
            .unwrap_err()
            .field(),
        "imageUrl"
    );
}

#[test]
fn cron_expressions_have_five_fields() {
    let schedule = |cron: &str, tz: &str| {
        serde_json::json!({
            "instanceId": "number2", "label": "x", "cronExpr": cron, "timezone": tz,
            "groupIds": [G1], "message": "Hi"
        })
        .to_string()
    };
    let err = json_err::<CreateScheduleRequest>(&schedule("0 0 9 * * *", "UTC"));
    assert_eq!(err.field(), "cronExpr");
    assert!(err.reason().contains("5 fields"), "{err}");
    assert!(err.reason().contains("got 6"), "{err}");

    for bad in [
        "0 9 * *",
        "0 25 * * *",
        "61 * * * *",
        "0 9 * * 8",
        "every day",
        "",
    ] {
        let err = json_err::<CreateScheduleRequest>(&schedule(bad, "UTC"));
        assert_eq!(err.field(), "cronExpr", "{bad:?}");
        assert_eq!(
            CronExpr::new(bad).unwrap_err().field(),
            "cronExpr",
            "{bad:?}"
        );
    }
}

#[test]
fn time_zones_are_iana_names() {
    let body = serde_json::json!({
        "instanceId": "number2", "cronExpr": "0 9 * * *", "timezone": "Mars/Base",
        "groupIds": [G1], "message": "Hi"
    })
    .to_string();
    let err = json_err::<CreateScheduleRequest>(&body);
    assert_eq!(err.field(), "timezone");
    assert!(err.reason().contains("Mars/Base"), "{err}");
    assert_eq!(TimeZone::new("Mars/Base").unwrap_err().field(), "timezone");
    assert_eq!(TimeZone::new("GMT+4").unwrap_err().field(), "timezone");

    // Omitted, it is UTC.
    let body = serde_json::json!({
        "instanceId": "number2", "cronExpr": "0 9 * * *", "groupIds": [G1], "message": "Hi"
    })
    .to_string();
    let req: CreateScheduleRequest = from_json(body.as_bytes()).unwrap();
    assert_eq!(req.timezone, TimeZone::UTC);
}

#[test]
fn newsletter_jids_are_checked_under_their_own_field_name() {
    // The documentation's placeholder itself is not a JID: the X's are not digits.
    let err = json_err::<SendToCommunityRequest>(
        r#"{"instanceId":"number2","communityId":"120363XXXXXXXX@newsletter","message":"Hi"}"#,
    );
    assert_eq!(err.field(), "communityId");
    let err = json_err::<SendToChannelRequest>(
        r#"{"instanceId":"number2","channelJid":"120363025246125888@g.us","message":"Hi"}"#,
    );
    assert_eq!(err.field(), "channelJid");
}

#[test]
fn other_refusals_name_their_field() {
    let cases: [(&str, ValidationError); 5] = [
        (
            "instanceId",
            json_err::<SendNumberRequest>(r#"{"phone":"971501234567","message":"Hi"}"#),
        ),
        (
            "instanceId",
            json_err::<SendNumberRequest>(
                r#"{"instanceId":"my number","phone":"971501234567","message":"Hi"}"#,
            ),
        ),
        (
            "sendAll",
            json_err::<SendRequest>(
                r#"{"instanceId":"number2","sendAll":true,"groupIds":["120363025246125888@g.us"],"message":"Hi"}"#,
            ),
        ),
        (
            "groupIds",
            json_err::<SendRequest>(r#"{"instanceId":"number2","message":"Hi"}"#),
        ),
        (
            "filename",
            json_err::<SendDocumentRequest>(
                r#"{"instanceId":"number2","sendAll":true,"fileUrl":"https://example.com/a.pdf","filename":"../etc/passwd"}"#,
            ),
        ),
    ];
    for (field, err) in cases {
        assert_eq!(err.field(), field, "{err}");
        assert!(err.to_string().starts_with(&format!("{field}: ")), "{err}");
    }
    let err = from_form::<SendRequest>(b"instanceId=number2&sendAll=maybe&message=Hi").unwrap_err();
    assert_eq!(err.field(), "sendAll");
}
