//! The disk feeder: with a disk buffer, documents are written to disk
//! when accepted, and this task moves them from disk into the batching
//! queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::drain::{DrainSignal, sleep_until_some};
use crate::sink::{Queued, Shared};

/// Moves records from the disk buffer into the queue, oldest first (what
/// an earlier run left comes before anything new). Ends when the sink
/// drains and the disk holds nothing more to hand over, at the drain
/// deadline, or when the dispatcher is gone; what it has not handed over
/// stays on disk.
pub(crate) async fn feed(shared: Arc<Shared>, tx: mpsc::Sender<Queued>, mut drain: DrainSignal) {
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
