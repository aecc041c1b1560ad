//! One tenant must not stall the others (issue 9, items 1 and 2): group resolution is
//! bounded and linear, a key over its limit is refused before any lookup, quotas hold
//! under concurrent creates, and every list answers a page at a time.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use sevenoways_sdk::models::channels::AddChannelRequest;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::{CreateInstanceRequest, ListInstances};
use sevenoways_sdk::models::sandbox::{SandboxGroupRequest, SandboxInboundRequest};
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_sdk::page::PageParams;
use sevenoways_sdk::{BodyEncoding, Client, Content, Error, GroupId, GroupTarget};
use sevenoways_server::Config;
use sevenoways_server::testing::{self, TEAM_A, TEAM_B, paired_instance};

const DOCUMENTED_429: &str = "{\"success\":false,\"error\":\"Send rate limit exceeded \u{2014} max 60 requests/minute per API key.\"}";

/// One request with raw HTTP: (status, body, Retry-After).
async fn raw(
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, Option<u64>) {
    let http = reqwest::Client::new();
    let mut req = http
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .header("x-api-key", key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, r.json().await.unwrap_or(Value::Null), retry_after)
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

/// A server whose keys may be made on `plans` too.
async fn server_with(
    plans: Vec<sevenoways_server::config::PlanConfig>,
) -> (tempfile::TempDir, sevenoways_server::Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = testing::launch(Config {
        plans,
        ..testing::fast_config(dir.path())
    })
    .await;
    (dir, server)
}

fn group(n: usize, name: &str) -> Group {
    Group {
        id: GroupId::new(format!("120363{:012}@g.us", 100 + n)).unwrap(),
        name: name.into(),
        participants: 3,
    }
}

/// The audit's reproduction: 1000 groups of one name and two 64 KiB bodies naming it
/// 16 000 times froze the server (and `/healthz`) for 49 s. Now such a body is refused
/// at once, naming the field, and the allowed maximum resolves without delay. The
/// client runs on a runtime of its own, so its timeout fires even if the server's
/// threads were stuck (as they were).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_naming_thousands_of_groups_is_refused_at_once_and_the_server_stays_up() {
    let (_dir, server) = server_with(vec![testing::plan("big", |p| {
        p.requests_per_minute = 0;
        p.daily_cap = 0;
        p.monthly_cap = 0;
    })])
    .await;
    let key = server.create_key("t", "big").await.unwrap();
    let base = server.base_url();
    let client = testing::client(&base, &key, BodyEncoding::Json);
    let n1 = paired_instance(&client, "n1").await;
    let account = testing::account_of(&server, &key).await;
    let store = server.store();
    for i in 0..1000 {
        store
            .upsert_group(account, &n1, &group(i, "x"), 0)
            .await
            .unwrap();
    }

    let flood: Vec<&str> = vec!["x"; 16_000];
    let big = json!({"instanceId": "n1", "groups": flood, "message": "hi"});
    assert!(big.to_string().len() < 64 * 1024, "fits the body limit");
    let most: Vec<&str> = vec!["X"; 256];
    let allowed = json!({"instanceId": "n1", "groups": most, "message": "hi"});
    let ids: Vec<String> = (0..257).map(|i| group(i, "x").id.to_string()).collect();
    let too_many_ids = json!({"instanceId": "n1", "groupIds": ids, "message": "hi"});

    let answers = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let post = |body: &Value| {
                http.post(format!("{base}/api/send"))
                    .header("x-api-key", &key)
                    .json(body)
                    .send()
            };
            let (a, b, health) = tokio::join!(
                post(&big),
                post(&big),
                http.get(format!("{base}/healthz")).send()
            );
            let mut out = Vec::new();
            for r in [a, b, post(&too_many_ids).await, post(&allowed).await] {
                let r = r.expect("answered within the client's 10 s");
                out.push((r.status().as_u16(), r.json::<Value>().await.unwrap()));
            }
            assert_eq!(health.expect("/healthz answers meanwhile").status(), 200);
            out
        })
    })
    .join()
    .expect("every request was answered");

    for (status, body) in &answers[..2] {
        assert_eq!(*status, 400, "{body}");
        assert_eq!(
            error_of(body),
            "groups: expected at most 256 group names per request, got 16000: split the send, or use sendAll=true"
        );
    }
    assert_eq!(answers[2].0, 400);
    assert!(
        error_of(&answers[2].1).starts_with("groupIds: expected at most 256 group ids"),
        "{}",
        answers[2].1
    );
    // 256 spellings of one name reach its 1000 groups, each once.
    let (status, body) = &answers[3];
    assert_eq!(*status, 200, "{body}");
    assert_eq!(body["recipients"].as_array().unwrap().len(), 1000);
    server.shutdown().await;
}

