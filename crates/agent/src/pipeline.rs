//! The one queue between the fetchers and the output, and the loop that
//! empties it.
//!
//! **A document is handed to the output within [`BatchPolicy::linger`]
//! (50 ms) of its arrival, or as soon as the output is free after that**:
//! the loop waits for one document, lets the batch gather for the linger
//! time (a fixed window from that first document, never restarted by later
//! ones), takes whatever is queued (up to [`BatchPolicy::max`]) and writes
//! that batch at once; under load batches grow by themselves while the
//! previous write is in progress. The window costs at most 50 ms of
//! delivery time and saves a wake-up of the writer and a write per
//! document: at 2,000 documents a second, 20 writes instead of about
//! 2,000. (An earlier design waited up to a second for a batch to fill
//! and, because its timer restarted on every document, held documents for
//! as long as they kept arriving.)
//!
//! At shutdown the fetchers stop, the loop writes what is queued, and gives
//! up on the rest when the drain deadline passes; what it gave up on is
//! counted, never silently dropped.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::document::{Event, Origin};
use crate::output::Output;
use crate::selfmon::Registry;

/// How the loop groups documents for the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Most documents per write.
    pub max: usize,
    /// Longest the loop goes on writing after the stop signal.
    pub drain: Duration,
    /// How long a batch gathers after its first document before it is
    /// written (not restarted by later documents): one write and one wake-up
    /// for many documents instead of one each.
    pub linger: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            max: 500,
            drain: Duration::from_secs(10),
            linger: Duration::from_millis(50),
        }
    }
}

/// Something that takes batches of documents: the configured [`Output`],
/// or a recorder in tests.
pub trait BatchWriter {
    /// What the queue carries: typed [`Event`]s for the output.
    type Item: Send;

    /// Writes one batch; counts its outcome itself.
    fn write(&mut self, docs: Vec<Self::Item>) -> impl Future<Output = ()> + Send;

    /// Documents taken so far (written, refused, or passed on to a sink
    /// that accounts for them): when a write is cut off at the drain
    /// deadline, the rest of its batch is counted as abandoned.
    fn taken(&self) -> u64;
}

/// The configured output, counting into the agent's registry.
#[derive(Debug)]
pub struct CountedOutput<'a> {
    /// Where documents go.
    pub output: &'a mut Output,
    /// The counters.
    pub registry: &'a Registry,
    /// The `host` and `agent` fields of every document.
    pub origin: &'a Origin,
}

impl BatchWriter for CountedOutput<'_> {
    type Item = Event;

    async fn write(&mut self, events: Vec<Event>) {
        self.output.write(events, self.origin, self.registry).await;
    }

    fn taken(&self) -> u64 {
        self.registry.output.taken.load(Ordering::Relaxed)
    }
}

/// What [`drain_queue`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Documents handed to the writer.
    pub written: u64,
    /// Documents still queued when the drain deadline passed: never
    /// handed to the writer.
    pub abandoned: u64,
}

/// Empties `rx` into `writer` until every sender is gone, or until
/// `policy.drain` after `stop` turned true (or its sender went away).
///
/// Each write takes the first waiting document and everything else already
/// queued, up to `policy.max`; the queue depth is published in `registry`.
pub async fn drain_queue<W: BatchWriter>(
    rx: &mut mpsc::Receiver<W::Item>,
    writer: &mut W,
    policy: BatchPolicy,
    mut stop: watch::Receiver<bool>,
    registry: &Registry,
) -> Drained {
    let max = policy.max.max(1);
    let mut deadline: Option<Instant> = stop.borrow().then(|| Instant::now() + policy.drain);
    let mut drained = Drained::default();
    loop {
        let first = tokio::select! {
            // Documents first: a full queue is drained before the deadline check.
            biased;
            doc = rx.recv() => doc,
            changed = stop.changed(), if deadline.is_none() => {
                if changed.is_err() || *stop.borrow() {
                    deadline = Some(Instant::now() + policy.drain);
                }
                continue;
            }
            () = sleep_until_or_never(deadline) => break,
        };
        let Some(first) = first else { break };
        // Gather for the linger time unless stopping or the queue already
        // fills a batch; the senders are not woken for meanwhile.
        if deadline.is_none() && !policy.linger.is_zero() && rx.len() + 1 < max {
            tokio::select! {
                () = tokio::time::sleep(policy.linger) => {}
                () = stopped(&mut stop) => deadline = Some(Instant::now() + policy.drain),
            }
        }
        let mut batch = Vec::with_capacity(max.min(rx.len() + 1));
        batch.push(first);
        while batch.len() < max {
            match rx.try_recv() {
                Ok(doc) => batch.push(doc),
                Err(_) => break,
            }
        }
        registry
            .queue_depth
            .store(rx.len() as u64, Ordering::Relaxed);
        let count = batch.len() as u64;
        let taken_before = writer.taken();
        let finished = {
            let write = writer.write(batch);
            tokio::pin!(write);
            match deadline {
                Some(at) => tokio::time::timeout_at(at, &mut write).await.is_ok(),
                // The stop signal may arrive during a long write (a server that
                // is down, a full disk buffer): from then on the write has until
                // the drain deadline.
                None => {
                    tokio::select! {
                        () = &mut write => true,
                        () = stopped(&mut stop) => {
                            let at = Instant::now() + policy.drain;
                            deadline = Some(at);
                            tokio::time::timeout_at(at, &mut write).await.is_ok()
                        }
                    }
                }
            }
        };
        if finished {
            drained.written += count;
        } else {
            // Cut off at the deadline: what the writer took before is its
            // to account for; the rest of the batch was never handed over.
            let taken = writer.taken().saturating_sub(taken_before).min(count);
            drained.written += taken;
            drained.abandoned += count - taken;
            break;
        }
    }
    // Whatever is still queued was never handed over.
    rx.close();
    while rx.try_recv().is_ok() {
        drained.abandoned += 1;
    }
    registry.queue_depth.store(0, Ordering::Relaxed);
    drained
}

