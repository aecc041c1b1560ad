//! Creates a cron schedule: a text message sent to groups at fixed times in a time zone,
//! as in the documentation ("Daily Morning Update", `0 9 * * *`, `Asia/Dubai`).
//!
//! Run:
//!
//! ```text
//! export SEVENOWAYS_API_KEY=your-api-key
//! export SEVENOWAYS_BASE_URL=http://127.0.0.1:8080   # optional; default https://sevenoways.app
//! cargo run --example create_schedule -- number2 120363025246125888@g.us \
//!     "0 9 * * 1-5" Asia/Dubai "Good morning team! ☀️"
//! ```
//!
//! CRON has five fields, minute first (`*/30 * * * *` is every 30 minutes); the time
//! zone is an IANA name (`Europe/London`, `America/New_York`, `UTC`). Defaults:
//! `0 9 * * *`, `UTC`, "Good morning team! ☀️". The schedule list is printed afterwards.

use std::process::ExitCode;

use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
use sevenoways_sdk::{Client, Content, CronExpr, GroupTarget, TimeZone};

const USAGE: &str = "usage: cargo run --example create_schedule -- INSTANCE_ID GROUP_ID[,GROUP_ID...] [CRON] [TIMEZONE] [MESSAGE]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(instance), Some(groups)) = (args.first(), args.get(1)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let cron = args.get(2).map_or("0 9 * * *", String::as_str);
    let timezone = args.get(3).map_or("UTC", String::as_str);
    let message = args.get(4).map_or("Good morning team! ☀️", String::as_str);

    let client = match client_from_env() {
        Ok(client) => client,
        Err(code) => return code,
    };

    // A six-field cron or an unknown zone ("Mars/Base") is refused here, naming the field.
    let request = (|| {
        let cron: CronExpr = cron.parse()?;
        let timezone: TimeZone = timezone.parse()?;
        CreateScheduleRequest::new(
            instance.parse()?,
            "Created by the create_schedule example",
            cron,
            timezone,
            ScheduleTarget::Groups(GroupTarget::ids(groups.split(',').map(str::trim))?),
            Content::Text {
                message: message.try_into()?,
            },
        )
    })();
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };

    let created = match client.schedules().create(&request).await {
        Ok(created) => created.schedule,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("created schedule {}", created.id);
    match created.next_run_at {
        Some(next) => println!(
            "next run: {} UTC ({} {})",
            next.format("%Y-%m-%d %H:%M"),
            next.with_timezone(&created.spec.timezone.tz())
                .format("%Y-%m-%d %H:%M"),
            created.spec.timezone
        ),
        None => println!("the expression never matches again"),
    }

    match client.schedules().list().await {
        Ok(list) => {
            println!("\n{} schedule(s):", list.schedules.len());
            for s in &list.schedules {
                println!(
                    "  {}  {:<14} {:<18} {}",
                    s.id,
                    s.spec.cron_expr.as_str(),
                    s.spec.timezone.as_str(),
                    s.spec.label
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error listing schedules: {e}");
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
