//! The journal that lets `svw send --csv` resume (the guarantees are in the module doc of
//! `bulk`).
//!
//! One line per row, `row<TAB>recipient<TAB>queue id` or `…<TAB>uncertain`, written and
//! fsynced before the next row is sent. Plain text, so that a person can read it, and
//! line-based, so that a line torn by a kill is simply not a record.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sevenoways_sdk::QueueId;

use crate::exit::Failure;

/// A recipient as the journal stores it: one tab-separated field.
pub(super) fn one_field(to: &str) -> String {
    to.replace(['\t', '\n', '\r'], " ")
}

/// What the journal says of earlier runs: rows by number, with the recipient they went to.
#[derive(Debug, Default)]
pub(super) struct Journaled {
    /// Rows the API accepted.
    pub(super) sent: BTreeMap<usize, String>,
    /// Rows sent without a clear answer (a 5xx, a timeout, a connection dropped after
    /// sending, an undecodable answer): they may have been queued.
    pub(super) uncertain: BTreeMap<usize, String>,
}

/// What the journal's third field holds for an uncertain row, instead of a queue id.
const UNCERTAIN: &str = "uncertain";

/// The journal, open for appending: rows already accepted, by row number, with the
/// recipient they went to.
pub(super) struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// `FILE.svw-journal`, beside the CSV: a re-run of the same command finds it.
    pub(super) fn path_for(csv: &Path) -> PathBuf {
        let mut name = csv.as_os_str().to_owned();
        name.push(".svw-journal");
        PathBuf::from(name)
    }

    /// What earlier runs recorded; nothing when there is no journal yet.
    pub(super) fn read(path: &Path) -> Result<Journaled, Failure> {
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

    /// Opens the journal for appending; `restart` empties it first.
    pub(super) fn open(path: &Path, restart: bool) -> Result<Self, Failure> {
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
    pub(super) fn record(
        &mut self,
        row: usize,
        to: &str,
        queue_id: QueueId,
    ) -> Result<(), Failure> {
        self.write(row, to, &queue_id.to_string()).map_err(|e| {
            Failure::usage(format!("cannot write {}: {e}", self.path.display()))
                .hint(format!("row {row} was sent (queue id {queue_id}) but is not in the journal: remove it from the CSV before re-running"))
        })
    }

    /// Records a row that may have been queued, so that a re-run does not send it blindly.
    pub(super) fn record_uncertain(&mut self, row: usize, to: &str) -> Result<(), Failure> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
