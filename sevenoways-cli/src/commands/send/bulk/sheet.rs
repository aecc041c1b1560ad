//! The CSV of `svw send --csv`: which column says where each row goes, and the values
//! `{{column}}` fields read.
//!
//! The file is read and checked whole before anything is sent, so a malformed file (a
//! stray quote, rows of different lengths, no recipient column) sends nothing rather than
//! half of itself.

use std::collections::HashMap;
use std::path::Path;

use sevenoways_sdk::{GroupTarget, Phone, Target, ValidationError};
use sha2::{Digest, Sha256};

use crate::exit::Failure;

/// Which column says where a row goes.
#[derive(Debug, Clone, Copy, Default)]
struct Columns {
    phone: Option<usize>,
    group_id: Option<usize>,
    group: Option<usize>,
}

/// The CSV, read whole before the first send.
pub(super) struct Sheet {
    /// SHA-256 of the file's bytes, hex: what the journal records as the file's content.
    pub(super) sha256: String,
    pub(super) header: csv::StringRecord,
    /// Row `n` of the file (1-based, as messages and the journal count) is `rows[n - 1]`.
    pub(super) rows: Vec<csv::StringRecord>,
    columns: Columns,
    by_name: HashMap<String, usize>,
}

impl Sheet {
    pub(super) fn read(path: &Path) -> Result<Self, Failure> {
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
            sha256: hex::encode(Sha256::digest(&bytes)),
            header,
            rows,
            columns,
            by_name,
        })
    }

    /// The column a `{{name}}` field reads: the exact header, else the header in any case.
    pub(super) fn column(&self, name: &str) -> Option<usize> {
        self.by_name
            .get(name)
            .or_else(|| self.by_name.get(&name.to_lowercase()))
            .copied()
    }

    /// The row's recipient cell as written, for rows that could not be read.
    pub(super) fn shown(&self, row: &csv::StringRecord) -> String {
        let c = self.columns;
        c.phone
            .or(c.group_id)
            .or(c.group)
            .and_then(|i| row.get(i))
            .unwrap_or_default()
            .to_owned()
    }

    /// The row's recipient, and how to show it: the first non-empty of phone, groupId, group.
    pub(super) fn recipient(
        &self,
        row: &csv::StringRecord,
    ) -> Result<(Target, String), ValidationError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
