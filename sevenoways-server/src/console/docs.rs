//! `/console/docs`: the API reference as the hosted documentation page gives it, with this
//! user's base URL, key, instance ids and group ids filled into the examples.
//!
//! The key is shown masked until "Reveal key"; the copy buttons always copy the real key
//! (the script puts it back into the copied text), so what is copied runs as shown. The
//! examples are generated from one description per endpoint (method, route, JSON body):
//! curl for each, and curl, JavaScript `fetch`, Python (standard library only, so it
//! runs without installing anything) and PHP (cURL) for a send, plus the webhook
//! signature checks.

use axum::extract::State;
use axum::http::StatusCode;
use maud::{Markup, html};
use serde_json::{Value, json};
use sevenoways_sdk::Endpoint;
use sevenoways_sdk::models::groups::Group;

use super::layout::{self, copy_button};
use super::session::Signed;
use super::{PageResult, page, value};
use crate::AppState;
use crate::auth::Authed;
use crate::extract::{PathId, QueryParams};
use crate::routes::pages::page_params;
use crate::routes::{groups, instances};

/// Stands for the API key in generated example text; rendered masked.
const KEY: &str = "\u{1}KEY\u{1}";

/// The user's values the examples are filled with.
struct Values {
    base: String,
    instance: String,
    group: String,
    /// A saved channel's JID, or a placeholder.
    channel: String,
}

/// One documented endpoint's example.
struct Example {
    id: &'static str,
    title: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    note: Option<&'static str>,
}

fn examples(v: &Values) -> Vec<Example> {
    use sevenoways_sdk::models::{instances as i, messages as m, usage as u};
    let route = |r: &str| r.to_owned();
    let group_path = format!("/api/instances/{}/groups", v.instance);
    vec![
        Example {
            id: "list-instances",
            title: "List instances",
            method: "GET",
            path: route(i::ListInstances::ROUTE),
            body: None,
            note: None,
        },
        Example {
            id: "create-instance",
            title: "Create instance",
            method: "POST",
            path: route(i::CreateInstanceRequest::ROUTE),
            body: Some(json!({"instanceId": "number2", "label": "Second Line"})),
            note: Some(
                "Then open its qrUrl in a browser and scan the code, or pair it in the console.",
            ),
        },
        Example {
            id: "list-groups",
            title: "List groups",
            method: "GET",
            path: group_path,
            body: None,
            note: None,
        },
        Example {
            id: "send-groups",
            title: "Send text to groups",
            method: "POST",
            path: route(m::SendRequest::ROUTE),
            body: Some(json!({
                "instanceId": v.instance, "groupIds": [v.group], "message": "Hello everyone! 👋"
            })),
            note: Some(
                "groupIds never change, even when a group is renamed; groups (names, any case) and sendAll: true work too.",
            ),
        },
        Example {
            id: "send-image",
            title: "Send image to groups",
            method: "POST",
            path: route(m::SendImageRequest::ROUTE),
            body: Some(json!({
                "instanceId": v.instance, "groupIds": [v.group],
                "imageUrl": "https://example.com/banner.jpg", "caption": "Check this out!"
            })),
            note: None,
        },
        Example {
            id: "send-document",
            title: "Send document to groups",
            method: "POST",
            path: route(m::SendDocumentRequest::ROUTE),
            body: Some(json!({
                "instanceId": v.instance, "groupIds": [v.group],
                "fileUrl": "https://example.com/report.pdf", "filename": "Monthly Report.pdf",
                "mimetype": "application/pdf"
            })),
            note: None,
        },
        Example {
            id: "send-number",
            title: "Send text to number",
            method: "POST",
            path: route(m::SendNumberRequest::ROUTE),
            body: Some(json!({
                "instanceId": v.instance, "phone": "971501234567",
                "message": "Hello! Your order is ready 🎉"
            })),
            note: Some("Phone: country code and number, no +, no spaces."),
        },
        Example {
            id: "send-channel",
            title: "Send text to channel",
            method: "POST",
            path: "/api/send-to-channel".into(),
            body: Some(json!({
                "instanceId": v.instance, "channelJid": v.channel,
                "message": "📢 Big announcement coming tomorrow!"
            })),
            note: Some(
                "Only admins and owners of a channel may post; save it first with POST /api/channels.",
            ),
        },
        Example {
            id: "send-community",
            title: "Send text to community",
            method: "POST",
            path: "/api/send-to-community".into(),
            body: Some(json!({
                "instanceId": v.instance, "communityId": "120363XXXXXXXX@newsletter",
                "message": "📣 Community update: new features released!"
            })),
            note: Some("Use a community your number is a member or admin of."),
        },
        Example {
            id: "list-channels",
            title: "List saved channels",
            method: "GET",
            path: "/api/channels".into(),
            body: None,
            note: None,
        },
        Example {
            id: "queue-status",
            title: "Queue status",
            method: "GET",
            path: "/api/queue/1".into(),
            body: None,
            note: Some("Use the queueId a send answered."),
        },
        Example {
            id: "usage",
            title: "Usage",
            method: "GET",
            path: route(u::GetUsage::ROUTE),
            body: None,
            note: None,
        },
        Example {
            id: "create-schedule",
            title: "Create schedule",
            method: "POST",
            path: "/api/schedules".into(),
            body: Some(json!({
                "instanceId": v.instance, "label": "Daily Morning Update",
                "cronExpr": "0 9 * * *", "timezone": "Asia/Dubai",
                "groupIds": [v.group], "message": "Good morning team! ☀️"
            })),
            note: None,
        },
        Example {
            id: "list-schedules",
            title: "List schedules",
            method: "GET",
            path: "/api/schedules".into(),
            body: None,
            note: None,
        },
        Example {
            id: "list-webhooks",
            title: "List webhooks",
            method: "GET",
            path: "/api/webhooks".into(),
            body: None,
            note: None,
        },
        Example {
            id: "delete-instance",
            title: "Delete instance",
            method: "DELETE",
            path: "/api/instances/number2".into(),
            body: None,
            note: Some("Deletes the instance the create example made; its groups go with it."),
        },
        Example {
            id: "create-webhook",
            title: "Create webhook",
            method: "POST",
            path: "/api/webhooks".into(),
            body: Some(json!({
                "url": "https://example.com/hooks/sevenoways",
                "events": ["message.sent", "message.failed"]
            })),
            note: Some("The answer carries the signing secret, once."),
        },
    ]
}

