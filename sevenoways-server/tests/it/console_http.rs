//! The console over plain HTTP, as a browser's requests (and a forger's) reach it: the
//! sign-in, its cookie and session, CSRF, security headers, and one account never
//! reaching another's data. The same flows in a real browser are in `console_browser`.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use sevenoways_sdk::models::messages::SendRequest;
use sevenoways_sdk::{Content, GroupTarget, QueueId};
use sevenoways_server::testing::*;

/// A browser without a script: cookies kept by name, redirects not followed.
pub struct Console {
    base: String,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

/// What came back.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The `csrf` hidden field of the page's (first) form.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("a form with a csrf field in:\n{}", self.body));
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    pub fn location(&self) -> &str {
        self.headers[LOCATION].to_str().unwrap()
    }
}

impl Console {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    /// Signs in with `key` through the form, as a person would; the answer to the post.
    pub async fn sign_in(&mut self, key: &str) -> Page {
        let form = self.get("/console").await;
        let csrf = form.csrf();
        self.post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("next", "/console/instances"),
                ("apiKey", key),
            ],
        )
        .await
    }

    /// A page's CSRF token, for the forms of this session.
    pub async fn csrf(&mut self) -> String {
        self.get("/console/instances").await.csrf()
    }
}

#[tokio::test]
async fn the_root_redirects_and_every_console_answer_carries_the_security_headers() {
    let t = start().await;
    let mut c = Console::new(&t.base());
    let root = c.get("/").await;
    assert!(root.status.is_redirection(), "{}", root.status);
    assert_eq!(root.location(), "/console");

    let sign_in = c.get("/console").await;
    assert_eq!(sign_in.status, 200);
    assert!(
        sign_in
            .body
            .contains(r#"<label for="api-key">API key</label>"#)
    );
    assert!(
        sign_in
            .body
            .contains(r#"<button type="submit">Sign in</button>"#)
    );
    for page in [
        &sign_in,
        &c.get("/console/instances").await,
        &c.get("/console/nope").await,
    ] {
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(page.headers["referrer-policy"], "no-referrer");
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
    }
    // No inline script anywhere: the CSP would block it.
    assert!(!sign_in.body.contains("<script>"));
    t.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_page_and_the_right_one_opens_a_strict_session_until_sign_out() {
    let t = start().await;
    let mut c = Console::new(&t.base());
    let wrong = c.sign_in("svw_not_a_real_key_at_all_0000000000").await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("That API key is not valid"),
        "{}",
        wrong.body
    );

    let ok = c.sign_in(&t.key).await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.location(), "/console/instances");
    let cookie = ok
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("svw_console="))
        .expect("the session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(!cookie.contains(&t.key), "the cookie is not the key");

    let instances = c.get("/console/instances").await;
    assert_eq!(instances.status, 200);
    assert!(instances.body.contains("<h1>Instances</h1>"));
    let csrf = instances.csrf();
    let out = c.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 200);
    assert!(out.body.contains("You are signed out."));
    // The cookie a thief copied before sign-out opens nothing either.
    let mut thief = Console::new(&t.base());
    thief.cookies.insert(
        "svw_console".into(),
        cookie.split(';').next().unwrap()["svw_console=".len()..].to_owned(),
    );
    for console in [&mut c, &mut thief] {
        let after = console.get("/console/instances").await;
        assert_eq!(after.status, 401);
        assert!(after.body.contains("API key"), "the sign-in form");
    }
    let after = thief.get("/console/instances").await;
    assert!(
        after.body.contains("expired or was signed out"),
        "{}",
        after.body
    );
    t.shutdown().await;
}

#[tokio::test]
async fn sessions_expire_and_https_consoles_get_secure_host_cookies() {
    let t = start_with(|c| {
        c.console.session_ttl_secs = 1;
        c.public_url = Some("https://relay.example".into());
    })
    .await;
    let base = format!("http://{}", t.server.local_addr());
    let mut c = Console::new(&base);
    let ok = c.sign_in(&t.key).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let cookie = ok
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("__Host-svw_console="))
        .expect("a __Host- session cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let expired = eventually(10, || {
        let mut c = Console {
            base: base.clone(),
            http: c.http.clone(),
            cookies: c.cookies.clone(),
        };
        async move {
            let page = c.get("/console/instances").await;
            (page.status == 401).then_some(page)
        }
    })
    .await;
    assert!(
        expired.body.contains("Your session has expired"),
        "{}",
        expired.body
    );
    t.shutdown().await;
}

