//! Sends a text message to one or more WhatsApp groups by group id (`120363…@g.us`).
//! Ids are what the documentation recommends: they keep working when a group is renamed.
//! `svw groups list INSTANCE_ID` (or `GET /api/instances/:id/groups`) shows them.
//!
//! Run:
//!
//! ```text
//! export SEVENOWAYS_API_KEY=your-api-key
//! export SEVENOWAYS_BASE_URL=http://127.0.0.1:8080   # optional; default https://sevenoways.app
//! cargo run --example send_group_by_id -- number2 120363025246125888@g.us "Hello everyone! 👋"
//! ```
//!
//! Several groups: separate the ids with commas (`ID1,ID2`).

use std::process::ExitCode;

use sevenoways_sdk::models::messages::SendRequest;
use sevenoways_sdk::{Client, GroupTarget};

const USAGE: &str =
    "usage: cargo run --example send_group_by_id -- INSTANCE_ID GROUP_ID[,GROUP_ID...] [MESSAGE]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(instance), Some(groups)) = (args.first(), args.get(1)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let message = args.get(2).map_or("Hello everyone! 👋", String::as_str);

    let client = match client_from_env() {
        Ok(client) => client,
        Err(code) => return code,
    };

    // Every value is checked here, before anything is sent: a malformed group id is
    // reported with its position (`groupIds[1]: expected a group id like ...`).
    let request = (|| {
        Ok::<_, sevenoways_sdk::ValidationError>(SendRequest::new(
            instance.parse()?,
            GroupTarget::ids(groups.split(',').map(str::trim))?,
            message.try_into()?,
        ))
    })();
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };

    match client.messages().send(&request).await {
        Ok(queued) => {
            println!("queued (queueId {})", queued.queue_id);
            for recipient in &queued.recipients {
                println!("  {} -> queueId {}", recipient.to, recipient.queue_id);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `Client::from_env()`, with a clear message when the key is not set.
fn client_from_env() -> Result<Client, ExitCode> {
    if std::env::var_os("SEVENOWAYS_API_KEY").is_none() {
        eprintln!(
            "error: SEVENOWAYS_API_KEY is not set.\n\
             Export your API key (and SEVENOWAYS_BASE_URL for a server other than \
             https://sevenoways.app), then run the example again."
        );
        return Err(ExitCode::from(2));
    }
    Client::from_env().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}
