//! The sink's own counters, readable at any time as a plain struct.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

/// The most recent failure the sink met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// What failed, where.
    pub message: String,
}

/// A snapshot of the sink's counters (cumulative since start) and gauges
/// (values now). Serialises to a flat JSON object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkMetricsSnapshot {
    /// Documents accepted into the queue.
    pub events_accepted: u64,
    /// Documents the server confirmed written (2xx).
    pub events_acked: u64,
    /// `create`s answered 409: written before (a retry whose first answer
    /// was lost, or a replay). Delivered, not written twice.
    pub events_duplicates: u64,
    /// Item re-sends after a 429/5xx item status or a failed request.
    pub events_retried: u64,
    /// Documents refused for good and handed to the dead-letter store.
    pub events_dead_lettered: u64,
    /// Documents given up at shutdown (drain deadline passed).
    pub events_lost: u64,
    /// Documents that will never be delivered: dead-lettered plus lost.
    pub events_failed: u64,
    /// Bulk requests sent (each attempt counts).
    pub batches: u64,
    /// Bulk requests that failed as a whole (no answer, or an error status).
    pub requests_failed: u64,
    /// Batches split in halves after a 413.
    pub batch_splits: u64,
    /// NDJSON bytes sent, before compression.
    pub bytes_uncompressed: u64,
    /// Bytes sent on the wire (after compression, when on).
    pub bytes_compressed: u64,
    /// Bulk requests (with their retries) in progress now.
    pub in_flight_requests: u64,
    /// Documents waiting in the queue now (with a disk buffer: also the
    /// records on disk not yet taken into a batch).
    pub queue_depth: u64,
    /// Documents taken from the queue and not finished yet (in a batch
    /// being built, sent or retried).
    pub pending_events: u64,
    /// Nodes believed alive now.
    pub alive_nodes: u64,
    /// Records in the disk buffer not answered by the server yet (0
    /// without a disk buffer).
    pub disk_buffer_records: u64,
    /// Their bytes on disk, record headers included.
    pub disk_buffer_bytes: u64,
    /// Records an earlier run left unanswered in the disk buffer and this
    /// run handed to the sender again.
    pub events_replayed: u64,
    /// Disk buffer records skipped because they were torn (a crash during
    /// a write) or failed their CRC check.
    pub disk_records_corrupt: u64,
    /// The most recent failure, if any.
    pub last_error: Option<LastError>,
}

/// The live counters behind [`SinkMetricsSnapshot`].
#[derive(Debug, Default)]
pub(crate) struct SinkMetrics {
    pub(crate) events_accepted: AtomicU64,
    pub(crate) events_acked: AtomicU64,
    pub(crate) events_duplicates: AtomicU64,
    pub(crate) events_retried: AtomicU64,
    pub(crate) events_dead_lettered: AtomicU64,
    pub(crate) events_lost: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) requests_failed: AtomicU64,
    pub(crate) batch_splits: AtomicU64,
    pub(crate) bytes_uncompressed: AtomicU64,
    pub(crate) bytes_compressed: AtomicU64,
    pub(crate) in_flight_requests: AtomicU64,
    pub(crate) pending_events: AtomicU64,
    pub(crate) disk_records: AtomicU64,
    pub(crate) disk_bytes: AtomicU64,
    /// Disk buffer records not yet handed to the dispatcher.
    pub(crate) disk_unread: AtomicU64,
    pub(crate) events_replayed: AtomicU64,
    pub(crate) disk_records_corrupt: AtomicU64,
    last_error: Mutex<Option<LastError>>,
}

/// `counter += n`.
pub(crate) fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// `gauge -= n`, never below zero.
pub(crate) fn sub(gauge: &AtomicU64, n: usize) {
    let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n as u64))
    });
}

impl SinkMetrics {
    pub(crate) fn record_error(&self, message: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(LastError {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            message,
        });
    }

    pub(crate) fn snapshot(&self, queue_depth: usize, alive_nodes: usize) -> SinkMetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let dead_lettered = get(&self.events_dead_lettered);
        let lost = get(&self.events_lost);
        SinkMetricsSnapshot {
            events_accepted: get(&self.events_accepted),
            events_acked: get(&self.events_acked),
            events_duplicates: get(&self.events_duplicates),
            events_retried: get(&self.events_retried),
            events_dead_lettered: dead_lettered,
            events_lost: lost,
            events_failed: dead_lettered + lost,
            batches: get(&self.batches),
            requests_failed: get(&self.requests_failed),
            batch_splits: get(&self.batch_splits),
            bytes_uncompressed: get(&self.bytes_uncompressed),
            bytes_compressed: get(&self.bytes_compressed),
            in_flight_requests: get(&self.in_flight_requests),
            queue_depth: queue_depth as u64,
            pending_events: get(&self.pending_events),
            alive_nodes: alive_nodes as u64,
            disk_buffer_records: get(&self.disk_records),
            disk_buffer_bytes: get(&self.disk_bytes),
            events_replayed: get(&self.events_replayed),
            disk_records_corrupt: get(&self.disk_records_corrupt),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}
