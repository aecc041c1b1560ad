//! `svw schedules list|create|delete`.
//!
//! `create` takes the group, phone and content flags of `svw send` (the same
//! `GroupTargetArgs` and `ContentArgs`), so a scheduled message is written exactly as it
//! would be sent now.

use clap::{Args, Subcommand};
use sevenoways_sdk::models::schedules::{
    CreateScheduleRequest, ListSchedules, Schedule, ScheduleTarget,
};
use sevenoways_sdk::{CronExpr, Phone, ScheduleId, Success, TimeZone};

use super::send::{ContentArgs, GroupTargetArgs, parse_phone};
use super::{ListArgs, print_done, when};
use crate::context::Context;
use crate::exit::Failure;
use crate::printer::Table;

const EXAMPLES: &str = "\
Examples:
  svw schedules create --label \"Daily Morning Update\" --cron \"0 9 * * *\" \\
      --timezone Asia/Dubai --group-id 120363025246125888@g.us --message \"Good morning team!\"
  svw schedules create --cron \"0 9 * * 1-5\" --to 971501234567 --message-file reminder.txt

Cron has five fields, minute first: \"0 9 * * 1\" Mondays 09:00, \"0 8,17 * * *\" 08:00 and
17:00, \"*/30 * * * *\" every 30 minutes, \"0 9 1 * *\" the 1st of the month at 09:00.";

/// `svw schedules`.
#[derive(Debug, Args)]
pub struct SchedulesArgs {
    #[command(subcommand)]
    pub command: SchedulesCommand,
}

/// The schedule subcommands.
#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// List schedules with their next run (or since when they are paused)
    List(ListArgs),
    /// Send a message on a cron schedule, from the sending instance
    #[command(after_long_help = EXAMPLES)]
    Create(Box<CreateArgs>),
    /// Delete a schedule
    Delete {
        /// The schedule id (sch_…)
        id: ScheduleId,
    },
    /// Resume a schedule paused after repeated runs over the plan's message cap
    Resume {
        /// The schedule id (sch_…)
        id: ScheduleId,
    },
}

/// `svw schedules create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Five-field cron expression, minute first, e.g. "0 9 * * 1-5"
    #[arg(long, value_name = "EXPR")]
    pub cron: CronExpr,
    /// IANA time zone the cron fields are read in, e.g. Asia/Dubai
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub timezone: TimeZone,
    /// A label for people, e.g. "Daily Morning Update"
    #[arg(long, default_value = "")]
    pub label: String,
    #[command(flatten)]
    pub groups: GroupTargetArgs,
    /// Phone number, country code first, instead of groups
    #[arg(long, value_name = "PHONE", value_parser = parse_phone,
          conflicts_with_all = ["group", "group_id", "all"], help_heading = "Recipients")]
    pub to: Option<Phone>,
    #[command(flatten)]
    pub content: ContentArgs,
}

/// `svw schedules ...`.
pub async fn exec(args: SchedulesArgs, ctx: &Context) -> Result<(), Failure> {
    let p = &ctx.printer;
    match args.command {
        SchedulesCommand::List(page) => {
            let list = page.fetch(&ctx.client()?, ListSchedules::default()).await?;
            let mut table = Table::new(&["ID", "LABEL", "CRON", "TIMEZONE", "TO", "NEXT RUN"]);
            for s in &list.schedules {
                table.row([
                    s.id.to_string(),
                    s.spec.label.clone(),
                    s.spec.cron_expr.to_string(),
                    s.spec.timezone.to_string(),
                    recipients(s),
                    next_run(s),
                ]);
            }
            p.listing(
                &Success(&list),
                table,
                "No schedules; create one with `svw schedules create`",
            );
            page.note_more(ctx, &list);
            if let Some(paused) = list.schedules.iter().find(|s| s.is_paused()) {
                p.note(format!(
                    "Paused schedules skipped their runs over the plan's message cap; resume one with `svw schedules resume {}`",
                    paused.id
                ));
            }
        }
        SchedulesCommand::Create(c) => {
            let target = match (&c.to, c.groups.target()?) {
                (Some(phone), _) => ScheduleTarget::Phone(phone.clone()),
                (None, Some(groups)) => ScheduleTarget::Groups(groups),
                (None, None) => {
                    return Err(Failure::usage("no recipients given")
                        .hint("pass --to PHONE, --group NAME, --group-id ID or --all"));
                }
            };
            let content = c
                .content
                .draft()?
                .content()
                .map_err(sevenoways_sdk::Error::from)?;
            let instance = ctx.instance()?;
            let req =
                CreateScheduleRequest::new(instance, c.label, c.cron, c.timezone, target, content)
                    .map_err(sevenoways_sdk::Error::from)?;
            let created = ctx.client()?.schedules().create(&req).await?;
            let s = &created.schedule;
            p.item(&Success(&created), &[s.id.as_str()], |p| {
                let next = s
                    .next_run_at
                    .as_ref()
                    .map(when)
                    .unwrap_or_else(|| "never".into());
                p.success(format!(
                    "Created schedule {} ({} {}); next run {next}",
                    s.id, s.spec.cron_expr, s.spec.timezone
                ));
            });
        }
        SchedulesCommand::Delete { id } => {
            ctx.client()?.schedules().delete(&id).await?;
            print_done(ctx, format!("Deleted schedule {id}"));
        }
        SchedulesCommand::Resume { id } => {
            let resumed = ctx.client()?.schedules().resume(&id).await?;
            let s = &resumed.schedule;
            p.item(&Success(&resumed), &[s.id.as_str()], |p| {
                p.success(format!(
                    "Schedule {} runs again; next run {}",
                    s.id,
                    next_run(s)
                ));
            });
        }
    }
    Ok(())
}

/// When a schedule runs next, or that it is paused.
fn next_run(s: &Schedule) -> String {
    if let Some(at) = &s.paused_at {
        return format!("paused since {}", when(at));
    }
    s.next_run_at
        .as_ref()
        .map(when)
        .unwrap_or_else(|| "never".into())
}

/// Who a schedule sends to, in a few words.
fn recipients(s: &Schedule) -> String {
    let spec = &s.spec;
    if let Some(phone) = &spec.phone {
        return phone.to_string();
    }
    if spec.send_all {
        return "all groups".into();
    }
    let ids = spec.group_ids.iter().map(|g| g.to_string());
    let names = spec.groups.iter().map(|g| format!("\"{g}\""));
    ids.chain(names).collect::<Vec<_>>().join(", ")
}
