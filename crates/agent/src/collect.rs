//! One target's collection: its settings, turned out of the configuration
//! once; its state between fetches; and one fetch turned into heap and
//! expvar events.
//!
//! **One fetch feeds both metric sets** when they read the same URL: the
//! snapshot is decoded once, the heap mapper and the flattener both borrow
//! it. **A failed fetch is an event too** (an error document naming the
//! target), so a target that is down shows in the data.
//!
//! `gomon once` runs the same mapping on a fresh state ([`collect_once`]):
//! the documents of a first fetch, without interval fields and without
//! period; there a failure is an error, not an error document.
//!
//! All targets share one `ClientPool`: one keep-alive pool per distinct
//! `ssl` setting (hyper reuses a connection by host and port alone, so
//! targets with different certificate checks cannot share one), and one
//! limit of fetches in flight across all of them; each fetch carries its
//! module's timeout.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gomon_expvar::{
    ClientConfig, ExpvarClient, FetchError, Snapshot, Target, TargetError, TlsVerification,
};
use gomon_flatten::{FlattenConfig, FlattenError, Flattener, Mode};
use gomon_heap::{HeapState, MemStats, MemStatsError};

use crate::config::{Config, MetricSet, ModuleConfig, SslConfig};
use crate::document::{Event, Golang};

/// A module setting the agent cannot run with; the message names its key
/// path (`modules[0].expvar.include[1]`).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value that cannot be used (a host, a path, `ssl`, `expvar.mode`).
    #[error("{key}: {reason}")]
    Invalid {
        /// The key path, e.g. `modules[0].hosts[1]`.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// An expvar namespace or selection glob the flattener refuses.
    #[error("{key}: {source}")]
    Expvar {
        /// The key path, e.g. `modules[0].expvar.include[1]`.
        key: String,
        /// The flattener's reason.
        source: FlattenError,
    },
}

impl SettingsError {
    /// The key path of the bad value.
    pub fn key(&self) -> &str {
        match self {
            SettingsError::Invalid { key, .. } | SettingsError::Expvar { key, .. } => key,
        }
    }

    /// What is wrong, without the key path.
    pub fn reason(&self) -> String {
        match self {
            SettingsError::Invalid { reason, .. } => reason.clone(),
            SettingsError::Expvar { source, .. } => source.to_string(),
        }
    }
}

/// Why one metric set of one fetch produced no fields, or why
/// [`collect_once`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The target is not a `host:port` or http(s) URL.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The expvar namespace cannot be used.
    #[error(transparent)]
    Namespace(FlattenError),
    /// The fetch failed (shared by both metric sets when they read one URL).
    #[error(transparent)]
    Fetch(Arc<FetchError>),
    /// The target answered without a `memstats` variable.
    #[error("{target}: no memstats variable (does the program import expvar?)")]
    NoMemstats {
        /// The URL fetched.
        target: String,
    },
    /// `memstats` is not a `runtime.MemStats`.
    #[error("{target}: {source}")]
    MemStats {
        /// The URL fetched.
        target: String,
        /// What is wrong with it.
        source: MemStatsError,
    },
}

/// `expvar.mode`: `flatten` (the default) or `metricbeat`.
pub(crate) fn expvar_mode(mode: Option<&str>) -> Result<Mode, String> {
    match mode {
        None | Some("flatten") => Ok(Mode::Flatten),
        Some("metricbeat") => Ok(Mode::Metricbeat),
        Some(other) => Err(format!(
            "{other:?} is not a mode: use flatten or metricbeat"
        )),
    }
}

