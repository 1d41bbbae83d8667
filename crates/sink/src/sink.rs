//! The running sink: a bounded queue, batches that flush on size, count or
//! age, requests in flight with per-item retries, dead letters, and a drain
//! within a deadline.

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::batch::single_line_object_problem;
use crate::batch::{BulkBatch, Document};
use crate::config::{BatchLimits, Compression, SinkConfig};
use crate::dead_letter::{DeadLetter, DeadLetterStore};
use crate::disk_buffer::{Appended, DiskBuffer, Ticket};
use crate::error::{SinkError, truncate};
use crate::metrics::{SinkMetrics, SinkMetricsSnapshot, add, sub};
use crate::response::parse_bulk_response;
use crate::retry::{ItemAction, RetryPolicy};
use crate::transport::BulkTransport;

/// When the drain must be over; `None` while the sink runs normally.
type DrainSignal = watch::Receiver<Option<Instant>>;

/// What the sink's tasks share.
#[derive(Debug)]
struct Shared {
    metrics: SinkMetrics,
    transport: BulkTransport,
    dead_letters: Option<DeadLetterStore>,
    retry: RetryPolicy,
    compression: Compression,
    /// The disk buffer, when configured: documents go to disk, and a
    /// feeder task moves them from disk into the queue.
    disk: Option<DiskBuffer>,
}

/// A document in the queue, with its place in the disk buffer if any.
struct Queued {
    doc: Document,
    ticket: Option<Ticket>,
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

/// A handle that queues documents into a [`BulkSink`]; cheap to clone, one
/// per producer task.
#[derive(Debug, Clone)]
pub struct DocumentSender {
    /// The queue; `None` with a disk buffer (documents go to disk and the
    /// feeder task holds the queue's only sender).
    tx: Option<mpsc::Sender<Queued>>,
    queue_capacity: usize,
    shared: Arc<Shared>,
}

/// What [`BulkSink::shutdown`] achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    /// Documents given up because the deadline passed before they could
    /// be delivered (and, if a dead-letter file could not be written, the
    /// refused documents it should have held). With `create` and ids, a
    /// document counted here may still have been written by a request whose
    /// answer never came.
    pub lost: u64,
    /// True when the deadline passed with work left.
    pub deadline_reached: bool,
    /// With a disk buffer: documents not answered by the server that stay
    /// in the buffer's folder; the next sink started on that folder sends
    /// them first. Always 0 without a disk buffer (they are `lost`).
    pub buffered: u64,
    /// The counters at the end.
    pub metrics: SinkMetricsSnapshot,
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
        let at = Instant::now() + deadline;
        if let Some(disk) = &self.sender.shared.disk {
            disk.close();
        }
        let _ = self.drain.send(Some(at));
        let mut worker = self.worker;
        // The tasks stop by themselves at the deadline; the margin covers
        // the last dead-letter writes.
        let finished = tokio::time::timeout_at(at + Duration::from_secs(5), &mut worker).await;
        let shared = &self.sender.shared;
        if finished.is_err() {
            worker.abort();
            let stranded = shared
                .metrics
                .pending_events
                .load(std::sync::atomic::Ordering::Relaxed);
            if shared.disk.is_none() {
                add(&shared.metrics.events_lost, stranded as usize);
            }
            tracing::error!(
                stranded,
                "bulk sink did not stop in time after its drain deadline"
            );
        }
        if shared.disk.is_some() {
            let syncing = shared.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(disk) = &syncing.disk {
                    disk.sync(true);
                }
            })
            .await;
        }
        let metrics = self.sender.metrics();
        if metrics.events_lost > 0 {
            tracing::warn!(
                lost = metrics.events_lost,
                "bulk sink drain deadline passed; documents were not delivered"
            );
        }
        let buffered = if shared.disk.is_some() {
            metrics.disk_buffer_records
        } else {
            0
        };
        if buffered > 0 {
            tracing::warn!(
                buffered,
                "bulk sink drain ended with documents left in the disk buffer; the next sink on its folder sends them"
            );
        }
        DrainReport {
            lost: metrics.events_lost,
            deadline_reached: metrics.events_lost > 0 || buffered > 0,
            buffered,
            metrics,
        }
    }
}

