//! Group commit of new access tokens. Concurrent [`crate::AccessTokenRepository::insert_token`]
//! calls queue their tokens; one writer task takes whatever is queued, up to
//! [`MAX_BATCH`], and writes it at once — one multi-row `INSERT` of up to 64 tokens, or a
//! few in one transaction — and each caller is answered only after the statement or transaction
//! holding its token has committed. Durability is that of a statement of its own; what
//! changes is one commit (and, on SQLite, one write lock and one hand-off to the
//! connection's thread) per batch instead of per token, and no writer waiting in SQLite's
//! busy handler for another's lock.
//!
//! The writer is started by an insert that finds none running, on that caller's runtime,
//! and stops when the queue is empty. It writes on one connection, which it keeps between
//! runs when the pool has at least [`KEEP_FROM_POOL_SIZE`] connections (one connection of the
//! pool then stays checked out until [`TokenBatcher::release`]; a smaller pool gets it back,
//! so that a `maxActive` of 1 or 2 never starves the node's other statements):
//! on SQLite a connection's page cache survives only while no other connection writes,
//! so writing every batch on the same one keeps the index pages it touches cached, and
//! no run pays for checking a connection out of the pool (a round trip to test it). At
//! most [`MAX_QUEUED`] tokens wait; further callers wait for room. When a batch fails nothing of it is kept, and its tokens are written
//! one by one, so that every caller gets its own answer (one conflicting token fails
//! alone).

use crate::db::Db;
use crate::error::{StoreError, StoreResult};
use crate::tokens::{MAX_ROWS_PER_INSERT, write_token, write_tokens};
use keygate_model::AccessToken;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Most tokens written in one transaction.
pub(crate) const MAX_BATCH: usize = 256;
/// The smallest pool whose writer keeps its connection between runs.
pub(crate) const KEEP_FROM_POOL_SIZE: u32 = 4;
/// Most tokens waiting for the writer.
pub(crate) const MAX_QUEUED: usize = 4096;

/// A token waiting to be written, and where its outcome goes.
struct Pending {
    token: AccessToken,
    done: oneshot::Sender<StoreResult<()>>,
    /// Its place in the queue, given back once it is answered.
    _room: OwnedSemaphorePermit,
}

/// The queue, and whether a writer is draining it.
#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    writing: bool,
}

/// The writer's connection between runs.
#[derive(Default)]
struct Kept {
    connection: Option<PoolConnection<Any>>,
    /// Set by [`TokenBatcher::release`]: from then on no connection is kept.
    released: bool,
}

/// The group-commit writer of new tokens over one database.
pub(crate) struct TokenBatcher {
    queue: Arc<Mutex<Queue>>,
    room: Arc<Semaphore>,
    kept: Arc<Mutex<Kept>>,
}

impl std::fmt::Debug for TokenBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBatcher")
            .field("queued", &lock(&self.queue).pending.len())
            .finish()
    }
}

