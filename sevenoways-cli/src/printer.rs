//! Everything svw writes goes through here: data on stdout, logs and errors on stderr.
//!
//! - `--json`: the API's own JSON on stdout, nothing else there.
//! - `-q`: only ids (or nothing) on stdout, no logs on stderr; errors still show.
//! - Otherwise tables for a terminal, and tab-separated rows without a header when stdout
//!   is a pipe (as `gh` does), so `svw groups list | cut -f1` works.
//!
//! Colour goes through `anstream`, which drops it when the stream is not a terminal or
//! `NO_COLOR` is set; `--no-color` turns it off outright. Write errors are ignored: a
//! closed pipe (`svw ... | head`) must not turn into a panic or an error message.

use std::io::{IsTerminal, Write};

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};
use indicatif::ProgressDrawTarget;
use serde::Serialize;

use crate::exit::Failure;

const GREEN: Style = AnsiColor::Green.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const DIM: Style = Style::new().dimmed();

/// Output settings, cheap to copy into tasks (the webhook listener's handlers).
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    json: bool,
    quiet: bool,
}

impl Printer {
    /// A printer; `no_color` switches colour off for the whole process.
    pub fn new(json: bool, quiet: bool, no_color: bool) -> Self {
        if no_color {
            ColorChoice::Never.write_global();
        }
        Self { json, quiet }
    }

    /// `--json`. Single results and listings go through [`Printer::item`] and
    /// [`Printer::listing`]; this is for output that is neither: the streams (QR codes,
    /// webhook deliveries) print JSON Lines, and `config show` prints its table even
    /// with `-q`, as it has no ids.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// `-q`, for the same output as [`Printer::is_json`].
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Whether a person is reading stdout.
    pub fn stdout_is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    /// Where progress bars draw: stderr when a person reads it, else nowhere, so that
    /// `-q`, `--json` and logs redirected to a file never fill with redraws.
    pub fn progress_target(&self) -> ProgressDrawTarget {
        if self.quiet || self.json || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        }
    }

    /// A line of data on stdout, whatever the mode.
    pub fn out(&self, line: impl AsRef<str>) {
        let mut out = anstream::stdout().lock();
        let _ = writeln!(out, "{}", line.as_ref());
    }

    /// Raw bytes on stdout (a QR code, a man page), unchanged.
    pub fn out_raw(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }

    /// A value as pretty JSON on stdout.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.out(text),
            Err(e) => self.warn(format!("could not encode the answer as JSON: {e}")),
        }
    }

    /// A value as one line of JSON on stdout, for streams (JSON Lines).
    pub fn json_line<T: Serialize + ?Sized>(&self, value: &T) {
        match serde_json::to_string(value) {
            Ok(text) => self.out(text),
            Err(e) => self.warn(format!("could not encode the answer as JSON: {e}")),
        }
    }

    /// `✓ message` on stdout, the human result of a command; nothing with `-q`.
    pub fn success(&self, message: impl AsRef<str>) {
        if !self.quiet {
            self.out(format!("{GREEN}✓{GREEN:#} {}", message.as_ref()));
        }
    }

    /// A progress or status line on stderr; nothing with `-q`.
    pub fn info(&self, message: impl AsRef<str>) {
        if !self.quiet {
            let mut err = anstream::stderr().lock();
            let _ = writeln!(err, "{}", message.as_ref());
        }
    }

    /// A dimmed hint on stderr; nothing with `-q`.
    pub fn note(&self, message: impl AsRef<str>) {
        if !self.quiet {
            let mut err = anstream::stderr().lock();
            let _ = writeln!(err, "{DIM}{}{DIM:#}", message.as_ref());
        }
    }

    /// `warning: message` on stderr, shown even with `-q`.
    pub fn warn(&self, message: impl AsRef<str>) {
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{YELLOW}warning:{YELLOW:#} {}", message.as_ref());
    }

    /// `error: cause; hint: what to try` on stderr, as one line.
    pub fn error(&self, failure: &Failure) {
        let mut err = anstream::stderr().lock();
        let _ = match &failure.hint {
            Some(hint) => writeln!(
                err,
                "{RED}error:{RED:#} {}; {DIM}hint: {hint}{DIM:#}",
                failure.message
            ),
            None => writeln!(err, "{RED}error:{RED:#} {}", failure.message),
        };
    }

    /// One result in the current mode: `json` with `--json`, the `quiet` lines (ids, or
    /// nothing) with `-q`, and otherwise whatever `human` prints. Commands then write only
    /// the human form, and every command treats `--json` and `-q` alike.
    pub fn item<T: Serialize + ?Sized>(&self, json: &T, quiet: &[&str], human: impl FnOnce(&Self)) {
        if self.json {
            self.json(json);
        } else if self.quiet {
            for line in quiet {
                self.out(line);
            }
        } else {
            human(self);
        }
    }

    /// A listing in the current mode: JSON, ids (the first column) only, a table, or
    /// tab-separated rows.
    pub fn listing<T: Serialize + ?Sized>(&self, value: &T, table: Table, empty: &str) {
        let ids: Vec<&str> = table
            .rows
            .iter()
            .filter_map(|row| row.first().map(String::as_str))
            .collect();
        self.item(value, &ids, |p| {
            if table.rows.is_empty() {
                p.info(empty);
            } else {
                p.table(&table);
            }
        });
    }

    /// A table on stdout: aligned with a header on a terminal, tab-separated otherwise.
    pub fn table(&self, table: &Table) {
        if self.stdout_is_terminal() {
            self.out(table.render());
        } else {
            for row in &table.rows {
                self.out(row.join("\t"));
            }
        }
    }
}

/// Rows of text under a header.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; tabs and newlines in cells become spaces so rows stay rows.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| c.into().replace(['\t', '\n', '\r'], " "))
                .collect(),
        );
        self
    }

    /// The table as people read it: no borders, a header row.
    pub fn render(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::NOTHING)
            .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
            .set_header(&self.header);
        for row in &self.rows {
            t.add_row(row);
        }
        t.to_string()
            .lines()
            .map(|l| l.trim_end().strip_prefix(' ').unwrap_or(l.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_under_a_header() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(["120363@g.us", "Team A"])
            .row(["9@g.us", "Ops\tnight"]);
        assert_eq!(
            t.render(),
            "ID           NAME\n120363@g.us  Team A\n9@g.us       Ops night"
        );
    }
}
