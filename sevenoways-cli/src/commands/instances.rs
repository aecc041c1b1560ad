//! `svw instances list|create|delete|qr`.
//!
//! `qr` polls rather than printing once: pairing codes expire, so the code is fetched
//! again and redrawn in place until the number is online, and pairing is one command
//! instead of a loop the user runs by hand.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use sevenoways_sdk::models::instances::{
    CreateInstanceRequest, Engine, InstanceStatus, ListInstances,
};
use sevenoways_sdk::{InstanceId, PhoneNumberId, Success};

use super::{ListArgs, print_done, when};
use crate::context::Context;
use crate::exit::{Code, Failure};
use crate::printer::Table;

/// `svw instances`.
#[derive(Debug, Args)]
pub struct InstancesArgs {
    #[command(subcommand)]
    pub command: InstancesCommand,
}

/// The instance subcommands.
#[derive(Debug, Subcommand)]
pub enum InstancesCommand {
    /// List the instances of this API key
    List(ListArgs),
    /// Create an instance, then pair it with `svw instances qr ID`
    ///
    /// `--engine waha` links a real number by QR code through the server's WAHA;
    /// `--engine meta --phone-number-id ID` serves a number registered in Meta Business
    /// Manager through the Cloud API (no QR code; phone numbers only).
    Create {
        /// The id to give it, e.g. number2 (letters, digits, '_', '-', '.')
        id: InstanceId,
        /// A label for people, e.g. "Second Line" [default: the id]
        #[arg(long)]
        label: Option<String>,
        /// What serves the number: sandbox, waha or meta [default: the server's
        /// default_engine]
        #[arg(long, value_name = "ENGINE")]
        engine: Option<Engine>,
        /// The number's phone number id in Meta Business Manager (meta only; implies
        /// --engine meta)
        #[arg(long, value_name = "ID")]
        phone_number_id: Option<PhoneNumberId>,
    },
    /// Delete an instance (its number is unlinked)
    Delete {
        /// The instance id
        id: InstanceId,
    },
    /// Draw the pairing QR code in the terminal until the number is online
    ///
    /// Scan it in WhatsApp (Settings → Linked devices → Link a device). The code is
    /// fetched again every few seconds, so an expired one is replaced on screen, and the
    /// command ends when the instance comes online.
    Qr(QrArgs),
}

/// `svw instances qr`.
#[derive(Debug, Args)]
pub struct QrArgs {
    /// The instance id
    pub id: InstanceId,
    /// Print the current code once and exit, without waiting
    #[arg(long)]
    pub once: bool,
    /// Seconds between checks
    #[arg(long, value_name = "SECONDS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    /// Give up after this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
    /// Dark modules on a light background (for terminals with a light theme)
    #[arg(long)]
    pub light: bool,
}

/// `svw instances ...`.
pub async fn exec(args: InstancesArgs, ctx: &Context) -> Result<(), Failure> {
    let client = ctx.client()?;
    let api = client.instances();
    match args.command {
        InstancesCommand::List(page) => {
            let list = page.fetch(&client, ListInstances::default()).await?;
            // The engine column shows once a number is not a sandbox one: a sandbox-only
            // account's listing stays as it always was.
            let engines = list
                .instances
                .iter()
                .any(|i| i.engine.is_some_and(|e| e != Engine::Sandbox));
            let mut headers = vec!["ID", "LABEL", "STATUS", "PHONE", "CREATED"];
            if engines {
                headers.insert(3, "ENGINE");
            }
            let mut table = Table::new(&headers);
            for i in &list.instances {
                let mut row = vec![
                    i.instance_id.to_string(),
                    i.label.clone(),
                    i.status.as_str().to_owned(),
                    i.phone.clone().unwrap_or_default(),
                    when(&i.created_at),
                ];
                if engines {
                    row.insert(3, i.engine.unwrap_or_default().to_string());
                }
                table.row(row);
            }
            ctx.printer.listing(
                &Success(&list),
                table,
                "No instances yet; create one with `svw instances create ID`",
            );
            page.note_more(ctx, &list);
        }
        InstancesCommand::Create {
            id,
            label,
            engine,
            phone_number_id,
        } => {
            let label = label.unwrap_or_else(|| id.to_string());
            let mut req = CreateInstanceRequest::new(id, label);
            req.engine = engine;
            if let Some(pnid) = phone_number_id {
                req = match engine {
                    None | Some(Engine::Meta) => req.meta(pnid),
                    // Left as given: the request's own check names the conflict.
                    Some(_) => CreateInstanceRequest {
                        phone_number_id: Some(pnid),
                        ..req
                    },
                };
            }
            let created = api.create(&req).await?;
            let id = &created.instance.instance_id;
            let engine = created.instance.engine.unwrap_or_default();
            ctx.printer.item(&Success(&created), &[id.as_str()], |p| {
                p.success(format!(
                    "Created instance {id} ({}{})",
                    created.instance.status.as_str(),
                    if engine == Engine::Sandbox {
                        String::new()
                    } else {
                        format!(", {engine} engine")
                    }
                ));
                if engine == Engine::Meta {
                    p.out(
                        "A Cloud API number needs no pairing: it is registered in Meta Business \
                         Manager. Point the Meta app's webhook at the server's \
                         /engines/meta/webhook to get receipts.",
                    );
                    return;
                }
                p.out(format!("Pair it: svw instances qr {id}"));
                p.out(format!("or share: {}", created.qr_url));
                if let Some(pair_url) = &created.sandbox_pair_url {
                    p.out(format!(
                        "Sandbox: simulate the scan at {pair_url} (yours only: it pairs)"
                    ));
                }
            });
        }
        InstancesCommand::Delete { id } => {
            api.delete(&id).await?;
            print_done(ctx, format!("Deleted instance {id}"));
        }
        InstancesCommand::Qr(qr) => pair(&client, qr, ctx).await?,
    }
    Ok(())
}

