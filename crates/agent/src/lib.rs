//! The gomon agent as a library: what `gomon run` does, embeddable in any
//! tokio program.
//!
//! - [`config`]: gomon's configuration, which also reads the golang module
//!   part of a `metricbeat.yml` unchanged;
//! - [`Agent`]: one task per target, each on its module's period with a
//!   random start offset, never two fetches of one target at once (a tick
//!   that finds the previous fetch still running is counted as skipped);
//! - [`collect`]: the modules turned into target settings once (a bad value
//!   is a [`SettingsError`] naming its key path), one
//!   fetch → heap and expvar events (one HTTP fetch feeds both metric sets
//!   when they read the same URL), one client pool for all targets, and
//!   `gomon once`;
//! - [`control`]: the Elasticsearch output's control plane (`gomon setup`,
//!   `gomon test output`);
//! - [`document`]: Metricbeat's metadata around the heap and expvar fields;
//! - [`output`]: the file store (the embedded default), stdout, or
//!   Elasticsearch/OpenSearch;
//! - [`selfmon`]: gomon's own counters at `/debug/vars`;
//! - [`limits`]: the open-file limit a fleet of targets needs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gomon_agent::{Agent, config::Config};
//! let config = Config::embedded_default(std::path::Path::new("/tmp/gomon-data"));
//! let (stop, stopped) = tokio::sync::watch::channel(false);
//! let agent = Agent::new(config, std::path::Path::new("/tmp/gomon-data")).await?;
//! let summary = agent.run(stopped).await;
//! # drop(stop); Ok(()) }
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod collect;
pub mod config;
pub mod control;
pub mod demo;
pub mod document;
pub mod explain;
pub mod history;
pub mod import;
pub mod limits;
pub mod output;
pub mod pipeline;
mod profile;
pub mod schedule;
pub mod selfmon;
pub mod store;
pub mod template;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use gomon_expvar::{ClientConfig, ExpvarClient};
use tokio::sync::{broadcast, mpsc, watch};

use crate::collect::{ClientPool, SettingsError, TargetSettings, TargetTask};
use crate::config::Config;
use crate::document::{Event, Origin};
use crate::output::{Output, OutputError};
use crate::pipeline::{BatchPolicy, CountedOutput, drain_queue};
use crate::profile::ProfileTask;
use crate::selfmon::Registry;

/// The embedded store's file name in a data folder (`gomon.db`).
pub const STORE_FILE: &str = gomon_store::DEFAULT_FILE;

/// Documents buffered between the fetchers and the output.
const QUEUE: usize = 1024;

/// What a run did. Every document has exactly one fate:
/// `produced + carried_over = acked + duplicates + dead_lettered + failed +
/// left_undelivered + buffered`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Documents this run's fetches produced (error documents included).
    pub produced: u64,
    /// Documents an earlier run left in the disk buffer (`queue.disk`),
    /// found at start.
    pub carried_over: u64,
    /// Documents the output wrote.
    pub acked: u64,
    /// Documents the server already had (a `create` answered 409: written
    /// by an earlier attempt or run). Delivered, not written twice.
    pub duplicates: u64,
    /// Documents the server refused for good, kept in the dead-letter file.
    pub dead_lettered: u64,
    /// Documents the output could not write (a file error, a sink that
    /// refused them).
    pub failed: u64,
    /// Documents given up when the drain deadline passed: still queued, or
    /// in memory in the sink. Lost.
    pub left_undelivered: u64,
    /// Documents left in the disk buffer (`queue.disk`): not lost, sent by
    /// the next run on the same folder.
    pub buffered: u64,
    /// Where the documents went.
    pub output: String,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} documents produced", self.produced)?;
        if self.carried_over > 0 {
            write!(f, " (+{} from the disk buffer)", self.carried_over)?;
        }
        write!(f, ": {} written", self.acked)?;
        if self.duplicates > 0 {
            write!(f, ", {} already present", self.duplicates)?;
        }
        write!(
            f,
            ", {} dead-lettered, {} failed, {} left undelivered, {} kept in the disk buffer ({})",
            self.dead_lettered, self.failed, self.left_undelivered, self.buffered, self.output
        )
    }
}

