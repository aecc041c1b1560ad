//! The journal that lets `svw send --csv` resume (the guarantees are in the module doc of
//! `bulk`).
//!
//! Its first record says what it is a journal of: `run<TAB>{json}`, with the run's id, the
//! server, the instance, the message template and the CSV's SHA-256 ([`Run`]). A re-run
//! that differs in any of them is refused rather than resumed: skipping rows a journal
//! says were sent is right only for the run that sent them. Then one line per accepted
//! row, `row<TAB>recipient<TAB>queue id`, written and fsynced before the next row is sent.
//! Plain text, so that a person can read it, and line-based, so that a line torn by a
//! kill is simply not a record.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sevenoways_sdk::QueueId;
use sha2::{Digest, Sha256};

use crate::commands::send::Draft;
use crate::exit::Failure;

/// A recipient as the journal stores it: one tab-separated field.
pub(super) fn one_field(to: &str) -> String {
    to.replace(['\t', '\n', '\r'], " ")
}

/// What a run sends, as its journal records it. Two runs are the same run only if all of
/// it is the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Run {
    /// `--run-id`, or one made up when the journal was started. Part of every row's
    /// Idempotency-Key, so a new run (`--restart`) sends every row again.
    pub(super) run_id: String,
    /// The server's base URL.
    pub(super) server: String,
    /// The instance that sends.
    pub(super) instance: String,
    /// The content with its `{{column}}` fields, as given.
    pub(super) template: Template,
    /// SHA-256 of the CSV file, hex.
    pub(super) csv_sha256: String,
}

/// The content of a run before its fields are filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(super) enum Template {
    /// `--message`, `--message-file` or stdin.
    Text { message: String },
    /// `--image`, with `--caption`.
    Image {
        url: String,
        caption: Option<String>,
    },
    /// `--document`, with `--filename` and `--mimetype`.
    Document {
        url: String,
        filename: String,
        mimetype: Option<String>,
    },
}

impl From<&Draft> for Template {
    fn from(draft: &Draft) -> Self {
        match draft.clone() {
            Draft::Text(message) => Template::Text { message },
            Draft::Image { url, caption } => Template::Image { url, caption },
            Draft::Document {
                url,
                filename,
                mimetype,
            } => Template::Document {
                url,
                filename,
                mimetype,
            },
        }
    }
}