/// The flattener settings of a module (`label` is its key path, e.g.
/// `modules[0]`): `None` when the module does not run the expvar metric
/// set. Every glob is compiled here; a bad one is an error naming it
/// (`modules[0].expvar.include[1]`), never a silently empty document.
pub fn expvar_settings(
    module: &ModuleConfig,
    label: &str,
) -> Result<Option<FlattenConfig>, SettingsError> {
    if !module.metric_sets().contains(&MetricSet::Expvar) {
        return Ok(None);
    }
    let expvar = &module.expvar;
    let refused = |key: String| move |source| SettingsError::Expvar { key, source };
    let namespace = expvar.namespace.as_deref().unwrap_or_default();
    let mut config =
        FlattenConfig::new(namespace).map_err(refused(format!("{label}.expvar.namespace")))?;
    config.mode = expvar_mode(expvar.mode.as_deref()).map_err(|reason| SettingsError::Invalid {
        key: format!("{label}.expvar.mode"),
        reason,
    })?;
    for (i, pattern) in expvar.include.iter().enumerate() {
        config = config
            .include([pattern.as_str()])
            .map_err(refused(format!("{label}.expvar.include[{i}]")))?;
    }
    for (i, pattern) in expvar.exclude.iter().enumerate() {
        config = config
            .exclude([pattern.as_str()])
            .map_err(refused(format!("{label}.expvar.exclude[{i}]")))?;
    }
    for (i, pattern) in expvar.rates.iter().enumerate() {
        config = config
            .rate(pattern)
            .map_err(refused(format!("{label}.expvar.rates[{i}]")))?;
    }
    Ok(Some(config))
}

/// One target of one enabled module, as the agent runs it.
#[derive(Debug, Clone)]
pub(crate) struct TargetSettings {
    heap_target: Target,
    expvar_target: Target,
    sets: Vec<MetricSet>,
    period: Duration,
    request_timeout: Duration,
    /// The module's `ssl` as written: targets with equal settings share a pool.
    ssl: SslConfig,
    tls: TlsVerification,
    expvar: Option<FlattenConfig>,
    /// The `profile` metric set, when the module runs it.
    pub(crate) profile: Option<crate::profile::ProfileSettings>,
}

impl TargetSettings {
    /// Whether the heap or expvar metric set runs (a module may run
    /// `profile` alone).
    pub(crate) fn fetches_expvar(&self) -> bool {
        self.sets.contains(&MetricSet::Heap) || self.sets.contains(&MetricSet::Expvar)
    }

    /// `service.address` of this target's documents.
    pub(crate) fn address(&self) -> String {
        self.heap_target.to_string()
    }
}

/// Every target of every enabled module, checked: the one step from the
/// configuration to what the fetchers run with. Key paths count the
/// modules as [`Config::modules`] holds them.
pub(crate) fn target_settings(config: &Config) -> Result<Vec<TargetSettings>, SettingsError> {
    let mut targets = Vec::new();
    for (m, module) in config.modules.iter().enumerate() {
        if !module.enabled {
            continue;
        }
        let label = format!("modules[{m}]");
        let invalid = |key: String, reason: String| SettingsError::Invalid { key, reason };
        let tls = module
            .tls()
            .map_err(|e| invalid(format!("{label}.ssl"), e))?;
        let expvar = expvar_settings(module, &label)?;
        for (h, host) in module.hosts.iter().enumerate() {
            let base = module
                .target(host)
                .map_err(|e| invalid(format!("{label}.hosts[{h}]"), e))?;
            let path = |p: &Option<String>, key: &str| match p {
                Some(p) => base
                    .with_path(p)
                    .map_err(|e| invalid(format!("{label}.{key}"), e.to_string())),
                None => Ok(base.clone()),
            };
            targets.push(TargetSettings {
                heap_target: path(&module.heap.path, "heap.path")?,
                expvar_target: path(&module.expvar.path, "expvar.path")?,
                sets: module.metric_sets(),
                period: module.period,
                request_timeout: module.request_timeout(),
                ssl: module.ssl.clone(),
                tls: tls.clone(),
                expvar: expvar.clone(),
                profile: crate::profile::profile_settings(module, &base, &label)?,
            });
        }
    }
    Ok(targets)
}

/// The expvar clients of a run: one keep-alive pool per distinct `ssl`
/// setting, one limit of fetches in flight across all targets.
#[derive(Debug)]
pub(crate) struct ClientPool {
    clients: Vec<(SslConfig, ExpvarClient)>,
    base: ExpvarClient,
}

