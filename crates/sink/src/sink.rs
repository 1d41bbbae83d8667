//! The running sink as one chain. A document goes through these steps,
//! each in its own file:
//!
//! ```text
//! accept ──▶ batch ──▶ encode ──▶ deliver, retry ──▶ answer ──▶ drain
//! ```
//!
//! 1. **accept** (`sender.rs`): [`DocumentSender::send`] checks that the
//!    document is one line of a JSON object and puts it in the bounded
//!    queue, waiting while the queue is full. With a disk buffer it is
//!    appended to the buffer instead (`disk_buffer.rs`), and the disk
//!    feeder (`feeder.rs`) moves records from disk into the queue.
//! 2. **batch** (`dispatch.rs`): one task fills a batch from the queue and
//!    flushes it on size, document count or age, with at most
//!    `max_in_flight` deliveries running; while all are busy it stops
//!    reading the queue, so producers wait.
//! 3. **encode** (`encoder.rs`): the batch's NDJSON bulk body, gzipped at
//!    level 1, on a blocking thread.
//! 4. **deliver, retry** (`deliver.rs`): one bulk request per attempt
//!    (`transport.rs`), each item's status sorted by `retry.rs` (delivered,
//!    duplicate, retried alone after a backoff with full jitter,
//!    dead-lettered); a 413 splits the request in halves.
//! 5. **answer** (`outcome.rs`): an answered document is acknowledged in
//!    the disk buffer, a refused one is written to the dead letters, and
//!    one given up at the drain deadline is counted as lost (or stays on
//!    disk).
//! 6. **drain** (`drain.rs`): [`BulkSink::shutdown`] closes the way in and
//!    tells every task the deadline; every wait in the chain (a retry
//!    wait, a request, the batch age) obeys it; the report says what was
//!    lost or left on disk.
//!
//! This file holds what the steps share and [`BulkSink::start`], which
//! wires them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::batch::Document;
use crate::config::{Compression, SinkConfig};
use crate::dead_letter::DeadLetterStore;
use crate::disk_buffer::{DiskBuffer, Ticket};
use crate::dispatch::dispatch;
use crate::drain::{self, DrainReport};
use crate::error::SinkError;
use crate::feeder::feed;
use crate::metrics::{SinkMetrics, SinkMetricsSnapshot};
use crate::retry::RetryPolicy;
use crate::sender::DocumentSender;
use crate::transport::BulkTransport;

/// What the sink's tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) metrics: SinkMetrics,
    pub(crate) transport: BulkTransport,
    pub(crate) dead_letters: Option<DeadLetterStore>,
    pub(crate) retry: RetryPolicy,
    pub(crate) compression: Compression,
    /// The disk buffer, when configured: documents go to disk, and a
    /// feeder task moves them from disk into the queue.
    pub(crate) disk: Option<DiskBuffer>,
}

/// A document in the queue, with its place in the disk buffer if any.
pub(crate) struct Queued {
    pub(crate) doc: Document,
    pub(crate) ticket: Option<Ticket>,
}

/// A running bulk writer. Documents go in through [`BulkSink::send`] (or a
/// [`DocumentSender`] per producer) and out to the cluster in batches; call
/// [`BulkSink::shutdown`] to drain it.
///
/// Dropping a `BulkSink` without `shutdown` lets its task finish the
/// documents already queued in the background, without a deadline, once
/// every [`DocumentSender`] is dropped too.
#[derive(Debug)]
pub struct BulkSink {
    sender: DocumentSender,
    drain: watch::Sender<Option<Instant>>,
    worker: JoinHandle<()>,
}

impl BulkSink {
    /// Starts the sink's task on the current tokio runtime. Nothing is sent
    /// to the cluster until documents arrive; use
    /// [`Cluster::server_info`](crate::Cluster::server_info) first to check
    /// what the server is.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(config: SinkConfig) -> Result<BulkSink, SinkError> {
        config.validate()?;
        let transport = BulkTransport::new(&config)?;
        let dead_letters = config
            .dead_letter_path
            .clone()
            .map(DeadLetterStore::open)
            .transpose()?;
        let metrics = SinkMetrics::default();
        let disk = config
            .disk_buffer
            .clone()
            .map(|c| DiskBuffer::open(c, &metrics))
            .transpose()?;
        let disk_mode = disk.is_some();
        let shared = Arc::new(Shared {
            metrics,
            transport,
            dead_letters,
            retry: config.retry,
            compression: config.compression,
            disk,
        });
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let (drain_tx, drain_rx) = watch::channel(None);
        let dispatcher = dispatch(
            shared.clone(),
            rx,
            drain_rx.clone(),
            config.batch,
            config.max_in_flight,
        );
        let (worker, tx) = if disk_mode {
            let feeder = feed(shared.clone(), tx, drain_rx);
            let worker = tokio::spawn(async move {
                tokio::join!(dispatcher, feeder);
            });
            (worker, None)
        } else {
            (tokio::spawn(dispatcher), Some(tx))
        };
        tracing::debug!(hosts = ?config.hosts, queue_capacity = config.queue_capacity, max_in_flight = config.max_in_flight, disk_buffer = disk_mode, "bulk sink started");
        Ok(BulkSink {
            sender: DocumentSender {
                tx,
                queue_capacity: config.queue_capacity,
                shared,
            },
            drain: drain_tx,
            worker,
        })
    }

    /// Queues a document, waiting while the queue is full (back-pressure).
    pub async fn send(&self, doc: Document) -> Result<(), SinkError> {
        self.sender.send(doc).await
    }

    /// Queues a document if there is room now, without waiting.
    pub fn try_send(&self, doc: Document) -> Result<(), SinkError> {
        self.sender.try_send(doc)
    }

    /// Another handle for queueing documents (one per producer task).
    pub fn sender(&self) -> DocumentSender {
        self.sender.clone()
    }

    /// The sink's counters now.
    pub fn metrics(&self) -> SinkMetricsSnapshot {
        self.sender.metrics()
    }

    /// Stops taking documents and sends what is queued or pending, for at
    /// most `deadline`: batches go out at once, retry waits are cut short
    /// (a waiting retry is tried at once, later waits end at the deadline).
    /// What is not delivered by then is counted as lost and reported; with
    /// a disk buffer it stays on disk instead and is reported as
    /// [`DrainReport::buffered`].
    pub async fn shutdown(self, deadline: Duration) -> DrainReport {
        drain::shutdown(self.sender, self.drain, self.worker, deadline).await
    }
}
