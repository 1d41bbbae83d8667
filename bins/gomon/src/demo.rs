//! `gomon demo`: the example Go apps, monitored for a while into the file store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use gomon_agent::Agent;
use gomon_agent::config::{
    Config, ExpvarSection, FileOutput, HttpConfig, ModuleConfig, OutputsConfig,
};
use gomon_analyze::fields::{self, heap};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

const APPS: [(&str, &str); 5] = [
    ("steady", "constant work, bounded working set"),
    ("leaking", "keeps every session it creates"),
    ("gcheavy", "short-lived garbage, low GOGC"),
    ("cache", "fills a bounded cache, then levels off"),
    ("churnleak", "a small leak under heavy churn"),
];

/// What the demo saw of one app.
#[derive(Debug, Default)]
struct Seen {
    first_allocated: Option<u64>,
    last_allocated: u64,
    first_next_gc: Option<u64>,
    last_next_gc: u64,
    first_total_count: Option<u64>,
    last_total_count: u64,
    max_p99_ns: u64,
    documents: u64,
    errors: u64,
    last_error: Option<String>,
}

fn find_examples(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    let candidates = explicit.into_iter().chain([
        PathBuf::from("examples/go"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/go"),
    ]);
    for dir in candidates {
        if dir.join("go.mod").is_file() {
            return Ok(dir);
        }
    }
    Err("cannot find the example Go apps (examples/go with a go.mod): run from the gomon repository or pass --examples DIR".to_owned())
}

async fn build_apps(examples: &Path, bin: &Path) -> Result<(), String> {
    std::fs::create_dir_all(bin).map_err(|e| format!("cannot create {}: {e}", bin.display()))?;
    let status = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(format!("{}/", bin.display()))
        .arg("./...")
        .current_dir(examples)
        .status()
        .await
        .map_err(|e| {
            format!(
                "cannot run `go` (the demo builds Go programs; install Go and put it on PATH): {e}"
            )
        })?;
    if !status.success() {
        return Err(format!(
            "`go build ./...` in {} failed ({status})",
            examples.display()
        ));
    }
    Ok(())
}

async fn start_app(bin: &Path, name: &str) -> Result<(Child, String), String> {
    let mut child = Command::new(bin.join(name))
        .args(["-addr", "127.0.0.1:0", "-version", "1.0.0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| format!("{name}: no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .map_err(|_| format!("{name} did not report its address within 30 s"))?
        .map_err(|e| format!("{name}: {e}"))?
        .ok_or_else(|| format!("{name} exited before listening"))?;
    let addr = line
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("{name} printed {line:?}, expected `listening on HOST:PORT`"))?
        .trim()
        .to_owned();
    // Keep reading so the app never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn record(seen: &mut BTreeMap<String, Seen>, names: &BTreeMap<String, String>, doc: &Value) {
    let address = fields::get(doc, fields::SERVICE_ADDRESS)
        .as_str()
        .unwrap_or_default();
    let Some(name) = names.get(address) else {
        return;
    };
    let s = seen.entry(name.clone()).or_default();
    s.documents += 1;
    if let Some(message) = fields::get(doc, fields::ERROR_MESSAGE).as_str() {
        s.errors += 1;
        s.last_error = Some(message.to_owned());
        return;
    }
    if fields::get(doc, heap::OBJECT).is_null() {
        return;
    }
    let number = |path: &str| fields::get(doc, path).as_u64();
    let allocated = number(heap::ALLOCATIONS_ALLOCATED).unwrap_or(0);
    let next_gc = number(heap::GC_NEXT_GC_LIMIT).unwrap_or(0);
    let count = number(heap::GC_TOTAL_COUNT).unwrap_or(0);
    s.first_allocated.get_or_insert(allocated);
    s.first_next_gc.get_or_insert(next_gc);
    s.first_total_count.get_or_insert(count);
    s.last_allocated = allocated;
    s.last_next_gc = next_gc;
    s.last_total_count = count;
    if let Some(p99) = number(heap::GC_PAUSE_P99_NS) {
        s.max_p99_ns = s.max_p99_ns.max(p99);
    }
}

/// Builds and starts the apps, monitors them, prints progress and a summary.
pub(crate) async fn run(
    duration: Duration,
    period: Duration,
    data: Option<PathBuf>,
    examples: Option<PathBuf>,
) -> Result<(), String> {
    let examples = find_examples(examples)?;
    let data = data.unwrap_or_else(|| gomon_agent::default_data_dir().join("demo"));
    let bin = data.join("bin");
    println!(
        "gomon demo: building the example Go apps from {}",
        examples.display()
    );
    build_apps(&examples, &bin).await?;

    let mut children = Vec::new();
    let mut names = BTreeMap::new();
    for (name, what) in APPS {
        let (child, addr) = start_app(&bin, name).await?;
        println!("  started {name:<9} on {addr:<16} ({what})");
        // Documents name a target by the URL fetched (`service.address`).
        let url =
            gomon_agent::collect::service_address(&addr).map_err(|e| format!("{name}: {e}"))?;
        names.insert(url, name.to_owned());
        children.push(child);
    }

    let store = data.join("store");
    // Each demo starts from an empty store: its summary and verdicts are about this run.
    if let Ok(entries) = std::fs::read_dir(&store) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("gomon.ndjson")
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let config = Config {
        modules: vec![ModuleConfig {
            module: "golang".to_owned(),
            metricsets: None,
            enabled: true,
            period,
            hosts: names.keys().cloned().collect(),
            timeout: None,
            heap: Default::default(),
            expvar: ExpvarSection {
                namespace: Some("example".to_owned()),
                rates: vec!["output.events.acked".to_owned()],
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
            file: Some(FileOutput {
                path: store.clone(),
                filename: "gomon".to_owned(),
                rotate_every_kb: 10 * 1024,
                number_of_files: 7,
            }),
            ..Default::default()
        },
        http: HttpConfig {
            enabled: false,
            ..Default::default()
        },
        setup: Default::default(),
        queue: Default::default(),
        name: None,
        source: None,
        findings: Default::default(),
    };
    let agent = Agent::new(config, &store)
        .await
        .map_err(|e| e.to_string())?;
    let mut tap = agent.subscribe();
    println!(
        "gomon demo: monitoring for {} every {} → {}",
        humantime::format_duration(duration),
        humantime::format_duration(period),
        agent.output_description()
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let running = tokio::spawn(agent.run(stop_rx));

    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval_at(started + period, period);
    let deadline = started + duration;
    let interrupted = loop {
        tokio::select! {
            doc = tap.recv() => {
                if let Ok(doc) = doc {
                    record(&mut seen, &names, &doc);
                }
            }
            _ = ticker.tick() => {
                let line: Vec<String> = seen
                    .iter()
                    .map(|(name, s)| format!("{name} {} gc {}", mb(s.last_allocated), s.last_total_count))
                    .collect();
                println!("  {:>4}s  {}", started.elapsed().as_secs(), line.join("  |  "));
                if tokio::time::Instant::now() >= deadline {
                    break false;
                }
            }
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    let _ = stop_tx.send(true);
    let summary = running
        .await
        .map_err(|e| format!("agent stopped unexpectedly: {e}"))?;
    for mut child in children {
        let _ = child.kill().await;
    }

    println!();
    println!(
        "gomon demo: what was seen ({} documents written to {})",
        summary.acked,
        store.display()
    );
    for (name, s) in &seen {
        let growth = s.last_next_gc as i64 - s.first_next_gc.unwrap_or(0) as i64;
        let cycles = s.last_total_count - s.first_total_count.unwrap_or(0);
        println!(
            "  {name:<9} heap {} → {}, GC limit {} → {} ({:+.1} MB), {cycles} GC cycles, worst pause p99 {} µs, {} documents{}",
            mb(s.first_allocated.unwrap_or(0)),
            mb(s.last_allocated),
            mb(s.first_next_gc.unwrap_or(0)),
            mb(s.last_next_gc),
            growth as f64 / 1e6,
            s.max_p99_ns / 1000,
            s.documents,
            s.last_error
                .as_ref()
                .map(|e| format!(", {} errors (last: {e})", s.errors))
                .unwrap_or_default()
        );
    }
    println!();
    println!(
        "gomon demo: verdicts (gomon analyze --data {})",
        store.display()
    );
    match crate::analyze::demo_verdicts(&store, &names) {
        Ok(verdicts) => {
            for (name, a) in verdicts {
                let all: Vec<&str> = a.verdicts.iter().map(|v| v.as_str()).collect();
                println!("  {name:<9} {:<20} {}", all.join("+"), a.summary);
            }
        }
        Err(e) => println!("  cannot analyze: {e}"),
    }
    println!(
        "  data: {} (NDJSON, one document per line)",
        store.display()
    );
    println!("  the example apps are stopped.");
    if interrupted {
        return Err("interrupted".to_owned());
    }
    if summary.failed > 0 || summary.acked == 0 {
        return Err(format!(
            "{} documents written, {} failed",
            summary.acked, summary.failed
        ));
    }
    Ok(())
}
