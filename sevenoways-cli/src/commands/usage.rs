//! `svw usage`: `GET /api/usage`, the key's send rate and message caps.
//!
//! `--json` prints the answer; the table flattens it into one `field value` row per leaf
//! (`rateLimit.remaining  57`).

use clap::Args;
use serde_json::Value;
use sevenoways_sdk::{Error, Success};

use crate::context::Context;
use crate::exit::Failure;
use crate::printer::Table;

/// `svw usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {}

/// `svw usage`.
pub async fn exec(_args: UsageArgs, ctx: &Context) -> Result<(), Failure> {
    let usage = ctx.client()?.usage().get().await.map_err(|e| match e {
        Error::NotFound { .. } => Failure::from(e).hint(
            "this server has no /api/usage (it is not in the published contract); check --base-url",
        ),
        e => Failure::from(e),
    })?;
    // Rows are the leaves of the JSON form, so the table and `--json` show the same fields.
    let value = serde_json::to_value(&usage)
        .map_err(|e| Failure::api(format!("could not show the answer: {e}")))?;
    let mut table = Table::new(&["FIELD", "VALUE"]);
    flatten("", &value, &mut table);
    ctx.printer.item(&Success(&usage), &[], |p| p.table(&table));
    Ok(())
}

/// `{"daily":{"used":3}}` becomes the row `daily.used  3`; `null` (unlimited) shows as `-`.
fn flatten(prefix: &str, value: &Value, table: &mut Table) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
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
