//! `gomon demo`'s parts: the example Go programs built with the machine's
//! `go` and started on free loopback ports, the configuration that monitors
//! them into the embedded store, what was seen of each, and the verdicts.
//!
//! The binary only prints; everything here is a library call so that the
//! demo and the tests start the same programs the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use gomon_analyze::{Analysis, Thresholds, analyze_with_profiles, lifetimes};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::config::{
    Config, ExpvarSection, HttpConfig, MetricSet, ModuleConfig, OutputsConfig, ProfileSection,
    StoreOutput,
};
use crate::document::Event;

/// The example programs in `examples/go` and what each does.
pub const APPS: [(&str, &str); 6] = [
    ("steady", "constant work, bounded working set"),
    ("leaking", "keeps every session it creates"),
    ("gcheavy", "short-lived garbage, low GOGC"),
    ("cache", "fills a bounded cache, then levels off"),
    ("churnleak", "a small leak under heavy churn"),
    ("goroutineleak", "starts goroutines that never finish"),
];

/// How often the demo takes heap and goroutine profiles: often enough for
/// a dozen in the default two minutes.
pub const PROFILE_PERIOD: Duration = Duration::from_secs(10);

/// How long `gomon demo` monitors by default: 2 minutes, long enough for
/// the data to pass the analysis' minimum span ([`Thresholds::default`])
/// and for the cache app to fill and level off (about 70 s), so the
/// verdicts the demo prints, the same `gomon analyze --data <store>` prints
/// afterwards, are the programs' real ones.
pub fn default_duration() -> Duration {
    Duration::from_secs(120).max(Duration::from_secs_f64(
        Thresholds::default().min_span_secs + 15.0,
    ))
}

/// Why the demo cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// No `examples/go` with a `go.mod` where it was looked for.
    #[error(
        "cannot find the example Go apps (examples/go with a go.mod): run from the gomon repository or pass --examples DIR"
    )]
    NoExamples,
    /// `go` is not on the PATH, or cannot run.
    #[error("cannot run `go` (the demo builds Go programs; install Go and put it on PATH): {0}")]
    NoGo(std::io::Error),
    /// `go build` failed.
    #[error("`go build ./...` in {dir} failed ({status})")]
    Build {
        /// The examples folder.
        dir: String,
        /// go's exit status.
        status: std::process::ExitStatus,
    },
    /// A program did not start, or did not say where it listens.
    #[error("{app}: {reason}")]
    Start {
        /// The program.
        app: String,
        /// What went wrong.
        reason: String,
    },
    /// A folder cannot be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The folder or file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The `examples/go` folder: `explicit`, else `examples/go` under the
