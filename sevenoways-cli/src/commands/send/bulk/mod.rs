//! `svw send --csv FILE`: one message per row, paced, resumable, each row sent exactly once.
//!
//! Two things make a re-run of a half-finished run send every row exactly once:
//!
//! - **The journal** beside the CSV (`FILE.svw-journal`) says what the run is (the server,
//!   the instance, the message template, the CSV's SHA-256 and a run id) and, after the
//!   API accepts a row, its number, recipient and queue id, flushed to disk before the
//!   next row is sent. A re-run of the same command skips those rows. A re-run that
//!   differs in any of what the run is (another file content, template, instance or
//!   server) is refused, naming the difference, with exit 2: it never skips rows of a
//!   run it is not. `--restart` starts a new run.
//! - **A stable `Idempotency-Key` per row**, a hash of the run and the row number
//!   ([`journal::Run::row_key`]). The rows a journal cannot know about, because their
//!   answer was lost (a 5xx, a timeout, a connection dropped after sending, a kill between
//!   the answer and the journal write, a second Ctrl-C), are sent again with the same key,
//!   and the server answers a key it has seen with its first answer instead of queuing
//!   the row again (for 24 hours). So there is no "maybe sent" row to check by hand.
//!
//! A failure that concerns one row (a bad phone number, an unknown group, a 400) is
//! written to the failed-rows CSV and the run goes on; a failure that would fail every
//! row alike (auth, network, a 5xx, a long rate-limit wait) stops the run at once. The SDK
//! has already retried what can be retried (with the row's key) by then.
//!
//! Ctrl-C stops the run after the row in flight, so that its answer reaches the journal.
//! A second Ctrl-C stops at once; the run still ends through [`exec`], so the summary and
//! the failed-rows CSV are written and `svw` exits with 130.
//!
//! [`exec`] goes in three steps: [`Plan::prepare`] reads and checks everything before the
//! first send (`sheet`, `template`, `journal`), [`Runner::run`] sends, and
//! [`Outcome::finish`] reports (`report`).

mod journal;
mod report;
mod sheet;
mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sevenoways_sdk::{
    Client, Content, Error, IdempotencyKey, InstanceId, Queued, Target, ValidationError,
};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

use self::journal::{Journal, Run};
use self::report::{Outcome, RowResult, failed_path};
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

    /// Start a new run: forget the journal of rows already sent, and send every row again
    #[arg(long, requires = "csv", help_heading = "Bulk")]
    pub restart: bool,

    /// Name the run. Each row is sent with an Idempotency-Key made from the run, the file
    /// and the row, so the server queues a row once however often it is sent; the same
    /// run id resumes a run even where its journal is lost (another machine) [default: the
    /// journal's, or a new one]
    #[arg(long, value_name = "ID", requires = "csv", value_parser = parse_run_id,
          help_heading = "Bulk")]
    pub run_id: Option<String>,
}

fn parse_run_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    if ok && s.trim() == s {
        Ok(s.to_owned())
    } else {
        Err(
            "expected 1 to 100 printable ASCII characters, not starting or ending with a space"
                .into(),
        )
    }
}

/// `svw send --csv FILE`.
pub async fn exec(csv: &Path, args: &SendArgs, ctx: &Context) -> Result<(), Failure> {
    let (plan, mut runner) = Plan::prepare(csv, args, ctx)?;
    let outcome = runner.run(&plan).await?;
    outcome.finish(&plan, &ctx.printer)
}

/// What a run sends, settled before the first send.
struct Plan {
    csv: PathBuf,
    sheet: Sheet,
    /// The content with its `{{column}}` fields still in it.
    draft: Draft,
    /// What the run is, as its journal records it.
    run: Run,
    /// Rows an earlier pass of this run sent (none for a new run), with their recipient.
    earlier: BTreeMap<usize, String>,
    /// The rows this pass sends, in file order.
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
            None
        } else {
            Journal::read(&journal_path)?
        };
        let this_run = |run_id: String| Run {
            run_id,
            server: client.base_url().to_owned(),
            instance: instance.to_string(),
            template: (&draft).into(),
            csv_sha256: sheet.sha256.clone(),
        };
        let (run, earlier, start) = match earlier {
            Some(journaled) => {
                let run_id = args.bulk.run_id.clone();
                let now = this_run(run_id.unwrap_or_else(|| journaled.run.run_id.clone()));
                let differences = journaled.run.differences(&now, csv);
                if !differences.is_empty() {
                    return Err(Failure::usage(format!(
                        "{} is the journal of another run: {}",
                        journal_path.display(),
                        differences.join("; ")
                    ))
                    .hint("to resume that run, run it as it was; to start a new run that sends every row, pass --restart (the journal is started over)"));
                }
                (journaled.run, journaled.sent, false)
            }
            None => {
                let run_id = args.bulk.run_id.clone();
                let run =
                    this_run(run_id.unwrap_or_else(|| IdempotencyKey::generate().to_string()));
                (run, BTreeMap::new(), true)
            }
        };
        let journal = Journal::open(&journal_path, &run, start)?;
        let pending: Vec<usize> = (1..=sheet.rows.len())
            .filter(|r| !earlier.contains_key(r))
            .collect();
        let plan = Plan {
            csv: csv.to_owned(),
            sheet,
            draft,
            run,
            earlier,
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

    /// Says which rows earlier passes of the run leave out, before the progress bar starts.
    fn announce(&self, p: &Printer) {
        if !self.earlier.is_empty() {
            p.info(format!(
                "Resuming run {}: skipping {} row(s) already sent (journal {})",
                self.run.run_id,
                self.earlier.len(),
                self.journal_path.display()
            ));
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
    /// A second Ctrl-C cut the request short: it may have reached the server, and a re-run
    /// sends it again with the same key.
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
            match self.send_row(row, &plan.run, target, content).await {
                Sent::Answer(Ok(queued)) => {
                    self.journal.record(row, &to, queued.queue_id)?;
                    results.push(RowResult {
                        row,
                        to,
                        queue_id: Some(queued.queue_id),
                        error: None,
                        resent_by_rerun: false,
                    });
                }
                Sent::Answer(Err(err)) => {
                    let stop = stops_the_run(&err);
                    // Sent, and the answer (if any) does not say whether the row was queued
                    // (the SDK's retries ran out): the re-run sends it with the same key,
                    // which the server answers without queuing it twice.
                    let maybe_queued = err.may_have_been_processed();
                    let failure = Failure::from(err);
                    let mut result = RowResult::failed(row, to, failure.message.clone());
                    result.resent_by_rerun = maybe_queued;
                    self.warn_row(&result);
                    results.push(result);
                    if stop {
                        stopped = Some(failure);
                        break;
                    }
                }
                Sent::CutShort => {
                    let mut result = RowResult::failed(row, to, "interrupted while sending".into());
                    result.resent_by_rerun = true;
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

    /// Sends one row with its Idempotency-Key, sitting out rate limits the SDK gave up on
    /// (up to a few minutes each).
    async fn send_row(&mut self, row: usize, run: &Run, target: Target, content: Content) -> Sent {
        let key = run.row_key(row);
        let mut tries = 1;
        loop {
            let send = self
                .client
                .send_message(self.instance.clone(), target.clone(), content.clone())
                .idempotency_key(&key);
            let result = tokio::select! {
                result = send => result,
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
