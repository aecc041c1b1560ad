//! The schema migrations compiled into the server, one list per backend.
//!
//! The build script embeds `migrations/<backend>/*.sql` (see `build.rs`); this reads each
//! file's version and description from its name as sqlx does from a directory, so a
//! database migrated by an earlier build, through `sqlx::migrate!`, sees the same
//! versions, descriptions and checksums.

use std::borrow::Cow;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// SQLite's migrations.
pub(super) async fn sqlite() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(embedded::SQLITE)).await
}

/// Postgres's migrations.
pub(super) async fn postgres() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(embedded::POSTGRES)).await
}

/// Migration files as `(name, contents)`.
#[derive(Debug)]
struct Embedded(&'static [(&'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>> {
        Box::pin(std::future::ready(migrations(self.0)))
    }
}

/// `<version>_<description>.sql`, underscores in the description read as spaces, and
/// `-- no-transaction` as a first line opting out of the transaction: sqlx's reading.
fn migrations(files: &[(&'static str, &'static str)]) -> Result<Vec<Migration>, BoxDynError> {
    let mut migrations = files
        .iter()
        .map(|&(name, sql)| {
            let (version, rest) = name.split_once('_').ok_or_else(|| {
                format!("migration {name:?}: expected <version>_<description>.sql")
            })?;
            let version: i64 = version
                .parse()
                .map_err(|_| format!("migration {name:?}: the version is not a number"))?;
            let kind = MigrationType::from_filename(rest);
            let description = rest.trim_end_matches(kind.suffix()).replace('_', " ");
            Ok(Migration::new(
                version,
                Cow::Owned(description),
                kind,
                Cow::Borrowed(sql),
                sql.starts_with("-- no-transaction"),
            ))
        })
        .collect::<Result<Vec<_>, BoxDynError>>()?;
    migrations.sort_by_key(|m| m.version);
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sqlx::migrate!` made of the same files, as recorded in a database it
    /// migrated: a difference would fail every existing database's start-up.
    #[test]
    fn names_read_as_sqlx_reads_them() {
        let read = migrations(&[
            ("0010_webhook_due_order.sql", "CREATE TABLE t (a INT);"),
            ("0002_limits.sql", "-- no-transaction\nSELECT 1;"),
        ])
        .unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!((read[0].version, &*read[0].description), (2, "limits"));
        assert!(read[0].no_tx);
        assert_eq!(
            (read[1].version, &*read[1].description),
            (10, "webhook due order")
        );
        assert!(!read[1].no_tx);
        assert_eq!(read[1].migration_type, MigrationType::Simple);
        assert_eq!(read[1].sql, "CREATE TABLE t (a INT);");
    }

    #[test]
    fn a_name_without_a_version_is_an_error() {
        let err = migrations(&[("init.sql", "")]).unwrap_err().to_string();
        assert!(err.contains("init.sql"), "{err}");
    }

    /// Every file of each directory is compiled in, and read as sqlx reads the
    /// directory itself (which is what `sqlx::migrate!` embedded, checksums included).
    #[tokio::test]
    async fn the_embedded_migrations_are_sqlxs_reading_of_each_directory() {
        for (backend, embedded) in [("sqlite", sqlite().await), ("postgres", postgres().await)] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend);
            let on_disk = Migrator::new(dir).await.unwrap();
            let key = |m: &Migration| {
                (
                    m.version,
                    m.description.to_string(),
                    m.checksum.to_vec(),
                    m.no_tx,
                    m.migration_type,
                )
            };
            let embedded: Vec<_> = embedded.unwrap().iter().map(key).collect();
            let read: Vec<_> = on_disk.iter().map(key).collect();
            assert!(read.len() >= 4, "{backend}");
            assert_eq!(embedded, read, "{backend}");
        }
    }
}
