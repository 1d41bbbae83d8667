//! Runs the gomon agent inside a Rust program: a sidecar or an ops service
//! that watches its Go neighbours, keeps their history in an embedded store
//! it owns, and asks the analysis for verdicts whenever it likes.
//!
//! ```sh
//! cargo run -p gomon-example-embed -- 127.0.0.1:6060 30
//! ```
//!
//! The recipe: a [`Config`] built from YAML (the same text a `gomon.yml` or
//! `metricbeat.yml` holds), an [`Agent`] on it, a subscription to the live
//! events, and a watch channel to stop it; then [`lifetimes`] and
//! [`analyze`] on what the store holds, read with [`gomon_store::Reader`].

#![allow(
    clippy::print_stdout,
    reason = "printing the readings is what this program is for"
)]

use std::process::ExitCode;
use std::time::Duration;

use gomon_agent::Agent;
use gomon_agent::config::Config;
use gomon_analyze::{Thresholds, analyze, lifetimes};

const USAGE: &str = "usage: embed HOST:PORT [SECONDS (default 30)]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(target), seconds) = (args.next(), args.next()) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let Ok(seconds) = seconds.as_deref().unwrap_or("30").parse::<u64>() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let store = std::env::temp_dir().join(format!("gomon-embed-{}", std::process::id()));
    let yaml = format!(
        "modules:\n- module: golang\n  period: 1s\n  hosts: [\"{target}\"]\noutput.store.path: \"{}\"\nhttp.enabled: false\n",
        store.display()
    );
    let config = match Config::parse(
        &yaml,
        gomon_agent::config::FileFormat::Yaml,
        "embedded config",
    ) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let agent = match Agent::new(config, &store).await {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Live events, typed, as they are produced (lossy if this loop lags).
    let mut live = agent.subscribe();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(agent.run(stopped));
    let deadline = tokio::time::sleep(Duration::from_secs(seconds));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = live.recv() => if let Ok(event) = event {
                match (&event.error, event.heap()) {
                    (Some(error), _) => println!("{target}: {error}"),
                    (None, Some(heap)) => println!("{target}: HeapAlloc {} bytes, {} GC cycles",
                        heap.allocations.allocated, heap.gc.total_count),
                    (None, None) => {}
                }
            },
            _ = &mut deadline => break,
        }
    }
    let _ = stop.send(true);
    let Ok(summary) = running.await else {
        return ExitCode::FAILURE;
    };
    println!("{} documents in {}", summary.acked, store.display());

    // The history so far, judged.
    let docs = gomon_store::Reader::open(&store.join(gomon_store::DEFAULT_FILE))
        .and_then(|reader| reader.documents(None, gomon_store::TimeRange::all()))
        .unwrap_or_default();
    let thresholds = Thresholds {
        min_span_secs: 20.0,
        ..Thresholds::default()
    };
    for life in lifetimes(&docs) {
        let a = analyze(&life, &thresholds);
        println!("{}: {} — {}", a.target, a.verdict.as_str(), a.summary);
    }
    ExitCode::SUCCESS
}
