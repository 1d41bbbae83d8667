//! Test support shared by every gomon test that touches a real component.
//!
//! gomon's tests of record run against real things: Go programs built with the
//! machine's `go` from `examples/go`, and real Elasticsearch and OpenSearch
//! servers that `tests/rig/rig.sh` provisions from Maven Central and starts
//! (`bash tests/run-all.sh` does all of it). This crate is how a test reaches
//! them:
//!
//! - [`GoApp::start`] builds (once per test process) and starts one example
//!   app on a free loopback port and stops it when dropped;
//! - [`engines`] lists the search servers the rig started, read from
//!   `GOMON_TEST_ELASTICSEARCH_URL` and `GOMON_TEST_OPENSEARCH_URL`.
//!
//! Under CI (`CI=true`) and under `tests/run-all.sh` (`GOMON_REQUIRE_SERVERS=1`)
//! a missing server is a test failure, never a skip.
//! Outside CI, [`engines`] prints how to start the rig and returns only the
//! servers that are configured, so `cargo test` still runs the pure tests.
//!
//! ```no_run
//! use gomon_testrig::{AppKind, GoApp};
//! let app = GoApp::start(AppKind::Steady, &[]);
//! println!("expvar at {}", app.vars_url());
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

use std::fmt;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// The root of the gomon repository (where the workspace `Cargo.toml` is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// True when a missing real component must fail the test: under CI (`CI`
/// set to anything but `false`/`0`/empty), or when `GOMON_REQUIRE_SERVERS`
/// is set so (`tests/run-all.sh` sets it, so a local run means what CI's does).
pub fn under_ci() -> bool {
    let set =
        |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    set("CI") || set("GOMON_REQUIRE_SERVERS")
}

/// The example Go programs under `examples/go`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppKind {
    /// Constant work and a bounded working set: a flat live heap.
    Steady,
    /// Keeps every session it creates: a growing live heap.
    Leaking,
    /// Lots of short-lived garbage with a low GOGC: hundreds of GC cycles a second.
    GcHeavy,
    /// Starts goroutines that block forever under a steady load: a goroutine leak.
    GoroutineLeak,
    /// Fills a bounded cache, then levels off: a plateau, not a leak.
    Cache,
}

impl AppKind {
    /// Every example app.
    pub const ALL: [AppKind; 5] = [
        AppKind::Steady,
        AppKind::Leaking,
        AppKind::GcHeavy,
        AppKind::GoroutineLeak,
        AppKind::Cache,
    ];

    /// The command's directory name under `examples/go` (also its binary name).
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Steady => "steady",
            AppKind::Leaking => "leaking",
            AppKind::GcHeavy => "gcheavy",
            AppKind::GoroutineLeak => "goroutineleak",
            AppKind::Cache => "cache",
        }
    }
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The line of `examples/go/leaking/main.go` that leaks (it stores every
/// session in a map), as a heap profile of that app names it.
///
/// # Panics
/// When the file or the line is gone.
pub fn leaking_line() -> i64 {
    let source = std::fs::read_to_string(repo_root().join("examples/go/leaking/main.go"))
        .expect("examples/go/leaking/main.go");
    let at = source
        .lines()
        .position(|l| l.contains("sessions[fmt.Sprintf("))
        .expect("the leaking line of examples/go/leaking/main.go");
    at as i64 + 1
}

/// Where the example binaries are built: `target/gomon-go-apps`.
pub fn go_apps_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("gomon-go-apps")
}

/// Builds every example app with the machine's `go` (once per process; Go's
/// build cache makes later processes cheap) and returns the binaries' folder.
///
/// # Panics
/// When `go` is missing or the build fails: the example apps are part of the
/// test rig, so a test that needs them cannot run without them.
pub fn build_go_apps() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = go_apps_dir();
        std::fs::create_dir_all(&out)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", out.display()));
        let src = repo_root().join("examples/go");
        // Build into a private folder, then rename: test processes that run
        // at the same time never see a half-written binary.
        let staging = out.join(format!(".build-{}", std::process::id()));
        let status = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(format!("{}/", staging.display()))
            .arg("./...")
            .current_dir(&src)
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `go` to build the example apps in {}: {e}; \
                     the Go toolchain is part of the test rig (install Go and put it on PATH)",
                    src.display()
                )
            });
        assert!(
            status.success(),
            "`go build ./...` failed in {} ({status})",
            src.display()
        );
        for kind in AppKind::ALL {
            let from = staging.join(kind.name());
            let to = out.join(kind.name());
            std::fs::rename(&from, &to).unwrap_or_else(|e| {
                panic!("cannot move {} to {}: {e}", from.display(), to.display())
            });
        }
        let _ = std::fs::remove_dir_all(&staging);
        out
    })
}

