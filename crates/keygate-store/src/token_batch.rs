//! Group commit of new access tokens. Concurrent [`crate::AccessTokenRepository::insert_token`]
//! calls queue their tokens; one writer task takes whatever is queued, up to
//! [`MAX_BATCH`], and writes it at once — one multi-row `INSERT`, or a few in one
//! transaction — and each caller is answered only after the statement or transaction
//! holding its token has committed. Durability is that of a statement of its own; what
//! changes is one commit (and, on SQLite, one write lock and one hand-off to the
//! connection's thread) per batch instead of per token, and no writer waiting in SQLite's
//! busy handler for another's lock.
//!
//! The writer is started by an insert that finds none running, on that caller's runtime,
//! and stops when the queue is empty. At most [`MAX_QUEUED`] tokens wait; further callers
//! wait for room. When a batch fails nothing of it is kept, and its tokens are written
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

/// The group-commit writer of new tokens over one database.
pub(crate) struct TokenBatcher {
    queue: Arc<Mutex<Queue>>,
    room: Arc<Semaphore>,
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
        }
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue
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
            tokio::spawn(drain(db.clone(), self.queue.clone()));
        }
        outcome.await.unwrap_or_else(|_| Err(writer_stopped(db)))
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

/// The writer: batches until the queue is empty, on one connection held meanwhile — on
/// SQLite a connection keeps its page cache only while no other connection writes, so
/// writing every batch on the same one keeps the index pages it touches cached.
async fn drain(db: Db, queue: Arc<Mutex<Queue>>) {
    let mut guard = WriterGuard {
        queue: queue.clone(),
        db: db.clone(),
        finished: false,
    };
    let mut connection: Option<PoolConnection<Any>> = None;
    loop {
        let batch: Vec<Pending> = {
            let mut queue = lock(&queue);
            let n = queue.pending.len().min(MAX_BATCH);
            if n == 0 {
                queue.writing = false;
                guard.finished = true;
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

/// Sizes of the `INSERT`s that write `n` tokens: the largest allowed power of two first.
fn statement_sizes(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let size = if n >= MAX_ROWS_PER_INSERT {
            MAX_ROWS_PER_INSERT
        } else {
            1 << n.ilog2()
        };
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
    fn batches_split_into_few_prepared_statement_sizes() {
        assert_eq!(statement_sizes(0), Vec::<usize>::new());
        assert_eq!(statement_sizes(1), [1]);
        assert_eq!(statement_sizes(32), [32]);
        assert_eq!(statement_sizes(27), [16, 8, 2, 1]);
        assert_eq!(statement_sizes(200), [64, 64, 64, 8]);
        for n in 0..=MAX_BATCH {
            let sizes = statement_sizes(n);
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(
                sizes
                    .iter()
                    .all(|s| s.is_power_of_two() && *s <= MAX_ROWS_PER_INSERT)
            );
        }
    }
}