/// Why an [`Agent`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A module setting cannot be used (the message names its key path).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The output cannot be opened.
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// A configured agent, ready to run.
pub struct Agent {
    targets: Vec<TargetSettings>,
    output: Output,
    registry: Arc<Registry>,
    origin: Origin,
    tap: broadcast::Sender<Arc<Event>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("output", &self.output.describe())
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Turns the modules into target settings (every value checked, see
    /// [`collect`]), then opens the output (the file store at `default_dir`
    /// when none is configured; for Elasticsearch, the index template is
    /// checked first).
    pub async fn new(config: Config, default_dir: &Path) -> Result<Agent, AgentError> {
        let targets = collect::target_settings(&config)?;
        let output = Output::open(&config, default_dir).await?;
        let origin = Origin::for_data_dir(default_dir, config.name.as_deref());
        let (tap, _) = broadcast::channel(256);
        Ok(Agent {
            targets,
            output,
            registry: Arc::new(Registry::default()),
            origin,
            tap,
        })
    }

    /// The counters, shared with the running tasks.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Where documents go, for people.
    pub fn output_description(&self) -> String {
        self.output.describe()
    }

    /// A live copy of every event produced, typed (lossy when the receiver
    /// lags); [`Event::document`] gives the document the output writes.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tap.subscribe()
    }

    /// Runs until `stop` becomes true: fetches on schedule, writes to the
    /// output, then drains the queue within 10 s.
    pub async fn run(self, stop: watch::Receiver<bool>) -> RunSummary {
        let Agent {
            targets,
            mut output,
            registry,
            origin,
            tap,
        } = self;
        let (tx, mut rx) = mpsc::channel::<Event>(QUEUE);
        // One pool for all targets: the limit of fetches in flight is shared.
        let mut clients = ClientPool::new(ClientConfig::default());
        let mut tasks = Vec::new();
        // Every target's beat counts from this instant, so start offsets on
        // one slot come due together (`schedule::slot`).
        let epoch = tokio::time::Instant::now();
        for mut target in targets {
            let client = clients.client_for(&target);
            if let Some(settings) = target.profile.take() {
                tasks.push(tokio::spawn(run_profiles(
                    ProfileTask::new(settings, target.address()),
                    epoch,
                    client.clone(),
                    tx.clone(),
                    stop.clone(),
                    registry.clone(),
                    tap.clone(),
                )));
            }
            if !target.fetches_expvar() {
                continue;
            }
            tasks.push(tokio::spawn(run_target(
                TargetTask::new(target),
                epoch,
                client,
                tx.clone(),
                stop.clone(),
                registry.clone(),
                tap.clone(),
            )));
        }
        drop(tx);

        let carried_over = output.carried_over();
        let policy = BatchPolicy::default();
        let mut writer = CountedOutput {
            output: &mut output,
            registry: &registry,
            origin: &origin,
        };
        let drained = drain_queue(&mut rx, &mut writer, policy, stop, &registry).await;
        let description = output.describe();
        let closed = output.close(policy.drain, &registry).await;
        for task in tasks {
            task.abort();
        }
        let o = &registry.output;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        RunSummary {
            produced: load(&registry.produced),
            carried_over,
            acked: load(&o.acked),
            duplicates: load(&o.duplicates),
            dead_lettered: load(&o.dead_lettered),
            failed: load(&o.failed),
            left_undelivered: drained.abandoned + closed.lost,
            buffered: closed.buffered,
            output: description,
        }
    }
}

async fn run_target(
    mut task: TargetTask,
    epoch: tokio::time::Instant,
    client: ExpvarClient,
    tx: mpsc::Sender<Event>,
    mut stop: watch::Receiver<bool>,
    registry: Arc<Registry>,
    tap: broadcast::Sender<Arc<Event>>,
) {
    let name = task.heap_target.to_string();
    let counters = registry.target(&name);
    let mut ticks = Ticks::new(epoch, task.period, &name);
    let mut health = TargetHealth::Unknown;
    while ticks.wait(&mut stop).await {
        // A stop in the middle of a fetch (a slow target has up to its
        // timeout) ends the task at once; the unfinished fetch has no document.
        // Boxed: the fetch's state (several KB) is allocated while it runs,
        // not kept in every sleeping target's task between fetches.
        let events = tokio::select! {
            events = Box::pin(task.fetch_once(&client)) => events,
            _ = stop.changed() => return,
        };
        health = health.after(&name, events.iter().find_map(|e| e.error.as_deref()));
        // Boxed for the same reason: queueing holds the events in flight.
        if !Box::pin(publish_all(events, &counters, &registry, &tap, &tx)).await {
            return;
        }
        ticks.advance(&counters);
    }
}

/// One task's beat: due times on its period from a random start offset,
/// ticks it overran skipped and counted ([`schedule::next_due`]).
struct Ticks {
    due: tokio::time::Instant,
    period: std::time::Duration,
}

