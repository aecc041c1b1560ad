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

/// Installs the global subscriber (`RUST_LOG`, default
/// `info,sqlx=warn,tower_http=warn`), writing to stderr through [`Lossy`].
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(|| Lossy(io::stderr()))
        .log_internal_errors(false)
        .init();
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

/// Writes one line to stderr, ignoring failure (`eprintln!` panics on it).
pub fn eprint_line(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr(), "{line}");
}