/// Polls the QR endpoint, redrawing the code when it changes, until the number is online.
async fn pair(client: &sevenoways_sdk::Client, args: QrArgs, ctx: &Context) -> Result<(), Failure> {
    let p = &ctx.printer;
    let started = Instant::now();
    let mut shown: Option<String> = None;
    loop {
        let qr = client.instances().qr(&args.id).await?;
        let online = qr.status == InstanceStatus::Online;
        if p.is_json() {
            if shown.as_deref() != Some(qr.pairing_code.as_deref().unwrap_or(""))
                || online
                || args.once
            {
                p.json_line(&Success(&qr));
            }
        } else if online {
            p.success(format!("Instance {} is online", args.id));
        } else if let Some(code) = &qr.pairing_code
            && shown.as_deref() != Some(code)
        {
            let expires = qr.expires_at.map(|t| t.format("%H:%M:%S UTC").to_string());
            draw(ctx, &args, code, expires)?;
        }
        shown = Some(qr.pairing_code.clone().unwrap_or_default());
        if online || args.once {
            return Ok(());
        }
        if started.elapsed() >= Duration::from_secs(args.timeout) {
            return Err(Failure::new(
                Code::Api,
                format!(
                    "instance {} is still {} after {}s",
                    args.id,
                    qr.status.as_str(),
                    args.timeout
                ),
            )
            .hint(format!(
                "run `svw instances qr {}` again for a fresh code",
                args.id
            )));
        }
        tokio::time::sleep(Duration::from_secs(args.interval)).await;
    }
}

fn draw(ctx: &Context, args: &QrArgs, code: &str, expires: Option<String>) -> Result<(), Failure> {
    let p = &ctx.printer;
    let qr = QrCode::new(code.as_bytes()).map_err(|e| {
        Failure::api(format!(
            "the pairing code cannot be drawn as a QR code: {e}"
        ))
    })?;
    let mut renderer = qr.render::<Dense1x2>();
    renderer.quiet_zone(true);
    // Terminals are usually light text on dark: draw the light modules with the
    // foreground colour so the code reads the right way round.
    if !args.light {
        renderer
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark);
    }
    if p.is_quiet() {
        // The raw pairing string, for another renderer.
        p.out(code);
        return Ok(());
    }
    if p.stdout_is_terminal() {
        // A new code replaces the old one instead of scrolling the screen.
        p.out_raw(b"\x1b[2J\x1b[H");
    }
    p.out(renderer.build());
    p.out(format!(
        "Scan with WhatsApp → Settings → Linked devices → Link a device ({}{})",
        args.id,
        expires
            .map(|e| format!(", code expires {e}"))
            .unwrap_or_default()
    ));
    p.note("Waiting for the number to come online (Ctrl-C to stop)…");
    Ok(())
}