/// JSON as a shell single-quoted argument's content (the examples have no `'`).
fn indented(body: &Value, by: &str) -> String {
    let pretty = serde_json::to_string_pretty(body).expect("JSON values serialize");
    pretty.replace('\n', &format!("\n{by}"))
}

fn curl(v: &Values, e: &Example) -> String {
    let mut s = format!("curl -X {} {}{}", e.method, v.base, e.path);
    s.push_str(&format!(" \\\n  -H \"x-api-key: {KEY}\""));
    if let Some(body) = &e.body {
        s.push_str(" \\\n  -H \"Content-Type: application/json\"");
        s.push_str(&format!(" \\\n  -d '{}'", indented(body, "  ")));
    }
    s
}

fn fetch_js(v: &Values, e: &Example) -> String {
    let body = e
        .body
        .as_ref()
        .map(|b| indented(b, "  "))
        .unwrap_or_default();
    format!(
        "const response = await fetch('{base}{path}', {{\n  method: '{method}',\n  headers: {{\n    'x-api-key': '{KEY}',\n    'Content-Type': 'application/json'\n  }},\n  body: JSON.stringify({body})\n}})\nconst data = await response.json()\nconsole.log(data)",
        base = v.base,
        path = e.path,
        method = e.method,
    )
}

fn python(v: &Values, e: &Example) -> String {
    let body = e.body.as_ref().map(|b| indented(b, "")).unwrap_or_default();
    format!(
        "import json\nimport urllib.request\n\nbody = {body}\nrequest = urllib.request.Request(\n    '{base}{path}',\n    data=json.dumps(body).encode(),\n    headers={{'x-api-key': '{KEY}', 'Content-Type': 'application/json'}},\n    method='{method}',\n)\nwith urllib.request.urlopen(request) as response:\n    print(json.load(response))",
        base = v.base,
        path = e.path,
        method = e.method,
    )
}

/// A JSON value as a PHP literal (strings, arrays of strings, booleans, objects).
fn php_value(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".into(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| php_value(i, indent))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{pad}    '{k}' => {}", php_value(v, indent + 4)))
                .collect();
            format!("[\n{}\n{pad}]", inner.join(",\n"))
        }
    }
}

fn php(v: &Values, e: &Example) -> String {
    let body = e
        .body
        .as_ref()
        .map(|b| php_value(b, 4))
        .unwrap_or_else(|| "[]".into());
    format!(
        "<?php\n$ch = curl_init('{base}{path}');\ncurl_setopt_array($ch, [\n    CURLOPT_RETURNTRANSFER => true,\n    CURLOPT_POST           => true,\n    CURLOPT_HTTPHEADER     => [\n        'x-api-key: {KEY}',\n        'Content-Type: application/json'\n    ],\n    CURLOPT_POSTFIELDS => json_encode({body})\n]);\n$result = json_decode(curl_exec($ch), true);\nprint_r($result);",
        base = v.base,
        path = e.path,
    )
}

