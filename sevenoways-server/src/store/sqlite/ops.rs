//! Keeping the database file healthy: its permissions, the write-ahead log's size,
//! errors that pass (a full disk), the write path's recent health, and online backups.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::*;

/// The database's file name inside the data directory.
pub const DB_FILE: &str = "sevenoways.db";

/// The write-ahead log is truncated back to this size after a checkpoint (64 MiB).
pub(super) const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// How long a failed group commit keeps [`Store::probe_write`] failing, unless a send
/// succeeds before.
const FAILURE_MEMORY: Duration = Duration::from_secs(10);

/// Creates the data directory (`0700`) and the database file (`0600`) if missing, and
/// narrows existing database files readable by others. Returns the database's path.
pub(super) fn prepare_files(dir: &Path) -> StoreResult<PathBuf> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        StoreError::Backend(format!("cannot {what} {}: {e}", path.display()).into())
    };
    let db = dir.join(DB_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io("create the data directory", dir, e))?;
        let mode = std::fs::metadata(dir)
            .map_err(|e| io("read", dir, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory is open to other users; `chmod 700` it"
            );
        }
        // SQLite gives the -wal and -shm files the database file's mode, so creating this
        // one 0600 covers all three.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&db)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("create", &db, e)),
        }
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", db.display()));
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| io("restrict the permissions of", &path, e))?;
                tracing::info!(file = %path.display(), "narrowed the database file to mode 600");
            }
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| io("create the data directory", dir, e))?;
    Ok(db)
}

/// The reason, for people, when `e` is a condition outside the request that passes on
/// its own (answered 503 with `Retry-After`); `None` for the others. Both backends'
/// errors come here (`From<sqlx::Error>` is generic over them).
pub(super) fn passing_condition(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::Database(db) => {
            // Postgres first: its SQLSTATEs are text, and some ("22013") would parse as
            // an SQLite code below.
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                return postgres_condition(pg.code());
            }
            sqlite_condition(db.code()?.parse::<i32>().ok()?)
        }
        // SQLite reads files; a Postgres connection is a socket, and a socket that
        // fails this way (the server restarting, a network cut) comes back.
        sqlx::Error::Io(io) => Some(match io.kind() {
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::TimedOut => "the database cannot be reached",
            _ => "a disk I/O error",
        }),
        sqlx::Error::PoolTimedOut => Some(crate::store::LOCKED),
        _ => None,
    }
}

/// [`passing_condition`] for a Postgres SQLSTATE: classes 08 (connection), 53
/// (insufficient resources) and the server shutting down or starting (57P01..57P03),
/// plus a standby that cannot write (25006, after a failover) and transactions a lock
/// ended (deadlock, serialization, lock timeout), which a retry gets through.
fn postgres_condition(code: &str) -> Option<&'static str> {
    Some(match code {
        "53100" => "the disk is full",
        "53200" => "the server is out of memory",
        "53300" => "the database has no free connection",
        c if c.starts_with("53") => "the database is short of resources",
        c if c.starts_with("08") => "the database cannot be reached",
        "57P01" | "57P02" | "57P03" => "the database is restarting",
        "25006" => "the database is read-only",
        "40001" | "40P01" | "55P03" => crate::store::LOCKED,
        _ => return None,
    })
}

/// [`passing_condition`] for an SQLite result code, primary or extended (the group
/// commit's errors come from rusqlite with the code alone).
pub(super) fn sqlite_condition(code: i32) -> Option<&'static str> {
    // Extended result codes carry the primary code in their low byte.
    Some(match code & 0xff {
        // SQLITE_FULL
        13 => "the disk is full",
        // SQLITE_IOERR
        10 => "a disk I/O error",
        // SQLITE_BUSY, SQLITE_LOCKED
        5 | 6 => crate::store::LOCKED,
        // SQLITE_NOMEM
        7 => "the server is out of memory",
        // SQLITE_READONLY
        8 => "the database is read-only",
        // SQLITE_CANTOPEN
        14 => "the database file cannot be opened",
        _ => return None,
    })
}