/// One running example Go program, stopped (and reaped) when dropped.
#[derive(Debug)]
pub struct GoApp {
    kind: AppKind,
    addr: String,
    child: Child,
}

impl GoApp {
    /// Builds the example apps if needed and starts `kind` on a free loopback
    /// port, with `extra_args` after `-addr 127.0.0.1:0`. Returns once the app
    /// listens (it prints `listening on HOST:PORT` first thing).
    ///
    /// # Panics
    /// When the app cannot be built or started, or does not report its address
    /// within 30 seconds.
    pub fn start(kind: AppKind, extra_args: &[&str]) -> GoApp {
        let bin = build_go_apps().join(kind.name());
        let mut child = Command::new(&bin)
            .args(["-addr", "127.0.0.1:0"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout was piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            // Keep draining so the app never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{kind} did not report its address within 30 s: {other:?}");
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{kind} printed {line:?}, expected `listening on HOST:PORT`"))
            .trim()
            .to_owned();
        GoApp { kind, addr, child }
    }

    /// Which example this is.
    pub fn kind(&self) -> AppKind {
        self.kind
    }

    /// `HOST:PORT` the app listens on, as a Metricbeat `hosts` entry would name it.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The full URL of the app's expvar endpoint.
    pub fn vars_url(&self) -> String {
        format!("http://{}/debug/vars", self.addr)
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for GoApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which search server an [`Engine`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// Elasticsearch (the rig's default is the newest 9.x that Maven Central serves).
    Elasticsearch,
    /// OpenSearch 2.x.
    OpenSearch,
}

impl EngineKind {
    /// Both kinds, in the order tests run them.
    pub const ALL: [EngineKind; 2] = [EngineKind::Elasticsearch, EngineKind::OpenSearch];

    /// The environment variable that carries this engine's URL.
    pub fn env_var(self) -> &'static str {
        match self {
            EngineKind::Elasticsearch => "GOMON_TEST_ELASTICSEARCH_URL",
            EngineKind::OpenSearch => "GOMON_TEST_OPENSEARCH_URL",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Elasticsearch => "elasticsearch",
            EngineKind::OpenSearch => "opensearch",
        })
    }
}

/// A real search server started by the rig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// Elasticsearch or OpenSearch.
    pub kind: EngineKind,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
}

impl Engine {
    /// What the server says it is: its kind (the `X-Elastic-Product`
    /// header, or OpenSearch's `version.distribution`) and version (from
    /// `/_nodes/_local`), asked once per server and test process.
    ///
    /// # Panics
    /// When the server does not answer or answers something else.
    pub fn identify(&self) -> (EngineKind, String) {
        static SEEN: OnceLock<
            std::sync::Mutex<std::collections::HashMap<String, (EngineKind, String)>>,
        > = OnceLock::new();
        let seen = SEEN.get_or_init(Default::default);
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(known) = seen.get(&self.url) {
            return known.clone();
        }
        let nodes = http::request("GET", &format!("{}/_nodes/_local", self.url), None)
            .unwrap_or_else(|e| panic!("{} does not answer: {e}", self.url));
        assert_eq!(
            nodes.status, 200,
            "{}/_nodes/_local: {}",
            self.url, nodes.body
        );
        let info: serde_json::Value = serde_json::from_str(&nodes.body)
            .unwrap_or_else(|e| panic!("{}/_nodes/_local is not JSON: {e}", self.url));
        let version = info["nodes"]
            .as_object()
            .and_then(|nodes| nodes.values().next())
            .and_then(|node| node["version"].as_str())
            .unwrap_or_else(|| {
                panic!(
                    "{}/_nodes/_local names no version: {}",
                    self.url, nodes.body
                )
            })
            .to_owned();
        let kind = if nodes.header("x-elastic-product") == Some("Elasticsearch") {
            EngineKind::Elasticsearch
        } else {
            let root = http::request("GET", &format!("{}/", self.url), None)
                .unwrap_or_else(|e| panic!("{} does not answer: {e}", self.url));
            let root: serde_json::Value = serde_json::from_str(&root.body).unwrap_or_default();
            assert_eq!(
                root["version"]["distribution"], "opensearch",
                "{} is neither Elasticsearch nor OpenSearch",
                self.url
            );
            EngineKind::OpenSearch
        };
        seen.insert(self.url.clone(), (kind, version.clone()));
        (kind, version)
    }

