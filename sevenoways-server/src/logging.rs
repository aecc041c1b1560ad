//! The server's log: human-readable lines on stderr, filtered by `RUST_LOG`, and never a
//! reason to stop.
//!
//! tracing-subscriber reports a failed log write with `eprintln!`, which panics when
//! stderr cannot be written either: with stderr redirected to a file on a full disk, any
//! `tracing::info!` then panicked where it was called, in the middle of a webhook
//! delivery or a request (audit F11). Here the writer drops a line it cannot write and
//! says it succeeded, and the subscriber's own error reporting is off. A full log disk
//! loses log lines, never requests or deliveries.

use std::io::{self, Write};

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, for a terminal (the default).
    #[default]
    Text,
    /// One JSON object per line, for a log pipeline: `timestamp`, `level`, `fields`
    /// (with `message`), `target`, and `span`/`spans` carrying the request's
    /// `request_id`, `method` and `path`.
    Json,
}

/// Installs the global subscriber (`RUST_LOG`, default
/// `info,sqlx=warn,tower_http=warn`) in `format`, writing to stderr through [`Lossy`].
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(|| Lossy(io::stderr()))
        .log_internal_errors(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

/// A writer that never fails: what `W` cannot take is dropped.
///
/// ```
/// use std::io::{self, Write};
///
/// struct FullDisk;
/// impl Write for FullDisk {
///     fn write(&mut self, _: &[u8]) -> io::Result<usize> {
///         Err(io::Error::other("No space left on device"))
///     }
///     fn flush(&mut self) -> io::Result<()> {
///         Err(io::Error::other("No space left on device"))
///     }
/// }
///
/// let mut out = sevenoways_server::logging::Lossy(FullDisk);
/// assert_eq!(out.write(b"a log line\n").unwrap(), 11);
/// assert!(out.flush().is_ok());
/// ```
#[derive(Debug)]
pub struct Lossy<W>(pub W);

impl<W: Write> Write for Lossy<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// The format [`init`] installed.
static FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Writes one line to stderr, ignoring failure (`eprintln!` panics on it). With
/// `--log-format json` the line is a JSON object shaped like the log's own (`timestamp`,
/// `level`, `fields.message`, `target`), so every line of stderr parses.
pub fn eprint_line(line: std::fmt::Arguments<'_>) {
    write_line("INFO", line);
}

/// [`eprint_line`] for a fatal error (level `ERROR` in JSON).
pub fn eprint_error(line: std::fmt::Arguments<'_>) {
    write_line("ERROR", line);
}

fn write_line(level: &str, line: std::fmt::Arguments<'_>) {
    if FORMAT.get() == Some(&LogFormat::Json) {
        let object = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": level,
            "fields": {"message": line.to_string()},
            "target": "sevenoways_server",
        });
        let _ = writeln!(io::stderr(), "{object}");
    } else {
        let _ = writeln!(io::stderr(), "{line}");
    }
}
