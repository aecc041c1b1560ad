//! Sends a text message to WhatsApp groups by name. Names are matched
//! case-insensitively by the server; the example first lists the number's groups and
//! warns about a name that matches none of them (a renamed group, a typo).
//! Prefer group ids where you can: see `send_group_by_id`.
//!
//! Run:
//!
//! ```text
//! export SEVENOWAYS_API_KEY=your-api-key
//! export SEVENOWAYS_BASE_URL=http://127.0.0.1:8080   # optional; default https://sevenoways.app
//! cargo run --example send_group_by_name -- number2 "Team A" "Hello everyone! 👋"
//! ```
//!
//! Several groups: separate the names with commas (`"Team A,Sales"`).

use std::process::ExitCode;

use sevenoways_sdk::models::messages::SendRequest;
use sevenoways_sdk::{Client, GroupTarget, InstanceId};

const USAGE: &str = "usage: cargo run --example send_group_by_name -- INSTANCE_ID \"GROUP NAME[,GROUP NAME...]\" [MESSAGE]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(instance), Some(names)) = (args.first(), args.get(1)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let message = args.get(2).map_or("Hello everyone! 👋", String::as_str);

    let client = match client_from_env() {
        Ok(client) => client,
        Err(code) => return code,
    };

    let parsed = (|| {
        let instance: InstanceId = instance.parse()?;
        let names: Vec<&str> = names.split(',').map(str::trim).collect();
        let request = SendRequest::new(
            instance.clone(),
            GroupTarget::names(&names)?,
            message.try_into()?,
        );
        Ok::<_, sevenoways_sdk::ValidationError>((instance, request))
    })();
    let (instance, request) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };

    // Look the names up first, as the server will, so a typo is visible before sending.
    match client.groups().list(&instance).await {
        Ok(list) => {
            for wanted in &request.groups {
                match list.groups.iter().find(|g| wanted.matches(&g.name)) {
                    Some(group) => {
                        println!("{:?} is {} ({})", wanted.as_str(), group.name, group.id)
                    }
                    None => eprintln!(
                        "warning: no group of {instance} is named {:?}; its groups are: {}",
                        wanted.as_str(),
                        list.groups
                            .iter()
                            .map(|g| g.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
        }
        Err(e) => eprintln!("warning: could not list the groups of {instance}: {e}"),
    }

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