impl ClientPool {
    /// A pool with `config`'s limits (its TLS setting serves targets without `ssl`).
    pub(crate) fn new(config: ClientConfig) -> ClientPool {
        ClientPool {
            clients: Vec::new(),
            base: ExpvarClient::new(config),
        }
    }

    /// The client for `target`'s trust: shared with every target of the
    /// same `ssl` setting.
    pub(crate) fn client_for(&mut self, target: &TargetSettings) -> ExpvarClient {
        if target.ssl == SslConfig::default() {
            return self.base.clone();
        }
        if let Some((_, client)) = self.clients.iter().find(|(ssl, _)| *ssl == target.ssl) {
            return client.clone();
        }
        let client = self.base.with_tls(target.tls.clone());
        self.clients.push((target.ssl.clone(), client.clone()));
        client
    }
}

/// One target with its state between fetches.
#[derive(Debug)]
pub(crate) struct TargetTask {
    pub(crate) heap_target: Target,
    expvar_target: Target,
    /// `heap_target` and `expvar_target` as documents name them, written
    /// once instead of on every fetch.
    heap_address: String,
    expvar_address: String,
    sets: Vec<MetricSet>,
    pub(crate) period: Duration,
    request_timeout: Duration,
    heap: HeapState,
    flattener: Option<Flattener>,
}

impl TargetTask {
    /// A target before its first fetch.
    pub(crate) fn new(settings: TargetSettings) -> TargetTask {
        TargetTask {
            heap_address: settings.heap_target.to_string(),
            expvar_address: settings.expvar_target.to_string(),
            heap_target: settings.heap_target,
            expvar_target: settings.expvar_target,
            sets: settings.sets,
            period: settings.period,
            request_timeout: settings.request_timeout,
            heap: HeapState::new(),
            flattener: settings.expvar.map(Flattener::new),
        }
    }

    /// One tick: one fetch when both metric sets read the same URL, and
    /// one event per metric set (an error event when its part failed).
    pub(crate) async fn fetch_once(&mut self, client: &ExpvarClient) -> Vec<Event> {
        let wants_heap = self.sets.contains(&MetricSet::Heap);
        let wants_expvar = self.sets.contains(&MetricSet::Expvar) && self.flattener.is_some();
        let heap_fetch = if wants_heap {
            // memstats is read straight into its typed form unless the same
            // fetch's expvar document keeps memstats' tree.
            let tree_wanted = wants_expvar
                && self.expvar_target == self.heap_target
                && self
                    .flattener
                    .as_ref()
                    .is_some_and(Flattener::wants_memstats);
            let read = if tree_wanted { Read::Tree } else { Read::Typed };
            Some(fetch(client, &self.heap_target, self.request_timeout, read).await)
        } else {
            None
        };
        let expvar_fetch =
            if wants_expvar && (!wants_heap || self.expvar_target != self.heap_target) {
                Some(
                    fetch(
                        client,
                        &self.expvar_target,
                        self.request_timeout,
                        Read::Tree,
                    )
                    .await,
                )
            } else {
                None
            };
        let expvar_fetch = if wants_expvar {
            expvar_fetch.as_ref().or(heap_fetch.as_ref())
        } else {
            None
        };
        let period = self.period;
        self.outcomes(heap_fetch.as_ref(), expvar_fetch)
            .into_iter()
            .map(|outcome| outcome.into_event(period))
            .collect()
    }

