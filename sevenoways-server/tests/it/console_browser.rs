//! The console in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, [`fantoccini`]), finding fields by their visible labels and buttons and
//! links by their names, as a person would.
//!
//! `CHROMIUM` and `CHROMEDRIVER` name the programs if they are elsewhere. Without
//! `chromium` and `chromedriver` on the machine (`apt-get install chromium
//! chromium-driver`; `.ci/run` installs them) each test prints why it did not run and
//! passes (the message goes to stderr past the harness's capture, so it shows in every
//! run): the same flows over plain HTTP are in `console_http`.
//!
//! `SEVENOWAYS_SCREENSHOTS=1` makes the tests write each page, light and dark, to
//! `docs/console/` (left off by default so a test run never changes the tree).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use sevenoways_sdk::models::queue::QueueStatus;
use sevenoways_sdk::{Content, QueueId};
use sevenoways_server::testing::*;

/// A program: the path in the environment variable `NAME` (upper case) if set, else its
/// Debian path, else the first on `PATH`.
fn program(name: &str, debian: &str) -> Option<PathBuf> {
    if let Some(chosen) = std::env::var_os(name.to_uppercase()) {
        let chosen = PathBuf::from(chosen);
        return chosen.is_file().then_some(chosen);
    }
    if Path::new(debian).is_file() {
        return Some(debian.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a port of its own, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver, or `None` (and a printed reason) when the browser is not installed.
async fn driver(test: &str) -> Option<Driver> {
    let (Some(chromium), Some(chromedriver)) = (
        program("chromium", "/usr/bin/chromium"),
        program("chromedriver", "/usr/bin/chromedriver"),
    ) else {
        // Straight to stderr, past the test harness's capture, so the skip is seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: chromium and chromedriver are not installed \
             (apt-get install chromium chromium-driver; .ci/run installs them)"
        );
        return None;
    };
    // A free port, handed to chromedriver: another test may take it first, so a driver
    // that does not answer its own /status on it is replaced, on another port.
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: chromium.clone(),
        };
        let http = reqwest::Client::new();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if driver.child.try_wait().ok().flatten().is_some() {
                    return false;
                }
                if let Ok(response) = http.get(format!("{}/status", driver.url)).send().await
                    && let Ok(body) = response.text().await
                {
                    // chromedriver's own answer, not another test's server.
                    if body.contains("\"ready\":true") {
                        return true;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap_or(false);
        if ready {
            return Some(driver);
        }
    }
    panic!("chromedriver did not start on any of five ports")
}

/// A headless Chromium window, in the light or the dark system theme.
async fn browser(driver: &Driver, profile: &Path, dark: bool) -> Client {
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1280,1000".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    if dark {
        // The system theme a page's `prefers-color-scheme` follows.
        args.push("--force-dark-mode".into());
        args.push("--blink-settings=preferredColorScheme=0".into());
    }
    let capabilities = json!({
        "goog:chromeOptions": { "binary": driver.chromium, "args": args }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

fn quoted(text: &str) -> String {
    assert!(!text.contains('\''), "no quote in a test's label");
    format!("'{text}'")
}

/// The field whose `<label>` reads `label`.
async fn field(c: &Client, label: &str) -> fantoccini::elements::Element {
    let label_el = c
        .find(Locator::XPath(&format!(
            "//label[normalize-space(.)={}]",
            quoted(label)
        )))
        .await
        .unwrap_or_else(|e| panic!("a label {label:?}: {e}"));
    let id = label_el.attr("for").await.unwrap().expect("a for= label");
    c.find(Locator::Id(&id)).await.unwrap()
}

/// The button named `name` (its text or its aria-label).
async fn button(c: &Client, name: &str) -> fantoccini::elements::Element {
    let q = quoted(name);
    c.find(Locator::XPath(&format!(
        "//button[normalize-space(.)={q} or @aria-label={q}]"
    )))
    .await
    .unwrap_or_else(|e| panic!("a button {name:?}: {e}"))
}

async fn type_into(c: &Client, label: &str, text: &str) {
    let f = field(c, label).await;
    f.clear().await.unwrap();
    f.send_keys(text).await.unwrap();
}

/// Puts `text` in a field by script: chromedriver cannot type characters outside the
/// Basic Multilingual Plane (emoji), which a person pastes.
async fn paste_into(c: &Client, label: &str, text: &str) {
    let f = field(c, label).await;
    c.execute(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        vec![serde_json::to_value(&f).unwrap(), json!(text)],
    )
    .await
    .unwrap();
}

/// The text of the first element matching `css`.
async fn text_of(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the element `css` shows `needle`; its text then.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let text = text_of(c, css).await;
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    match found {
        Ok(text) => text,
        Err(_) => panic!(
            "{css} never showed {needle:?}; it shows {:?}",
            text_of(c, css).await
        ),
    }
}

/// Marks the loaded page; [`same_page`] tells whether it is still the one loaded.
async fn mark_page(c: &Client) {
    c.execute("window.__stayed = true;", vec![]).await.unwrap();
}

async fn same_page(c: &Client) -> bool {
    c.execute("return window.__stayed === true;", vec![])
        .await
        .unwrap()
        == json!(true)
}

/// Writes the page as `docs/console/<name>-<theme>.png` when `SEVENOWAYS_SCREENSHOTS=1`.
async fn screenshot(c: &Client, name: &str, theme: &str) {
    if std::env::var_os("SEVENOWAYS_SCREENSHOTS").is_none_or(|v| v != "1") {
        return;
    }
    let png = c.screenshot().await.unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}-{theme}.png")), png).unwrap();
}

/// Presses and releases `key` on the keyboard, wherever the focus is.
async fn press(c: &Client, key: Key) {
    let key: char = key.into();
    c.perform_actions(
        KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key }),
    )
    .await
    .unwrap();
}

/// The focused element's `id`, or its text when it has none.
async fn focused(c: &Client) -> String {
    let e = c.active_element().await.unwrap();
    match e.attr("id").await.unwrap() {
        Some(id) if !id.is_empty() => format!("#{id}"),
        _ => e.text().await.unwrap(),
    }
}

async fn sign_in(c: &Client, base: &str, key: &str) {
    c.goto(&format!("{base}/console")).await.unwrap();
    type_into(c, "API key", key).await;
    button(c, "Sign in").await.click().await.unwrap();
    wait_text(c, "h1", "Instances").await;
}

#[tokio::test]
async fn a_person_signs_in_pairs_a_sandbox_number_and_sends_to_a_group_until_read() {
    let test =
        "console_browser::a_person_signs_in_pairs_a_sandbox_number_and_sends_to_a_group_until_read";
    let Some(driver) = driver(test).await else {
        return;
    };
    // Receipts slow enough that the page is seen before "read", and changing after.
    let t = start_with(|c| {
        c.sandbox.delivered_after_ms = 1500;
        c.sandbox.read_after_ms = 1500;
    })
    .await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path(), false).await;
    let base = t.base();

    // `/` leads to the sign-in form; a wrong key says so.
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/console");
    screenshot(&c, "sign-in", "light").await;
    type_into(&c, "API key", "svw_this_is_not_a_key").await;
    button(&c, "Sign in").await.click().await.unwrap();
    wait_text(&c, "[role=alert]", "That API key is not valid").await;
    type_into(&c, "API key", &t.key).await;
    button(&c, "Sign in").await.click().await.unwrap();
    wait_text(&c, "h1", "Instances").await;

    // Create an instance: its page shows the QR code and a pending status.
    type_into(&c, "Instance ID", "phone1").await;
    type_into(&c, "Label", "Shop phone").await;
    button(&c, "Create instance").await.click().await.unwrap();
    wait_text(&c, "h1", "Shop phone").await;
    let status = text_of(&c, "#live-status").await;
    assert!(!status.contains("online"), "{status}");
    let qr = c
        .find(Locator::Css("img[alt='QR code to pair phone1']"))
        .await
        .expect("the QR code in the page");
    let loaded = eventually(10, || {
        let (c, qr) = (c.clone(), qr.clone());
        async move {
            let w = c
                .execute(
                    "return arguments[0].complete ? arguments[0].naturalWidth : 0;",
                    vec![serde_json::to_value(&qr).unwrap()],
                )
                .await
                .unwrap();
            (w.as_u64().unwrap_or(0) > 0).then_some(w)
        }
    })
    .await;
    assert!(loaded.as_u64().unwrap() >= 264, "{loaded}");
    screenshot(&c, "pairing", "light").await;

    // The sandbox's simulated scan: the status turns online without a reload.
    mark_page(&c).await;
    button(&c, "Simulate the scan").await.click().await.unwrap();
    wait_text(&c, "#live-status", "online").await;
    assert!(
        same_page(&c).await,
        "the status changed in place, not by a reload"
    );

    // A group, with its id one click from the clipboard.
    type_into(&c, "Group name", "Family").await;
    button(&c, "Add group").await.click().await.unwrap();
    wait_text(&c, "table", "Family").await;
    let group_id = text_of(&c, "#group-0").await;
    assert!(group_id.ends_with("@g.us"), "{group_id}");
    button(&c, "Copy the group ID of Family")
        .await
        .click()
        .await
        .unwrap();
    let copied = eventually(5, || {
        let (c, gid) = (c.clone(), group_id.clone());
        async move {
            let said = text_of(&c, "button[aria-label='Copy the group ID of Family']").await;
            let selected = c
                .execute("return window.getSelection().toString();", vec![])
                .await
                .unwrap();
            (said == "Copied" || selected == json!(gid)).then_some(said)
        }
    })
    .await;
    println!("copy button: {copied}");
    screenshot(&c, "instance", "light").await;

    c.find(Locator::LinkText("Instances"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let row = wait_text(&c, "tbody", "phone1").await;
    assert!(row.contains("sandbox") && row.contains("online"), "{row}");
    screenshot(&c, "instances", "light").await;

    // Send to the group by name, with an emoji and a line break.
    c.find(Locator::LinkText("Send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Send a message").await;
    field(&c, "Instance")
        .await
        .select_by_value("phone1")
        .await
        .unwrap();
    type_into(&c, "Group names", "family").await;
    paste_into(&c, "Message", "Hello 👋\nsecond line").await;
    screenshot(&c, "send", "light").await;
    button(&c, "Send").await.click().await.unwrap();
    let first = wait_text(&c, "#sent-status", "@g.us").await;
    assert!(!first.contains("read"), "seen before it is read: {first}");
    mark_page(&c).await;
    wait_text(&c, "#sent-status", "read").await;
    assert!(same_page(&c).await, "the status moved in place");
    screenshot(&c, "sent", "light").await;

    let qid: u64 = text_of(&c, "#sent-status tbody td a")
        .await
        .parse()
        .unwrap();
    let entry = t.client().queue().status(QueueId(qid)).await.unwrap();
    assert_eq!(entry.status, QueueStatus::Read);
    assert_eq!(entry.to, group_id);
    let Content::Text { message } = entry.content else {
        panic!("a text entry")
    };
    assert_eq!(message.as_str(), "Hello 👋\nsecond line", "\\n, not \\r\\n");

    // The queue page, filtered by status.
    c.find(Locator::LinkText("Queue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    field(&c, "Status")
        .await
        .select_by_value("failed")
        .await
        .unwrap();
    button(&c, "Filter").await.click().await.unwrap();
    wait_text(&c, "#queue-rows", "No queue entries match.").await;
    field(&c, "Status")
        .await
        .select_by_value("read")
        .await
        .unwrap();
    button(&c, "Filter").await.click().await.unwrap();
    let rows = wait_text(&c, "#queue-rows", &group_id).await;
    assert!(rows.contains("read"), "{rows}");
    screenshot(&c, "queue", "light").await;

    // Another account's instance is a clear "not found", and a form without the CSRF
    // token changes nothing.
    paired_instance(&t.other_client().await, "theirs").await;
    c.goto(&format!("{base}/console/instances/theirs"))
        .await
        .unwrap();
    wait_text(&c, "h1", "Not found").await;
    wait_text(&c, "[role=alert]", "not found").await;
    c.execute(
        "const f = document.createElement('form'); f.method = 'post'; \
         f.action = '/console/instances'; \
         for (const [k, v] of [['instanceId', 'forged'], ['label', 'x']]) { \
           const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); } \
         document.body.appendChild(f); f.submit();",
        vec![],
    )
    .await
    .unwrap();
    wait_text(&c, "h1", "Form not accepted").await;
    assert_eq!(
        t.client().instances().list().await.unwrap().instances.len(),
        1
    );

    // Deleting asks first.
    c.goto(&format!("{base}/console/instances/phone1"))
        .await
        .unwrap();
    c.find(Locator::LinkText("Delete this instance…"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Delete instance phone1?").await;
    assert_eq!(
        t.client().instances().list().await.unwrap().instances.len(),
        1
    );
    button(&c, "Delete instance").await.click().await.unwrap();
    wait_text(&c, "main", "No instances yet").await;
    assert!(
        t.client()
            .instances()
            .list()
            .await
            .unwrap()
            .instances
            .is_empty()
    );

    // Sign out ends the session.
    c.goto(&format!("{base}/console/instances")).await.unwrap();
    button(&c, "Sign out").await.click().await.unwrap();
    wait_text(&c, "[role=status], [role=alert]", "You are signed out.").await;
    c.goto(&format!("{base}/console/send")).await.unwrap();
    wait_text(&c, "main", "API key").await;

    c.close().await.unwrap();
    t.shutdown().await;
}

#[tokio::test]
async fn the_console_works_from_the_keyboard_and_follows_the_system_theme() {
    let test = "console_browser::the_console_works_from_the_keyboard_and_follows_the_system_theme";
    let Some(driver) = driver(test).await else {
        return;
    };
    let t = start().await;
    paired_instance(&t.client(), "phone1").await;
    let base = t.base();
    let mut backgrounds = Vec::new();
    for dark in [false, true] {
        let profile = tempfile::tempdir().unwrap();
        let c = browser(&driver, profile.path(), dark).await;
        let theme = if dark { "dark" } else { "light" };
        c.goto(&format!("{base}/console")).await.unwrap();
        let prefers = c
            .execute(
                "return matchMedia('(prefers-color-scheme: dark)').matches;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(prefers, json!(dark), "the browser's theme");
        screenshot(&c, "sign-in", theme).await;
        if dark {
            sign_in(&c, &base, &t.key).await;
        } else {
            // Keyboard only: Tab to the key, type it, Enter; then the skip link.
            press(&c, Key::Tab).await;
            assert_eq!(focused(&c).await, "#api-key");
            c.active_element()
                .await
                .unwrap()
                .send_keys(&t.key)
                .await
                .unwrap();
            press(&c, Key::Enter).await;
            wait_text(&c, "h1", "Instances").await;
            press(&c, Key::Tab).await;
            assert_eq!(focused(&c).await, "Skip to content");
            press(&c, Key::Enter).await;
            assert_eq!(focused(&c).await, "#main");
        }
        for (path, name) in [
            ("/console/instances", "instances"),
            ("/console/instances/phone1", "instance"),
            ("/console/send", "send"),
            ("/console/queue", "queue"),
            ("/console/schedules", "schedules"),
            ("/console/webhooks", "webhooks"),
            ("/console/usage", "usage"),
            ("/console/docs", "docs"),
        ] {
            c.goto(&format!("{base}{path}")).await.unwrap();
            screenshot(&c, name, theme).await;
        }
        let bg = c
            .execute(
                "return getComputedStyle(document.body).backgroundColor;",
                vec![],
            )
            .await
            .unwrap();
        backgrounds.push(bg);
        c.close().await.unwrap();
    }
    assert_eq!(backgrounds[0], json!("rgb(255, 255, 255)"));
    assert_eq!(backgrounds[1], json!("rgb(13, 17, 23)"));
    t.shutdown().await;
}

/// Runs `program args…` and returns what it printed; the example's failure fails the test.
async fn run(program: &str, args: Vec<String>) -> String {
    let program = program.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&program)
            .args(&args)
            .output()
            .expect("it runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_person_sets_up_a_webhook_and_a_schedule_and_runs_a_docs_example() {
    let test = "console_browser::a_person_sets_up_a_webhook_and_a_schedule_and_runs_a_docs_example";
    let Some(driver) = driver(test).await else {
        return;
    };
    let t = crate::e2e_webhooks::start_with(|_| {}).await;
    paired_instance(&t.client(), "phone1").await;
    let listener = crate::e2e_webhooks::local_listener().await;
    let hook = crate::e2e_webhooks::url(listener.local_addr().unwrap());
    let (receiver, _task) =
        crate::e2e_webhooks::receiver(listener, std::sync::Arc::new(|_, _| (200, None))).await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path(), false).await;
    let base = t.base();
    sign_in(&c, &base, &t.key).await;

    // A webhook: its secret once, then a test event in its delivery log.
    c.find(Locator::LinkText("Webhooks"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(&c, "URL", &hook).await;
    c.find(Locator::XPath("//label[normalize-space(.)='message.sent']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    button(&c, "Create webhook").await.click().await.unwrap();
    wait_text(&c, "h1", "Webhook created").await;
    let secret = text_of(&c, "#webhook-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    c.find(Locator::LinkText("Go to the webhook"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#deliveries", "No deliveries yet").await;
    button(&c, "Send a test").await.click().await.unwrap();
    let log = wait_text(&c, "#deliveries", "succeeded").await;
    assert!(log.contains("webhook.test") && log.contains("200"), "{log}");
    assert_eq!(receiver.hits.lock().unwrap().len(), 1);
    screenshot(&c, "webhook", "light").await;
    // Redelivering sends the same event again.
    c.find(Locator::XPath("//button[normalize-space(.)='Redeliver']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(20, || async {
        (receiver.hits.lock().unwrap().len() == 2).then_some(())
    })
    .await;
    let hits = receiver.hits.lock().unwrap().clone();
    assert_eq!(hits[0].webhook_id, hits[1].webhook_id, "the same event");
    let hit = hits[0].clone();

    // A schedule: its next five runs in the zone show before it is saved.
    c.find(Locator::LinkText("Schedules"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(&c, "Label", "Standup").await;
    type_into(&c, "Cron expression", "30 9 * * 1-5").await;
    type_into(&c, "Time zone", "Asia/Dubai").await;
    let runs = wait_text(&c, "#next-runs", "Next runs in Asia/Dubai").await;
    assert_eq!(runs.matches("09:30 +04").count(), 5, "{runs}");
    type_into(&c, "Group names", "Team A").await;
    paste_into(&c, "Message", "Stand-up ☀️").await;
    screenshot(&c, "schedules", "light").await;
    button(&c, "Create schedule").await.click().await.unwrap();
    let table = wait_text(&c, "table", "Standup").await;
    assert!(
        table.contains("Asia/Dubai") && table.contains("30 9 * * 1-5"),
        "{table}"
    );
    let saved = t.client().schedules().list().await.unwrap().schedules;
    assert_eq!(
        saved[0].spec.message.as_ref().unwrap().as_str(),
        "Stand-up ☀️"
    );

    // Docs: the key is masked until revealed, copies carry the real key, and the
    // examples run as shown.
    c.find(Locator::LinkText("Docs"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let masked = text_of(&c, "#example-send-curl").await;
    assert!(!masked.contains(&t.key), "masked until revealed");
    let copied = c
        .execute(
            "return copyText(document.getElementById('example-send-curl'));",
            vec![],
        )
        .await
        .unwrap();
    assert!(copied.as_str().unwrap().contains(&t.key), "{copied}");
    screenshot(&c, "docs", "light").await;
    button(&c, "Reveal key").await.click().await.unwrap();
    let curl = wait_text(&c, "#example-send-curl", &t.key).await;
    let out = run("sh", vec!["-c".into(), curl]).await;
    assert!(out.contains(r#""queued":true"#), "{out}");
    let python = text_of(&c, "#example-send-python").await;
    let out = run("python3", vec!["-c".into(), python]).await;
    assert!(out.contains("'queued': True"), "{out}");
    // The signature checks, as shown, accept the test delivery the receiver got.
    let body = String::from_utf8(hit.body.clone()).unwrap();
    let python = format!(
        "{}\nprint(verify_webhook({secret:?}, {{'webhook-id': {:?}, 'webhook-timestamp': {:?}, \
         'webhook-signature': {:?}}}, {:?}.encode()))",
        text_of(&c, "#verify-python").await,
        hit.webhook_id.clone().unwrap(),
        hit.webhook_timestamp.clone().unwrap(),
        hit.webhook_signature.clone().unwrap(),
        body,
    );
    assert_eq!(
        run("python3", vec!["-c".into(), python]).await.trim(),
        "True"
    );
    if program("node", "/usr/bin/node").is_some() {
        let js = text_of(&c, "#example-send-js").await;
        let out = run("node", vec!["--input-type=module".into(), "-e".into(), js]).await;
        assert!(out.contains("queued: true"), "{out}");
        let js = format!(
            "{}\nconsole.log(verifyWebhook({}, {{'x-webhook-signature': {}}}, Buffer.from({})))",
            text_of(&c, "#verify-node").await,
            serde_json::to_string(&secret).unwrap(),
            serde_json::to_string(&hit.signature.clone().unwrap()).unwrap(),
            serde_json::to_string(&body).unwrap(),
        );
        assert_eq!(run("node", vec!["-e".into(), js]).await.trim(), "true");
    }

    c.close().await.unwrap();
    t.shutdown().await;
}
