//! Turns at writing, taken in the order asked for.
//!
//! Two connections of this process write: the group commit's own (`commit.rs`) and the
//! write pool's.
//! SQLite lets one write at a time, and left to itself a writer that finds the lock taken
//! sleeps in the busy handler (1, 2, 5, 10, … ms) and looks again. Under load the group
//! commit always has a batch waiting and takes the lock back microseconds after it lets
//! go, so a pool write (the worker's outcomes, webhook bookkeeping, a schedule firing, a
//! `POST /api/webhooks`) could sleep through the whole busy timeout and fail with 503;
//! and a group commit that found a pool write under way slept for longer than the write
//! lasted, which is what a send's latency tail was made of.
//!
//! So every write of this process first takes a turn from one FIFO queue (a
//! [`tokio::sync::Mutex`], which is fair) and keeps it until its transaction ends. Then
//! the two never meet in SQLite's lock, a pool write waits for at most the batch being
//! written, and the busy handler is left to other processes (the key commands, a backup).
//!
//! A turn that wrote events tells the webhook delivery loop when it ends (see
//! [`Signals`]).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteOperation;
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

/// The write pool, whose connection is handed out with a turn.
#[derive(Clone)]
pub(super) struct Writer {
    pool: SqlitePool,
    turns: Arc<Mutex<()>>,
    /// `None` where nothing listens (tests of the turns alone).
    signals: Option<Arc<Signals>>,
}

/// Who hears of a turn that ended.
pub(super) struct Signals {
    /// Set when the write pool's connection inserts an event row (an SQLite update
    /// hook, see [`watch_events`]; the group commit writes no events). Turns come one at a time, so a row inserted
    /// belongs to the turn that ends next.
    pub(super) raised: Arc<AtomicBool>,
    /// Rung when a turn that inserted events ends ([`crate::store::Store::events_committed`]).
    pub(super) committed: Arc<Notify>,
}

/// A turn at writing; the next waiter's when dropped.
pub(super) struct TurnGuard {
    _guard: OwnedMutexGuard<()>,
    signals: Option<Arc<Signals>>,
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        let Some(signals) = &self.signals else { return };
        // The turn's transaction has ended: committed, or rolled back (then the delivery
        // loop finds nothing new, which costs it one read).
        if signals.raised.swap(false, Ordering::AcqRel) {
            signals.committed.notify_one();
        }
    }
}

/// A write transaction holding its turn; the turn passes on when it commits or drops.
pub(super) type WriteTx = Turn<Transaction<'static, Sqlite>>;

/// `T` (a connection or a transaction on one) with the turn it was handed out with.
pub(super) struct Turn<T> {
    // Declared first so it drops first: the turn outlives the work it guards.
    inner: T,
    _turn: TurnGuard,
}

impl Writer {
    /// Turns over `pool`'s connection; each one that ends tells `signals`.
    pub(super) fn new(pool: SqlitePool, signals: Option<Signals>) -> Self {
        Self {
            pool,
            turns: Arc::default(),
            signals: signals.map(Arc::new),
        }
    }

    /// Waits for a turn.
    async fn turn(&self) -> TurnGuard {
        TurnGuard {
            _guard: self.turns.clone().lock_owned().await,
            signals: self.signals.clone(),
        }
    }

    /// [`Writer::turn`] for the group commit's thread, which writes on a connection of its
    /// own and is not the runtime's (this blocks it; it panics on a runtime's thread).
    pub(super) fn blocking_turn(&self) -> TurnGuard {
        TurnGuard {
            _guard: self.turns.clone().blocking_lock_owned(),
            signals: self.signals.clone(),
        }
    }

    /// The pool's connection, for a statement that is its own transaction.
    pub(super) async fn conn(&self) -> sqlx::Result<Turn<PoolConnection<Sqlite>>> {
        let turn = self.turn().await;
        let inner = self.pool.acquire().await?;
        Ok(Turn { inner, _turn: turn })
    }

    /// A deferred transaction.
    pub(super) async fn begin(&self) -> sqlx::Result<WriteTx> {
        let turn = self.turn().await;
        let inner = self.pool.begin().await?;
        Ok(Turn { inner, _turn: turn })
    }

