//! Delivery of one batch with retries: one bulk request per attempt, each
//! item's answer sorted by [`ItemAction`] (delivered, duplicate, retried
//! alone after a backoff, dead-lettered), a 413 split in halves, until
//! every document is answered or the drain deadline passes.

use std::sync::Arc;

use crate::batch::Document;
use crate::dead_letter::DeadLetter;
use crate::disk_buffer::Ticket;
use crate::drain::{DrainSignal, before_deadline, pause};
use crate::encoder::encode;
use crate::error::truncate;
use crate::metrics::{add, sub};
use crate::outcome::{acknowledge, lose, store_dead_letters};
use crate::response::parse_bulk_response;
use crate::retry::ItemAction;
use crate::sink::{Queued, Shared};

/// A document, its place in the disk buffer, and the item-level retries it
/// has had.
pub(crate) struct Pending {
    pub(crate) doc: Document,
    pub(crate) ticket: Option<Ticket>,
    pub(crate) item_retries: u32,
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
pub(crate) async fn deliver(shared: Arc<Shared>, docs: Vec<Queued>, mut drain: DrainSignal) {
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
