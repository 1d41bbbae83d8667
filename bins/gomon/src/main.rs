//! `gomon`: monitors Go programs through their expvar endpoint.
//!
//! This binary is wiring only: it parses the command line and calls the
//! library crates under `crates/`.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use clap::{Parser, Subcommand};
use gomon_expvar::{ClientConfig, ExpvarClient, Target};
use gomon_heap::{HeapMetrics, MemStats};
use serde_json::{Value, json};

/// Monitors Go programs through their expvar endpoint (/debug/vars) and ships
/// heap, GC and custom metrics to Elasticsearch.
#[derive(Debug, Parser)]
#[command(name = "gomon", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch one target once and print its documents as NDJSON on stdout.
    ///
    /// Example: gomon once localhost:6060 --namespace myapp
    Once {
        /// host:port or http:// URL of the expvar endpoint (path /debug/vars by default).
        target: String,
        /// Also print the golang.<NAMESPACE> document of the custom variables.
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Build and monitor the example Go apps on the embedded default (not available yet).
    Demo,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("GOMON_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Once { target, namespace } => once(&target, namespace.as_deref()),
        Command::Demo => Err(
            "`gomon demo` is not built yet: it arrives with the agent (file store, scheduler). \
             Until then, `gomon once HOST:PORT` fetches a Go program once."
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gomon: {message}");
            ExitCode::FAILURE
        }
    }
}

fn once(target: &str, namespace: Option<&str>) -> Result<(), String> {
    let target = Target::parse(target).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let client = ExpvarClient::new(ClientConfig::default());
    let snapshot = runtime
        .block_on(client.fetch(&target))
        .map_err(|e| e.to_string())?;
    let timestamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let meta = |dataset: String, name: &str| {
        json!({
            "@timestamp": timestamp,
            "event": {"module": "golang", "dataset": dataset, "duration": snapshot.duration().as_nanos() as u64},
            "metricset": {"name": name},
            "service": {"address": target.address(), "type": "golang"},
        })
    };
    let mut lines = Vec::new();
    let memstats = snapshot
        .memstats()
        .ok_or_else(|| format!("{target}: no memstats variable (is expvar imported?)"))?;
    let memstats = MemStats::from_json(&Value::Object(memstats.clone()))
        .map_err(|e| format!("{target}: {e}"))?;
    let cmdline = snapshot.cmdline().unwrap_or_default();
    let mut heap = meta("golang.heap".to_owned(), "heap");
    heap["golang"] = json!({"heap": HeapMetrics::from_memstats(&memstats, &cmdline)});
    lines.push(heap);
    if let Some(ns) = namespace {
        let config = gomon_flatten::FlattenConfig::new(ns).map_err(|e| e.to_string())?;
        let expvar = gomon_flatten::Flattener::new(config).flatten(snapshot.vars(), Instant::now());
        let mut doc = meta(expvar.dataset(), "expvar");
        doc["golang"] = expvar.into_golang_value();
        lines.push(doc);
    }
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}").map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    Ok(())
}