/// Example text as a copyable block, the key masked in place.
fn code_block(id: &str, label: &str, text: &str, masked: &str) -> Markup {
    let parts: Vec<&str> = text.split(KEY).collect();
    html! {
        div.example {
            div.row { span.lang { (label) } (copy_button(id, &format!("Copy the {label} example"))) }
            pre id=(id) {
                @for (i, part) in parts.iter().enumerate() {
                    @if i > 0 { span.secret-key { (masked) } }
                    (part)
                }
            }
        }
    }
}

/// The documented `X-Webhook-Signature` check, on the raw body (a re-serialized
/// `req.body` may differ from the bytes that were signed).
const NODE_VERIFY: &str =
    "// Node.js: X-Webhook-Signature is sha256= + hex HMAC-SHA256(secret, raw body).
const crypto = require('crypto')

function verifyWebhook(secret, headers, rawBody) {
  const expected = 'sha256=' + crypto.createHmac('sha256', secret).update(rawBody).digest('hex')
  const sig = headers['x-webhook-signature'] || ''
  return sig.length === expected.length &&
    crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected))
}";

/// The Standard Webhooks check, with the server's key rule (`whsec_` + base64: the
/// decoded bytes; any other secret: its text).
const PYTHON_VERIFY: &str =
    "# Python: the Standard Webhooks headers (the signed time refuses replays).
import base64, binascii, hashlib, hmac, time

def verify_webhook(secret, headers, body):
    msg_id = headers['webhook-id']
    timestamp = headers['webhook-timestamp']
    if abs(time.time() - int(timestamp)) > 300:
        return False
    key = secret.encode()
    if secret.startswith('whsec_'):
        rest = secret[len('whsec_'):]
        try:
            key = base64.b64decode(rest + '=' * (-len(rest) % 4), validate=True)
        except binascii.Error:
            pass
    signed = f'{msg_id}.{timestamp}.'.encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s[3:])
               for s in headers['webhook-signature'].split(' ') if s.startswith('v1,'))";

