//! `svw send --csv FILE`: one message per row, paced, resumable.
//!
//! Resuming rests on a journal beside the CSV (`FILE.svw-journal`): after the API accepts
//! a row, its number, recipient and queue id are appended and flushed to disk before the
//! next row is sent. A run that is killed, loses the network or is stopped by the server
//! is re-run with the same command, and every row in the journal is skipped.
//!
//! Two windows can leave a row queued without a queue id in the journal:
//!
//! - a kill between the API's answer and the journal write: the row is sent again on the
//!   re-run;
//! - an answer that does not say whether the row was queued, after the request was sent
//!   (a 5xx, a timeout, a connection broken after sending, an answer that cannot be
//!   decoded: [`Error::may_have_been_processed`]): the row is journaled as
//!   *uncertain*, the run stops, and re-runs skip it and say so. `svw queue status` or
//!   the recipient tells whether it arrived; `--retry-uncertain` sends it again.
//!
//! A failure that concerns one row (a bad phone number, an unknown group, a 400) is
//! written to the failed-rows CSV and the run goes on; a failure that would fail every
//! row alike (auth, network, a 5xx, a long rate-limit wait) stops the run at once.
//!
//! Ctrl-C stops the run after the row in flight, so that its answer reaches the journal.
//! A second Ctrl-C stops at once: a request it cuts short is journaled as uncertain, like
//! any other send whose answer never came, and the run still ends through [`exec`], so the
//! summary and the failed-rows CSV are written and `svw` exits with 130.
//!
//! [`exec`] goes in three steps: [`Plan::prepare`] reads and checks everything before the
//! first send (`sheet`, `template`, `journal`), [`Runner::run`] sends, and
//! [`Outcome::finish`] reports (`report`).

mod journal;
mod report;
mod sheet;
mod template;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sevenoways_sdk::{Client, Content, Error, InstanceId, Queued, Target, ValidationError};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

use self::journal::{Journal, Journaled};
use self::report::{Outcome, RowResult, failed_path, row_list};
use self::sheet::Sheet;
use self::template::fill;
use super::{Draft, SendArgs};
use crate::context::Context;
use crate::exit::Failure;
use crate::printer::Printer;

/// The longest `Retry-After` a bulk run sits out before stopping instead (a daily cap
/// answers with hours; a per-minute limit with seconds).
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(300);
/// Rate-limited answers in a row for one row before the run stops.
const MAX_RATE_LIMITED_TRIES: u32 = 5;

/// The bulk options of `svw send`.
#[derive(Debug, Clone, Args)]
pub struct BulkArgs {
    /// Send one message per row of this CSV file. A phone, groupId or group column says
    /// where each goes, and {{column}} in the content is replaced by the row's value
    #[arg(long, value_name = "FILE", help_heading = "Bulk",
          conflicts_with_all = ["group", "group_id", "all", "to", "community", "channel"])]
    pub csv: Option<PathBuf>,

    /// Sends per minute; the API allows 60 per API key
    #[arg(long, value_name = "N", default_value_t = 60, help_heading = "Bulk",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: u32,

    /// Where to write the rows that failed, with an error column [default: FILE.failed.csv]
    #[arg(long, value_name = "PATH", requires = "csv", help_heading = "Bulk")]
    pub failed_csv: Option<PathBuf>,

    /// Forget the journal of rows already sent, and send every row again
    #[arg(long, requires = "csv", help_heading = "Bulk")]
    pub restart: bool,

    /// Also send again the rows the journal marks uncertain: a server error, a timeout or
    /// a connection dropped after sending left it unknown whether they were queued
    /// [default: skip them]
    #[arg(
        long,
        requires = "csv",
        conflicts_with = "restart",
        help_heading = "Bulk"
    )]
    pub retry_uncertain: bool,
}

/// `svw send --csv FILE`.
pub async fn exec(csv: &Path, args: &SendArgs, ctx: &Context) -> Result<(), Failure> {
    let (plan, mut runner) = Plan::prepare(csv, args, ctx)?;
    let outcome = runner.run(&plan).await?;
    outcome.finish(&plan, &ctx.printer)
}

