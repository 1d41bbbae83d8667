//! `gomon explain TARGET`: two profiles a window apart, printed like
//! `go tool pprof -top -base`, with the sites that grew, the goroutines,
//! and the verdict of the stored history.

use std::path::PathBuf;
use std::time::Duration;

use gomon_agent::config::{Config, DEFAULT_PROFILE_PATH};
use gomon_agent::explain::{ExplainRequest, Explanation, explain};
use gomon_agent::history::{HistoryQuery, TargetFilter, adopt_host_port_addresses, read_stored};
use gomon_analyze::{Thresholds, analyze_with_profiles, lifetimes};
use gomon_pprof::{format_value, top_table};

/// What `gomon explain` was asked (its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Request {
    /// The Go program: host:port or its URL (it must serve net/http/pprof).
    target: String,
    /// Time between the two profiles.
    #[arg(long, default_value = "30s", value_parser = gomon_agent::config::parse_duration)]
    window: Duration,
    /// Where the program serves net/http/pprof.
    #[arg(long, default_value = DEFAULT_PROFILE_PATH)]
    path: String,
    /// Rows and sites shown.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Collect before each heap profile (exact figures without waiting for
    /// a GC; costs the program a full collection).
    #[arg(long)]
    gc: bool,
    /// Configuration whose output holds the stored history (for the verdict).
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Data folder of the embedded store (for the verdict).
    #[arg(long)]
    data: Option<PathBuf>,
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn print_explanation(e: &Explanation) {
    let heap = &e.heap;
    println!(
        "gomon explain: two heap profiles of {} {} apart",
        heap.url,
        seconds(heap.window)
    );
    if heap.unchanged {
        println!(
            "  No GC completed in the window: the heap profile did not change (Go updates it at each\n  collection). Try a longer --window, or --gc."
        );
    } else {
        println!(
            "Type: inuse_space, net change of all sites {} (per function, as `go tool pprof -top -base`)",
            format_value(heap.total, "bytes")
        );
        print!("{}", top_table(&heap.rows, heap.total, "bytes", 10));
        println!();
        if heap.sites.is_empty() {
            println!("No site grew (the profiler's own allocations are left out).");
        } else {
            println!("Where the heap grew (the first frame outside the Go runtime):");
            let growing: i64 = heap.sites.iter().map(|s| s.values[2].max(0)).sum();
            for site in &heap.sites {
                let share = if growing > 0 {
                    site.values[2] as f64 * 100.0 / growing as f64
                } else {
                    0.0
                };
                println!(
                    "  {:>10}  {:>3.0} %  {}",
                    format_value(site.values[2], "bytes"),
                    share,
                    site.frame
                );
            }
            if let Some(first) = heap.sites.first() {
                println!("  stack of {}:", first.frame.function);
                for frame in &first.stack {
                    println!("      {frame}");
                }
            }
        }
    }
    println!();
    match (&e.goroutines, &e.goroutine_error) {
        (Some(g), _) => {
            let growth = g.growth.unwrap_or(0);
            println!(
                "Goroutines: {} → {} ({growth:+} in {})",
                g.count - growth,
                g.count,
                g.window
                    .map_or_else(|| "-".to_owned(), |w| format!("{:.1} s", w.sec))
            );
            for place in g.growing.iter().take(5) {
                println!(
                    "  {:>+8}  {} ({} now)",
                    place.growth.unwrap_or(0),
                    place.stack.first().unwrap_or(&place.function),
                    place.count
                );
            }
        }
        (None, Some(error)) => println!("Goroutines: not compared: {error}"),
        (None, None) => {}
    }
}

/// The verdict of the stored history of `target`, as `gomon analyze --target` gives it.
async fn stored_verdict(request: &Request) -> String {
    let filter = match TargetFilter::parse(&request.target) {
        Ok(filter) => filter,
        Err(e) => return format!("not read ({e})"),
    };
    let config = match request.config.as_deref().map(Config::load).transpose() {
        Ok(config) => config,
        Err(e) => return format!("not read ({e})"),
    };
    let query = HistoryQuery {
        targets: vec![filter],
        since: None,
        label_variable: None,
    };
    let stored = match read_stored(
        config.as_ref(),
        request.data.as_deref(),
        &query,
        |_, _, _| {},
    )
    .await
    {
        Ok(stored) => stored,
        Err(e) => return format!("none ({e})"),
    };
    let mut docs = stored.docs;
    adopt_host_port_addresses(&mut docs);
    docs.retain(|d| query.keeps(d));
    let lives = lifetimes(&docs);
    match lives.last() {
        None => "none: no stored heap documents of this target (run `gomon run` on it, with metricsets [heap, profile])".to_owned(),
        Some(life) => {
            let a = analyze_with_profiles(life, &docs, &Thresholds::default());
            let all: Vec<&str> = a.verdicts.iter().map(|v| v.as_str()).collect();
            format!("{}: {}", all.join("+"), a.summary)
        }
    }
}

/// `gomon explain`.
pub(crate) async fn run(request: Request) -> Result<(), String> {
    eprintln!(
        "gomon: profiling {} twice, {} apart",
        request.target,
        seconds(request.window)
    );
    let explanation = explain(&ExplainRequest {
        target: request.target.clone(),
        window: request.window,
        path: request.path.clone(),
        top: request.top.max(1),
        force_gc: request.gc,
    })
    .await
    .map_err(|e| e.to_string())?;
    print_explanation(&explanation);
    println!();
    println!(
        "Verdict of the stored history: {}",
        stored_verdict(&request).await
    );
    Ok(())
}
