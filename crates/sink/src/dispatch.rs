//! The batching loop: fills batches from the queue and flushes them on
//! size, document count or age, with a bounded number of deliveries in
//! flight.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::BatchLimits;
use crate::deliver::deliver;
use crate::drain::{DrainSignal, sleep_until_some};
use crate::metrics::{add, sub};
use crate::sink::{Queued, Shared};

/// The dispatcher: fills batches from the queue and starts a delivery task
/// per batch, at most `max_in_flight` at a time. While all are busy and the
/// batch is full it stops reading the queue, so producers wait.
pub(crate) async fn dispatch(
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
