//! `client.instances()` and `client.groups()`: listing, creating and deleting numbers,
//! their QR pairing data, and the groups of a number.

use crate::common::{self, bodiless_both, post_both};
use chrono::{DateTime, Utc};
use insta::assert_snapshot;
use serde_json::json;
use sevenoways_sdk::models::groups::{Group, GroupList};
use sevenoways_sdk::models::instances::{
    CreateInstanceRequest, Engine, Instance, InstanceCreated, InstanceList, InstanceStatus, QrCode,
};
use sevenoways_sdk::{Client, Error, InstanceId, Validate};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn id(s: &str) -> InstanceId {
    s.parse().unwrap()
}

#[tokio::test]
async fn list_instances() {
    let response = json!({"success": true, "instances": [
        {"instanceId": "number1", "label": "Main", "status": "online", "engine": "waha",
         "phone": "971501234567", "createdAt": "2026-11-01T08:00:00Z"},
        {"instanceId": "number2", "label": "Second Line", "status": "pairing",
         "createdAt": "2026-11-24T09:00:00.5Z"},
        // A status or engine a newer server might add must not break older clients.
        {"instanceId": "number3", "label": "Old", "status": "suspended", "engine": "telegram",
         "createdAt": "2026-11-24T09:00:00Z"}
    ]});
    let list = bodiless_both("GET", "/api/instances", response, |c| async move {
        c.instances().list().await
    })
    .await;
    assert_eq!(
        list,
        InstanceList {
            instances: vec![
                Instance {
                    instance_id: id("number1"),
                    label: "Main".into(),
                    status: InstanceStatus::Online,
                    engine: Some(Engine::Waha),
                    phone: Some("971501234567".into()),
                    created_at: at("2026-11-01T08:00:00Z"),
                },
                Instance {
                    instance_id: id("number2"),
                    label: "Second Line".into(),
                    status: InstanceStatus::Pairing,
                    // An older server does not say: its instances are sandbox ones.
                    engine: None,
                    phone: None,
                    created_at: at("2026-11-24T09:00:00.500Z"),
                },
                Instance {
                    instance_id: id("number3"),
                    label: "Old".into(),
                    status: InstanceStatus::Unknown,
                    engine: Some(Engine::Unknown),
                    phone: None,
                    created_at: at("2026-11-24T09:00:00Z"),
                },
            ],
            next_cursor: None,
        }
    );
}

#[tokio::test]
async fn create_instance() {
    // The documented body: {"instanceId":"number2","label":"Second Line"}
    let req = CreateInstanceRequest::new(id("number2"), "Second Line");
    let response = json!({
        "success": true,
        "instance": {"instanceId": "number2", "label": "Second Line", "status": "pairing",
                     "createdAt": "2026-11-24T09:00:00Z"},
        "qrUrl": "https://sevenoways.app/api/instances/number2/qr?token=qr_tok_1"
    });
    let got = post_both("/api/instances", &req, response, |c, r| async move {
        c.instances().create(&r).await
    })
    .await;
    assert_eq!(
        got.json_response,
        InstanceCreated {
            instance: Instance {
                instance_id: id("number2"),
                label: "Second Line".into(),
                status: InstanceStatus::Pairing,
                engine: None,
                phone: None,
                created_at: at("2026-11-24T09:00:00Z"),
            },
            qr_url: "https://sevenoways.app/api/instances/number2/qr?token=qr_tok_1".into(),
            sandbox_pair_url: None,
        }
    );
    assert_eq!(
        got.json,
        r#"{"instanceId":"number2","label":"Second Line"}"#
    );
    assert_snapshot!("create_instance_json", got.json);
    assert_snapshot!("create_instance_form", got.form);
}

#[tokio::test]
async fn create_instance_on_an_engine() {
    // A real number through Meta's Cloud API: the engine and its phone number id.
    let req =
        CreateInstanceRequest::new(id("cloud"), "Cloud").meta("106540352242922".parse().unwrap());
    let response = json!({
        "success": true,
        "instance": {"instanceId": "cloud", "label": "Cloud", "status": "online",
                     "engine": "meta", "createdAt": "2026-11-24T09:00:00Z"},
        "qrUrl": "https://sevenoways.app/api/instances/cloud/qr?token=qr_tok_1"
    });
    let got = post_both("/api/instances", &req, response, |c, r| async move {
        c.instances().create(&r).await
    })
    .await;
    assert_eq!(got.json_response.instance.engine, Some(Engine::Meta));
    assert_eq!(
        got.json,
        r#"{"instanceId":"cloud","label":"Cloud","engine":"meta","phoneNumberId":"106540352242922"}"#
    );
    assert_eq!(
        got.form,
        "instanceId=cloud&label=Cloud&engine=meta&phoneNumberId=106540352242922"
    );
}

