//! The drain: the signal that tells every task when the drain must be
//! over, the waits that obey it (a retry wait, a request, the batch age),
//! and what [`BulkSink::shutdown`](crate::BulkSink::shutdown) does and
//! reports.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::metrics::{SinkMetricsSnapshot, add};
use crate::sender::DocumentSender;

/// When the drain must be over; `None` while the sink runs normally.
pub(crate) type DrainSignal = watch::Receiver<Option<Instant>>;

/// What [`BulkSink::shutdown`](crate::BulkSink::shutdown) achieved.
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

/// What [`BulkSink::shutdown`](crate::BulkSink::shutdown) does: closes the
/// way in, tells every task the deadline, waits for them (a little past it
/// for the last dead-letter writes), forces the disk buffer to disk and
/// reports.
pub(crate) async fn shutdown(
    sender: DocumentSender,
    signal: watch::Sender<Option<Instant>>,
    mut worker: JoinHandle<()>,
    deadline: Duration,
) -> DrainReport {
    let at = Instant::now() + deadline;
    if let Some(disk) = &sender.shared.disk {
        disk.close();
    }
    let _ = signal.send(Some(at));
    // The tasks stop by themselves at the deadline; the margin covers
    // the last dead-letter writes.
    let finished = tokio::time::timeout_at(at + Duration::from_secs(5), &mut worker).await;
    let shared = &sender.shared;
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
    let metrics = sender.metrics();
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

/// Waits `delay` before a retry. Returns false when the drain deadline
/// passes first (give up); a drain that begins during the wait ends it at
/// once (the retry is tried now).
pub(crate) async fn pause(drain: &mut DrainSignal, delay: Duration) -> bool {
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
pub(crate) async fn before_deadline<F: std::future::Future>(
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

/// Sleeps until `at`; with no deadline, forever (a `select!` branch that
/// never fires).
pub(crate) async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