impl fmt::Display for Template {
    /// `the text "Hi {{name}}"`, `the image https://… captioned "…"`: for saying what
    /// changed, cut short so that a long message stays one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn short(s: &str) -> String {
            let cut: String = s.chars().take(60).collect();
            if cut.len() < s.len() {
                format!("{:?}", format!("{cut}…"))
            } else {
                format!("{s:?}")
            }
        }
        match self {
            Template::Text { message } => write!(f, "the text {}", short(message)),
            Template::Image { url, caption } => {
                write!(f, "the image {}", short(url))?;
                match caption {
                    Some(c) => write!(f, " captioned {}", short(c)),
                    None => write!(f, " without a caption"),
                }
            }
            Template::Document {
                url,
                filename,
                mimetype,
            } => {
                write!(f, "the document {} named {}", short(url), short(filename))?;
                match mimetype {
                    Some(m) => write!(f, " ({m})"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Run {
    /// How `now` differs from this run (the journal's), one phrase per difference.
    pub(super) fn differences(&self, now: &Run, csv: &Path) -> Vec<String> {
        let mut out = Vec::new();
        if self.server != now.server {
            out.push(format!(
                "it went to the server {}, this run goes to {}",
                self.server, now.server
            ));
        }
        if self.instance != now.instance {
            out.push(format!(
                "it sent from the instance {:?}, this run sends from {:?}",
                self.instance, now.instance
            ));
        }
        if self.template != now.template {
            out.push(format!(
                "it sent {}, this run sends {}",
                self.template, now.template
            ));
        }
        if self.csv_sha256 != now.csv_sha256 {
            out.push(format!(
                "it sent another version of {} (the file changed since)",
                csv.display()
            ));
        }
        if self.run_id != now.run_id {
            out.push(format!(
                "it is run {:?}, --run-id says {:?}",
                self.run_id, now.run_id
            ));
        }
        out
    }

    /// Row `row`'s Idempotency-Key: a hash of the whole run and the row number, so it is
    /// the same on every re-run of this run and different in any other run. The server
    /// answers a key it has seen (for 24 hours) with its first answer, so a row whose
    /// answer was lost is queued once however often it is sent.
    pub(super) fn row_key(&self, row: usize) -> String {
        let run = serde_json::to_string(self).expect("a run serialises");
        let hash = Sha256::digest(format!("svw send --csv\n{run}\nrow {row}").as_bytes());
        format!("svw-{}", &hex::encode(hash)[..40])
    }
}

/// What the journal says of an earlier run: what it was, and its rows by number with the
/// recipient they went to.
#[derive(Debug)]
pub(super) struct Journaled {
    pub(super) run: Run,
    pub(super) sent: BTreeMap<usize, String>,
}

/// The journal, open for appending.
pub(super) struct Journal {
    path: PathBuf,
    file: File,
}

/// The first field of the record that says what the journal is of.
const RUN: &str = "run";

impl Journal {
    /// `FILE.svw-journal`, beside the CSV: a re-run of the same command finds it.
    pub(super) fn path_for(csv: &Path) -> PathBuf {
        let mut name = csv.as_os_str().to_owned();
        name.push(".svw-journal");
        PathBuf::from(name)
    }

    /// What an earlier run recorded; `None` when there is no journal, or one with no
    /// record in it. A journal with rows but no run record (written by an svw before the
    /// record existed, or edited) cannot say what it is of, and is refused.
    pub(super) fn read(path: &Path) -> Result<Option<Journaled>, Failure> {
        let unreadable =
            |e: std::io::Error| Failure::usage(format!("cannot read {}: {e}", path.display()));
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(e)),
        };
        let mut run: Option<Run> = None;
        let mut sent = BTreeMap::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(unreadable)?;
            if let Some(json) = line.strip_prefix(RUN).and_then(|l| l.strip_prefix('\t')) {
                // A torn run record (killed while the journal was started) is no record.
                if run.is_none() {
                    run = serde_json::from_str(json).ok();
                }
                continue;
            }
            let mut parts = line.split('\t');
            // A torn last line (killed mid-write) lacks its queue id: that row is not recorded.
            let (Some(row), Some(to), Some(queue_id)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if let (Ok(row), Ok(_)) = (row.parse::<usize>(), queue_id.parse::<u64>()) {
                sent.insert(row, to.to_owned());
            }
        }
        match run {
            Some(run) => Ok(Some(Journaled { run, sent })),
            None if sent.is_empty() => Ok(None),
            None => Err(Failure::usage(format!(
                "{} does not say which run it is the journal of (it was written by an older svw)",
                path.display()
            ))
            .hint("pass --restart to start a new run that sends every row (the journal is started over), or move the journal away")),
        }
    }

    /// Opens the journal of `run` for appending. `start`: a new run, so the journal is
    /// started over with the run's record (fsynced before the first send); otherwise the
    /// run's rows are appended after the earlier ones.
    pub(super) fn open(path: &Path, run: &Run, start: bool) -> Result<Self, Failure> {
        let fail =
            |e: std::io::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
        let mut options = OpenOptions::new();
        if start {
            options.write(true).truncate(true);
        } else {
            options.append(true);
        }
        let mut file = options.create(true).read(true).open(path).map_err(fail)?;
        if start {
            let record = serde_json::to_string(run).expect("a run serialises");
            write!(
                file,
                "# svw send --csv journal: what the run is (server, instance, message, the CSV's \
                 SHA-256, run id), then the rows the API accepted (row, recipient, queue id). \
                 Re-running the same command skips those rows; --restart starts a new run that \
                 sends every row again.\n{RUN}\t{record}\n"
            )
            .and_then(|()| file.sync_data())
            .map_err(fail)?;
        } else {
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
            }
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
        let line = format!("{row}\t{}\t{queue_id}\n", one_field(to));
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| {
                Failure::usage(format!("cannot write {}: {e}", self.path.display()))
                    .hint(format!("row {row} was sent (queue id {queue_id}) but is not in the journal: a re-run sends it again with the same Idempotency-Key, which the server answers without queuing it twice (for 24 hours)"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(run_id: &str) -> Run {
        Run {
            run_id: run_id.into(),
            server: "http://127.0.0.1:8080".into(),
            instance: "number2".into(),
            template: Template::Text {
                message: "Hi {{name}}".into(),
            },
            csv_sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn a_torn_journal_line_is_not_a_sent_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        Journal::open(&path, &run("r1"), true).unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("1\t971501234567\t10\n2\t971501234568\t11\n3\t97150");
        std::fs::write(&path, text).unwrap();
        let read = Journal::read(&path).unwrap().unwrap();
        assert_eq!(read.run, run("r1"));
        assert_eq!(read.sent.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        // The next record starts on its own line, not glued to the torn one.
        Journal::open(&path, &run("r1"), false)
            .unwrap()
            .record(3, "971501234569", QueueId(12))
            .unwrap();
        let sent = Journal::read(&path).unwrap().unwrap().sent;
        assert_eq!(sent.get(&3).map(String::as_str), Some("971501234569"));
    }

    #[test]
    fn a_journal_without_a_run_record_is_refused_unless_it_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(&path, "# header\n").unwrap();
        assert!(Journal::read(&path).unwrap().is_none());
        std::fs::write(
            &path,
            "# header\n1\t971501234567\t10\n2\t971501234568\tuncertain\n",
        )
        .unwrap();
        let err = Journal::read(&path).unwrap_err();
        assert!(
            err.message.contains("does not say which run"),
            "{}",
            err.message
        );
        assert!(err.hint.unwrap().contains("--restart"));
    }

    #[test]
    fn every_difference_is_named() {
        let was = run("r1");
        assert!(was.differences(&was.clone(), Path::new("o.csv")).is_empty());
        let now = Run {
            run_id: "r2".into(),
            server: "https://relay.example.com".into(),
            instance: "number3".into(),
            template: Template::Image {
                url: "https://x/{{id}}.jpg".into(),
                caption: None,
            },
            csv_sha256: "cd".repeat(32),
        };
        let d = was.differences(&now, Path::new("o.csv"));
        assert_eq!(
            d,
            [
                "it went to the server http://127.0.0.1:8080, this run goes to https://relay.example.com",
                "it sent from the instance \"number2\", this run sends from \"number3\"",
                "it sent the text \"Hi {{name}}\", this run sends the image \"https://x/{{id}}.jpg\" without a caption",
                "it sent another version of o.csv (the file changed since)",
                "it is run \"r1\", --run-id says \"r2\"",
            ]
        );
    }

    #[test]
    fn row_keys_are_stable_per_run_and_row_and_differ_otherwise() {
        let r = run("r1");
        let key = r.row_key(7);
        assert_eq!(key, run("r1").row_key(7), "the same on every re-run");
        assert!(key.starts_with("svw-") && key.len() == 44, "{key}");
        assert!(sevenoways_sdk::IdempotencyKey::new(&key).is_ok());
        assert_ne!(key, r.row_key(8));
        assert_ne!(key, run("r2").row_key(7), "a new run sends again");
        let other_file = Run {
            csv_sha256: "cd".repeat(32),
            ..r
        };
        assert_ne!(key, other_file.row_key(7));
    }
}