/// What a run sends, settled before the first send.
struct Plan {
    sheet: Sheet,
    /// The content with its `{{column}}` fields still in it.
    draft: Draft,
    /// What the journal says of earlier runs (nothing with --restart).
    earlier: Journaled,
    retry_uncertain: bool,
    /// The rows this run sends, in file order.
    pending: Vec<usize>,
    journal_path: PathBuf,
    failed_csv: PathBuf,
}

impl Plan {
    /// Reads the CSV, checks the content's fields against its columns, resolves the
    /// sender, and checks the journal against the CSV, in that order, so that nothing is
    /// sent before all of it is known to be right. Says which rows earlier runs leave out,
    /// and returns the runner that sends the rest, with the journal open for appending.
    fn prepare(csv: &Path, args: &SendArgs, ctx: &Context) -> Result<(Self, Runner), Failure> {
        let p = &ctx.printer;
        let sheet = Sheet::read(csv)?;
        let draft = args.content.draft()?;
        template::check_columns(&draft, &sheet, csv)?;
        let instance = ctx.instance()?;
        let client = ctx.client()?;

        let journal_path = Journal::path_for(csv);
        let earlier = if args.bulk.restart {
            Journaled::default()
        } else {
            Journal::read(&journal_path)?
        };
        let done = &earlier.sent;
        let uncertain = &earlier.uncertain;
        let mut journal_rows = done.clone();
        journal_rows.extend(uncertain.iter().map(|(r, to)| (*r, to.clone())));
        sheet.check_journal(&journal_rows).map_err(|(row, was, now)| {
            Failure::usage(format!(
                "{} does not match {}: row {row} was sent to {was}, the file now has {now}",
                journal_path.display(),
                csv.display(),
            ))
            .hint("the CSV changed since the last run: pass --restart to send every row again, or restore the file")
        })?;
        let journal = Journal::open(&journal_path, args.bulk.restart)?;
        let retry_uncertain = args.bulk.retry_uncertain;
        let pending: Vec<usize> = (1..=sheet.rows.len())
            .filter(|r| !done.contains_key(r) && (retry_uncertain || !uncertain.contains_key(r)))
            .collect();
        let plan = Plan {
            sheet,
            draft,
            earlier,
            retry_uncertain,
            pending,
            journal_path,
            failed_csv: args
                .bulk
                .failed_csv
                .clone()
                .unwrap_or_else(|| failed_path(csv)),
        };
        plan.announce(p);
        let runner = Runner::new(
            client,
            instance,
            journal,
            p,
            args.bulk.rate,
            plan.pending.len(),
        );
        Ok((plan, runner))
    }

    /// Says which rows earlier runs leave out, before the progress bar starts.
    fn announce(&self, p: &Printer) {
        let done = &self.earlier.sent;
        let uncertain = &self.earlier.uncertain;
        let retry_uncertain = self.retry_uncertain;
        let journal_path = &self.journal_path;
        if !done.is_empty() {
            p.info(format!(
                "Skipping {} row(s) already sent (journal {})",
                done.len(),
                journal_path.display()
            ));
        }
        if !uncertain.is_empty() {
            let rows = row_list(uncertain.keys());
            if retry_uncertain {
                p.info(format!(
                    "Sending again {} row(s) that may already have been queued (--retry-uncertain): {rows}",
                    uncertain.len()
                ));
            } else {
                p.warn(format!(
                    "skipping {} row(s) that may already have been queued (a server error, a timeout \
                     or a dropped connection left it unknown): {rows}; check them with \
                     `svw queue status` or the recipients, and pass --retry-uncertain to send them \
                     again",
                    uncertain.len()
                ));
            }
        }
    }

    /// Rows an earlier run left uncertain that this run leaves alone.
    fn skipped_uncertain(&self) -> usize {
        if self.retry_uncertain {
            0
        } else {
            self.earlier.uncertain.len()
        }
    }