    /// The heap part of `heap` and the expvar part of `expvar` (the same
    /// fetch when they read one URL), in that order.
    fn outcomes(&mut self, heap: Option<&Fetched>, expvar: Option<&Fetched>) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        if let Some(fetched) = heap {
            let golang = match &fetched.result {
                Ok(snapshot) => {
                    self.heap_fields(snapshot, fetched.memstats.as_ref(), fetched.started)
                }
                Err(e) => Err(CollectError::Fetch(e.clone())),
            };
            outcomes.push(Outcome {
                metricset: "heap",
                dataset: "golang.heap".to_owned(),
                address: self.heap_address.clone(),
                timestamp: fetched.wall,
                duration: fetched.started.elapsed(),
                golang,
            });
        }
        if let (Some(fetched), Some(flattener)) = (expvar, self.flattener.as_mut()) {
            let golang = match &fetched.result {
                Ok(snapshot) => {
                    // memstats' tree is built only for a document that keeps it.
                    let memstats = flattener
                        .wants_memstats()
                        .then(|| snapshot.memstats_var())
                        .flatten();
                    let document =
                        flattener.flatten_with_memstats(snapshot.vars(), memstats, fetched.started);
                    Ok(Golang::Expvar(Box::new(document)))
                }
                Err(e) => Err(CollectError::Fetch(e.clone())),
            };
            outcomes.push(Outcome {
                metricset: "expvar",
                dataset: format!("golang.{}", flattener.config().namespace()),
                address: self.expvar_address.clone(),
                timestamp: fetched.wall,
                duration: fetched.started.elapsed(),
                golang,
            });
        }
        outcomes
    }

    /// `golang.heap` of one snapshot, with the interval fields since the
    /// previous one.
    /// `typed` is `memstats` already read in the decoding pass, if it was.
    fn heap_fields(
        &mut self,
        snapshot: &Snapshot,
        typed: Option<&MemStats>,
        at: Instant,
    ) -> Result<Golang, CollectError> {
        let target = || self.heap_address.clone();
        let read;
        let memstats = match typed {
            Some(memstats) => memstats,
            None => {
                let text = memstats_object(snapshot)
                    .ok_or_else(|| CollectError::NoMemstats { target: target() })?;
                read = MemStats::from_json_text(text).map_err(|source| CollectError::MemStats {
                    target: target(),
                    source,
                })?;
                &read
            }
        };
        let cmdline = snapshot.cmdline().unwrap_or_default();
        let heap = self.heap.observe(memstats, &cmdline, at);
        Ok(Golang::Heap(Box::new(heap)))
    }
}

/// One target with its state between fetches, as the agent runs it: for
/// embedding the collection in another program (or measuring it) without
/// the agent's scheduler and output.
#[derive(Debug)]
pub struct Collector {
    task: TargetTask,
}

impl Collector {
    /// One collector per target of `config`'s enabled modules, in order.
    ///
    /// # Errors
    /// A setting the agent cannot run with, named by its key path.
    pub fn from_config(config: &Config) -> Result<Vec<Collector>, SettingsError> {
        Ok(target_settings(config)?
            .into_iter()
            .map(|settings| Collector {
                task: TargetTask::new(settings),
            })
            .collect())
    }

    /// One tick: one fetch when both metric sets read the same URL, one
    /// event per metric set (an error event when its part failed), with
    /// the interval fields since the previous tick.
    pub async fn collect(&mut self, client: &ExpvarClient) -> Vec<Event> {
        self.task.fetch_once(client).await
    }
}

/// The `memstats` text when it is an object; anything else under that
/// name (a program's own variable) reads as absent.
fn memstats_object(snapshot: &Snapshot) -> Option<&str> {
    snapshot
        .memstats_json()
        .filter(|text| text.starts_with('{'))
}

/// One fetch and when it started.
struct Fetched {
    wall: SystemTime,
    started: Instant,
    result: Result<Snapshot, Arc<FetchError>>,
    /// `memstats` read in the decoding pass ([`Read::Typed`]), when the
    /// body had one that reads as `runtime.MemStats`.
    memstats: Option<MemStats>,
}

/// How a fetch reads `memstats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Straight into [`MemStats`] in the decoding pass: the heap metric
    /// set's path.
    Typed,
    /// Kept as text, for a tree (an expvar document that keeps `memstats`).
    Tree,
}

async fn fetch(client: &ExpvarClient, target: &Target, timeout: Duration, read: Read) -> Fetched {
    let wall = SystemTime::now();
    let started = Instant::now();
    let (result, memstats) = match read {
        Read::Typed => match client.fetch_reading_memstats(target, timeout).await {
            Ok((snapshot, memstats)) => (Ok(snapshot), memstats),
            Err(e) => (Err(Arc::new(e)), None),
        },
        Read::Tree => (
            client.fetch_within(target, timeout).await.map_err(Arc::new),
            None,
        ),
    };
    Fetched {
        wall,
        started,
        result,
        memstats,
    }
}