#[tokio::test]
async fn repeated_wrong_keys_are_slowed_down_with_a_message() {
    let t = start_with(|c| c.console.sign_in_failures_per_minute = 2).await;
    let mut c = Console::new(&t.base());
    for _ in 0..2 {
        assert_eq!(c.sign_in("svw_wrong").await.status, 401);
    }
    let refused = c.sign_in(&t.key).await;
    assert_eq!(refused.status, 429);
    assert!(
        refused.body.contains("Too many failed sign-ins"),
        "{}",
        refused.body
    );
    assert!(refused.headers.contains_key("retry-after"));
    t.shutdown().await;
}

#[tokio::test]
async fn a_post_without_the_csrf_token_changes_nothing_and_says_why() {
    let t = start().await;
    let mut c = Console::new(&t.base());
    c.sign_in(&t.key).await;
    for form in [
        vec![("instanceId", "forged"), ("label", "x")],
        vec![("instanceId", "forged"), ("label", "x"), ("csrf", "00")],
    ] {
        let page = c.post("/console/instances", &form).await;
        assert_eq!(page.status, 403);
        assert!(page.body.contains("Form not accepted"), "{}", page.body);
    }
    // A sign-in form from elsewhere (no sign-in cookie) does not sign in.
    let mut other = Console::new(&t.base());
    let forged = other
        .post("/console/sign-in", &[("csrf", "00"), ("apiKey", &t.key)])
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("did not come from this console"));
    // Not signed in at all: the sign-in page, not a 500.
    let anonymous = other
        .post("/console/instances", &[("instanceId", "x")])
        .await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.body.contains("API key"));

    let list = t.client().instances().list().await.unwrap();
    assert!(list.instances.is_empty(), "nothing was created");
    // With the token, the same form works.
    let csrf = c.csrf().await;
    let created = c
        .post(
            "/console/instances",
            &[("csrf", &csrf), ("instanceId", "made"), ("label", "Made")],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location(), "/console/instances/made");
    t.shutdown().await;
}

