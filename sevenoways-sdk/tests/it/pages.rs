//! Pagination: every list endpoint sends `limit` and `cursor` as given, the handles'
//! `list()` follows `nextCursor` to the end, `list_at_most` stops where asked, and a
//! server that does not advance is an error rather than an endless loop.

use serde_json::json;
use sevenoways_sdk::models::channels::ListChannels;
use sevenoways_sdk::models::groups::ListGroups;
use sevenoways_sdk::models::instances::ListInstances;
use sevenoways_sdk::models::sandbox::GetOutbox;
use sevenoways_sdk::models::schedules::ListSchedules;
use sevenoways_sdk::models::webhooks::{ListDeliveries, ListWebhooks};
use sevenoways_sdk::page::{Cursor, PageParams};
use sevenoways_sdk::{BodyEncoding, Endpoint, Error};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{assert_request, client, only_request, server_answering};

fn instance(id: &str) -> serde_json::Value {
    json!({"instanceId": id, "label": id, "status": "online", "createdAt": "2026-11-24T09:00:00Z"})
}

#[tokio::test]
async fn every_list_endpoint_sends_its_page_parameters() {
    let page = PageParams::limit(25)
        .unwrap()
        .after(Cursor::new("6162").unwrap());
    let id: sevenoways_sdk::InstanceId = "n1".parse().unwrap();
    let wh: sevenoways_sdk::WebhookId = "wh_1".parse().unwrap();
    let cases: Vec<(String, String, serde_json::Value)> = vec![
        (
            ListInstances { page: page.clone() }.path().into_owned(),
            "/api/instances?limit=25&cursor=6162".into(),
            json!({"instances": []}),
        ),
        (
            ListGroups {
                instance_id: id.clone(),
                page: page.clone(),
            }
            .path()
            .into_owned(),
            "/api/instances/n1/groups?limit=25&cursor=6162".into(),
            json!({"instanceId": "n1", "groups": []}),
        ),
        (
            ListChannels { page: page.clone() }.path().into_owned(),
            "/api/channels?limit=25&cursor=6162".into(),
            json!({"channels": []}),
        ),
        (
            ListSchedules { page: page.clone() }.path().into_owned(),
            "/api/schedules?limit=25&cursor=6162".into(),
            json!({"schedules": []}),
        ),
        (
            ListWebhooks { page: page.clone() }.path().into_owned(),
            "/api/webhooks?limit=25&cursor=6162".into(),
            json!({"webhooks": []}),
        ),
        (
            ListDeliveries {
                id: wh.clone(),
                page: page.clone(),
            }
            .path()
            .into_owned(),
            "/api/webhooks/wh_1/deliveries?limit=25&cursor=6162".into(),
            json!({"deliveries": []}),
        ),
        (
            GetOutbox {
                instance_id: id.clone(),
                page: page.clone(),
            }
            .path()
            .into_owned(),
            "/api/sandbox/outbox?instanceId=n1&limit=25&cursor=6162".into(),
            json!({"messages": []}),
        ),
    ];
    for (route, want, answer) in cases {
        let mut body = answer.clone();
        body["success"] = json!(true);
        let server = server_answering(200, body).await;
        let c = client(&server, BodyEncoding::Json);
        match route.as_str() {
            "/api/instances" => drop(c.instances().list_page(&page).await.unwrap()),
            "/api/instances/n1/groups" => drop(c.groups().list_page(&id, &page).await.unwrap()),
            "/api/channels" => drop(c.channels().list_page(&page).await.unwrap()),
            "/api/schedules" => drop(c.schedules().list_page(&page).await.unwrap()),
            "/api/webhooks" => drop(c.webhooks().list_page(&page).await.unwrap()),
            "/api/webhooks/wh_1/deliveries" => {
                drop(c.webhooks().deliveries_page(&wh, &page).await.unwrap())
            }
            "/api/sandbox/outbox" => drop(c.sandbox().outbox_page(&id, &page).await.unwrap()),
            other => panic!("{other}"),
        }
        assert_request(&only_request(&server).await, "GET", &want);
    }
}

#[tokio::test]
async fn list_follows_next_cursor_to_the_end() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/instances"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": true, "instances": [instance("a"), instance("b")], "nextCursor": "p2"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/instances"))
        .and(query_param("cursor", "p2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "instances": [instance("c")]})),
        )
        .mount(&server)
        .await;
    let c = client(&server, BodyEncoding::Json);
    let all = c.instances().list().await.unwrap();
    let ids: Vec<&str> = all
        .instances
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(all.next_cursor, None);

    // At most two: one request, for two, and the cursor to go on from.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/api/instances"))
        .and(query_param("limit", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": true, "instances": [instance("a"), instance("b")], "nextCursor": "p2"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let two = c.list_at_most(ListInstances::default(), 2).await.unwrap();
    assert_eq!(two.instances.len(), 2);
    assert_eq!(two.next_cursor.as_ref().map(Cursor::as_str), Some("p2"));
}

#[tokio::test]
async fn a_server_that_does_not_advance_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/channels"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "channels": [], "nextCursor": "same"})),
        )
        .mount(&server)
        .await;
    let c = client(&server, BodyEncoding::Json);
    let err = c.channels().list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 200, message, .. } if message.contains("cannot advance")),
        "{err}"
    );
    // Two requests: the first page, and the one that answered its own cursor.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn bad_page_parameters_are_refused_before_sending() {
    assert_eq!(PageParams::limit(0).unwrap_err().field(), "limit");
    assert_eq!(PageParams::limit(1001).unwrap_err().field(), "limit");
    assert_eq!(Cursor::new("not a cursor").unwrap_err().field(), "cursor");
    // A cursor that is not one (from a hand-edited answer) fails decoding, naming it.
    let server = server_answering(
        200,
        json!({"success": true, "webhooks": [], "nextCursor": "a b"}),
    )
    .await;
    let err = client(&server, BodyEncoding::Json)
        .webhooks()
        .list_page(&PageParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Decode { path, .. } if path == "nextCursor"),
        "{err}"
    );
}
