//! Form-urlencoded bodies exactly as no-code tools send them, over raw HTTP, and the SDK's
//! form encoding against the live server: what the SDK sends is what the server takes.

use serde_json::Value;
use sevenoways_sdk::models::messages::*;
use sevenoways_sdk::{GroupTarget, MediaUrl, Phone};
use sevenoways_server::testing::*;

async fn post_form(t: &TestServer, path: &str, body: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", t.base()))
        .header("x-api-key", &t.key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn recipients(v: &Value) -> Vec<&str> {
    v["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["to"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn pabbly_n8n_and_html_form_bodies() {
    let t = start().await;
    let inst = paired_instance(&t.client(), "n1").await;
    let both = [TEAM_A, TEAM_B];

    // Pabbly: groupIds[] repeated, brackets literal.
    let (s, v) = post_form(
        &t,
        "/api/send",
        &format!("instanceId=n1&groupIds[]={TEAM_A}&groupIds[]={TEAM_B}&message=Hi+%F0%9F%91%8B"),
    )
    .await;
    assert_eq!((s, recipients(&v)), (200, both.to_vec()), "{v}");
    // The same with the brackets percent-encoded, as most HTTP libraries send them.
    let (s, v) = post_form(&t, "/api/send", "instanceId=n1&groupIds%5B%5D=120363000000000001%40g.us&groupIds%5B%5D=120363000000000002%40g.us&message=Hi").await;
    assert_eq!((s, recipients(&v)), (200, both.to_vec()), "{v}");
    // Repeated plain key.
    let (s, v) = post_form(
        &t,
        "/api/send",
        &format!("instanceId=n1&groupIds={TEAM_A}&groupIds={TEAM_B}&message=Hi"),
    )
    .await;
    assert_eq!((s, recipients(&v)), (200, both.to_vec()), "{v}");
    // A single value is a list of one.
    let (s, v) = post_form(
        &t,
        "/api/send",
        &format!("instanceId=n1&groupIds={TEAM_A}&message=Hi"),
    )
    .await;
    assert_eq!((s, recipients(&v)), (200, vec![TEAM_A]), "{v}");
    // Names, case-insensitive.
    let (s, v) = post_form(&t, "/api/send", "instanceId=n1&groups[]=team+b&message=Hi").await;
    assert_eq!((s, recipients(&v)), (200, vec![TEAM_B]), "{v}");
    // sendAll as text, every spelling a form can carry.
    for yes in ["true", "1", "on"] {
        let (s, v) = post_form(
            &t,
            "/api/send",
            &format!("instanceId=n1&sendAll={yes}&message=Broadcast"),
        )
        .await;
        assert_eq!((s, recipients(&v).len()), (200, 2), "sendAll={yes}: {v}");
    }
    // n8n "Form Urlencoded" to a number, message with a newline and emoji.
    let (s, v) = post_form(
        &t,
        "/api/send-number",
        "instanceId=n1&phone=971501234567&message=Hi+Sam%21%0AOrder+%2342+confirmed+%E2%9C%85",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let q = v["queueId"].as_u64().unwrap();
    let outbox = eventually(10, || async {
        let o = t.client().sandbox().outbox(&inst).await.unwrap().messages;
        o.into_iter().find(|m| m.queue_id.0 == q)
    })
    .await;
    assert_eq!(
        serde_json::to_value(&outbox.content).unwrap()["message"],
        "Hi Sam!\nOrder #42 confirmed ✅"
    );
    // Document with mimetype, as in the n8n invoice example.
    let (s, v) = post_form(&t, "/api/send-number-document", "instanceId=n1&phone=971501234567&fileUrl=https%3A%2F%2Fexample.com%2Finvoice.pdf&filename=Invoice-7.pdf&mimetype=application%2Fpdf").await;
    assert_eq!(s, 200, "{v}");
    // Bad form input names the field.
    let (s, v) = post_form(&t, "/api/send", "instanceId=n1&sendAll=maybe&message=x").await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("sendAll: "), "{v}");
    let (s, v) = post_form(&t, "/api/send", "instanceId=n1&message=x").await;
    assert_eq!(s, 400);
    assert!(
        v["error"].as_str().unwrap().starts_with("groupIds: "),
        "{v}"
    );
}

#[tokio::test]
async fn curl_dash_d_without_content_type_is_read_as_form_or_json() {
    let t = start().await;
    paired_instance(&t.client(), "n1").await;
    let http = reqwest::Client::new();
    for body in [
        "instanceId=n1&phone=971501234567&message=hello",
        r#"{"instanceId":"n1","phone":"971501234567","message":"hello"}"#,
    ] {
        let r = http
            .post(format!("{}/api/send-number", t.base()))
            .header("x-api-key", &t.key)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{body}");
    }
}

/// Every send the SDK can make, in form encoding, is accepted by the live server and
/// queues the same recipients as its JSON twin.
#[tokio::test]
async fn sdk_form_encoding_agrees_with_the_server() {
    let t = start().await;
    let inst = paired_instance(&t.client(), "n1").await;
    let url = |s: &str| MediaUrl::new(s).unwrap();
    let phone = Phone::new("971501234567").unwrap();
    let target = GroupTarget::ids([TEAM_A])
        .unwrap()
        .and_names(["Team B"])
        .unwrap();
    for client in [t.client(), t.form_client()] {
        let m = client.messages();
        let q = m
            .send(&SendRequest::new(
                inst.clone(),
                target.clone(),
                "Hi 👋\n\"quoted\" \\ back".try_into().unwrap(),
            ))
            .await
            .unwrap();
        assert_eq!(q.recipients.len(), 2);
        let q = m
            .send(&SendRequest::new(
                inst.clone(),
                GroupTarget::all(),
                "all".try_into().unwrap(),
            ))
            .await
            .unwrap();
        assert_eq!(q.recipients.len(), 2);
        m.send_image(
            &SendImageRequest::new(
                inst.clone(),
                target.clone(),
                url("https://example.com/a.jpg"),
            )
            .caption("cap"),
        )
        .await
        .unwrap();
        m.send_document(
            &SendDocumentRequest::new(
                inst.clone(),
                target.clone(),
                url("https://example.com/a.pdf"),
                "a.pdf",
            )
            .mimetype("application/pdf"),
        )
        .await
        .unwrap();
        m.send_number(&SendNumberRequest::new(
            inst.clone(),
            phone.clone(),
            "x".try_into().unwrap(),
        ))
        .await
        .unwrap();
        m.send_number_image(&SendNumberImageRequest::new(
            inst.clone(),
            phone.clone(),
            url("https://example.com/a.jpg"),
        ))
        .await
        .unwrap();
        m.send_number_document(&SendNumberDocumentRequest::new(
            inst.clone(),
            phone.clone(),
            url("https://example.com/a.pdf"),
            "a.pdf",
        ))
        .await
        .unwrap();
    }
    // Both encodings carried the same text byte for byte.
    let outbox = eventually(10, || async {
        let o = t.client().sandbox().outbox(&inst).await.unwrap().messages;
        (o.len() == 2 * 11).then_some(o)
    })
    .await;
    let texts: Vec<_> = outbox
        .iter()
        .filter_map(|m| {
            serde_json::to_value(&m.content).unwrap()["message"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|s| s.starts_with("Hi"))
        .collect();
    assert_eq!(texts.len(), 4);
    assert!(
        texts.iter().all(|s| s == "Hi 👋\n\"quoted\" \\ back"),
        "{texts:?}"
    );
}