/// The dispatcher: fills batches from the queue and starts a delivery task
/// per batch, at most `max_in_flight` at a time. While all are busy and the
/// batch is full it stops reading the queue, so producers wait.
async fn dispatch(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Queued>,
    mut drain: DrainSignal,
    limits: BatchLimits,
    max_in_flight: usize,
) {
    let mut batch: Vec<Queued> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut batch_started: Option<Instant> = None;
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut receiving = true;
    let mut drain_watch_alive = true;
    let mut deadline: Option<Instant> = None;
    loop {
        let full = batch.len() >= limits.max_documents || batch_bytes >= limits.max_bytes;
        let aged = batch_started.is_some_and(|t| t.elapsed() >= limits.max_age);
        // Draining (or the queue closed): send without waiting for age,
        // but first take what is already queued, so the drain sends full
        // batches rather than many small ones.
        let closing = (deadline.is_some() || !receiving) && rx.is_empty();
        let due = !batch.is_empty() && (full || aged || closing);
        if due && in_flight.len() < max_in_flight {
            let docs = std::mem::take(&mut batch);
            batch_bytes = 0;
            batch_started = None;
            in_flight.spawn(deliver(shared.clone(), docs, drain.clone()));
            continue;
        }
        if !receiving && batch.is_empty() && in_flight.is_empty() {
            break;
        }
        let age_wake = batch_started.map(|t| t + limits.max_age);
        tokio::select! {
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(error = %e, "bulk delivery task failed");
                }
            }
            doc = rx.recv(), if receiving && !full => match doc {
                Some(doc) => {
                    if batch.is_empty() {
                        batch_started = Some(Instant::now());
                    }
                    batch_bytes += doc.doc.encoded_len();
                    add(&shared.metrics.pending_events, 1);
                    batch.push(doc);
                }
                None => receiving = false,
            },
            () = sleep_until_some(age_wake), if age_wake.is_some() && !due => {}
            changed = drain.changed(), if drain_watch_alive && deadline.is_none() => match changed {
                Ok(()) => {
                    deadline = *drain.borrow_and_update();
                    // Refuse new documents; the ones queued are still read.
                    // With a disk buffer the feeder ends the queue itself,
                    // once it has handed over what is on disk.
                    if shared.disk.is_none() {
                        rx.close();
                    }
                }
                Err(_) => drain_watch_alive = false,
            },
            () = sleep_until_some(deadline), if deadline.is_some() => {
                // Out of time: what is still queued or batched is lost; the
                // delivery tasks see the deadline themselves and stop.
                let mut lost = batch.len();
                sub(&shared.metrics.pending_events, batch.len());
                batch.clear();
                while rx.try_recv().is_ok() {
                    lost += 1;
                }
                // With a disk buffer they stay on disk, unacknowledged.
                if shared.disk.is_none() {
                    add(&shared.metrics.events_lost, lost);
                }
                while let Some(joined) = in_flight.join_next().await {
                    if let Err(e) = joined {
                        tracing::error!(error = %e, "bulk delivery task failed");
                    }
                }
                break;
            }
        }
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A document, its place in the disk buffer, and the item-level retries it
/// has had.
struct Pending {
    doc: Document,
    ticket: Option<Ticket>,
    item_retries: u32,
}

/// How one attempt at a bulk request ended.
enum Attempt {
    /// The server answered every item; the statuses are in order.
    Answered(Vec<(Pending, u16, Option<String>)>, String),
    /// 413: the body is too large for the server.
    TooLarge(Vec<Pending>),
    /// No usable answer; the whole request may be tried again.
    Failed(Vec<Pending>, String),
    /// The drain deadline passed first.
    OutOfTime(Vec<Pending>),
}