/// current folder, else the one in the source tree this binary was built from.
pub fn find_examples(explicit: Option<PathBuf>) -> Result<PathBuf, DemoError> {
    let candidates = explicit.into_iter().chain([
        PathBuf::from("examples/go"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/go"),
    ]);
    candidates
        .into_iter()
        .find(|dir| dir.join("go.mod").is_file())
        .ok_or(DemoError::NoExamples)
}

/// `go build -o <bin>/ ./...` in `examples`.
pub async fn build_apps(examples: &Path, bin: &Path) -> Result<(), DemoError> {
    gomon_net::files::create_dir_all(bin).map_err(|source| DemoError::Io {
        path: bin.display().to_string(),
        source,
    })?;
    let status = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(format!("{}/", bin.display()))
        .arg("./...")
        .current_dir(examples)
        .status()
        .await
        .map_err(DemoError::NoGo)?;
    if !status.success() {
        return Err(DemoError::Build {
            dir: examples.display().to_string(),
            status,
        });
    }
    Ok(())
}

/// One started example program; dropping it kills the program.
#[derive(Debug)]
pub struct RunningApp {
    /// Its name in [`APPS`].
    pub name: String,
    /// `host:port` it listens on.
    pub addr: String,
    /// `service.address` of its documents.
    pub url: String,
    child: Child,
}

impl RunningApp {
    /// Stops the program and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Starts `bin/<name>` on a free loopback port and waits (at most 30 s)
/// for the `listening on HOST:PORT` line the example programs print.
pub async fn start_app(bin: &Path, name: &str) -> Result<RunningApp, DemoError> {
    let fail = |reason: String| DemoError::Start {
        app: name.to_owned(),
        reason,
    };
    let mut child = Command::new(bin.join(name))
        .args(["-addr", "127.0.0.1:0", "-version", "1.0.0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| fail("no stdout".to_owned()))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .map_err(|_| fail("did not report its address within 30 s".to_owned()))?
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("exited before listening".to_owned()))?;
    let addr = line
        .strip_prefix("listening on ")
        .ok_or_else(|| {
            fail(format!(
                "printed {line:?}, expected `listening on HOST:PORT`"
            ))
        })?
        .trim()
        .to_owned();
    // Keep reading so the program never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = crate::collect::service_address(&addr).map_err(|e| fail(e.to_string()))?;
    Ok(RunningApp {
        name: name.to_owned(),
        addr,
        url,
        child,
    })
}

/// Removes the store of an earlier demo (`gomon.db` and its log in
/// `store`, and the NDJSON files of older versions), so that the summary
/// and the verdicts are about this run.
pub fn clear_store(store: &Path) {
    if let Ok(entries) = std::fs::read_dir(store) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(gomon_store::DEFAULT_FILE) || name.starts_with("gomon.ndjson") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The demo's configuration: one golang module over `hosts` every `period`
/// with the `example` expvar namespace (and the rate of
/// `output.events.acked`) and profiles every [`PROFILE_PERIOD`], into the
/// embedded store in the folder `store`, without self-monitoring.
pub fn config(hosts: Vec<String>, period: Duration, store: &Path) -> Config {
    Config {
        modules: vec![ModuleConfig {
            module: "golang".to_owned(),
            metricsets: Some(vec![MetricSet::Heap, MetricSet::Expvar, MetricSet::Profile]),
            enabled: true,
            period,
            hosts,
            timeout: None,
            heap: Default::default(),
            expvar: ExpvarSection {
                namespace: Some("example".to_owned()),
                rates: vec!["output.events.acked".to_owned()],
                ..Default::default()
            },
            profile: ProfileSection {
                period: PROFILE_PERIOD,
                ..Default::default()
            },
            username: None,
            password: None,
            bearer_token_file: None,
            headers: Default::default(),
            ssl: Default::default(),
            url_credentials: Default::default(),
        }],
        output: OutputsConfig {
            store: Some(StoreOutput::in_folder(store)),
            ..Default::default()
        },
        http: HttpConfig {
            enabled: false,
            ..Default::default()
        },
        setup: Default::default(),
        queue: Default::default(),
        view: Default::default(),
        name: None,
        source: None,
        findings: Default::default(),
    }
}

/// What the demo saw of one program, from the live events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// HeapAlloc of the first and the latest heap event.
    pub allocated: Option<(u64, u64)>,
    /// NextGC of the first and the latest heap event.
    pub next_gc: Option<(u64, u64)>,
    /// NumGC of the first and the latest heap event.
    pub gc_count: Option<(u64, u64)>,
    /// The largest GC pause p99 of any event's window, in nanoseconds.
    pub max_p99_ns: u64,
    /// Events of any kind.
    pub documents: u64,
    /// Error events.
    pub errors: u64,
    /// The latest error message.
    pub last_error: Option<String>,
}

impl Seen {
    /// Takes one live event into account.
    pub fn record(&mut self, event: &Event) {
        self.documents += 1;
        if let Some(message) = &event.error {
            self.errors += 1;
            self.last_error = Some(message.clone());
            return;
        }
        let Some(heap) = event.heap() else { return };
        let update = |slot: &mut Option<(u64, u64)>, value: u64| {
            let first = slot.map_or(value, |(first, _)| first);
            *slot = Some((first, value));
        };
        update(&mut self.allocated, heap.allocations.allocated);
        update(&mut self.next_gc, heap.gc.next_gc_limit);
        update(&mut self.gc_count, u64::from(heap.gc.total_count));
        if let Some(p99) = heap.gc.pause.and_then(|p| p.p99) {
            self.max_p99_ns = self.max_p99_ns.max(p99.ns);
        }
    }
}

/// The verdict of each program (by name, from `names`: `service.address` →
/// name) over what the embedded store in the folder `store` holds (heap and
/// profile documents), with the thresholds `gomon analyze` uses by default.
pub fn verdicts(
    store: &Path,
    names: &BTreeMap<String, String>,
) -> Result<Vec<(String, Analysis)>, gomon_store::StoreError> {
    let reader = gomon_store::Reader::open(&store.join(gomon_store::DEFAULT_FILE))?;
    let docs = reader.documents(None, gomon_store::TimeRange::all())?;
    let thresholds = Thresholds::default();
    Ok(lifetimes(&docs)
        .iter()
        .filter_map(|l| {
            names
                .get(&l.target)
                .map(|name| (name.clone(), analyze_with_profiles(l, &docs, &thresholds)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Golang;
    use gomon_heap::HeapMetrics;
    use std::time::SystemTime;

    fn heap_event(allocated: u64, cycles: u32, p99: Option<u64>) -> Event {
        let mut heap = HeapMetrics::default();
        heap.allocations.allocated = allocated;
        heap.gc.next_gc_limit = allocated * 2;
        heap.gc.total_count = cycles;
        heap.gc.pause = p99.map(|ns| gomon_heap::PauseStats {
            p99: Some(gomon_heap::Nanos { ns }),
            ..Default::default()
        });
        Event {
            metricset: "heap",
            dataset: "golang.heap".to_owned(),
            golang: Some(Golang::Heap(Box::new(heap))),
            error: None,
            address: "http://127.0.0.1:1/debug/vars".to_owned(),
            timestamp: SystemTime::now(),
            duration: Duration::ZERO,
            period: Duration::from_secs(1),
        }
    }

    #[test]
    fn seen_keeps_first_and_latest_values_and_counts_errors() {
        let mut seen = Seen::default();
        seen.record(&heap_event(10, 1, Some(300)));
        seen.record(&heap_event(30, 4, Some(100)));
        let mut failed = heap_event(0, 0, None);
        failed.golang = None;
        failed.error = Some("refused".to_owned());
        seen.record(&failed);
        assert_eq!(seen.allocated, Some((10, 30)));
        assert_eq!(seen.next_gc, Some((20, 60)));
        assert_eq!(seen.gc_count, Some((1, 4)));
        assert_eq!(seen.max_p99_ns, 300);
        assert_eq!((seen.documents, seen.errors), (3, 1));
        assert_eq!(seen.last_error.as_deref(), Some("refused"));
    }

    #[test]
    fn the_default_demo_runs_long_enough_for_a_verdict() {
        assert!(default_duration().as_secs_f64() > Thresholds::default().min_span_secs);
    }
}
