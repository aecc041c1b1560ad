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

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sevenoways_sdk::{
    Client, Content, Error, GroupTarget, InstanceId, Phone, QueueId, Queued, Target,
    ValidationError,
};

use super::{SendArgs, deliver};
use crate::context::Context;
use crate::exit::{Code, Failure};
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

/// Which column says where a row goes.
#[derive(Debug, Clone, Copy, Default)]
struct Columns {
    phone: Option<usize>,
    group_id: Option<usize>,
    group: Option<usize>,
}

struct Sheet {
    header: csv::StringRecord,
    rows: Vec<csv::StringRecord>,
    columns: Columns,
    by_name: HashMap<String, usize>,
}

impl Sheet {
    fn read(path: &Path) -> Result<Self, Failure> {
        let bad = |e: csv::Error| {
            Failure::usage(format!("cannot read {}: {e}", path.display()))
                .hint("the file must be UTF-8 CSV with a header row and the same number of fields on every row")
        };
        let bytes = std::fs::read(path).map_err(|e| bad(e.into()))?;
        // The csv crate ends a quoted field left open at the end of the file as if it were
        // closed (csv-core has no error for it), so one stray quote would silently merge
        // every row after it into one field: look for it first.
        if let Some(line) = unclosed_quote(&bytes) {
            return Err(Failure::usage(format!(
                "cannot read {}: the quote opened on line {line} is never closed",
                path.display()
            ))
            .hint("close the quote, or double a quote that is part of a value (\"\"), as CSV writes it"));
        }
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        let mut header = reader.headers().map_err(bad)?.clone();
        // Spreadsheet exports often start with a byte-order mark, which is not part of the name.
        if let Some(first) = header.get(0).and_then(|h| h.strip_prefix('\u{feff}')) {
            let mut fields: Vec<String> = header.iter().map(str::to_owned).collect();
            fields[0] = first.to_owned();
            header = csv::StringRecord::from(fields);
        }
        let rows = reader
            .records()
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let mut columns = Columns::default();
        let mut by_name = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            by_name.entry(name.to_owned()).or_insert(i);
            let folded: String = name
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase();
            by_name.entry(name.to_lowercase()).or_insert(i);
            match folded.as_str() {
                "phone" | "phonenumber" | "mobile" | "number" | "to" => {
                    columns.phone = columns.phone.or(Some(i));
                }
                "groupid" => columns.group_id = columns.group_id.or(Some(i)),
                "group" => columns.group = columns.group.or(Some(i)),
                _ => {}
            }
        }
        if columns.phone.is_none() && columns.group_id.is_none() && columns.group.is_none() {
            return Err(Failure::usage(format!(
                "{} has no phone, groupId or group column (its columns: {})",
                path.display(),
                header.iter().collect::<Vec<_>>().join(", ")
            ))
            .hint("name the recipient column phone (or phoneNumber, mobile, number, to: digits, country code first), groupId (…@g.us) or group (a group name)"));
        }
        if rows.is_empty() {
            return Err(Failure::usage(format!(
                "{} has no rows under its header",
                path.display()
            )));
        }
        Ok(Self {
            header,
            rows,
            columns,
            by_name,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.by_name
            .get(name)
            .or_else(|| self.by_name.get(&name.to_lowercase()))
            .copied()
    }

    /// The row's recipient cell as written, for rows that could not be read.
    fn shown(&self, row: &csv::StringRecord) -> String {
        let c = self.columns;
        c.phone
            .or(c.group_id)
            .or(c.group)
            .and_then(|i| row.get(i))
            .unwrap_or_default()
            .to_owned()
    }

    /// Checks that each journaled row still goes where it went; else `(row, was, now)`.
    fn check_journal(&self, done: &BTreeMap<usize, String>) -> Result<(), (usize, String, String)> {
        for (&row, was) in done {
            let now = self
                .rows
                .get(row.wrapping_sub(1))
                .and_then(|r| self.recipient(r).ok())
                .map(|(_, to)| one_field(&to));
            if now.as_deref() != Some(was.as_str()) {
                return Err((
                    row,
                    was.clone(),
                    now.unwrap_or_else(|| "no such row".into()),
                ));
            }
        }
        Ok(())
    }

    /// The row's recipient, and how to show it: the first non-empty of phone, groupId, group.
    fn recipient(&self, row: &csv::StringRecord) -> Result<(Target, String), ValidationError> {
        let cell = |c: Option<usize>| {
            c.and_then(|i| row.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = cell(self.columns.phone) {
            let phone = Phone::normalize(v)?;
            let shown = phone.to_string();
            return Ok((Target::Phone(phone), shown));
        }
        if let Some(v) = cell(self.columns.group_id) {
            return Ok((Target::Groups(GroupTarget::ids([v])?), v.to_owned()));
        }
        if let Some(v) = cell(self.columns.group) {
            return Ok((Target::Groups(GroupTarget::names([v])?), v.to_owned()));
        }
        Err(ValidationError::new(
            "phone",
            "the row has no phone, groupId or group value",
        ))
    }
}

/// The line on which a quoted field opens that is still open at the end of `bytes`, read
/// by the rules `csv::Reader` uses by default (`"` quotes at the start of a field, `""`
/// inside one, no escape character).
fn unclosed_quote(bytes: &[u8]) -> Option<usize> {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut state = State::FieldStart;
    let (mut line, mut opened) = (1, 1);
    for &b in bytes {
        let ends_field = matches!(b, b',' | b'\n' | b'\r');
        state = match state {
            State::FieldStart if b == b'"' => {
                opened = line;
                State::Quoted
            }
            State::Quoted if b == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if b == b'"' => State::Quoted,
            _ if ends_field => State::FieldStart,
            _ => State::Unquoted,
        };
        if b == b'\n' {
            line += 1;
        }
    }
    (state == State::Quoted).then_some(opened)
}

/// The `{{name}}` fields of a template, in order.
fn fields(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    fill(template, |name| {
        out.push(name.to_owned());
        String::new()
    });
    out
}

/// The template with each `{{name}}` replaced by `value(name)`; everything else untouched.
fn fill(template: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&value(rest[start + 2..start + 2 + len].trim()));
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A recipient as the journal stores it: one tab-separated field.
fn one_field(to: &str) -> String {
    to.replace(['\t', '\n', '\r'], " ")
}

/// What the journal says of earlier runs: rows by number, with the recipient they went to.
#[derive(Debug, Default)]
struct Journaled {
    /// Rows the API accepted.
    sent: BTreeMap<usize, String>,
    /// Rows sent without a clear answer (a 5xx, a timeout, a connection dropped after
    /// sending, an undecodable answer): they may have been queued.
    uncertain: BTreeMap<usize, String>,
}

/// What the journal's third field holds for an uncertain row, instead of a queue id.
const UNCERTAIN: &str = "uncertain";

/// The journal: rows already accepted, by row number, with the recipient they went to.
struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    fn path_for(csv: &Path) -> PathBuf {
        let mut name = csv.as_os_str().to_owned();
        name.push(".svw-journal");
        PathBuf::from(name)
    }

    fn read(path: &Path) -> Result<Journaled, Failure> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Journaled::default()),
            Err(e) => {
                return Err(Failure::usage(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let mut journaled = Journaled::default();
        for line in BufReader::new(file).lines() {
            let line =
                line.map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            let mut parts = line.split('\t');
            // A torn last line (killed mid-write) lacks its queue id: that row is not recorded.
            let (Some(row), Some(to), Some(outcome)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(row) = row.parse::<usize>() else {
                continue;
            };
            if outcome.parse::<u64>().is_ok() {
                // A row retried with --retry-uncertain and accepted is sent.
                journaled.uncertain.remove(&row);
                journaled.sent.insert(row, to.to_owned());
            } else if outcome == UNCERTAIN && !journaled.sent.contains_key(&row) {
                journaled.uncertain.insert(row, to.to_owned());
            }
        }
        Ok(journaled)
    }

    fn open(path: &Path, restart: bool) -> Result<Self, Failure> {
        let fail =
            |e: std::io::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
        let mut options = OpenOptions::new();
        if restart {
            options.write(true).truncate(true);
        } else {
            options.append(true);
        }
        let mut file = options.create(true).read(true).open(path).map_err(fail)?;
        let len = file.metadata().map_err(fail)?.len();
        if len > 0 {
            // Start on a fresh line after a line torn by a kill, so the next record parses.
            let mut last = [0u8];
            file.seek(SeekFrom::Start(len - 1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(fail)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(fail)?;
            }
        } else {
            writeln!(
                file,
                "# svw send --csv journal: rows the API accepted (row, recipient, queue id), and \
                 rows that may have been queued (row, recipient, \"{UNCERTAIN}\"). Re-runs skip \
                 both; --retry-uncertain sends the uncertain ones again, and deleting this file \
                 or --restart sends every row again."
            )
            .map_err(fail)?;
        }
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// Records an accepted row, on disk before the next row is sent.
    fn record(&mut self, row: usize, to: &str, queue_id: QueueId) -> Result<(), Failure> {
        self.write(row, to, &queue_id.to_string()).map_err(|e| {
            Failure::usage(format!("cannot write {}: {e}", self.path.display()))
                .hint(format!("row {row} was sent (queue id {queue_id}) but is not in the journal: remove it from the CSV before re-running"))
        })
    }

    /// Records a row that may have been queued, so that a re-run does not send it blindly.
    fn record_uncertain(&mut self, row: usize, to: &str) -> Result<(), Failure> {
        self.write(row, to, UNCERTAIN).map_err(|e| {
            Failure::usage(format!("cannot write {}: {e}", self.path.display()))
                .hint(format!("row {row} may have been queued but is not in the journal: check `svw queue status`, and remove it from the CSV before re-running if it was"))
        })
    }

    fn write(&mut self, row: usize, to: &str, outcome: &str) -> std::io::Result<()> {
        let line = format!("{row}\t{}\t{outcome}\n", one_field(to));
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RowResult {
    row: usize,
    to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_id: Option<QueueId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Sent, but the answer did not say whether it was queued.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    uncertain: bool,
}

impl RowResult {
    fn failed(row: usize, to: String, error: String) -> Self {
        Self {
            row,
            to,
            queue_id: None,
            error: Some(error),
            uncertain: false,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    success: bool,
    total: usize,
    sent: usize,
    skipped: usize,
    /// Rows an earlier run left uncertain, skipped without --retry-uncertain.
    skipped_uncertain: usize,
    failed: usize,
    /// Rows of this run that may have been queued (also counted in `failed`).
    uncertain: usize,
    not_attempted: usize,
    journal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_csv: Option<String>,
    results: &'a [RowResult],
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

/// `svw send --csv FILE`.
pub async fn exec(csv_path: &Path, args: &SendArgs, ctx: &Context) -> Result<(), Failure> {
    let p = &ctx.printer;
    let sheet = Sheet::read(csv_path)?;
    let draft = args.content.draft()?;
    let unknown: Vec<String> = draft
        .texts()
        .into_iter()
        .flat_map(fields)
        .filter(|f| sheet.column(f).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(Failure::usage(format!(
            "no column named {} in {} (its columns: {})",
            unknown
                .iter()
                .map(|f| format!("{{{{{f}}}}}"))
                .collect::<Vec<_>>()
                .join(", "),
            csv_path.display(),
            sheet.header.iter().collect::<Vec<_>>().join(", ")
        ))
        .hint("{{name}} fields must match a header of the CSV"));
    }
    let instance = ctx.instance()?;
    let client = ctx.client()?;

    let journal_path = Journal::path_for(csv_path);
    let journaled = if args.bulk.restart {
        Journaled::default()
    } else {
        Journal::read(&journal_path)?
    };
    let done = &journaled.sent;
    let uncertain = &journaled.uncertain;
    let mut journal_rows = done.clone();
    journal_rows.extend(uncertain.iter().map(|(r, to)| (*r, to.clone())));
    sheet.check_journal(&journal_rows).map_err(|(row, was, now)| {
        Failure::usage(format!(
            "{} does not match {}: row {row} was sent to {was}, the file now has {now}",
            journal_path.display(),
            csv_path.display(),
        ))
        .hint("the CSV changed since the last run: pass --restart to send every row again, or restore the file")
    })?;
    let mut journal = Journal::open(&journal_path, args.bulk.restart)?;
    let retry_uncertain = args.bulk.retry_uncertain;
    let pending: Vec<usize> = (1..=sheet.rows.len())
        .filter(|r| !done.contains_key(r) && (retry_uncertain || !uncertain.contains_key(r)))
        .collect();
    if !done.is_empty() {
        p.info(format!(
            "Skipping {} row(s) already sent (journal {})",
            done.len(),
            journal_path.display()
        ));
    }
    let skipped_uncertain = if retry_uncertain { 0 } else { uncertain.len() };
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

    let bar = progress_bar(ctx, pending.len() as u64);
    let interrupted = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(interrupted.clone(), bar.clone());
    let mut pace = tokio::time::interval(Duration::from_secs_f64(60.0 / f64::from(args.bulk.rate)));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut results: Vec<RowResult> = Vec::new();
    let mut stopped: Option<Failure> = None;
    for &row in &pending {
        let record = &sheet.rows[row - 1];
        let value = |name: &str| {
            sheet
                .column(name)
                .and_then(|i| record.get(i))
                .unwrap_or_default()
                .to_owned()
        };
        let prepared = sheet
            .recipient(record)
            .and_then(|(target, to)| Ok((target, to, draft.map(|t| fill(t, value)).content()?)));
        let (target, to, content) = match prepared {
            Ok(ready) => ready,
            Err(e) => {
                let message = format!("invalid request: {e}");
                bar.suspend(|| p.warn(format!("row {row}: {message}")));
                results.push(RowResult::failed(row, sheet.shown(record), message));
                bar.inc(1);
                continue;
            }
        };
        pace.tick().await;
        // Checked after the wait, so that Ctrl-C during it sends nothing more.
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let sent = send_row(&client, &instance, target, content, row, &mut pace, &bar, p).await;
        match sent {
            Ok(queued) => {
                journal.record(row, &to, queued.queue_id)?;
                results.push(RowResult {
                    row,
                    to,
                    queue_id: Some(queued.queue_id),
                    error: None,
                    uncertain: false,
                });
            }
            Err(err) => {
                let stop = stops_the_run(&err);
                // Sent, and the answer (if any) does not say whether the row was queued:
                // a timeout, a connection broken after sending, a 5xx, an undecodable 2xx.
                // A connection refused sent nothing: a plain failure that a re-run retries.
                let maybe_queued = err.may_have_been_processed();
                let failure = Failure::from(err);
                let mut result = RowResult::failed(row, to, failure.message.clone());
                if maybe_queued {
                    journal.record_uncertain(row, &result.to)?;
                    result.uncertain = true;
                    result.error = Some(format!("{} (may have been queued)", failure.message));
                }
                bar.suspend(|| {
                    p.warn(format!(
                        "row {row} ({}): {}",
                        result.to,
                        result.error.as_deref().unwrap_or_default()
                    ))
                });
                results.push(result);
                if stop {
                    stopped = Some(failure);
                    break;
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let failed: Vec<&RowResult> = results.iter().filter(|r| r.error.is_some()).collect();
    let failed_csv = args
        .bulk
        .failed_csv
        .clone()
        .unwrap_or_else(|| failed_path(csv_path));
    let wrote_failed = write_failed(&failed_csv, &sheet, &failed)?;
    let summary = Summary {
        success: failed.is_empty() && results.len() == pending.len(),
        total: sheet.rows.len(),
        sent: results.len() - failed.len(),
        skipped: done.len(),
        skipped_uncertain,
        failed: failed.len(),
        uncertain: results.iter().filter(|r| r.uncertain).count(),
        not_attempted: pending.len() - results.len(),
        journal: journal_path.display().to_string(),
        failed_csv: wrote_failed.then(|| failed_csv.display().to_string()),
        results: &results,
    };
    print_summary(ctx, &summary);

    let mut resume = format!(
        "re-run the same command to resume: the {} row(s) sent so far are skipped",
        summary.sent + summary.skipped
    );
    let now_uncertain: Vec<usize> = results
        .iter()
        .filter(|r| r.uncertain)
        .map(|r| r.row)
        .collect();
    if !now_uncertain.is_empty() {
        resume.push_str(&format!(
            ", and so is row {} which may have been queued (check `svw queue status`; \
             --retry-uncertain sends it again)",
            row_list(&now_uncertain)
        ));
    }
    if let Some(failure) = stopped {
        let hint = match failure.hint {
            Some(hint) => format!("{hint}; then {resume}"),
            None => resume,
        };
        return Err(
            Failure::new(failure.code, format!("run stopped: {}", failure.message)).hint(hint),
        );
    }
    if interrupted.load(Ordering::SeqCst) {
        return Err(Failure::new(Code::Interrupted, "interrupted").hint(resume));
    }
    if !failed.is_empty() {
        return Err(Failure::api(format!(
            "{} of {} row(s) failed",
            failed.len(),
            summary.total
        ))
        .hint(format!(
            "see {}; fix those rows and {resume}",
            failed_csv.display()
        )));
    }
    Ok(())
}

/// Sends one row, sitting out rate limits the SDK gave up on (up to a few minutes each).
#[allow(clippy::too_many_arguments)]
async fn send_row(
    client: &Client,
    instance: &InstanceId,
    target: Target,
    content: Content,
    row: usize,
    pace: &mut tokio::time::Interval,
    bar: &ProgressBar,
    p: &Printer,
) -> Result<Queued, Error> {
    let mut tries = 1;
    loop {
        let result = deliver(client, instance.clone(), target.clone(), content.clone()).await;
        let wait = match &result {
            Err(Error::RateLimited { retry_after, .. }) if tries < MAX_RATE_LIMITED_TRIES => {
                retry_after.unwrap_or(Duration::from_secs(60))
            }
            _ => return result,
        };
        if wait > MAX_RATE_LIMIT_WAIT {
            return result;
        }
        tries += 1;
        bar.suspend(|| {
            p.info(format!(
                "Rate limited at row {row}: waiting {}s",
                wait.as_secs()
            ))
        });
        tokio::time::sleep(wait).await;
        pace.reset();
    }
}

/// Row numbers for a message: "3, 7, 12" (the first ten, then "…").
fn row_list<'a>(rows: impl IntoIterator<Item = &'a usize>) -> String {
    let rows: Vec<String> = rows.into_iter().map(usize::to_string).collect();
    if rows.len() > 10 {
        format!("{}, …", rows[..10].join(", "))
    } else {
        rows.join(", ")
    }
}

fn failed_path(csv: &Path) -> PathBuf {
    let stem = csv
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rows".into());
    csv.with_file_name(format!("{stem}.failed.csv"))
}

/// Writes the failed rows (their columns plus `error`); removes a stale file when none failed.
fn write_failed(path: &Path, sheet: &Sheet, failed: &[&RowResult]) -> Result<bool, Failure> {
    if failed.is_empty() {
        let _ = std::fs::remove_file(path);
        return Ok(false);
    }
    let fail = |e: csv::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
    let mut w = csv::Writer::from_path(path).map_err(fail)?;
    let mut header: Vec<&str> = sheet.header.iter().collect();
    header.push("error");
    w.write_record(&header).map_err(fail)?;
    for result in failed {
        let mut record: Vec<&str> = sheet.rows[result.row - 1].iter().collect();
        record.push(result.error.as_deref().unwrap_or_default());
        w.write_record(&record).map_err(fail)?;
    }
    w.flush().map_err(|e| fail(e.into()))?;
    Ok(true)
}

fn print_summary(ctx: &Context, s: &Summary) {
    ctx.printer.item(s, &[], |p| {
        let mut parts = vec![format!("sent {}", s.sent)];
        if s.skipped > 0 {
            parts.push(format!("skipped {} (already sent)", s.skipped));
        }
        if s.skipped_uncertain > 0 {
            parts.push(format!(
                "skipped {} (may have been queued; --retry-uncertain sends them)",
                s.skipped_uncertain
            ));
        }
        if s.failed > 0 {
            parts.push(format!("failed {}", s.failed));
        }
        if s.uncertain > 0 {
            parts.push(format!("{} of them maybe queued", s.uncertain));
        }
        if s.not_attempted > 0 {
            parts.push(format!("not attempted {}", s.not_attempted));
        }
        let line = format!(
            "{} of {} rows: {}",
            s.sent + s.skipped,
            s.total,
            parts.join(", ")
        );
        if s.success {
            p.success(line);
        } else {
            p.out(line);
        }
        if let Some(path) = &s.failed_csv {
            p.note(format!("Failed rows, with the error for each: {path}"));
        }
    });
}

fn progress_bar(ctx: &Context, len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ctx.printer.progress_target());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} rows · {elapsed} · ETA {eta} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// First Ctrl-C: finish the row in flight (so its answer reaches the journal), then stop.
/// Second Ctrl-C: exit at once.
fn watch_ctrl_c(flag: Arc<AtomicBool>, bar: ProgressBar) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            bar.println("Stopping after the current row (Ctrl-C again to quit now)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(Code::Interrupted as i32);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_named_fields_and_keep_everything_else() {
        let t = "Hi {{name}}, order {{ order }} 🎉\n{{missing";
        assert_eq!(fields(t), vec!["name", "order"]);
        let out = fill(t, |f| {
            if f == "name" {
                "Ana".into()
            } else {
                "42".into()
            }
        });
        assert_eq!(out, "Hi Ana, order 42 🎉\n{{missing");
    }

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

    #[test]
    fn a_torn_journal_line_is_not_a_sent_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(
            &path,
            "# header\n1\t971501234567\t10\n2\t971501234568\t11\n3\t97150",
        )
        .unwrap();
        let done = Journal::read(&path).unwrap().sent;
        assert_eq!(done.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        // The next record starts on its own line, not glued to the torn one.
        Journal::open(&path, false)
            .unwrap()
            .record(3, "971501234569", QueueId(12))
            .unwrap();
        let done = Journal::read(&path).unwrap().sent;
        assert_eq!(done.get(&3).map(String::as_str), Some("971501234569"));
    }

    #[test]
    fn uncertain_rows_are_not_sent_rows_until_a_retry_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut journal = Journal::open(&path, false).unwrap();
        journal.record(1, "971501234567", QueueId(10)).unwrap();
        journal.record_uncertain(2, "971501234568").unwrap();
        journal.record_uncertain(3, "971501234569").unwrap();
        let read = Journal::read(&path).unwrap();
        assert_eq!(read.sent.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(
            read.uncertain.keys().copied().collect::<Vec<_>>(),
            vec![2, 3]
        );
        journal.record(2, "971501234568", QueueId(11)).unwrap();
        let read = Journal::read(&path).unwrap();
        assert_eq!(read.sent.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(read.uncertain.keys().copied().collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn an_unclosed_quote_is_found_and_doubled_quotes_are_not_one() {
        assert_eq!(unclosed_quote(b"phone,name\n1,\"Ana\n2,Bo\n"), Some(2));
        assert_eq!(
            unclosed_quote(b"phone,name\n1,\"A \"\"x\"\" b\"\n2,Bo"),
            None
        );
        assert_eq!(unclosed_quote(b"phone,name\n1,\"two\nlines\"\n"), None);
        // A quote inside an unquoted value is a plain character.
        assert_eq!(unclosed_quote(b"phone,name\n1,5\" screen\n"), None);
        assert_eq!(unclosed_quote(b"phone,name\r\n1,\"x\"\"\r\n"), Some(2));
    }
}
