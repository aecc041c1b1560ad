//! QR links (`qrUrl`): they show the pairing code and nothing more. They cannot pair,
//! they die with the instance they were made for, they name no account, and every answer
//! behind them carries the browser headers that keep the page out of frames and the token
//! out of `Referer`.

use sevenoways_sdk::models::instances::{CreateInstanceRequest, InstanceStatus};
use sevenoways_server::testing::*;

/// The `token` query parameter of a QR link.
fn token_of(qr_url: &str) -> String {
    let query = qr_url.split_once('?').expect("a query").1;
    let query = query.split('#').next().unwrap();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .expect("a token")
        .1
        .into_owned()
}

#[tokio::test]
async fn a_qr_link_shows_the_code_but_cannot_pair() {
    let t = start().await;
    let created = t
        .client()
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
        .await
        .unwrap();
    let token = token_of(&created.qr_url);
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(&created.qr_url).send().await.unwrap().status(),
        200
    );

    let pair = http
        .post(format!(
            "{}/api/sandbox/instances/n1/pair?token={token}",
            t.base()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(pair.status(), 401, "a shared QR link must not pair");
    let body: serde_json::Value = pair.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(
        t.client().instances().qr(&id("n1")).await.unwrap().status,
        InstanceStatus::Pairing
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_qr_link_dies_with_its_instance() {
    let t = start().await;
    let c = t.client();
    let first = c
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
        .await
        .unwrap();
    c.instances().delete(&id("n1")).await.unwrap();
    let again = c
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let old = http.get(&first.qr_url).send().await.unwrap();
    assert_eq!(
        old.status(),
        401,
        "a link to the deleted instance must not open the new one"
    );
    let json = http
        .get(format!(
            "{}/api/instances/n1/qr?format=json&token={}",
            t.base(),
            token_of(&first.qr_url)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 401);
    assert_eq!(
        http.get(&again.qr_url).send().await.unwrap().status(),
        200,
        "the new instance's own link works"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_qr_link_names_no_account() {
    let t = start().await;
    let account = t.account_id().await;
    let created = t
        .client()
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
        .await
        .unwrap();
    let token = token_of(&created.qr_url);
    assert!(
        !token
            .split(['.', '-', '_', '~'])
            .any(|part| part == account.to_string()),
        "the token {token} shows account {account}"
    );
    // Two accounts' links to the same instance id share no visible part but the format.
    let other = t.other_client().await;
    let theirs = other
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Theirs"))
        .await
        .unwrap();
    let (a, b) = (token_of(&created.qr_url), token_of(&theirs.qr_url));
    assert_ne!(a.split('.').next(), b.split('.').next());
    t.shutdown().await;
}

#[tokio::test]
async fn qr_answers_carry_browser_security_headers() {
    let t = start().await;
    let created = t
        .client()
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
        .await
        .unwrap();
    let token = token_of(&created.qr_url);
    let http = reqwest::Client::new();
    let base = format!("{}/api/instances/n1/qr", t.base());
    let mut answers = vec![("html".to_owned(), created.qr_url.clone())];
    for format in ["png", "svg", "json"] {
        answers.push((
            format.to_owned(),
            format!("{base}?format={format}&token={token}"),
        ));
    }
    answers.push(("expired".into(), format!("{base}?token=0.1.00")));
    answers.push((
        "bad format".into(),
        format!("{base}?format=gif&token={token}"),
    ));
    for (what, url) in answers {
        let r = http.get(&url).send().await.unwrap();
        let h = r.headers();
        let header = |name: &str| {
            h.get(name)
                .unwrap_or_else(|| panic!("{what}: no {name} header"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
    }
    t.shutdown().await;
}

/// The `pair` parameter of a `sandboxPairUrl`'s fragment.
fn pair_token_of(pair_url: &str) -> String {
    pair_url
        .split_once("#pair=")
        .expect("a pairing token in the fragment")
        .1
        .to_owned()
}

#[tokio::test]
async fn the_key_holders_pair_url_pairs_from_the_page_and_nothing_else() {
    let t = start().await;
    let c = t.client();
    let created = c
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
        .await
        .unwrap();
    let pair_url = created
        .sandbox_pair_url
        .clone()
        .expect("a sandbox instance");
    let pair_token = pair_token_of(&pair_url);
    let http = reqwest::Client::new();
    // The browser opens the page without the fragment; the page's script reads it.
    let page_url = pair_url.split('#').next().unwrap();
    let html = http
        .get(page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Simulate the scan") && html.contains("x-sandbox-pair-token"),
        "{html}"
    );
    assert!(
        html.contains("location.hash"),
        "the token is read from the fragment"
    );
    let post = |token: &str, instance: &str| {
        http.post(format!(
            "{}/api/sandbox/instances/{instance}/pair",
            t.base()
        ))
        .header("x-sandbox-pair-token", token)
        .send()
    };

    // It is no QR link: it shows nothing.
    let view = http
        .get(format!(
            "{}/api/instances/n1/qr?format=json&token={pair_token}",
            t.base()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), 401);
    // A QR link's token in its header does not pair either.
    let qr_token = token_of(&created.qr_url);
    assert_eq!(post(&qr_token, "n1").await.unwrap().status(), 401);
    // It pairs its own instance, and no other of the same account.
    c.instances()
        .create(&CreateInstanceRequest::new(id("n2"), "Other"))
        .await
        .unwrap();
    assert_eq!(post(&pair_token, "n2").await.unwrap().status(), 401);
    let paired = post(&pair_token, "n1").await.unwrap();
    assert_eq!(paired.status(), 200);
    assert_eq!(
        c.instances().qr(&id("n1")).await.unwrap().status,
        InstanceStatus::Online
    );

    // It dies with its instance.
    c.instances().delete(&id("n1")).await.unwrap();
    c.instances()
        .create(&CreateInstanceRequest::new(id("n1"), "Shop"))
        .await
        .unwrap();
    let stale = post(&pair_token, "n1").await.unwrap();
    assert_eq!(stale.status(), 401);
    let body: serde_json::Value = stale.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("pairing token"),
        "{body}"
    );
    assert_eq!(
        c.instances().qr(&id("n1")).await.unwrap().status,
        InstanceStatus::Pairing
    );
    t.shutdown().await;
}

#[tokio::test]
async fn the_page_runs_only_its_own_script() {
    let t = start().await;
    let created = t
        .client()
        .instances()
        .create(&CreateInstanceRequest::new(id("n1"), "<b>Shop</b>"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let fetch = || async {
        let r = http.get(&created.qr_url).send().await.unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        (csp, r.text().await.unwrap())
    };
    let (csp, html) = fetch().await;
    let nonce = csp
        .split("script-src 'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce");
    assert!(nonce.len() >= 32, "{csp}");
    assert_eq!(
        html.matches("<script").count(),
        html.matches(&format!("<script nonce=\"{nonce}\">")).count(),
        "every script carries the nonce"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(html.contains("&lt;b&gt;Shop&lt;/b&gt;") && !html.contains("<b>Shop"));
    let (again, _) = fetch().await;
    assert_ne!(csp, again, "a fresh nonce per answer");
    t.shutdown().await;
}