/// Delivers one batch: sends it, then re-sends only what must be retried,
/// until every document is delivered, dead-lettered, or the drain deadline
/// passes.
async fn deliver(shared: Arc<Shared>, docs: Vec<Queued>, mut drain: DrainSignal) {
    let metrics = &shared.metrics;
    add(&metrics.in_flight_requests, 1);
    let pending = docs
        .into_iter()
        .map(|queued| Pending {
            doc: queued.doc,
            ticket: queued.ticket,
            item_retries: 0,
        })
        .collect();
    // Units of work: documents to send together, and the retry round they
    // are in (0: first try). A stack: halves of a split go first-half-first.
    let mut work: Vec<(Vec<Pending>, u32)> = vec![(pending, 0)];
    while let Some((unit, round)) = work.pop() {
        if round > 0 && !pause(&mut drain, shared.retry.delay(round)).await {
            lose(&shared, unit.len());
            continue;
        }
        match attempt(&shared, unit, &mut drain).await {
            Attempt::Answered(items, server) => {
                let mut again = Vec::new();
                let mut letters = Vec::new();
                let mut answered = Vec::new();
                let mut refused = Vec::new();
                for (mut pending, status, error) in items {
                    let reason = || error.clone().unwrap_or_else(|| format!("HTTP {status}"));
                    match ItemAction::of(pending.doc.op, status) {
                        ItemAction::Delivered => {
                            add(&metrics.events_acked, 1);
                            answered.extend(pending.ticket);
                        }
                        ItemAction::Duplicate => {
                            add(&metrics.events_duplicates, 1);
                            answered.extend(pending.ticket);
                        }
                        ItemAction::Retry => {
                            pending.item_retries += 1;
                            let limit = shared.retry.max_item_retries;
                            if limit.is_some_and(|max| pending.item_retries > max) {
                                let reason = format!(
                                    "gave up after {} item retries: {}",
                                    pending.item_retries - 1,
                                    reason()
                                );
                                letters.push(DeadLetter::new(&pending.doc, status, reason));
                                refused.extend(pending.ticket);
                            } else {
                                again.push(pending);
                                continue;
                            }
                        }
                        ItemAction::DeadLetter => {
                            letters.push(DeadLetter::new(&pending.doc, status, reason()));
                            refused.extend(pending.ticket);
                        }
                    }
                    sub(&metrics.pending_events, 1);
                }
                if !again.is_empty() {
                    add(&metrics.events_retried, again.len());
                    tracing::debug!(server = %server, documents = again.len(), round = round + 1, "items to retry (429/5xx)");
                    work.push((again, round + 1));
                }
                acknowledge(&shared, answered).await;
                if store_dead_letters(&shared, letters, &server).await {
                    acknowledge(&shared, refused).await;
                }
            }
            Attempt::TooLarge(mut unit) => {
                if unit.len() == 1 {
                    let letter = DeadLetter::new(
                        &unit[0].doc,
                        413,
                        "request entity too large: the document alone exceeds the server's \
                         http.max_content_length"
                            .to_owned(),
                    );
                    sub(&metrics.pending_events, 1);
                    let ticket = unit[0].ticket;
                    if store_dead_letters(&shared, vec![letter], "").await {
                        acknowledge(&shared, ticket.into_iter().collect()).await;
                    }
                } else {
                    add(&metrics.batch_splits, 1);
                    let second = unit.split_off(unit.len() / 2);
                    tracing::debug!(
                        documents = unit.len() + second.len(),
                        "413 from the server: batch split in halves"
                    );
                    work.push((second, round));
                    work.push((unit, round));
                }
            }
            Attempt::Failed(unit, message) => {
                add(&metrics.requests_failed, 1);
                add(&metrics.events_retried, unit.len());
                tracing::warn!(error = %message, documents = unit.len(), round = round + 1, "bulk request failed; retrying after backoff");
                metrics.record_error(message);
                work.push((unit, round + 1));
            }
            Attempt::OutOfTime(unit) => lose(&shared, unit.len()),
        }
    }
    sub(&metrics.in_flight_requests, 1);
}

