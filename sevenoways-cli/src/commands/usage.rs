//! `svw usage`: `GET /api/usage`.
//!
//! The SDK has no method for it yet, so this is a raw GET with the same header, error
//! mapping and envelope handling as the SDK. Its answer is not in the published contract,
//! so it is shown as it comes: `--json` prints it unchanged, the table flattens it.

use std::time::Duration;

use clap::Args;
use serde_json::Value;
use sevenoways_sdk::{Error, ErrorBody};

use crate::context::{Context, USER_AGENT};
use crate::exit::Failure;
use crate::printer::Table;

/// `svw usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {}

/// `svw usage`.
pub async fn exec(_args: UsageArgs, ctx: &Context) -> Result<(), Failure> {
    // Builds the SDK client first: the same checks of key and base URL, the same errors.
    ctx.client()?;
    let settings = ctx.settings()?;
    let key = settings
        .api_key
        .as_ref()
        .map(|k| k.value.trim())
        .unwrap_or_default();
    let url = format!(
        "{}/api/usage",
        settings.base_url.value.trim().trim_end_matches('/')
    );
    let value = get(&url, key).await.map_err(|e| match e {
        Error::NotFound { .. } => Failure::from(e).hint(
            "this server has no /api/usage (it is not in the published contract); check --base-url",
        ),
        e => Failure::from(e),
    })?;
    let p = &ctx.printer;
    if p.is_json() {
        p.json(&value);
        return Ok(());
    }
    let mut table = Table::new(&["FIELD", "VALUE"]);
    flatten("", &value, &mut table);
    if p.is_quiet() {
        return Ok(());
    }
    p.table(&table);
    Ok(())
}

async fn get(url: &str, key: &str) -> Result<Value, Error> {
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Transport(e.to_string()))?;
    let mut key = reqwest::header::HeaderValue::from_str(key).map_err(|_| {
        sevenoways_sdk::ValidationError::new("apiKey", "expected printable ASCII characters only")
    })?;
    key.set_sensitive(true);
    let answer = http
        .get(url)
        .header("x-api-key", key)
        .send()
        .await
        .map_err(transport)?;
    let status = answer.status();
    let retry_after = answer
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs);
    let bytes = answer.bytes().await.map_err(transport)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            path: ".".into(),
            message: e.to_string(),
            excerpt: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
        });
    }
    let message = serde_json::from_slice::<ErrorBody>(&bytes)
        .map(|b| b.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(200).collect());
    Err(match status.as_u16() {
        401 => Error::Unauthorized { message },
        404 => Error::NotFound { message },
        429 => Error::RateLimited {
            retry_after,
            message,
        },
        status => Error::Api { status, message },
    })
}

fn transport(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout(Duration::from_secs(30))
    } else {
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Error::Transport(message)
    }
}

/// `{"daily":{"sent":3}}` becomes the row `daily.sent  3`; the envelope's `success` is dropped.
fn flatten(prefix: &str, value: &Value, table: &mut Table) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if prefix.is_empty() && k == "success" {
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, table);
            }
        }
        Value::String(s) => {
            table.row([prefix.to_owned(), s.clone()]);
        }
        Value::Null => {
            table.row([prefix.to_owned(), "-".to_owned()]);
        }
        other => {
            table.row([prefix.to_owned(), other.to_string()]);
        }
    }
}