    /// Appends one JSON line to the rig's ledger (`GOMON_RIG_LEDGER`): the
    /// test, the engine kind and version the server reports itself, its URL,
    /// and what the test verified with the counts it measured. `tests/run-all.sh`
    /// fails unless every test listed in `tests/rig/server-tests.txt` wrote
    /// a line for each engine kind.
    ///
    /// # Panics
    /// When the server is not the kind this engine was configured as, or
    /// the ledger cannot be written: a test that reached no server must
    /// not look as if it did.
    pub fn record(&self, test: &str, verified: &str) {
        let Some(path) = std::env::var_os("GOMON_RIG_LEDGER") else {
            return;
        };
        let (kind, version) = self.identify();
        assert_eq!(
            kind,
            self.kind,
            "{} ({}) is {kind}, not {}",
            self.url,
            self.kind.env_var(),
            self.kind
        );
        let line = serde_json::json!({
            "test": test,
            "engine": kind.to_string(),
            "version": version,
            "url": self.url,
            "verified": verified,
        });
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| {
                panic!("cannot open the ledger {}: {e}", Path::new(&path).display())
            });
        writeln!(file, "{line}").unwrap_or_else(|e| {
            panic!(
                "cannot write the ledger {}: {e}",
                Path::new(&path).display()
            )
        });
    }
}

/// How to start the rig, for messages.
pub const RIG_HINT: &str = "start the servers with `bash tests/run-all.sh` (everything) or \
     `bash tests/rig/rig.sh provision && bash tests/rig/rig.sh start DIR` and export the \
     GOMON_TEST_*_URL lines it prints";

/// The search servers the rig started, one per [`EngineKind`] configured.
///
/// # Panics
/// Under CI or `GOMON_REQUIRE_SERVERS=1` when either engine's URL is missing: tests that need a server
/// fail there rather than skip. Outside CI it prints which are missing and
/// how to start them, and returns the ones that are configured.
pub fn engines() -> Vec<Engine> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for kind in EngineKind::ALL {
        match std::env::var(kind.env_var()) {
            Ok(url) if !url.trim().is_empty() => found.push(Engine {
                kind,
                url: url.trim().trim_end_matches('/').to_owned(),
            }),
            _ => missing.push(kind.env_var()),
        }
    }
    if !missing.is_empty() {
        assert!(
            !under_ci(),
            "CI=true or GOMON_REQUIRE_SERVERS=1, but {} not set: this test needs real servers; {RIG_HINT}",
            missing.join(" and ")
        );
        eprintln!(
            "NOTE: {} not set, so this test runs without those servers; {RIG_HINT}",
            missing.join(" and ")
        );
    }
    found
}

/// An `elasticsearch` client for `url`, for a test's own queries (count,
/// search, delete an index) next to what gomon wrote. gomon itself does not
/// use this crate: its requests go through `gomon_sink`, which never follows
/// a redirect, where this client does.
pub fn es_client(url: &str) -> elasticsearch::Elasticsearch {
    use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
    let parsed = elasticsearch::http::Url::parse(url)
        .unwrap_or_else(|e| panic!("{url} is not a server URL: {e}"));
    let transport = TransportBuilder::new(SingleNodeConnectionPool::new(parsed))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("an elasticsearch client for {url}: {e}"));
    elasticsearch::Elasticsearch::new(transport)
}

pub mod http;
pub mod proxy;

/// Whether golden files may be rewritten in this run: only when
/// `GOMON_BLESS` is exactly `1`, and never where servers are required (CI,
/// `tests/run-all.sh`), so the suite of record always compares against the
/// reviewed files.
///
/// # Panics
/// When `GOMON_BLESS` is set to anything under CI or `tests/run-all.sh`,
/// or to anything but `1`.
pub fn bless_goldens() -> bool {
    let Some(value) = std::env::var_os("GOMON_BLESS") else {
        return false;
    };
    assert!(
        !under_ci(),
        "GOMON_BLESS is set under CI or tests/run-all.sh: goldens are rewritten only by hand"
    );
    assert_eq!(
        value, "1",
        "GOMON_BLESS={value:?}: set it to exactly 1 to rewrite golden files, or unset it"
    );
    true
}