/// Gives up on `n` documents at the drain deadline: lost, or, with a disk
/// buffer, left there unacknowledged for the next sink.
fn lose(shared: &Shared, n: usize) {
    if n > 0 {
        if shared.disk.is_none() {
            add(&shared.metrics.events_lost, n);
        }
        sub(&shared.metrics.pending_events, n);
    }
}

/// Tells the disk buffer that the server answered these records.
async fn acknowledge(shared: &Arc<Shared>, tickets: Vec<Ticket>) {
    if tickets.is_empty() || shared.disk.is_none() {
        return;
    }
    let acking = shared.clone();
    let done = tokio::task::spawn_blocking(move || {
        if let Some(disk) = &acking.disk {
            disk.ack(&tickets, &acking.metrics);
        }
    })
    .await;
    if let Err(e) = done {
        tracing::error!(error = %e, "disk buffer acknowledgement task failed; the records will be sent again after a restart");
    }
}

/// Moves records from the disk buffer into the queue, oldest first (what
/// an earlier run left comes before anything new). Ends when the sink
/// drains and the disk holds nothing more to hand over, at the drain
/// deadline, or when the dispatcher is gone; what it has not handed over
/// stays on disk.
async fn feed(shared: Arc<Shared>, tx: mpsc::Sender<Queued>, mut drain: DrainSignal) {
    // Records read per trip to a blocking thread.
    const READ_AHEAD: usize = 256;
    let Some(disk) = shared.disk.as_ref() else {
        return;
    };
    let mut draining = false;
    loop {
        let notified = disk.data.notified();
        let reading = shared.clone();
        let records = tokio::task::spawn_blocking(move || match &reading.disk {
            Some(disk) => disk.read(READ_AHEAD, &reading.metrics),
            None => Vec::new(),
        })
        .await
        .unwrap_or_default();
        if records.is_empty() {
            if draining {
                return;
            }
            tokio::select! {
                () = notified => {}
                // Wakes at least once a second: interval fsyncs while idle.
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    let syncing = shared.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        if let Some(disk) = &syncing.disk {
                            disk.sync(false);
                        }
                    })
                    .await;
                }
                // A drain began, or the sink was dropped: hand over what
                // is left, then end the queue.
                _ = drain.changed() => draining = true,
            }
            continue;
        }
        for (doc, ticket) in records {
            let deadline = *drain.borrow();
            let queued = Queued {
                doc,
                ticket: Some(ticket),
            };
            tokio::select! {
                sent = tx.send(queued) => if sent.is_err() {
                    return;
                },
                () = sleep_until_some(deadline) => return,
            }
        }
        if drain.borrow().is_some() {
            draining = true;
        }
    }
}

/// Waits `delay` before a retry. Returns false when the drain deadline
/// passes first (give up); a drain that begins during the wait ends it at
/// once (the retry is tried now).
async fn pause(drain: &mut DrainSignal, delay: Duration) -> bool {
    let deadline = *drain.borrow_and_update();
    let wake = Instant::now() + delay;
    match deadline {
        Some(deadline) => {
            tokio::time::sleep_until(wake.min(deadline)).await;
            Instant::now() < deadline
        }
        None => {
            tokio::select! {
                () = tokio::time::sleep_until(wake) => true,
                Ok(()) = drain.changed() => true,
            }
        }
    }
}

/// Runs `work` until it ends or the drain deadline passes (`None`).
async fn before_deadline<F: std::future::Future>(
    drain: &mut DrainSignal,
    work: F,
) -> Option<F::Output> {
    tokio::pin!(work);
    loop {
        let deadline = *drain.borrow_and_update();
        match deadline {
            Some(deadline) => return tokio::time::timeout_at(deadline, work).await.ok(),
            None => {
                tokio::select! {
                    out = &mut work => return Some(out),
                    changed = drain.changed() => {
                        if changed.is_err() {
                            return Some(work.await);
                        }
                    }
                }
            }
        }
    }
}

