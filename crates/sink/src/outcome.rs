//! What becomes of a document once its fate is known: acknowledged in the
//! disk buffer, written to the dead letters, or lost at the drain deadline.

use std::sync::Arc;

use crate::dead_letter::DeadLetter;
use crate::disk_buffer::Ticket;
use crate::metrics::{add, sub};
use crate::sink::Shared;

/// Gives up on `n` documents at the drain deadline: lost, or, with a disk
/// buffer, left there unacknowledged for the next sink.
pub(crate) fn lose(shared: &Shared, n: usize) {
    if n > 0 {
        if shared.disk.is_none() {
            add(&shared.metrics.events_lost, n);
        }
        sub(&shared.metrics.pending_events, n);
    }
}

/// Tells the disk buffer that the server answered these records.
pub(crate) async fn acknowledge(shared: &Arc<Shared>, tickets: Vec<Ticket>) {
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

/// Hands refused documents to the dead-letter store (on a blocking thread),
/// or, without one, logs them; both count them. False when the store could
/// not write them (with a disk buffer they then stay in it, unacknowledged,
/// and are not counted as lost).
pub(crate) async fn store_dead_letters(
    shared: &Arc<Shared>,
    letters: Vec<DeadLetter>,
    server: &str,
) -> bool {
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
