//! Publish confirmation over core NATS, which has none of its own: after an event the bus
//! publishes a numbered token on its private confirm subject, to which it is itself
//! subscribed. NATS handles one connection's messages in order, so when the token comes
//! back the server has taken the event — and every subscription made before it — and
//! handed the event to every subscriber connected at that moment.

use async_nats::{Client, Subscriber};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;

/// Tokens awaited by publishes, keyed by number.
#[derive(Default)]
pub(crate) struct Confirms {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

/// Removes a token that was never echoed (a lost connection, a timeout).
struct Pending<'c> {
    confirms: &'c Confirms,
    token: u64,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.confirms.take(self.token);
    }
}

impl Confirms {
    fn take(&self, token: u64) -> Option<oneshot::Sender<()>> {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&token)
    }

    /// Publishes a token on `subject` and waits for it to come back. `Err` when the client
    /// could not send it; a token lost with its connection never returns, so callers
    /// bound the wait and watch the connection.
    pub(crate) async fn round_trip(
        &self,
        client: &Client,
        subject: &str,
    ) -> Result<(), async_nats::PublishError> {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, tx);
        let _pending = Pending {
            confirms: self,
            token,
        };
        client
            .publish(subject.to_owned(), token.to_string().into())
            .await?;
        // The sender only disappears with the bus; then there is nothing to confirm.
        let _ = rx.await;
        Ok(())
    }

    /// Reads echoed tokens until the subscription ends.
    pub(crate) async fn serve(self: Arc<Self>, mut echoes: Subscriber) {
        while let Some(message) = echoes.next().await {
            let token = std::str::from_utf8(&message.payload)
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(waiter) = token.and_then(|t| self.take(t)) {
                let _ = waiter.send(());
            }
        }
    }
}