#[tokio::test]
async fn another_accounts_ids_are_a_not_found_page_and_never_shown() {
    let t = start().await;
    let a = t.client();
    paired_instance(&a, "secret1").await;
    let queued = a
        .messages()
        .send(&SendRequest::new(
            id("secret1"),
            GroupTarget::names(["Team A"]).unwrap(),
            "private words".try_into().unwrap(),
        ))
        .await
        .unwrap();
    let QueueId(qid) = queued.queue_id;

    let b_key = t.server.create_key("b", "default").await.unwrap();
    let mut b = Console::new(&t.base());
    b.sign_in(&b_key).await;
    let csrf = b.csrf().await;
    for path in [
        "/console/instances/secret1".to_owned(),
        "/console/instances/secret1/status".to_owned(),
        "/console/instances/secret1/qr.svg".to_owned(),
        "/console/instances/secret1/delete".to_owned(),
        format!("/console/queue/{qid}"),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert!(page.body.contains("not found"), "{path}: {}", page.body);
        assert!(!page.body.contains("secret1 label"), "{path}");
    }
    for path in [
        "/console/instances/secret1/delete",
        "/console/instances/secret1/pair",
    ] {
        let page = b.post(path, &[("csrf", &csrf)]).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
    let status = b.get(&format!("/console/send/status?sent={qid}")).await;
    assert_eq!(status.status, 200);
    assert!(!status.body.contains("120363"), "{}", status.body);
    let queue = b.get("/console/queue").await;
    assert!(queue.body.contains("No queue entries match."));
    let sent = b
        .post(
            "/console/send",
            &[
                ("csrf", &csrf),
                ("instanceId", "secret1"),
                ("target", "allGroups"),
                ("kind", "text"),
                ("message", "hi"),
            ],
        )
        .await;
    assert_eq!(sent.status, 404, "{}", sent.body);
    // A's instance is untouched.
    assert_eq!(a.instances().list().await.unwrap().instances.len(), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn a_form_send_keeps_emoji_and_sends_plain_newlines() {
    let t = start().await;
    paired_instance(&t.client(), "phone1").await;
    let mut c = Console::new(&t.base());
    c.sign_in(&t.key).await;
    let csrf = c.csrf().await;
    let sent = c
        .post(
            "/console/send",
            &[
                ("csrf", &csrf),
                ("instanceId", "phone1"),
                ("target", "groupNames"),
                ("groupNames", "team a\r\nTeam B"),
                ("kind", "text"),
                ("message", "Hello 👋\r\nsecond line"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let ids: Vec<u64> = sent.location()["/console/send?sent=".len()..]
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let entry = t.client().queue().status(QueueId(ids[0])).await.unwrap();
    let Content::Text { message } = entry.content else {
        panic!("a text entry")
    };
    assert_eq!(message.as_str(), "Hello 👋\nsecond line");
    let page = c.get(sent.location()).await;
    assert!(page.body.contains(&format!("/console/queue/{}", ids[1])));

    // A bad field is named on the form, and what was typed is kept.
    let bad = c
        .post(
            "/console/send",
            &[
                ("csrf", &csrf),
                ("instanceId", "phone1"),
                ("target", "phone"),
                ("phone", "not a phone"),
                ("kind", "text"),
                ("message", "kept text"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("phone"), "{}", bad.body);
    assert!(bad.body.contains("kept text"));
    t.shutdown().await;
}

#[tokio::test]
async fn schedules_show_their_next_five_runs_in_the_zone_before_saving() {
    let t = start().await;
    paired_instance(&t.client(), "phone1").await;
    let mut c = Console::new(&t.base());
    c.sign_in(&t.key).await;
    let preview = c
        .get("/console/schedules/next-runs?cronExpr=30+9+*+*+1-5&timezone=Asia%2FDubai")
        .await;
    assert_eq!(preview.status, 200);
    assert_eq!(preview.body.matches("<li>").count(), 5, "{}", preview.body);
    assert!(preview.body.contains("09:30 +04"), "{}", preview.body);
    let never = c
        .get("/console/schedules/next-runs?cronExpr=0+9+31+2+*&timezone=UTC")
        .await;
    assert!(never.body.contains("never fires"), "{}", never.body);

    let csrf = c.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("instanceId", "phone1"),
        ("label", "Morning"),
        ("cronExpr", "0 9 * * *"),
        ("timezone", "Europe/London"),
        ("target", "groupNames"),
        ("groupNames", "Team A"),
        ("kind", "text"),
        ("message", "Good morning ☀️"),
    ];
    let created = c.post("/console/schedules", &form).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let list = t.client().schedules().list().await.unwrap();
    assert_eq!(list.schedules.len(), 1);
    assert_eq!(list.schedules[0].spec.timezone.as_str(), "Europe/London");
    let page = c.get("/console/schedules").await;
    assert!(page.body.contains("Morning") && page.body.contains("Europe/London"));

    // A group the number does not have is the API's 404, on the form.
    let mut bad = form.to_vec();
    bad[6] = ("groupNames", "Nope");
    let refused = c.post("/console/schedules", &bad).await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert!(refused.body.contains("Nope"), "{}", refused.body);

    // Another account cannot delete it.
    let b_key = t.server.create_key("b", "default").await.unwrap();
    let mut b = Console::new(&t.base());
    b.sign_in(&b_key).await;
    let b_csrf = b.csrf().await;
    let id = list.schedules[0].id.as_str().to_owned();
    let other = b
        .post(
            &format!("/console/schedules/{id}/delete"),
            &[("csrf", &b_csrf)],
        )
        .await;
    assert_eq!(other.status, 404, "{}", other.body);
    let deleted = c
        .post(
            &format!("/console/schedules/{id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert!(
        t.client()
            .schedules()
            .list()
            .await
            .unwrap()
            .schedules
            .is_empty()
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_webhook_shows_its_secret_once_and_other_accounts_cannot_reach_it() {
    let t = start().await;
    let mut c = Console::new(&t.base());
    c.sign_in(&t.key).await;
    let csrf = c.csrf().await;
    let created = c
        .post(
            "/console/webhooks",
            &[
                ("csrf", &csrf),
                ("url", "http://127.0.0.1:9/hook"),
                ("events", "message.sent"),
                ("events", "message.read"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("whsec_"), "the secret, once");
    let list = t.client().webhooks().list().await.unwrap();
    assert_eq!(list.webhooks[0].events, ["message.sent", "message.read"]);
    let id = list.webhooks[0].id.as_str().to_owned();
    let shown = c.get(&format!("/console/webhooks/{id}")).await;
    assert_eq!(shown.status, 200);
    assert!(!shown.body.contains("whsec_"), "never shown again");

    // Rotating shows the new secret once.
    let rotated = c
        .post(
            &format!("/console/webhooks/{id}/rotate-secret"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert!(rotated.body.contains("whsec_") && rotated.body.contains("New signing secret"));
    let listed = t.client().webhooks().list().await.unwrap().webhooks;
    assert!(listed[0].previous_secret_expires_at.is_some(), "rotated");

    let bad = c
        .post("/console/webhooks", &[("csrf", &csrf), ("url", "ftp://x")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("url"), "{}", bad.body);

    let b_key = t.server.create_key("b", "default").await.unwrap();
    let mut b = Console::new(&t.base());
    b.sign_in(&b_key).await;
    let b_csrf = b.csrf().await;
    for path in [
        format!("/console/webhooks/{id}"),
        format!("/console/webhooks/{id}/deliveries"),
        format!("/console/webhooks/{id}/delete"),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
    for path in [
        format!("/console/webhooks/{id}/test"),
        format!("/console/webhooks/{id}/rotate-secret"),
        format!("/console/webhooks/{id}/enable"),
        format!("/console/webhooks/{id}/delete"),
    ] {
        let page = b.post(&path, &[("csrf", &b_csrf)]).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
    assert_eq!(
        t.client().webhooks().list().await.unwrap().webhooks.len(),
        1
    );

    // The owner enables it (a no-op on an enabled one) and deletes it after confirming.
    let enabled = c
        .post(
            &format!("/console/webhooks/{id}/enable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(enabled.status, 303, "{}", enabled.body);
    let confirm = c.get(&format!("/console/webhooks/{id}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Delete webhook"));
    assert_eq!(
        t.client().webhooks().list().await.unwrap().webhooks.len(),
        1
    );
    let deleted = c
        .post(
            &format!("/console/webhooks/{id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert!(
        t.client()
            .webhooks()
            .list()
            .await
            .unwrap()
            .webhooks
            .is_empty()
    );
    t.shutdown().await;
}

#[tokio::test]
async fn usage_and_docs_show_this_accounts_values_and_pages_stay_small() {
    let t = start().await;
    paired_instance(&t.client(), "phone1").await;
    let mut c = Console::new(&t.base());
    c.sign_in(&t.key).await;
    let usage = c.get("/console/usage").await;
    assert_eq!(usage.status, 200);
    assert!(usage.body.contains("<meter"), "{}", usage.body);
    assert!(usage.body.contains("Messages today"));

    let docs = c.get("/console/docs").await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.body
            .contains(&format!("curl -X POST {}/api/send", t.base()))
    );
    assert!(docs.body.contains(TEAM_A), "the group id is filled in");
    assert!(
        docs.body
            .contains("&quot;instanceId&quot;: &quot;phone1&quot;")
    );
    // The key is in the page only for the reveal and copy script, never in the text.
    assert_eq!(docs.body.matches(t.key.as_str()).count(), 1);

    assert_eq!(
        c.get("/console").await.status,
        303,
        "signed in: to the instances"
    );
    for path in [
        "/console/instances",
        "/console/instances/phone1",
        "/console/send",
        "/console/queue",
        "/console/schedules",
        "/console/webhooks",
        "/console/usage",
        "/console/docs",
        "/console/assets/console.css",
        "/console/assets/console.js",
    ] {
        let page = c.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body.len() < 150_000,
            "{path}: {} bytes",
            page.body.len()
        );
    }
    t.shutdown().await;
}

#[tokio::test]
async fn a_server_with_the_console_disabled_serves_none_of_it() {
    let t = start_with(|c| c.console.enabled = false).await;
    let mut c = Console::new(&t.base());
    for path in ["/", "/console", "/console/assets/console.js"] {
        let page = c.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(
            page.body.contains(r#""success":false"#),
            "the API's 404: {}",
            page.body
        );
    }
    t.shutdown().await;
}

#[tokio::test]
async fn saved_channels_are_offered_and_a_channel_send_goes_through_the_api() {
    use sevenoways_sdk::models::channels::AddChannelRequest;
    let t = start().await;
    let inst = paired_instance(&t.client(), "phone1").await;
    let channel = t
        .client()
        .channels()
        .add(&AddChannelRequest::new(
            inst,
            "https://whatsapp.com/channel/0029VaAbCdEf",
        ))
        .await
        .unwrap()
        .channel;
    let jid = channel.channel_jid.as_str().to_owned();
    let mut c = Console::new(&t.base());
    c.sign_in(&t.key).await;
    let form = c.get("/console/send").await;
    assert!(
        form.body.contains(&format!(r#"<option value="{jid}">"#)),
        "{}",
        form.body
    );
    let docs = c.get("/console/docs").await;
    assert!(
        docs.body
            .contains(&format!("&quot;channelJid&quot;: &quot;{jid}&quot;"))
    );

    let csrf = form.csrf();
    let sent = c
        .post(
            "/console/send",
            &[
                ("csrf", &csrf),
                ("instanceId", "phone1"),
                ("target", "channel"),
                ("channelJid", &jid),
                ("kind", "image"),
                ("imageUrl", "https://example.com/promo.jpg"),
                ("caption", "Summer sale 🌞"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let id: u64 = sent.location()["/console/send?sent=".len()..]
        .parse()
        .unwrap();
    let entry = t.client().queue().status(QueueId(id)).await.unwrap();
    assert_eq!(entry.to, jid);
    assert!(
        matches!(&entry.content, Content::Image { caption: Some(c), .. } if c == "Summer sale 🌞"),
        "{:?}",
        entry.content
    );
    t.shutdown().await;
}