    /// Row `row`'s recipient, how to show it, and its content with the fields filled in.
    fn message(&self, row: usize) -> Result<(Target, String, Content), ValidationError> {
        let record = &self.sheet.rows[row - 1];
        let value = |name: &str| {
            self.sheet
                .column(name)
                .and_then(|i| record.get(i))
                .unwrap_or_default()
                .to_owned()
        };
        self.sheet.recipient(record).and_then(|(target, to)| {
            Ok((target, to, self.draft.map(|t| fill(t, value)).content()?))
        })
    }
}

/// Sends a plan's rows at `--rate`, journaling each answer before the next send.
struct Runner {
    client: Client,
    instance: InstanceId,
    journal: Journal,
    /// Ticks once per send.
    pace: Interval,
    bar: ProgressBar,
    printer: Printer,
    stop: watch::Receiver<Stop>,
}

/// How one row's send ended.
enum Sent {
    /// The API answered, or the request failed on its own.
    Answer(Result<Queued, Error>),
    /// A second Ctrl-C cut the request short: it may have reached the server.
    CutShort,
    /// A second Ctrl-C came while a rate limit was waited out: nothing was queued.
    Abandoned,
}

impl Runner {
    /// A runner for `rows` rows at `rate` a minute, watching for Ctrl-C from now on.
    fn new(
        client: Client,
        instance: InstanceId,
        journal: Journal,
        printer: &Printer,
        rate: u32,
        rows: usize,
    ) -> Self {
        let bar = progress_bar(printer, rows as u64);
        let stop = watch_ctrl_c(bar.clone());
        let mut pace = tokio::time::interval(Duration::from_secs_f64(60.0 / f64::from(rate)));
        pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            client,
            instance,
            journal,
            pace,
            bar,
            printer: *printer,
            stop,
        }
    }

    /// Sends every pending row, until the last, a failure that would fail every row
    /// alike ([`stops_the_run`]), or Ctrl-C. An `Err` only when the journal cannot be
    /// written: the run must not go on without it.
    async fn run(&mut self, plan: &Plan) -> Result<Outcome, Failure> {
        let mut results: Vec<RowResult> = Vec::new();
        let mut stopped: Option<Failure> = None;
        for &row in &plan.pending {
            let (target, to, content) = match plan.message(row) {
                Ok(ready) => ready,
                Err(e) => {
                    let message = format!("invalid request: {e}");
                    self.warn(format!("row {row}: {message}"));
                    let shown = plan.sheet.shown(&plan.sheet.rows[row - 1]);
                    results.push(RowResult::failed(row, shown, message));
                    self.bar.inc(1);
                    continue;
                }
            };
            tokio::select! {
                _ = self.pace.tick() => {}
                () = quit_now(&mut self.stop) => break,
            }
            // Checked after the wait, so that Ctrl-C during it sends nothing more.
            if *self.stop.borrow() != Stop::Running {
                break;
            }
            match self.send_row(row, target, content).await {
                Sent::Answer(Ok(queued)) => {
                    self.journal.record(row, &to, queued.queue_id)?;
                    results.push(RowResult {
                        row,
                        to,
                        queue_id: Some(queued.queue_id),
                        error: None,
                        uncertain: false,
                    });
                }
                Sent::Answer(Err(err)) => {
                    let stop = stops_the_run(&err);
                    // Sent, and the answer (if any) does not say whether the row was queued:
                    // a timeout, a connection broken after sending, a 5xx, an undecodable 2xx.
                    // A connection refused sent nothing: a plain failure that a re-run retries.
                    let maybe_queued = err.may_have_been_processed();
                    let failure = Failure::from(err);
                    let mut result = RowResult::failed(row, to, failure.message.clone());
                    if maybe_queued {
                        self.journal.record_uncertain(row, &result.to)?;
                        result.uncertain = true;
                        result.error = Some(format!("{} (may have been queued)", failure.message));
                    }
                    self.warn_row(&result);
                    results.push(result);
                    if stop {
                        stopped = Some(failure);
                        break;
                    }
                }
                Sent::CutShort => {
                    self.journal.record_uncertain(row, &to)?;
                    let mut result = RowResult::failed(
                        row,
                        to,
                        "interrupted while sending (may have been queued)".into(),
                    );
                    result.uncertain = true;
                    self.warn_row(&result);
                    results.push(result);
                    break;
                }
                Sent::Abandoned => break,
            }
            self.bar.inc(1);
        }
        self.bar.finish_and_clear();
        Ok(Outcome {
            results,
            stopped,
            interrupted: *self.stop.borrow() != Stop::Running,
        })
    }

    /// Sends one row, sitting out rate limits the SDK gave up on (up to a few minutes each).
    async fn send_row(&mut self, row: usize, target: Target, content: Content) -> Sent {
        let mut tries = 1;
        loop {
            let result = tokio::select! {
                result = self.client.send_message(self.instance.clone(), target.clone(), content.clone()) => result,
                () = quit_now(&mut self.stop) => return Sent::CutShort,
            };
            let wait = match &result {
                Err(Error::RateLimited { retry_after, .. }) if tries < MAX_RATE_LIMITED_TRIES => {
                    retry_after.unwrap_or(Duration::from_secs(60))
                }
                _ => return Sent::Answer(result),
            };
            if wait > MAX_RATE_LIMIT_WAIT {
                return Sent::Answer(result);
            }
            tries += 1;
            let p = &self.printer;
            self.bar.suspend(|| {
                p.info(format!(
                    "Rate limited at row {row}: waiting {}s",
                    wait.as_secs()
                ))
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = quit_now(&mut self.stop) => return Sent::Abandoned,
            }
            self.pace.reset();
        }
    }

    /// A warning on stderr, between redraws of the progress bar.
    fn warn(&self, message: String) {
        self.bar.suspend(|| self.printer.warn(message));
    }

    fn warn_row(&self, result: &RowResult) {
        self.warn(format!(
            "row {} ({}): {}",
            result.row,
            result.to,
            result.error.as_deref().unwrap_or_default()
        ));
    }
}