#[tokio::test]
async fn engine_fields_are_checked_before_sending() {
    let client = Client::builder()
        .api_key(common::API_KEY)
        // Nothing listens here: a request that got this far would fail differently.
        .base_url("http://127.0.0.1:9")
        .max_retries(0)
        .build()
        .unwrap();
    let meta_without_id = CreateInstanceRequest::new(id("cloud"), "").engine(Engine::Meta);
    let err = client
        .instances()
        .create(&meta_without_id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation(v) if v.to_string().starts_with("phoneNumberId: is required")),
        "{err:?}"
    );
    let mut waha_with_id = CreateInstanceRequest::new(id("shop"), "").meta("123".parse().unwrap());
    waha_with_id.engine = Some(Engine::Waha);
    assert!(
        waha_with_id
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("phoneNumberId: only meta instances")
    );
    let err = "telegram".parse::<Engine>().unwrap_err().to_string();
    assert!(
        err.starts_with("engine: expected sandbox, waha or meta"),
        "{err}"
    );
    assert!("+1 555".parse::<sevenoways_sdk::PhoneNumberId>().is_err());
}

#[tokio::test]
async fn delete_instance() {
    bodiless_both(
        "DELETE",
        "/api/instances/number2",
        json!({"success": true}),
        |c| async move { c.instances().delete(&id("number2")).await },
    )
    .await;
}

#[tokio::test]
async fn qr_code_as_json() {
    let response = json!({
        "success": true, "instanceId": "number2", "status": "pairing",
        "pairingCode": "2@Xy9+abc/def==,key,ref", "expiresAt": "2026-11-24T09:01:00Z"
    });
    let qr = bodiless_both(
        "GET",
        "/api/instances/number2/qr?format=json",
        response,
        |c| async move { c.instances().qr(&id("number2")).await },
    )
    .await;
    assert_eq!(
        qr,
        QrCode {
            instance_id: id("number2"),
            status: InstanceStatus::Pairing,
            pairing_code: Some("2@Xy9+abc/def==,key,ref".into()),
            expires_at: Some(at("2026-11-24T09:01:00Z")),
        }
    );

    // Once paired there is nothing to scan.
    let paired = bodiless_both(
        "GET",
        "/api/instances/number2/qr?format=json",
        json!({"success": true, "instanceId": "number2", "status": "online"}),
        |c| async move { c.instances().qr(&id("number2")).await },
    )
    .await;
    assert_eq!(paired.status, InstanceStatus::Online);
    assert_eq!(paired.pairing_code, None);
}

#[tokio::test]
async fn refresh_groups_of_an_instance() {
    let response = json!({"success": true, "instanceId": "number2", "groups": [
        {"id": "120363025246125888@g.us", "name": "Team A"}
    ]});
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(
            "/api/instances/number2/groups/refresh",
        ))
        .and(wiremock::matchers::header("x-api-key", common::API_KEY))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(response))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder()
        .api_key(common::API_KEY)
        .base_url(server.uri())
        .build()
        .unwrap();
    let list = client.groups().refresh(&id("number2")).await.unwrap();
    assert_eq!(list.groups[0].name, "Team A");
}

#[test]
fn qr_page_url_is_the_browser_page() {
    // The documented page to open in a browser; a trailing slash on the base URL is dropped.
    let client = Client::builder()
        .api_key(common::API_KEY)
        .base_url("https://sevenoways.app/")
        .build()
        .unwrap();
    assert_eq!(
        client.instances().qr_page_url(&id("number2")),
        "https://sevenoways.app/api/instances/number2/qr"
    );
    assert!(
        !client
            .instances()
            .qr_page_url(&id("number2"))
            .contains(common::API_KEY)
    );
}

#[tokio::test]
async fn list_groups_of_an_instance() {
    let response = json!({"success": true, "instanceId": "number2", "groups": [
        {"id": "120363025246125888@g.us", "name": "Team A", "participants": 12},
        {"id": "120363099999999999@g.us", "name": "Ventes 🇫🇷"}
    ]});
    let list = bodiless_both(
        "GET",
        "/api/instances/number2/groups",
        response,
        |c| async move { c.groups().list(&id("number2")).await },
    )
    .await;
    assert_eq!(
        list,
        GroupList {
            instance_id: id("number2"),
            groups: vec![
                Group {
                    id: "120363025246125888@g.us".parse().unwrap(),
                    name: "Team A".into(),
                    participants: 12,
                },
                Group {
                    id: "120363099999999999@g.us".parse().unwrap(),
                    name: "Ventes 🇫🇷".into(),
                    participants: 0,
                },
            ],
            next_cursor: None,
        }
    );
}
