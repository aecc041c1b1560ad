//! How a run of `svw send --csv` ends: a summary line (or the `--json` answer), the
//! failed rows in a CSV of their own (the original columns plus `error`, so a person sees
//! each row beside what went wrong with it), and an exit code whose hint says how to
//! resume.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sevenoways_sdk::QueueId;

use super::Plan;
use super::sheet::Sheet;
use crate::exit::{Code, Failure};
use crate::printer::Printer;

/// What the send loop ended with.
pub(super) struct Outcome {
    /// One per row tried, in order.
    pub(super) results: Vec<RowResult>,
    /// The failure that stopped the run before its last row, if any.
    pub(super) stopped: Option<Failure>,
    /// Ctrl-C was pressed.
    pub(super) interrupted: bool,
}

impl Outcome {
    /// Writes the failed rows, prints the summary, and picks the exit: a stopped run first,
    /// then Ctrl-C, then failed rows.
    pub(super) fn finish(self, plan: &Plan, printer: &Printer) -> Result<(), Failure> {
        let Outcome {
            results,
            stopped,
            interrupted,
        } = self;
        let failed: Vec<&RowResult> = results.iter().filter(|r| r.error.is_some()).collect();
        let wrote_failed = write_failed(&plan.failed_csv, &plan.sheet, &failed)?;
        let summary = Summary {
            success: failed.is_empty() && results.len() == plan.pending.len(),
            run_id: &plan.run.run_id,
            total: plan.sheet.rows.len(),
            sent: results.len() - failed.len(),
            skipped: plan.earlier.len(),
            failed: failed.len(),
            not_attempted: plan.pending.len() - results.len(),
            journal: plan.journal_path.display().to_string(),
            failed_csv: wrote_failed.then(|| plan.failed_csv.display().to_string()),
            results: &results,
        };
        print_summary(printer, &summary);

        let mut resume = format!(
            "re-run the same command to resume: the {} row(s) sent so far are skipped",
            summary.sent + summary.skipped
        );
        let unanswered: Vec<usize> = results
            .iter()
            .filter(|r| r.resent_by_rerun)
            .map(|r| r.row)
            .collect();
        if !unanswered.is_empty() {
            resume.push_str(&format!(
                ", and row {} whose answer was lost is sent with the same Idempotency-Key, so \
                 the server queues it once either way (re-run within 24 hours)",
                row_list(&unanswered)
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
        if interrupted {
            return Err(Failure::new(Code::Interrupted, "interrupted").hint(resume));
        }
        if !failed.is_empty() {
            return Err(Failure::api(format!(
                "{} of {} row(s) failed",
                failed.len(),
                summary.total
            ))
            .hint(format!(
                "see {failed_csv}; a re-run of the same command tries those rows again (once \
                 what they need exists, a group say); to correct the rows themselves, fix them in \
                 {failed_csv} and send that file (a change to {csv} is another run)",
                failed_csv = plan.failed_csv.display(),
                csv = plan.csv.display(),
            )));
        }
        Ok(())
    }
}

/// What became of one row this run; `--json` lists them under `results`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RowResult {
    pub(super) row: usize,
    pub(super) to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) queue_id: Option<QueueId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    /// Sent, but no answer said whether it was queued: a re-run sends it again with the
    /// same key, and the server queues it at most once.
    #[serde(skip)]
    pub(super) resent_by_rerun: bool,
}

impl RowResult {
    pub(super) fn failed(row: usize, to: String, error: String) -> Self {
        Self {
            row,
            to,
            queue_id: None,
            error: Some(error),
            resent_by_rerun: false,
        }
    }
}

/// The run in numbers: the line people read, and the `--json` answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    success: bool,
    /// The run's id (`--run-id`), which its rows' Idempotency-Keys are made from.
    run_id: &'a str,
    total: usize,
    sent: usize,
    skipped: usize,
    failed: usize,
    not_attempted: usize,
    journal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_csv: Option<String>,
    results: &'a [RowResult],
}

/// Row numbers for a message: "3, 7, 12" (the first ten, then "…").
pub(super) fn row_list<'a>(rows: impl IntoIterator<Item = &'a usize>) -> String {
    let rows: Vec<String> = rows.into_iter().map(usize::to_string).collect();
    if rows.len() > 10 {
        format!("{}, …", rows[..10].join(", "))
    } else {
        rows.join(", ")
    }
}

/// `FILE.failed.csv` beside the CSV, where `--failed-csv` does not say otherwise.
pub(super) fn failed_path(csv: &Path) -> PathBuf {
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

fn print_summary(p: &Printer, s: &Summary) {
    p.item(s, &[], |p| {
        let mut parts = vec![format!("sent {}", s.sent)];
        if s.skipped > 0 {
            parts.push(format!("skipped {} (already sent)", s.skipped));
        }
        if s.failed > 0 {
            parts.push(format!("failed {}", s.failed));
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