/// One bulk request for `unit`: encode (and compress) on a blocking thread,
/// send, read every item's status.
async fn attempt(shared: &Arc<Shared>, unit: Vec<Pending>, drain: &mut DrainSignal) -> Attempt {
    let metrics = &shared.metrics;
    let compression = shared.compression;
    let encoded = tokio::task::spawn_blocking(move || {
        let encoded = encode(&unit, compression);
        (unit, encoded)
    })
    .await;
    let (unit, encoded) = match encoded {
        Ok(done) => done,
        Err(e) => {
            // Only a panic in encoding gets here; the documents went with it.
            tracing::error!(error = %e, "encoding a bulk body failed");
            return Attempt::OutOfTime(Vec::new());
        }
    };
    add(&metrics.batches, 1);
    add(&metrics.bytes_uncompressed, encoded.raw_len);
    add(&metrics.bytes_compressed, encoded.body.len());
    let sent = before_deadline(
        drain,
        shared.transport.send_bulk(encoded.body, encoded.gzipped),
    )
    .await;
    let reply = match sent {
        None => return Attempt::OutOfTime(unit),
        Some(Err(e)) => return Attempt::Failed(unit, e.to_string()),
        Some(Ok(reply)) => reply,
    };
    match reply.status {
        200..=299 => {}
        413 => return Attempt::TooLarge(unit),
        status if reply.redirect.is_some() => {
            let to = reply.redirect.unwrap_or_default();
            return Attempt::Failed(
                unit,
                format!(
                    "{}: bulk answered HTTP {status} redirecting to {to}; redirects are not \
                     followed (documents and credentials stay with the hosts configured): \
                     list the server's own address in hosts",
                    reply.server
                ),
            );
        }
        status => {
            let body = truncate(String::from_utf8_lossy(&reply.body).into_owned(), 300);
            return Attempt::Failed(
                unit,
                format!("{}: bulk answered HTTP {status}: {body}", reply.server),
            );
        }
    }
    match parse_bulk_response(&reply.body, unit.len()) {
        Ok(items) => Attempt::Answered(
            unit.into_iter()
                .zip(items)
                .map(|(pending, item)| (pending, item.status, item.error))
                .collect(),
            reply.server,
        ),
        Err(problem) => Attempt::Failed(
            unit,
            format!("{}: unexpected bulk response: {problem}", reply.server),
        ),
    }
}

struct Encoded {
    body: Bytes,
    raw_len: usize,
    gzipped: bool,
}

thread_local! {
    /// The NDJSON buffer of this blocking thread, reused from one gzipped
    /// request to the next (only the compressed bytes leave the thread).
    static RAW_BODY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The NDJSON body of `unit`, gzipped at level 1 when asked. Blocking work.
fn encode(unit: &[Pending], compression: Compression) -> Encoded {
    let capacity: usize = unit.iter().map(|p| p.doc.encoded_len()).sum();
    let build = |buffer: Vec<u8>| {
        let mut batch = BulkBatch::reusing(buffer, capacity);
        for pending in unit {
            // Documents were checked when queued; `push` only re-checks.
            if let Err(e) = batch.push_document(&pending.doc) {
                tracing::error!(error = %e, index = %pending.doc.index, "document left out of the bulk body");
            }
        }
        batch.into_body()
    };
    match compression {
        Compression::None => {
            let raw = build(Vec::new());
            Encoded {
                raw_len: raw.len(),
                body: Bytes::from(raw),
                gzipped: false,
            }
        }
        Compression::Gzip => RAW_BODY.with(|cell| {
            let raw = build(std::mem::take(&mut *cell.borrow_mut()));
            let raw_len = raw.len();
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw_len / 4 + 64),
                flate2::Compression::new(1),
            );
            let compressed = encoder.write_all(&raw).and_then(|()| encoder.finish());
            let encoded = match compressed {
                Ok(body) => Encoded {
                    body: Bytes::from(body),
                    raw_len,
                    gzipped: true,
                },
                // Writing into a Vec does not fail; if it ever did, send plain.
                Err(_) => Encoded {
                    body: Bytes::copy_from_slice(&raw),
                    raw_len,
                    gzipped: false,
                },
            };
            *cell.borrow_mut() = raw;
            encoded
        }),
    }
}