/// The group commit's last failure, read by [`Store::probe_write`].
#[derive(Debug, Default)]
pub(super) struct WriteHealth {
    last_failure: Mutex<Option<(Instant, &'static str)>>,
}

impl WriteHealth {
    pub(super) fn failed(&self, reason: &'static str) {
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), reason));
    }

    /// A send was stored: the path works for sends, whatever failed before.
    pub(super) fn stored(&self) {
        let mut last = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some() {
            *last = None;
        }
    }

    pub(super) fn recent_failure(&self) -> Option<&'static str> {
        let last = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
        last.filter(|(at, _)| at.elapsed() < FAILURE_MEMORY)
            .map(|(_, reason)| reason)
    }
}

/// `wal_checkpoint(TRUNCATE)`: waits (up to the busy timeout) for writers and readers of
/// older snapshots, copies the log into the database and empties the log file. When it
/// cannot finish (a long reader), it says so and the next run tries again.
pub(super) async fn checkpoint(store: &SqliteStore) -> StoreResult<()> {
    let (busy, log, done): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *store.write.conn().await?)
        .await?;
    if busy != 0 {
        tracing::info!(
            log_frames = log,
            checkpointed = done,
            "WAL checkpoint could not finish (the database was busy); will try again"
        );
    }
    Ok(())
}

/// What [`backup`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Writes a consistent copy of the database under `data_dir` to `to`, while servers may be
/// running on it, and checks the copy.
///
/// `VACUUM INTO` reads one snapshot (a read transaction) and writes it, compacted, as a
/// standalone database file: no `-wal` to carry along, nothing half-committed, and
/// writers are not blocked. The copy is written beside `to` under a temporary name,
/// checked with `PRAGMA quick_check`, synced, then renamed, so `to` is either the old
/// file or a complete backup. It is created `0600`. An existing `to` is refused unless
/// `overwrite`.
pub async fn backup(data_dir: &Path, to: &Path, overwrite: bool) -> StoreResult<BackupReport> {
    let fail = |msg: String| StoreError::Backend(msg.into());
    let db = data_dir.join(DB_FILE);
    if !db.exists() {
        return Err(fail(format!("no database at {}", db.display())));
    }
    if to.exists() && !overwrite {
        return Err(StoreError::Conflict(format!(
            "{} exists; pass --force to replace it",
            to.display()
        )));
    }
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = to
        .file_name()
        .ok_or_else(|| fail(format!("{} is not a file name", to.display())))?;
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).expect("OS randomness");
    let tmp = parent.join(format!(
        ".{}.{}.partial",
        name.to_string_lossy(),
        hex::encode(suffix)
    ));
    let result = write_backup(&db, &tmp).await;
    let result = match result {
        Ok(()) if to.exists() && !overwrite => Err(StoreError::Conflict(format!(
            "{} appeared while the backup ran; pass --force to replace it",
            to.display()
        ))),
        Ok(()) => std::fs::rename(&tmp, to)
            .map_err(|e| fail(format!("cannot move the backup to {}: {e}", to.display()))),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    if let Ok(dir) = std::fs::File::open(&parent) {
        let _ = dir.sync_all();
    }
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        path: to.to_owned(),
        bytes,
    })
}

async fn write_backup(db: &Path, tmp: &Path) -> StoreResult<()> {
    let fail = |msg: String| StoreError::Backend(msg.into());
    // An empty file is a valid target for VACUUM INTO; creating it first sets its mode.
    {
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        file.open(tmp)
            .map_err(|e| fail(format!("cannot create {}: {e}", tmp.display())))?;
    }
    let mut source = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await?;
    sqlx::query("VACUUM INTO ?")
        .bind(tmp.to_string_lossy().into_owned())
        .execute(&mut source)
        .await?;
    source.close().await?;
    let mut copy = SqliteConnectOptions::new()
        .filename(tmp)
        .read_only(true)
        .connect()
        .await?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut copy)
        .await?;
    copy.close().await?;
    if check != "ok" {
        return Err(fail(format!("the backup failed its check: {check}")));
    }
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail(format!("cannot sync {}: {e}", tmp.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::postgres_condition;

    #[test]
    fn postgres_conditions_that_pass_are_named_and_the_others_are_not() {
        assert_eq!(postgres_condition("53100"), Some("the disk is full"));
        assert_eq!(
            postgres_condition("08006"),
            Some("the database cannot be reached")
        );
        assert_eq!(
            postgres_condition("57P01"),
            Some("the database is restarting")
        );
        // A division by zero would read as SQLITE_FULL if taken for an SQLite code.
        assert_eq!(postgres_condition("22013"), None);
        // A unique violation is the request's doing.
        assert_eq!(postgres_condition("23505"), None);
    }
}
