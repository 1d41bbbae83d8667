//! The way in: [`DocumentSender`] checks a document and queues it, or,
//! with a disk buffer, appends it to the buffer (waiting while it is full).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::batch::{Document, single_line_object_problem};
use crate::disk_buffer::Appended;
use crate::error::SinkError;
use crate::metrics::{SinkMetricsSnapshot, add, sub};
use crate::sink::{Queued, Shared};

/// A handle that queues documents into a [`BulkSink`](crate::BulkSink); cheap to clone, one
/// per producer task.
#[derive(Debug, Clone)]
pub struct DocumentSender {
    /// The queue; `None` with a disk buffer (documents go to disk and the
    /// feeder task holds the queue's only sender).
    pub(crate) tx: Option<mpsc::Sender<Queued>>,
    pub(crate) queue_capacity: usize,
    pub(crate) shared: Arc<Shared>,
}

impl DocumentSender {
    /// Queues a document, waiting while the queue is full (back-pressure).
    /// Fails at once if the document is not one line of a JSON object, or
    /// if the sink is shut down.
    ///
    /// With a disk buffer, the document is written to the buffer (on a
    /// blocking thread, with an fsync if the policy says so) before this
    /// returns, and it waits while the buffer is full instead.
    pub async fn send(&self, doc: Document) -> Result<(), SinkError> {
        check(&doc)?;
        let Some(tx) = &self.tx else {
            return self.append_to_disk(doc).await;
        };
        add(&self.shared.metrics.events_accepted, 1);
        tx.send(Queued { doc, ticket: None }).await.map_err(|_| {
            sub(&self.shared.metrics.events_accepted, 1);
            SinkError::Closed
        })
    }

    async fn append_to_disk(&self, doc: Document) -> Result<(), SinkError> {
        let doc = Arc::new(doc);
        // Bounded: each round waits for room at most a second, and the
        // loop ends when the document is written or the sink closes.
        loop {
            let shared = self.shared.clone();
            let space = shared.clone();
            let notified = space.disk.as_ref().map(|d| d.space.notified());
            let written = {
                let doc = doc.clone();
                tokio::task::spawn_blocking(move || match &shared.disk {
                    Some(disk) => disk.append(&doc, &shared.metrics),
                    None => Err(SinkError::Closed),
                })
                .await
                .map_err(|_| SinkError::Closed)??
            };
            match written {
                Appended::Written => {
                    add(&self.shared.metrics.events_accepted, 1);
                    return Ok(());
                }
                Appended::Full => {
                    if let Some(notified) = notified {
                        let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
                    }
                }
            }
        }
    }

    /// Queues a document if there is room now, without waiting.
    ///
    /// With a disk buffer, this writes to the buffer on the calling thread
    /// (an fsync too, if the policy says so) and fails with
    /// [`SinkError::QueueFull`] when the buffer is full.
    pub fn try_send(&self, doc: Document) -> Result<(), SinkError> {
        check(&doc)?;
        let Some(tx) = &self.tx else {
            let Some(disk) = &self.shared.disk else {
                return Err(SinkError::Closed);
            };
            return match disk.append(&doc, &self.shared.metrics)? {
                Appended::Written => {
                    add(&self.shared.metrics.events_accepted, 1);
                    Ok(())
                }
                Appended::Full => Err(SinkError::QueueFull {
                    capacity: self.queue_capacity,
                }),
            };
        };
        add(&self.shared.metrics.events_accepted, 1);
        tx.try_send(Queued { doc, ticket: None }).map_err(|e| {
            sub(&self.shared.metrics.events_accepted, 1);
            match e {
                mpsc::error::TrySendError::Full(_) => SinkError::QueueFull {
                    capacity: tx.max_capacity(),
                },
                mpsc::error::TrySendError::Closed(_) => SinkError::Closed,
            }
        })
    }

    /// The sink's counters now.
    pub fn metrics(&self) -> SinkMetricsSnapshot {
        let depth = match &self.tx {
            Some(tx) => tx.max_capacity() - tx.capacity(),
            None => self
                .shared
                .metrics
                .disk_unread
                .load(std::sync::atomic::Ordering::Relaxed) as usize,
        };
        self.shared
            .metrics
            .snapshot(depth, self.shared.transport.alive_nodes())
    }
}

fn check(doc: &Document) -> Result<(), SinkError> {
    match single_line_object_problem(&doc.source) {
        None => Ok(()),
        Some(problem) => Err(SinkError::RefusedDocument {
            index: doc.index.clone(),
            reason: problem.to_owned(),
        }),
    }
}