/// `GET /console/docs`.
pub async fn show(State(state): State<AppState>, signed: Signed) -> PageResult {
    let list = value(
        instances::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, None)?),
        )
        .await,
    )?;
    let mut groups_of: Vec<(String, Vec<Group>)> = Vec::new();
    // The groups of the first five instances, one page each: enough to copy from.
    for instance in list.instances.iter().take(5) {
        let page = value(
            groups::list(
                State(state.clone()),
                Authed(signed.account.clone()),
                PathId(instance.instance_id.clone()),
                QueryParams(page_params(None, None)?),
            )
            .await,
        )?;
        groups_of.push((instance.instance_id.to_string(), page.groups));
    }
    let instance = list
        .instances
        .iter()
        .find(|i| i.status.as_str() == "online")
        .or(list.instances.first());
    let group = instance.and_then(|i| {
        groups_of
            .iter()
            .find(|(id, _)| id == i.instance_id.as_str())
            .and_then(|(_, g)| g.first())
    });
    let values = Values {
        base: state.public_url.trim_end_matches('/').to_owned(),
        instance: instance
            .map(|i| i.instance_id.to_string())
            .unwrap_or_else(|| "INSTANCE_ID".into()),
        group: group
            .map(|g| g.id.to_string())
            .unwrap_or_else(|| "GROUP_ID@g.us".into()),
        channel: String::new(),
    };
    let channels = value(
        crate::routes::channels::list(
            State(state.clone()),
            Authed(signed.account.clone()),
            QueryParams(page_params(None, None)?),
        )
        .await,
    )?;
    let values = Values {
        channel: channels
            .channels
            .first()
            .map(|c| c.channel_jid.as_str().to_owned())
            .unwrap_or_else(|| "120363XXXXXXXX@newsletter".into()),
        ..values
    };
    let key = &signed.key;
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let masked = format!("svw_••••••••{tail}");
    let examples = examples(&values);
    let send = examples
        .iter()
        .find(|e| e.id == "send-groups")
        .expect("the send example");
    let markup = layout::page(
        &signed,
        "/console/docs",
        "API documentation",
        html! {
            h1 { "API documentation" }
            p { "Everything below is filled with your values: copy and run it as it is." }
            section aria-labelledby="config" {
                h2 #config { "Your API key and configuration" }
                dl.facts {
                    dt { "API key" }
                    dd {
                        code #api-key-shown data-key=(key) { (masked) } " "
                        button type="button" #reveal-key aria-pressed="false" { "Reveal key" } " "
                        (copy_button("api-key-shown", "Copy the API key"))
                    }
                    dt { "Base URL" } dd { code #base-url { (values.base) } " " (copy_button("base-url", "Copy the base URL")) }
                }
                @if list.instances.is_empty() {
                    p { "No instances yet: " a href="/console/instances" { "create one" } " and the examples use its id." }
                }
                @for (i, (instance, groups)) in groups_of.iter().enumerate() {
                    h3 { "Instance " code #{ "doc-instance-" (i) } { (instance) } " "
                        (copy_button(&format!("doc-instance-{i}"), &format!("Copy the instance ID {instance}"))) }
                    @if groups.is_empty() {
                        p.hint { "No groups." }
                    } @else {
                        ul {
                            @for (j, g) in groups.iter().enumerate() {
                                li { (g.name) ": " code #{ "doc-group-" (i) "-" (j) } { (g.id) } " "
                                    (copy_button(&format!("doc-group-{i}-{j}"), &format!("Copy the group ID of {}", g.name))) }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="auth" {
                h2 #auth { "Authentication" }
                p { "Send your key in the " code { "x-api-key" } " header of every request. Keep it secret: anyone with it can send from your numbers." }
                p { "POST bodies are JSON (" code { "application/json" } ") or form data ("
                    code { "application/x-www-form-urlencoded" } "; arrays as " code { "groupIds[]=ID1&groupIds[]=ID2" } ")." }
            }
            section aria-labelledby="endpoints" {
                h2 #endpoints { "Endpoints" }
                @for e in &examples {
                    h3 #{ "doc-" (e.id) } { (e.title) }
                    p { code { (e.method) " " (e.path) } }
                    @if let Some(note) = e.note { p.hint { (note) } }
                    (code_block(&format!("example-{}-curl", e.id), "cURL", &curl(&values, e), &masked))
                }
            }
            section aria-labelledby="sdk" {
                h2 #sdk { "Examples in your language" }
                p { "Send a message to a group:" }
                (code_block("example-send-curl", "cURL", &curl(&values, send), &masked))
                (code_block("example-send-js", "JavaScript (fetch)", &fetch_js(&values, send), &masked))
                (code_block("example-send-python", "Python", &python(&values, send), &masked))
                (code_block("example-send-php", "PHP (cURL)", &php(&values, send), &masked))
            }
            section aria-labelledby="webhooks" {
                h2 #webhooks { "Webhook signatures" }
                p { "Each delivery carries " code { "X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, body)>" }
                    " and the Standard Webhooks headers " code { "webhook-id" } ", " code { "webhook-timestamp" }
                    " and " code { "webhook-signature" } ", whose signed time lets a receiver refuse replays." }
                p { "Call these with the webhook's secret, the request's headers (lower-case names) and its raw body bytes." }
                (code_block("verify-node", "Node.js", NODE_VERIFY, &masked))
                (code_block("verify-python", "Python", PYTHON_VERIFY, &masked))
            }
            section aria-labelledby="cron" {
                h2 #cron { "Cron reference" }
                table {
                    thead { tr { th scope="col" { "Expression" } th scope="col" { "Meaning" } } }
                    tbody {
                        @for (expr, meaning) in [("0 9 * * *", "Every day at 09:00"), ("0 9 * * 1", "Every Monday at 09:00"),
                            ("0 9 * * 1-5", "Weekdays at 09:00"), ("0 8,17 * * *", "Every day at 08:00 and 17:00"),
                            ("*/30 * * * *", "Every 30 minutes"), ("0 9 1 * *", "The 1st of every month at 09:00")] {
                            tr { td { code { (expr) } } td { (meaning) } }
                        }
                    }
                }
            }
        },
    );
    Ok(page(StatusCode::OK, markup))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            base: "http://127.0.0.1:8080".into(),
            instance: "phone1".into(),
            group: "120363000000000001@g.us".into(),
            channel: "120363000000000009@newsletter".into(),
        }
    }

    #[test]
    fn the_examples_carry_the_users_values() {
        let v = values();
        let all = examples(&v);
        let send = all.iter().find(|e| e.id == "send-groups").unwrap();
        let curl = curl(&v, send);
        assert!(curl.starts_with("curl -X POST http://127.0.0.1:8080/api/send \\"));
        assert!(curl.contains("\"instanceId\": \"phone1\""));
        assert!(curl.contains("\"120363000000000001@g.us\""));
        assert!(curl.contains(KEY));
        let php = php(&v, send);
        assert!(
            php.contains("'groupIds' => ['120363000000000001@g.us']"),
            "{php}"
        );
        assert!(python(&v, send).contains("'http://127.0.0.1:8080/api/send'"));
        assert!(fetch_js(&v, send).contains("method: 'POST'"));
    }

    #[test]
    fn the_key_is_masked_in_the_page_text() {
        let html = code_block("x", "cURL", &format!("a {KEY} b"), "svw_••••1234").into_string();
        assert!(
            html.contains("<span class=\"secret-key\">svw_••••1234</span>"),
            "{html}"
        );
        assert!(!html.contains('\u{1}'));
    }
}
