//! One subscription on one AMQP connection: an exclusive, auto-deleted queue bound to the
//! subject, a consumer on its own channel, and a task moving deliveries into the
//! subscriber's buffer — `Resync { Connected }` first, malformed deliveries skipped.

use super::link::Registered;
use crate::{BusMessage, Envelope, ResyncReason, Subject, SubscriptionStream};
use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use tokio::sync::mpsc;

/// Deliveries the broker may push to one subscription before it is acknowledged.
const PREFETCH: u16 = 256;

/// Declares and binds the subscription's queue and starts forwarding its deliveries.
pub(crate) async fn bind(
    connection: &Connection,
    exchange: &str,
    registered: &Registered,
    lost: mpsc::UnboundedSender<u64>,
    generation: u64,
) -> lapin::Result<()> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.name().clone(),
            exchange.into(),
            registered.subject.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let tag = format!("keygate-{}", uuid::Uuid::new_v4());
    let consumer = channel
        .basic_consume(
            queue.name().clone(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let forwarder = Forwarder {
        channel,
        consumer,
        sink: registered.sink.clone(),
        subject: registered.subject.clone(),
        lost,
        generation,
    };
    tokio::spawn(forwarder.run());
    Ok(())
}

struct Forwarder {
    channel: Channel,
    consumer: Consumer,
    sink: mpsc::Sender<BusMessage>,
    subject: Subject,
    lost: mpsc::UnboundedSender<u64>,
    generation: u64,
}

impl Forwarder {
    async fn run(mut self) {
        let connected = BusMessage::Resync {
            reason: ResyncReason::Connected,
        };
        if self.sink.send(connected).await.is_err() {
            return self.unsubscribe().await;
        }
        loop {
            tokio::select! {
                () = self.sink.closed() => return self.unsubscribe().await,
                delivery = self.consumer.next() => match delivery {
                    Some(Ok(delivery)) => {
                        if let Some(message) = decode(&self.subject, &delivery.data)
                            && self.sink.send(message).await.is_err()
                        {
                            return self.unsubscribe().await;
                        }
                        if delivery.acker.ack(BasicAckOptions::default()).await.is_err() {
                            return self.fail();
                        }
                    }
                    Some(Err(error)) => {
                        tracing::debug!(subject = %self.subject, %error, "AMQP consumer failed");
                        return self.fail();
                    }
                    None => return self.fail(),
                },
            }
        }
    }

    /// The subscriber is gone: closing the channel cancels the consumer, and the broker
    /// deletes the auto-delete queue with it.
    async fn unsubscribe(self) {
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            self.channel.close(200, "unsubscribed".into()),
        )
        .await;
    }

    fn fail(self) {
        let _ = self.lost.send(self.generation);
    }
}

/// An event, or `None` (logged) when the delivery is not a keygate envelope.
fn decode(subject: &Subject, data: &[u8]) -> Option<BusMessage> {
    match Envelope::decode(data) {
        Ok(event) => Some(BusMessage::Event(event)),
        Err(error) => {
            tracing::warn!(%subject, %error, bytes = data.len(), "skipping a delivery that is not a keygate event");
            None
        }
    }
}

/// The subscriber's side: what the forwarding tasks put in its buffer.
pub(crate) struct AmqpStream {
    rx: mpsc::Receiver<BusMessage>,
}

impl AmqpStream {
    pub(crate) fn new(rx: mpsc::Receiver<BusMessage>) -> Self {
        Self { rx }
    }
}

#[async_trait]
impl SubscriptionStream for AmqpStream {
    async fn next(&mut self) -> Option<BusMessage> {
        self.rx.recv().await
    }
}