/// One metric set's part of a fetch, before Metricbeat's metadata.
struct Outcome {
    metricset: &'static str,
    dataset: String,
    address: String,
    timestamp: SystemTime,
    /// From the start of the fetch to the end of this part's mapping.
    duration: Duration,
    golang: Result<Golang, CollectError>,
}

impl Outcome {
    fn into_event(self, period: Duration) -> Event {
        let (golang, error) = match self.golang {
            Ok(golang) => (Some(golang), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Event {
            metricset: self.metricset,
            dataset: self.dataset,
            golang,
            error,
            address: self.address,
            timestamp: self.timestamp,
            duration: self.duration,
            period,
        }
    }
}

/// One fetch of `target` with a fresh state, as `gomon once` prints it:
/// the heap event when the target publishes `memstats`, and the
/// `golang.<namespace>` event when `namespace` is given. No interval fields,
/// period 0, and `event.duration` is the HTTP fetch alone. A failed fetch, a
/// target without `memstats` when no namespace is given, or a `memstats`
/// that does not decode is an error.
pub async fn collect_once(
    client: &ExpvarClient,
    target: Target,
    namespace: Option<&str>,
) -> Result<Vec<Event>, CollectError> {
    let flattener = namespace
        .map(FlattenConfig::new)
        .transpose()
        .map_err(CollectError::Namespace)?
        .map(Flattener::new);
    // Kept as text: the check below reads it, and so may the expvar event.
    let fetched = fetch(client, &target, client.config().request_timeout, Read::Tree).await;
    let snapshot = fetched
        .result
        .as_ref()
        .map_err(|e| CollectError::Fetch(e.clone()))?;
    // A program that publishes no memstats (gomon itself) still has custom variables.
    let has_memstats = memstats_object(snapshot).is_some();
    if !has_memstats && flattener.is_none() {
        return Err(CollectError::NoMemstats {
            target: target.to_string(),
        });
    }
    let fetch_duration = snapshot.duration();
    let mut task = TargetTask {
        heap_address: target.to_string(),
        expvar_address: target.to_string(),
        heap_target: target.clone(),
        expvar_target: target,
        sets: [
            has_memstats.then_some(MetricSet::Heap),
            flattener.is_some().then_some(MetricSet::Expvar),
        ]
        .into_iter()
        .flatten()
        .collect(),
        period: Duration::ZERO,
        request_timeout: client.config().request_timeout,
        heap: HeapState::new(),
        flattener,
    };
    let heap = has_memstats.then_some(&fetched);
    task.outcomes(heap, Some(&fetched))
        .into_iter()
        .map(|outcome| {
            Ok(Event {
                metricset: outcome.metricset,
                dataset: outcome.dataset,
                golang: Some(outcome.golang?),
                error: None,
                address: outcome.address,
                timestamp: outcome.timestamp,
                // The HTTP fetch alone, as the client measured it.
                duration: fetch_duration,
                period: Duration::ZERO,
            })
        })
        .collect()
}

/// [`collect_once`] for a `hosts` entry (`host:port` or a URL), with
/// [`ClientConfig`]'s defaults.
pub async fn once(target: &str, namespace: Option<&str>) -> Result<Vec<Event>, CollectError> {
    let target = Target::parse(target)?;
    let client = ExpvarClient::new(ClientConfig::default());
    collect_once(&client, target, namespace).await
}

/// The `service.address` the documents of a `hosts` entry carry: the URL
/// fetched, without credentials (`localhost:6060` →
/// `http://localhost:6060/debug/vars`).
pub fn service_address(host: &str) -> Result<String, TargetError> {
    Target::parse(host).map(|t| t.to_string())
}

/// A `hosts` entry for messages: as written, with its credentials
/// (`user:secret@`) replaced by `<redacted>`.
pub fn redact_host(host: &str) -> String {
    gomon_net::url::redact_userinfo(host)
}

#[cfg(test)]
mod tests;