    /// A transaction begun with `statement` (`BEGIN IMMEDIATE`: one that reads before it
    /// writes).
    pub(super) async fn begin_with(&self, statement: &'static str) -> sqlx::Result<WriteTx> {
        let turn = self.turn().await;
        let inner = self.pool.begin_with(statement).await?;
        Ok(Turn { inner, _turn: turn })
    }
}

/// Has `conn` set `raised` whenever it inserts a row into `events` (SQLite calls the
/// hook on the connection's thread, per row changed: a comparison of the table's name).
pub(super) async fn watch_events(
    conn: &mut SqliteConnection,
    raised: Arc<AtomicBool>,
) -> sqlx::Result<()> {
    conn.lock_handle().await?.set_update_hook(move |change| {
        if change.table == "events" && matches!(change.operation, SqliteOperation::Insert) {
            raised.store(true, Ordering::Release);
        }
    });
    Ok(())
}

impl WriteTx {
    /// Commits, then passes the turn on.
    pub(super) async fn commit(self) -> sqlx::Result<()> {
        self.inner.commit().await
    }
}

impl<T: DerefMut<Target = SqliteConnection>> Deref for Turn<T> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.inner
    }
}

impl<T: DerefMut<Target = SqliteConnection>> DerefMut for Turn<T> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;

    /// The property the group commit relies on: a pool write that asked while a batch was
    /// being written goes next, before the batch that asked after it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_write_waits_for_the_batch_being_written_not_for_the_ones_after() {
        let pool = SqlitePool::connect("sqlite::memory:").await.unwrap();
        let writer = Writer::new(pool, None);
        let order = Arc::new(StdMutex::new(Vec::new()));
        let batch = writer.turn().await;
        let write = tokio::spawn({
            let (writer, order) = (writer.clone(), order.clone());
            async move {
                let tx = writer.begin_with("BEGIN IMMEDIATE").await.unwrap();
                order.lock().unwrap().push("write");
                tx.commit().await.unwrap();
            }
        });
        // On this one thread, a spawned task runs to its first wait when this one yields.
        tokio::task::yield_now().await;
        let next_batch = tokio::spawn({
            let (writer, order) = (writer.clone(), order.clone());
            async move {
                let _turn = writer.turn().await;
                order.lock().unwrap().push("next batch");
            }
        });
        tokio::task::yield_now().await;
        assert!(
            order.lock().unwrap().is_empty(),
            "nothing writes during a batch"
        );
        drop(batch);
        write.await.unwrap();
        next_batch.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["write", "next batch"]);
    }

    /// The group commit's thread waits for a turn held on the runtime, and a write that
    /// asks while its batch is written waits for it in turn.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_group_commits_thread_takes_turns_with_the_runtime() {
        let pool = SqlitePool::connect("sqlite::memory:").await.unwrap();
        let writer = Writer::new(pool, None);
        let order = Arc::new(StdMutex::new(Vec::new()));
        let held = writer.turn().await;
        let (started, batch_started) = std::sync::mpsc::channel();
        let (finish, batch_may_finish) = std::sync::mpsc::channel::<()>();
        let batch = std::thread::spawn({
            let (writer, order) = (writer.clone(), order.clone());
            move || {
                let _turn = writer.blocking_turn();
                order.lock().unwrap().push("batch");
                started.send(()).unwrap();
                batch_may_finish.recv().unwrap();
                order.lock().unwrap().push("batch ends");
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            order.lock().unwrap().is_empty(),
            "the thread waits for the turn held"
        );
        drop(held);
        tokio::task::spawn_blocking(move || batch_started.recv().unwrap())
            .await
            .unwrap();
        let write = tokio::spawn({
            let (writer, order) = (writer.clone(), order.clone());
            async move {
                let _turn = writer.turn().await;
                order.lock().unwrap().push("write");
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        finish.send(()).unwrap();
        write.await.unwrap();
        batch.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["batch", "batch ends", "write"]);
    }
}