/// Resolves when `stop` turns true or its sender goes away.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn sleep_until_or_never(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::{Value, json};

    /// Records when each document was written, and can be slow.
    struct Recorder {
        writes: Vec<(Instant, Vec<u64>)>,
        delay: Duration,
    }

    impl BatchWriter for Recorder {
        type Item = Value;

        async fn write(&mut self, docs: Vec<Value>) {
            tokio::time::sleep(self.delay).await;
            let ids = docs.iter().map(|d| d["n"].as_u64().unwrap()).collect();
            self.writes.push((Instant::now(), ids));
        }

        fn taken(&self) -> u64 {
            self.writes.iter().map(|(_, ids)| ids.len() as u64).sum()
        }
    }

    fn recorder(delay: Duration) -> Recorder {
        Recorder {
            writes: Vec::new(),
            delay,
        }
    }

    /// A steady stream: one document every 10 ms for 5 s. Each is written
    /// within the linger time plus one write of its arrival; the held-batch
    /// defect (a timer restarted on every document) wrote nothing until the
    /// stream ended.
    #[tokio::test(start_paused = true)]
    async fn a_steady_stream_is_written_as_it_arrives_not_held_for_a_batch() {
        let (tx, mut rx) = mpsc::channel(1024);
        let (_stop_tx, stop) = watch::channel(false);
        let registry = Registry::default();
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            for n in 0..500u64 {
                tx.send(json!({ "n": n })).await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let mut writer = recorder(Duration::from_millis(2));
        let drained = drain_queue(
            &mut rx,
            &mut writer,
            BatchPolicy::default(),
            stop,
            &registry,
        )
        .await;
        producer.await.unwrap();
        assert_eq!(drained.written, 500);
        assert_eq!(drained.abandoned, 0);
        let mut seen = Vec::new();
        for (at, ids) in &writer.writes {
            for n in ids {
                // Document n was sent at n * 10 ms.
                let sent = start + Duration::from_millis(10 * n);
                let latency = *at - sent;
                assert!(
                    latency <= BatchPolicy::default().linger + Duration::from_millis(20),
                    "document {n} written {latency:?} after it was queued"
                );
                seen.push(*n);
            }
        }
        assert_eq!(seen, (0..500).collect::<Vec<_>>(), "order or count differs");
    }

    /// Under load (a write slower than the arrival rate) batches grow, so
    /// the output keeps up instead of falling behind one write per document.
    #[tokio::test(start_paused = true)]
    async fn batches_grow_when_the_output_is_slower_than_the_stream() {
        let (tx, mut rx) = mpsc::channel(4096);
        let (_stop_tx, stop) = watch::channel(false);
        let registry = Registry::default();
        let producer = tokio::spawn(async move {
            for n in 0..2000u64 {
                tx.send(json!({ "n": n })).await.unwrap();
                if n % 10 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        let mut writer = recorder(Duration::from_millis(50));
        let policy = BatchPolicy {
            max: 300,
            ..BatchPolicy::default()
        };
        let drained = drain_queue(&mut rx, &mut writer, policy, stop, &registry).await;
        producer.await.unwrap();
        assert_eq!(drained.written, 2000);
        let largest = writer
            .writes
            .iter()
            .map(|(_, ids)| ids.len())
            .max()
            .unwrap();
        assert!(largest > 100, "largest batch {largest}");
        assert!(
            writer.writes.iter().all(|(_, ids)| ids.len() <= 300),
            "a batch exceeded the maximum"
        );
        assert!(writer.writes.len() < 100, "{} writes", writer.writes.len());
    }

    /// After the stop signal the queue is still written out, and the loop
    /// ends when the senders are gone.
    #[tokio::test(start_paused = true)]
    async fn stop_writes_what_is_queued_then_ends() {
        let (tx, mut rx) = mpsc::channel(100);
        let (stop_tx, stop) = watch::channel(false);
        let registry = Registry::default();
        for n in 0..50u64 {
            tx.send(json!({ "n": n })).await.unwrap();
        }
        stop_tx.send(true).unwrap();
        drop(tx);
        let mut writer = recorder(Duration::from_millis(1));
        let drained = drain_queue(
            &mut rx,
            &mut writer,
            BatchPolicy::default(),
            stop,
            &registry,
        )
        .await;
        assert_eq!(
            drained,
            Drained {
                written: 50,
                abandoned: 0
            }
        );
    }

    /// Takes one document a second (a sink whose queue is full).
    struct Trickle {
        taken: u64,
    }

    impl BatchWriter for Trickle {
        type Item = Value;

        async fn write(&mut self, docs: Vec<Value>) {
            for _ in docs {
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.taken += 1;
            }
        }

        fn taken(&self) -> u64 {
            self.taken
        }
    }

    /// A write cut off at the deadline after it took part of its batch:
    /// what it took is the writer's to account for, the rest is abandoned.
    #[tokio::test(start_paused = true)]
    async fn a_write_cut_off_midway_counts_what_it_took_and_abandons_the_rest() {
        let (tx, mut rx) = mpsc::channel(100);
        let (stop_tx, stop) = watch::channel(false);
        let registry = Registry::default();
        for n in 0..5u64 {
            tx.send(json!({ "n": n })).await.unwrap();
        }
        let policy = BatchPolicy {
            max: 5,
            drain: Duration::from_millis(2000),
            ..BatchPolicy::default()
        };
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop_tx.send(true).unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(tx);
        });
        let mut writer = Trickle { taken: 0 };
        let drained = drain_queue(&mut rx, &mut writer, policy, stop, &registry).await;
        stopper.abort();
        // Stopped at 0.5 s, deadline at 2.5 s: two documents taken by then.
        assert_eq!(
            drained,
            Drained {
                written: 2,
                abandoned: 3
            }
        );
    }

    /// Started after the stop signal (a receiver that has already seen it):
    /// the drain deadline still applies, so the loop ends though a sender
    /// is alive.
    #[tokio::test(start_paused = true)]
    async fn a_loop_started_after_the_stop_signal_still_ends_at_the_deadline() {
        let (tx, mut rx) = mpsc::channel::<Value>(100);
        let (stop_tx, _) = watch::channel(false);
        stop_tx.send_replace(true);
        let stop = stop_tx.subscribe();
        let registry = Registry::default();
        let mut writer = recorder(Duration::ZERO);
        let policy = BatchPolicy {
            max: 10,
            drain: Duration::from_secs(3),
            ..BatchPolicy::default()
        };
        let ended = tokio::time::timeout(
            Duration::from_secs(60),
            drain_queue(&mut rx, &mut writer, policy, stop, &registry),
        )
        .await;
        drop(tx);
        assert_eq!(ended.ok(), Some(Drained::default()));
    }

    /// A write that never finishes (a server that is gone) is cut off at
    /// the drain deadline, and its documents and the queued ones are
    /// counted as abandoned, not written.
    #[tokio::test(start_paused = true)]
    async fn a_stuck_output_is_abandoned_at_the_deadline_and_counted() {
        let (tx, mut rx) = mpsc::channel(100);
        let (stop_tx, stop) = watch::channel(false);
        let registry = Registry::default();
        for n in 0..3u64 {
            tx.send(json!({ "n": n })).await.unwrap();
        }
        let mut writer = recorder(Duration::from_secs(3600));
        let policy = BatchPolicy {
            max: 2,
            drain: Duration::from_secs(5),
            ..BatchPolicy::default()
        };
        let started = Instant::now();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop_tx.send(true).unwrap();
            // Keep a sender alive: the loop must end by the deadline alone.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(tx);
        });
        let drained = drain_queue(&mut rx, &mut writer, policy, stop, &registry).await;
        let took = Instant::now() - started;
        stopper.abort();
        assert_eq!(drained.written, 0);
        assert_eq!(drained.abandoned, 3);
        assert!(
            took >= Duration::from_secs(6) && took < Duration::from_secs(7),
            "ended after {took:?}"
        );
    }
}