impl Ticks {
    fn new(epoch: tokio::time::Instant, period: std::time::Duration, name: &str) -> Ticks {
        Ticks {
            due: epoch + schedule::start_offset(period, name),
            period,
        }
    }

    /// Waits for the next due time; `false` once `stop` says stop.
    async fn wait(&self, stop: &mut watch::Receiver<bool>) -> bool {
        tokio::select! {
            _ = tokio::time::sleep_until(self.due) => {}
            _ = stop.changed() => return false,
        }
        !*stop.borrow()
    }

    /// After the fetch that was due: the next due time, counting the
    /// ticks that passed meanwhile as skipped.
    fn advance(&mut self, counters: &selfmon::TargetCounters) {
        let (next, skipped) =
            schedule::next_due(self.due, tokio::time::Instant::now(), self.period);
        counters.skipped.fetch_add(skipped, Ordering::Relaxed);
        self.due = next;
    }
}

/// [`publish`] of each event in turn; `false` when the queue is gone.
async fn publish_all(
    events: Vec<Event>,
    counters: &selfmon::TargetCounters,
    registry: &Registry,
    tap: &broadcast::Sender<Arc<Event>>,
    tx: &mpsc::Sender<Event>,
) -> bool {
    for event in events {
        if !publish(event, counters, registry, tap, tx).await {
            return false;
        }
    }
    true
}

/// Counts `event` for its target, hands a copy to live listeners, and
/// queues it; `false` when the queue is gone (the agent stops).
async fn publish(
    event: Event,
    counters: &selfmon::TargetCounters,
    registry: &Registry,
    tap: &broadcast::Sender<Arc<Event>>,
    tx: &mpsc::Sender<Event>,
) -> bool {
    let counter = if event.golang.is_none() {
        &counters.failures
    } else {
        &counters.success
    };
    counter.fetch_add(1, Ordering::Relaxed);
    counters.events.fetch_add(1, Ordering::Relaxed);
    // The live copy costs a clone: only when someone listens.
    if tap.receiver_count() > 0 {
        let _ = tap.send(Arc::new(event.clone()));
    }
    // Back-pressure: a full queue slows the fetchers, never grows memory.
    if tx.send(event).await.is_err() {
        return false;
    }
    registry.produced.fetch_add(1, Ordering::Relaxed);
    true
}

/// The `profile` metric set of one target: its own period, the same queue.
async fn run_profiles(
    mut task: ProfileTask,
    epoch: tokio::time::Instant,
    client: ExpvarClient,
    tx: mpsc::Sender<Event>,
    mut stop: watch::Receiver<bool>,
    registry: Arc<Registry>,
    tap: broadcast::Sender<Arc<Event>>,
) {
    let name = task.heap_url();
    let counters = registry.target(&name);
    let mut ticks = Ticks::new(epoch, task.period(), &name);
    while ticks.wait(&mut stop).await {
        let event = tokio::select! {
            event = task.fetch_once(&client) => event,
            _ = stop.changed() => return,
        };
        if let Some(event) = event
            && !publish(event, &counters, &registry, &tap, &tx).await
        {
            return;
        }
        ticks.advance(&counters);
    }
}

/// Whether a target answered its last fetch, so that going down and
/// coming back are each logged once (on the `gomon::targets` log target,
/// shown by default), not on every failed fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetHealth {
    Unknown,
    Up,
    Down,
}

impl TargetHealth {
    fn after(self, target: &str, error: Option<&str>) -> TargetHealth {
        match (self, error) {
            (TargetHealth::Down, None) => {
                tracing::warn!(target: "gomon::targets", address = %target, "target is answering again");
                TargetHealth::Up
            }
            (TargetHealth::Up | TargetHealth::Unknown, Some(error)) => {
                tracing::warn!(target: "gomon::targets", address = %target, %error, "target is down (error documents are written until it answers)");
                TargetHealth::Down
            }
            (TargetHealth::Unknown, None) => {
                tracing::info!(target: "gomon::targets", address = %target, "target answered");
                TargetHealth::Up
            }
            (state, _) => state,
        }
    }
}

/// Where the file store lives when nothing says otherwise: `$GOMON_DATA_DIR`,
/// else `$XDG_DATA_HOME/gomon`, else `~/.local/share/gomon`, else `./gomon-data`.
pub fn default_data_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("GOMON_DATA_DIR") {
        return dir.into();
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return std::path::PathBuf::from(dir).join("gomon");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return std::path::PathBuf::from(home).join(".local/share/gomon");
    }
    std::path::PathBuf::from("gomon-data")
}
