//! The in-process bus: every role in one process, no broker. One broadcast channel per
//! subject; a subscriber that falls behind is told how many events it missed
//! ([`ResyncReason::Lagged`]) rather than silently losing them.

use crate::{
    BusError, BusMessage, Envelope, EventBus, ResyncReason, Subject, Subscription,
    SubscriptionStream,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Events a subscriber may fall behind by before it must resynchronise.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// An [`EventBus`] over in-memory channels.
#[derive(Clone)]
pub struct InProcessBus {
    channels: Arc<Mutex<HashMap<Subject, broadcast::Sender<Envelope>>>>,
    capacity: usize,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl InProcessBus {
    /// A bus whose subscribers may each fall `capacity` events behind.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            channels: Arc::new(Mutex::new(HashMap::new())),
            capacity: capacity.max(1),
        }
    }

    fn sender(&self, subject: &Subject) -> broadcast::Sender<Envelope> {
        // A poisoned lock only means another thread panicked mid-insert; the map is intact.
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        channels
            .entry(subject.clone())
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .clone()
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, subject: &Subject, event: &Envelope) -> Result<(), BusError> {
        event.check_size()?;
        // No subscriber is not an error: nobody was listening, as with a broker.
        let _ = self.sender(subject).send(event.clone());
        Ok(())
    }

    async fn subscribe(&self, subject: &Subject) -> Result<Subscription, BusError> {
        Ok(Subscription::new(InProcessStream {
            rx: self.sender(subject).subscribe(),
            greeted: false,
        }))
    }

    fn transport(&self) -> &'static str {
        "in-process"
    }
}

struct InProcessStream {
    rx: broadcast::Receiver<Envelope>,
    greeted: bool,
}

#[async_trait]
impl SubscriptionStream for InProcessStream {
    async fn next(&mut self) -> Option<BusMessage> {
        if !self.greeted {
            self.greeted = true;
            return Some(BusMessage::Resync {
                reason: ResyncReason::Connected,
            });
        }
        match self.rx.recv().await {
            Ok(event) => Some(BusMessage::Event(event)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(BusMessage::Resync {
                reason: ResyncReason::Lagged { missed },
            }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        conformance::run_all(&InProcessBus::default()).await;
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_what_it_missed() {
        let bus = InProcessBus::with_capacity(4);
        let subject = Subject::notification(&Default::default());
        let mut sub = bus.subscribe(&subject).await.unwrap();
        assert_eq!(
            sub.next().await,
            Some(BusMessage::Resync {
                reason: ResyncReason::Connected
            })
        );
        for revision in 1..=10 {
            bus.publish(&subject, &conformance::event(revision))
                .await
                .unwrap();
        }
        assert_eq!(
            sub.next().await,
            Some(BusMessage::Resync {
                reason: ResyncReason::Lagged { missed: 6 }
            })
        );
        match sub.next().await {
            Some(BusMessage::Event(e)) => assert_eq!(e.revision, 7),
            other => panic!("expected revision 7, got {other:?}"),
        }
    }
}