impl Default for TokenBatcher {
    fn default() -> Self {
        Self {
            queue: Arc::default(),
            room: Arc::new(Semaphore::new(MAX_QUEUED)),
            kept: Arc::default(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The error of a token whose writer stopped before answering (its runtime shut down).
fn writer_stopped(db: &Db) -> StoreError {
    StoreError::Unavailable {
        backend: db.backend().name(),
        addr: db.addr().to_owned(),
        source: sqlx::Error::WorkerCrashed,
    }
}

impl TokenBatcher {
    /// Writes `token` with whatever else is queued; returns once its transaction
    /// committed (or failed).
    pub(crate) async fn insert(&self, db: &Db, token: AccessToken) -> StoreResult<()> {
        let room = self
            .room
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| writer_stopped(db))?;
        let (done, outcome) = oneshot::channel();
        let start_writer = {
            let mut queue = lock(&self.queue);
            queue.pending.push(Pending {
                token,
                done,
                _room: room,
            });
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_writer {
            tokio::spawn(drain(db.clone(), self.queue.clone(), self.kept.clone()));
        }
        outcome.await.unwrap_or_else(|_| Err(writer_stopped(db)))
    }

    /// Gives the kept connection back to the pool, and keeps none from now on: before
    /// the pool closes, which waits for every checked-out connection.
    pub(crate) fn release(&self) {
        let connection = {
            let mut kept = lock(&self.kept);
            kept.released = true;
            kept.connection.take()
        };
        drop(connection);
    }
}

/// Marks the writer stopped however its task ends; if it ends early (its runtime shut
/// down), queued tokens are answered with an error rather than left waiting.
struct WriterGuard {
    queue: Arc<Mutex<Queue>>,
    db: Db,
    /// Set when the writer found the queue empty and stopped: nothing left to do.
    finished: bool,
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let abandoned = {
            let mut queue = lock(&self.queue);
            queue.writing = false;
            std::mem::take(&mut queue.pending)
        };
        for pending in abandoned {
            let _ = pending.done.send(Err(writer_stopped(&self.db)));
        }
    }
}

/// The writer: batches until the queue is empty, on the kept connection (or one from the
/// pool), which it keeps again when it stops.
async fn drain(db: Db, queue: Arc<Mutex<Queue>>, kept: Arc<Mutex<Kept>>) {
    let mut guard = WriterGuard {
        queue: queue.clone(),
        db: db.clone(),
        finished: false,
    };
    let mut connection: Option<PoolConnection<Any>> = lock(&kept).connection.take();
    loop {
        let batch: Vec<Pending> = {
            let mut queue = lock(&queue);
            let n = queue.pending.len().min(MAX_BATCH);
            if n == 0 {
                // Kept before the next writer can start, so that it finds the connection.
                let unused = {
                    let mut kept = lock(&kept);
                    if kept.released
                        || db.pool().options().get_max_connections() < KEEP_FROM_POOL_SIZE
                    {
                        connection
                    } else {
                        kept.connection = connection;
                        None
                    }
                };
                queue.writing = false;
                guard.finished = true;
                drop(queue);
                drop(unused);
                return;
            }
            queue.pending.drain(..n).collect()
        };
        if connection.is_none() {
            connection = db.pool().acquire().await.ok();
        }
        let written = match connection.as_mut() {
            Some(conn) => write_batch(&db, conn, batch).await,
            // No connection now: each token tries the pool itself and reports why not.
            None => write_each(&db, batch).await,
        };
        if !written {
            // Whatever went wrong, the next batch starts on a fresh connection.
            connection = None;
        }
    }
}

/// Writes one batch on `conn` and answers its callers; whether all went well.
async fn write_batch(db: &Db, conn: &mut AnyConnection, batch: Vec<Pending>) -> bool {
    match write_together(db, conn, &batch).await {
        Ok(()) => {
            for pending in batch {
                let _ = pending.done.send(Ok(()));
            }
            true
        }
        Err(error) => {
            tracing::debug!(%error, tokens = batch.len(), "token batch failed; writing each alone");
            write_each(db, batch).await;
            false
        }
    }
}

/// Writes each token of `batch` on its own, through the pool; whether all were written.
async fn write_each(db: &Db, batch: Vec<Pending>) -> bool {
    let mut all = true;
    for pending in batch {
        let outcome = write_token(db, db.pool(), &pending.token).await;
        all &= outcome.is_ok();
        let _ = pending.done.send(outcome);
    }
    all
}

/// Sizes of the `INSERT`s that write `n` tokens: as many of the largest as fit, then the
/// rest in one.
fn statement_sizes(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let size = n.min(MAX_ROWS_PER_INSERT);
        sizes.push(size);
        n -= size;
    }
    sizes
}

/// Writes the whole batch or nothing: one statement when its size allows, else a few in
/// one transaction.
async fn write_together(db: &Db, conn: &mut AnyConnection, batch: &[Pending]) -> StoreResult<()> {
    let tokens: Vec<&AccessToken> = batch.iter().map(|p| &p.token).collect();
    let sizes = statement_sizes(tokens.len());
    if let [_] = sizes.as_slice() {
        return write_tokens(db, &mut *conn, &tokens).await;
    }
    let mut tx = conn
        .begin_with(db.backend().begin_statement())
        .await
        .map_err(|e| db.fail(e, "transaction"))?;
    let mut rest = tokens.as_slice();
    for size in sizes {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        if let Err(error) = write_tokens(db, &mut *tx, chunk).await {
            // Rolled back now, not when the connection is next used: the tokens are
            // about to be written one by one on other connections, which must not wait
            // for this transaction's locks.
            if let Err(e) = tx.rollback().await {
                tracing::debug!(error = %e, "token batch rollback failed");
            }
            return Err(error);
        }
        rest = tail;
    }
    tx.commit()
        .await
        .map_err(|e| db.fail(e, "access token batch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_into_as_few_statements_as_the_row_limit_allows() {
        assert_eq!(statement_sizes(0), Vec::<usize>::new());
        assert_eq!(statement_sizes(1), [1]);
        assert_eq!(statement_sizes(27), [27]);
        assert_eq!(statement_sizes(64), [64]);
        assert_eq!(statement_sizes(200), [64, 64, 64, 8]);
        for n in 0..=MAX_BATCH {
            let sizes = statement_sizes(n);
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert_eq!(sizes.len(), n.div_ceil(MAX_ROWS_PER_INSERT));
            assert!(sizes.iter().all(|s| (1..=MAX_ROWS_PER_INSERT).contains(s)));
        }
    }
}