/// Hands refused documents to the dead-letter store (on a blocking thread),
/// or, without one, logs them; both count them. False when the store could
/// not write them (with a disk buffer they then stay in it, unacknowledged,
/// and are not counted as lost).
async fn store_dead_letters(shared: &Arc<Shared>, letters: Vec<DeadLetter>, server: &str) -> bool {
    if letters.is_empty() {
        return true;
    }
    for letter in &letters {
        tracing::warn!(server = %server, index = %letter.index, id = ?letter.id, status = letter.status, reason = %letter.reason, "document refused; sent to dead letters");
    }
    let n = letters.len();
    let Some(store) = shared.dead_letters.clone() else {
        add(&shared.metrics.events_dead_lettered, n);
        shared.metrics.record_error(format!(
            "{server}: {n} documents refused (no dead-letter file configured): {}",
            letters[0].reason
        ));
        return true;
    };
    let written = tokio::task::spawn_blocking(move || store.append(&letters)).await;
    match written {
        Ok(Ok(())) => {
            add(&shared.metrics.events_dead_lettered, n);
            shared
                .metrics
                .record_error(format!("{server}: {n} documents refused and dead-lettered"));
            true
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, documents = n, "dead letters could not be written");
            if shared.disk.is_none() {
                add(&shared.metrics.events_lost, n);
            }
            shared.metrics.record_error(e.to_string());
            false
        }
        Err(e) => {
            tracing::error!(error = %e, documents = n, "dead-letter task failed");
            if shared.disk.is_none() {
                add(&shared.metrics.events_lost, n);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn unit(n: usize) -> Vec<Pending> {
        (0..n)
            .map(|i| Pending {
                doc: Document::create("idx", format!("{{\"n\":{i}}}").into_bytes())
                    .with_id(format!("id-{i}")),
                ticket: None,
                item_retries: 0,
            })
            .collect()
    }

    #[test]
    fn gzip_bodies_decompress_to_the_plain_ndjson() {
        let docs = unit(50);
        let plain = encode(&docs, Compression::None);
        let gzipped = encode(&docs, Compression::Gzip);
        assert!(!plain.gzipped && gzipped.gzipped);
        assert_eq!(plain.raw_len, gzipped.raw_len);
        assert!(gzipped.body.len() < plain.body.len());
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&gzipped.body[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, plain.body);
        // The reused thread-local buffer does not leak into the next body.
        let again = encode(&unit(1), Compression::Gzip);
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&again.body[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(
            inflated,
            b"{\"create\":{\"_index\":\"idx\",\"_id\":\"id-0\"}}\n{\"n\":0}\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_wait_ends_at_once_when_the_drain_begins_and_gives_up_at_the_deadline() {
        let (tx, mut rx) = watch::channel(None);
        let started = Instant::now();
        let waiter = tokio::spawn(async move {
            let first = pause(&mut rx, Duration::from_secs(60)).await;
            let woke = Instant::now();
            let second = pause(&mut rx, Duration::from_secs(60)).await;
            (first, woke, second, Instant::now())
        });
        tokio::time::sleep(Duration::from_secs(3)).await;
        tx.send(Some(started + Duration::from_secs(10))).unwrap();
        let (first, woke, second, ended) = waiter.await.unwrap();
        assert!(first, "the drain wakes the wait and the retry goes ahead");
        assert!(woke - started < Duration::from_secs(4));
        assert!(!second, "a wait past the deadline gives up");
        assert_eq!(ended - started, Duration::from_secs(10));
    }
}
