//! `gomon demo`: the example Go apps, monitored for a while into the
//! embedded store, with progress, a summary and the verdicts printed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use gomon_agent::Agent;
use gomon_agent::demo::{self, Seen};
use tokio::sync::watch;

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Builds and starts the apps, monitors them, prints progress and a summary.
pub(crate) async fn run(
    duration: Duration,
    period: Duration,
    data: Option<PathBuf>,
    examples: Option<PathBuf>,
) -> Result<(), String> {
    let examples = demo::find_examples(examples).map_err(|e| e.to_string())?;
    let data = data.unwrap_or_else(|| gomon_agent::default_data_dir().join("demo"));
    let bin = data.join("bin");
    println!(
        "gomon demo: building the example Go apps from {}",
        examples.display()
    );
    demo::build_apps(&examples, &bin)
        .await
        .map_err(|e| e.to_string())?;

    let mut apps = Vec::new();
    for (name, what) in demo::APPS {
        let app = demo::start_app(&bin, name)
            .await
            .map_err(|e| e.to_string())?;
        println!("  started {name:<13} on {:<16} ({what})", app.addr);
        apps.push(app);
    }
    // Documents name a target by the URL fetched (`service.address`).
    let names: BTreeMap<String, String> = apps
        .iter()
        .map(|a| (a.url.clone(), a.name.clone()))
        .collect();

    let store = data.join("store");
    demo::clear_store(&store);
    let config = demo::config(names.keys().cloned().collect(), period, &store);
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
    let running = tokio::spawn(agent.run(stop_rx.clone()));
    // The picture while it runs: the view of the demo's store.
    let view = match crate::view::for_demo(&store, stop_rx).await {
        Ok((url, server)) => {
            println!("gomon demo: charts live at {url} while the demo runs");
            Some(server)
        }
        Err(e) => {
            println!("gomon demo: no live charts ({e}); the data stays in the store");
            None
        }
    };

    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval_at(started + period, period);
    let deadline = started + duration;
    let interrupted = loop {
        tokio::select! {
            event = tap.recv() => {
                if let Ok(event) = event && let Some(name) = names.get(&event.address) {
                    seen.entry(name.clone()).or_default().record(&event);
                }
            }
            _ = ticker.tick() => {
                let line: Vec<String> = seen
                    .iter()
                    .map(|(name, s)| {
                        let (_, allocated) = s.allocated.unwrap_or_default();
                        let (_, cycles) = s.gc_count.unwrap_or_default();
                        format!("{name} {} gc {cycles}", mb(allocated))
                    })
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
    if let Some(view) = view {
        let _ = view.await;
    }
    for app in apps {
        app.stop().await;
    }

    println!();
    println!(
        "gomon demo: what was seen ({} documents written to {})",
        summary.acked,
        store.display()
    );
    for (name, s) in &seen {
        let (first_allocated, last_allocated) = s.allocated.unwrap_or_default();
        let (first_next_gc, last_next_gc) = s.next_gc.unwrap_or_default();
        let (first_count, last_count) = s.gc_count.unwrap_or_default();
        let growth = last_next_gc as f64 - first_next_gc as f64;
        println!(
            "  {name:<13} heap {} → {}, GC limit {} → {} ({:+.1} MB), {} GC cycles, worst pause p99 {} µs, {} documents{}",
            mb(first_allocated),
            mb(last_allocated),
            mb(first_next_gc),
            mb(last_next_gc),
            growth / 1e6,
            last_count - first_count,
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
    match demo::verdicts(&store, &names) {
        Ok(verdicts) => {
            for (name, a) in verdicts {
                let all: Vec<&str> = a.verdicts.iter().map(|v| v.as_str()).collect();
                println!("  {name:<13} {:<21} {}", all.join("+"), a.summary);
            }
        }
        Err(e) => println!("  cannot analyze {}: {e}", store.display()),
    }
    println!(
        "  data: {} (SQLite; `gomon analyze --data {}`)",
        store.join(gomon_agent::STORE_FILE).display(),
        store.display()
    );
    println!(
        "  charts: `gomon view --data {}`, then open http://{}/",
        store.display(),
        gomon_view::DEFAULT_LISTEN
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