/// Whether an error would fail every remaining row alike, so the run should stop.
fn stops_the_run(err: &Error) -> bool {
    match err {
        Error::Unauthorized { .. } | Error::RateLimited { .. } => true,
        Error::Timeout(_) | Error::Transport { .. } | Error::Decode { .. } => true,
        Error::Api { status, .. } => *status == 403 || *status >= 500,
        _ => false,
    }
}

fn progress_bar(p: &Printer, len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), p.progress_target());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} rows · {elapsed} · ETA {eta} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// How far Ctrl-C has asked the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Running,
    /// Once: after the row in flight.
    AfterRow,
    /// Twice: now.
    Now,
}

/// Watches for Ctrl-C, for the whole run. The first one is acknowledged on the progress
/// bar (a hidden bar prints nothing).
fn watch_ctrl_c(bar: ProgressBar) -> watch::Receiver<Stop> {
    let (tx, rx) = watch::channel(Stop::Running);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tx.send_replace(Stop::AfterRow);
            bar.println("Stopping after the current row (Ctrl-C again to quit now)");
            if tokio::signal::ctrl_c().await.is_ok() {
                tx.send_replace(Stop::Now);
            }
        }
    });
    rx
}

/// Resolves on the second Ctrl-C; never when Ctrl-C cannot be watched.
async fn quit_now(stop: &mut watch::Receiver<Stop>) {
    if stop.wait_for(|s| *s == Stop::Now).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_sits_beside_the_csv_and_failed_rows_too() {
        assert_eq!(
            Journal::path_for(Path::new("/x/orders.csv")),
            PathBuf::from("/x/orders.csv.svw-journal")
        );
        assert_eq!(
            failed_path(Path::new("/x/orders.csv")),
            PathBuf::from("/x/orders.failed.csv")
        );
    }
}