/// Once the store has refused a key for its rate limit, its next sends are answered 429
/// before anything is looked up: an unknown group name, a media URL on a private
/// network and an unknown instance all get the documented 429, not a 404 or a 400 that
/// would mean the lookup ran.
#[tokio::test]
async fn a_key_over_its_rate_limit_is_refused_before_any_lookup() {
    let t = testing::start().await;
    paired_instance(&t.client(), "n1").await;
    let base = t.base();
    for i in 0..60 {
        let body =
            json!({"instanceId": "n1", "phone": "971501234567", "message": format!("hi {i}")});
        let (status, _, _) = raw(&base, &t.key, "POST", "/api/send-number", Some(body)).await;
        assert_eq!(status, 200);
    }
    let body = json!({"instanceId": "n1", "phone": "971501234567", "message": "61"});
    let (status, _, _) = raw(&base, &t.key, "POST", "/api/send-number", Some(body)).await;
    assert_eq!(status, 429);

    for (path, body) in [
        (
            "/api/send",
            json!({"instanceId": "n1", "groups": ["Nobody by this name"], "message": "hi"}),
        ),
        (
            "/api/send-image",
            json!({"instanceId": "n1", "groupIds": [TEAM_A], "imageUrl": "http://10.1.2.3/a.png"}),
        ),
        (
            "/api/send-number",
            json!({"instanceId": "ghost", "phone": "971501234567", "message": "hi"}),
        ),
    ] {
        let r = reqwest::Client::new()
            .post(format!("{base}{path}"))
            .header("x-api-key", &t.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429, "{path}");
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(r.text().await.unwrap(), DOCUMENTED_429, "{path}");
    }
    // Bad input is still a 400 first: the body is read before the limit is looked at.
    let (status, body, _) = raw(
        &base,
        &t.key,
        "POST",
        "/api/send",
        Some(json!({"instanceId": "n1"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    t.shutdown().await;
}

/// A key whose daily cap is used up is refused the same way until the day ends, with
/// a message that does not pretend to know the size of a send it never resolved.
#[tokio::test]
async fn a_key_with_its_cap_used_up_is_refused_before_any_lookup() {
    // Both sends must fall in one UTC day.
    let to_midnight = (Utc::now().date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        - Utc::now();
    if to_midnight < chrono::Duration::seconds(30) {
        tokio::time::sleep(
            (to_midnight + chrono::Duration::seconds(1))
                .to_std()
                .unwrap(),
        )
        .await;
    }
    let (_dir, server) = server_with(vec![testing::plan("capped", |p| p.daily_cap = 2)]).await;
    let key = server.create_key("t", "capped").await.unwrap();
    let base = server.base_url();
    paired_instance(&testing::client(&base, &key, BodyEncoding::Json), "n1").await;
    let both = json!({"instanceId": "n1", "groupIds": [TEAM_A, TEAM_B], "message": "hi"});
    assert_eq!(
        raw(&base, &key, "POST", "/api/send", Some(both)).await.0,
        200
    );
    let one = json!({"instanceId": "n1", "phone": "971501234567", "message": "hi"});
    let (status, body, _) = raw(&base, &key, "POST", "/api/send-number", Some(one)).await;
    assert_eq!(status, 429, "{body}");
    let expected =
        "Daily message cap reached: plan \"capped\" allows 2 messages per day and all are used.";
    assert!(error_of(&body).starts_with(expected), "{body}");
    let unknown = json!({"instanceId": "n1", "groups": ["Nobody"], "message": "hi"});
    let (status, body, retry) = raw(&base, &key, "POST", "/api/send", Some(unknown)).await;
    assert_eq!(status, 429, "{body}");
    assert!(error_of(&body).starts_with(expected), "{body}");
    assert!(retry.unwrap() >= 1);
    server.shutdown().await;
}

fn api_status<T: std::fmt::Debug>(r: &Result<T, Error>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status().unwrap_or_else(|| panic!("{e}")),
    }
}

/// Counts answers by status, checking every refusal names the plan key.
fn tally<T: std::fmt::Debug>(results: &[Result<T, Error>], key: &str) -> (usize, usize) {
    let mut ok = 0;
    let mut refused = 0;
    for r in results {
        match api_status(r) {
            200 => ok += 1,
            409 => {
                let message = r.as_ref().unwrap_err().to_string();
                assert!(message.contains(key), "{message}");
                assert!(message.contains("quota reached"), "{message}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {r:?}"),
        }
    }
    (ok, refused)
}

fn schedule_request(instance: &str) -> CreateScheduleRequest {
    CreateScheduleRequest::new(
        instance.parse().unwrap(),
        "daily",
        "0 9 * * *".parse().unwrap(),
        "UTC".parse().unwrap(),
        ScheduleTarget::Groups(GroupTarget::ids([TEAM_A]).unwrap()),
        Content::Text {
            message: "hi".try_into().unwrap(),
        },
    )
    .unwrap()
}

/// Each quota is counted in the transaction that inserts, so a burst of concurrent
/// creates ends at exactly the plan's number (the webhook limit used to be checked
/// before the insert, and a burst went past it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_hold_under_concurrent_creates() {
    let (_dir, server) = server_with(vec![testing::plan("small", |p| {
        p.max_instances = 3;
        p.max_webhooks = 3;
        p.max_schedules = 2;
        p.max_channels = 2;
        p.max_groups_per_instance = 3;
    })])
    .await;
    let key = server.create_key("t", "small").await.unwrap();
    let c = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    let n1 = paired_instance(&c, "n1").await;

    let creates = (0..10).map(|i| {
        let c = c.clone();
        async move {
            c.instances()
                .create(&CreateInstanceRequest::new(
                    format!("extra{i}").parse().unwrap(),
                    "",
                ))
                .await
        }
    });
    let results = futures_join_all(creates).await;
    assert_eq!(tally(&results, "max_instances"), (2, 8));
    assert_eq!(c.instances().list().await.unwrap().instances.len(), 3);

    let hooks = (0..12).map(|_| {
        let c = c.clone();
        async move {
            c.webhooks()
                .create(&CreateWebhookRequest {
                    url: "http://127.0.0.1:9/hook".into(),
                    events: vec![],
                    secret: None,
                })
                .await
        }
    });
    let results = futures_join_all(hooks).await;
    assert_eq!(tally(&results, "max_webhooks"), (3, 9));
    let listed = c.webhooks().list().await.unwrap().webhooks;
    assert_eq!(listed.len(), 3);
    // Room again once one is deleted.
    c.webhooks().delete(&listed[0].id).await.unwrap();
    let again = c
        .webhooks()
        .create(&CreateWebhookRequest {
            url: "http://127.0.0.1:9/again".into(),
            events: vec![],
            secret: None,
        })
        .await;
    assert_eq!(api_status(&again), 200);

    let schedules = (0..8).map(|_| {
        let c = c.clone();
        async move { c.schedules().create(&schedule_request("n1")).await }
    });
    let results = futures_join_all(schedules).await;
    assert_eq!(tally(&results, "max_schedules"), (2, 6));

    let channels = (0..6).map(|i| {
        let c = c.clone();
        let n1 = n1.clone();
        async move {
            c.channels()
                .add(&AddChannelRequest::new(n1, format!("0029VaInvite{i}")))
                .await
        }
    });
    let results = futures_join_all(channels).await;
    assert_eq!(tally(&results, "max_channels"), (2, 4));
    // Saving a saved channel again refreshes it, quota or not.
    let saved = c.channels().list().await.unwrap().channels;
    let refreshed = c
        .channels()
        .add(&AddChannelRequest::new(
            n1.clone(),
            saved[0].channel_jid.as_str(),
        ))
        .await;
    assert_eq!(api_status(&refreshed), 200);

    // Groups per instance: n1 has Team A and Team B; one more fits, a fourth does not,
    // and renaming one it has is always allowed.
    let add = |name: &str, id: Option<&str>| {
        let c = c.clone();
        let n1 = n1.clone();
        let req = SandboxGroupRequest {
            name: name.into(),
            id: id.map(|i| GroupId::new(i).unwrap()),
        };
        async move { c.sandbox().add_group(&n1, &req).await }
    };
    assert_eq!(api_status(&add("Third", None).await), 200);
    let fourth = add("Fourth", None).await;
    assert_eq!(
        tally(std::slice::from_ref(&fourth), "max_groups_per_instance"),
        (0, 1)
    );
    assert_eq!(api_status(&add("Team A renamed", Some(TEAM_A)).await), 200);
    server.shutdown().await;
}

/// A create without an `Idempotency-Key` (curl, a no-code tool) counts and inserts in
/// one statement on SQLite: a burst of them still stops at exactly the plan's number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_quota_holds_under_concurrent_creates_without_a_key() {
    let (_dir, server) = server_with(vec![testing::plan("small", |p| {
        p.max_schedules = 3;
    })])
    .await;
    let key = server.create_key("t", "small").await.unwrap();
    let c = testing::client(&server.base_url(), &key, BodyEncoding::Json);
    paired_instance(&c, "n1").await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/schedules", server.base_url());
    let body = serde_json::to_value(schedule_request("n1")).unwrap();
    let creates = (0..10).map(|_| {
        let (http, url, key, body) = (http.clone(), url.clone(), key.clone(), body.clone());
        async move {
            let r = http
                .post(url)
                .header("x-api-key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    });
    let results = futures_join_all(creates).await;
    let created = results.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(created, 3, "{results:?}");
    for (status, body) in results.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["success"], false, "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("max_schedules") && error.contains("quota reached"),
            "{error}"
        );
    }
    let listed = c.schedules().list().await.unwrap().schedules;
    assert_eq!(listed.len(), 3);
    // Room again once one is deleted.
    c.schedules().delete(&listed[0].id).await.unwrap();
    let again = http
        .post(&url)
        .header("x-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    server.shutdown().await;
}

/// `join_all` without the futures crate: spawn each and await them in order.
async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Walks `path` two items a page, checking each page's shape, and returns every item.
async fn walk(base: &str, key: &str, path: &str, field: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=2&cursor={c}"),
            None => format!("{path}{sep}limit=2"),
        };
        let (status, body, _) = raw(base, key, "GET", &url, None).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(body["success"], true);
        let page = body[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} in {body}"));
        assert!(page.len() <= 2, "{url}: {} items", page.len());
        items.extend(page.iter().cloned());
        pages += 1;
        assert!(pages <= 50, "{path} never ends");
        match body.get("nextCursor") {
            Some(next) => {
                assert_eq!(page.len(), 2, "a page with a next one is full");
                cursor = Some(next.as_str().unwrap().to_owned());
            }
            None => return items,
        }
    }
}

fn strings(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

/// Every list takes `limit` and `cursor`, answers `nextCursor` while there is more, and
/// keeps its documented field; bad values are 400s naming the parameter.
#[tokio::test]
async fn every_list_is_paginated() {
    let t = testing::start().await;
    let (base, key) = (t.base(), t.key.clone());
    let c = t.client();
    let n1 = paired_instance(&c, "n1").await;
    for i in 2..=5 {
        c.instances()
            .create(&CreateInstanceRequest::new(
                format!("n{i}").parse().unwrap(),
                "",
            ))
            .await
            .unwrap();
    }
    for name in ["Echo", "Delta", "charlie"] {
        c.sandbox()
            .add_group(
                &n1,
                &SandboxGroupRequest {
                    name: name.into(),
                    id: None,
                },
            )
            .await
            .unwrap();
    }
    for i in 0..3 {
        c.channels()
            .add(&AddChannelRequest::new(
                n1.clone(),
                format!("0029VaList{i}"),
            ))
            .await
            .unwrap();
        c.schedules().create(&schedule_request("n1")).await.unwrap();
    }
    let mut hooks = Vec::new();
    for i in 0..3 {
        let hook = c
            .webhooks()
            .create(&CreateWebhookRequest {
                url: format!("http://127.0.0.1:9/hook{i}"),
                events: vec!["message.received".into()],
                secret: None,
            })
            .await
            .unwrap()
            .webhook;
        hooks.push(hook);
    }
    for i in 0..5 {
        let inbound = SandboxInboundRequest {
            from: "971501234567".into(),
            message: format!("in {i}"),
        };
        c.sandbox().inbound(&n1, &inbound).await.unwrap();
    }
    for i in 0..5 {
        let body = json!({"instanceId": "n1", "phone": "971501234567", "message": format!("m{i}")});
        assert_eq!(
            raw(&base, &key, "POST", "/api/send-number", Some(body))
                .await
                .0,
            200
        );
    }
    testing::eventually(10, || {
        let c = c.clone();
        let n1 = n1.clone();
        async move { (c.sandbox().outbox(&n1).await.unwrap().messages.len() == 5).then_some(()) }
    })
    .await;

    let instances = walk(&base, &key, "/api/instances", "instances").await;
    assert_eq!(
        strings(&instances, "instanceId"),
        ["n1", "n2", "n3", "n4", "n5"]
    );
    let groups = walk(&base, &key, "/api/instances/n1/groups", "groups").await;
    assert_eq!(
        strings(&groups, "name"),
        ["charlie", "Delta", "Echo", "Team A", "Team B"]
    );
    assert_eq!(
        walk(&base, &key, "/api/channels", "channels").await.len(),
        3
    );
    assert_eq!(
        walk(&base, &key, "/api/schedules", "schedules").await.len(),
        3
    );
    let listed = walk(&base, &key, "/api/webhooks", "webhooks").await;
    assert_eq!(
        strings(&listed, "id"),
        hooks.iter().map(|h| h.id.to_string()).collect::<Vec<_>>()
    );
    let path = format!("/api/webhooks/{}/deliveries", hooks[0].id);
    let deliveries = testing::eventually(10, || {
        let (base, key, path) = (base.clone(), key.clone(), path.clone());
        async move {
            let all = walk(&base, &key, &path, "deliveries").await;
            (all.len() == 5).then_some(all)
        }
    })
    .await;
    // Compared as instants, not as text: a time on a whole second is written without
    // its fraction ("…:09Z"), which sorts after "…:09.056Z" as text.
    let created: Vec<chrono::DateTime<Utc>> = strings(&deliveries, "createdAt")
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let mut newest_first = created.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, newest_first);
    let mut unique = strings(&deliveries, "id");
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    let outbox = walk(&base, &key, "/api/sandbox/outbox?instanceId=n1", "messages").await;
    let texts: Vec<&str> = outbox
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);

    // Everything on one page: the documented shape, without nextCursor.
    let (_, body, _) = raw(&base, &key, "GET", "/api/channels", None).await;
    assert_eq!(body["channels"].as_array().unwrap().len(), 3);
    assert!(body.get("nextCursor").is_none(), "{body}");

    // The SDK walks the pages itself.
    assert_eq!(c.instances().list().await.unwrap().instances.len(), 5);
    let small = ListInstances {
        page: PageParams::limit(2).unwrap(),
    };
    let all = c.list_all(small.clone()).await.unwrap();
    assert_eq!(all.instances.len(), 5);
    assert!(all.next_cursor.is_none());
    let mut pages = c.pages(small);
    let mut sizes = Vec::new();
    while let Some(page) = pages.next().await.unwrap() {
        sizes.push(page.instances.len());
    }
    assert_eq!(sizes, [2, 2, 1]);

    // Bad parameters name themselves.
    let (_, first, _) = raw(&base, &key, "GET", "/api/instances?limit=2", None).await;
    let instances_cursor = first["nextCursor"].as_str().unwrap().to_owned();
    for (path, field) in [
        ("/api/instances?limit=0", "limit: "),
        ("/api/channels?limit=1001", "limit: "),
        ("/api/schedules?limit=ten", "limit: "),
        ("/api/webhooks?cursor=not%20a%20cursor", "cursor: "),
        ("/api/instances?cursor=abcdef", "cursor: "),
        (
            &format!("/api/channels?cursor={instances_cursor}"),
            "cursor: ",
        ),
        ("/api/sandbox/outbox?instanceId=n1&limit=-1", "limit: "),
    ] {
        let (status, body, _) = raw(&base, &key, "GET", path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(error_of(&body).starts_with(field), "{path}: {body}");
    }
    t.shutdown().await;
}

/// Another key's cursor is only a position: it shows nothing of the other account.
#[tokio::test]
async fn a_cursor_never_crosses_accounts() {
    let t = testing::start().await;
    let alice = t.client();
    for i in 0..3 {
        alice
            .instances()
            .create(&CreateInstanceRequest::new(
                format!("a{i}").parse().unwrap(),
                "",
            ))
            .await
            .unwrap();
    }
    let page = alice
        .instances()
        .list_page(&PageParams::limit(1).unwrap())
        .await
        .unwrap();
    let cursor = page.next_cursor.unwrap();
    let bob: Client = t.other_client().await;
    let seen = bob
        .instances()
        .list_page(&PageParams::default().after(cursor))
        .await
        .unwrap();
    assert!(seen.instances.is_empty());
    t.shutdown().await;
}
