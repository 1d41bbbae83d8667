//! `gomon analyze`: verdicts on the stored heap history.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use gomon_agent::config::Config;
use gomon_agent::history::{
    HistoryQuery, HistorySource, TargetFilter, adopt_host_port_addresses, read_stored,
};
use gomon_analyze::{
    Analysis, Comparison, DEFAULT_MIN_SPAN_SECS, Thresholds, Verdict, analyze_with_profiles,
    compare_with, expvar_labels, label_of, lifetimes, table, target_label,
};
use serde_json::{Value, json};

/// What `gomon analyze` was asked (its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Request {
    /// Configuration file: what its output (file store or Elasticsearch) holds is read.
    #[arg(short, long)]
    pub(crate) config: Option<PathBuf>,
    /// Folder of the file store (default: the embedded default).
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Only this target: its URL as in service.address
    /// (http://host:port/debug/vars), or host:port for every path there; repeatable.
    #[arg(long = "target", value_parser = TargetFilter::parse)]
    pub(crate) targets: Vec<TargetFilter>,
    /// Only documents from the last DURATION (e.g. 30m, 6h).
    #[arg(long, value_parser = gomon_agent::config::parse_duration)]
    pub(crate) since: Option<Duration>,
    /// JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Exit with status 1 when any target gets one of these verdicts (e.g.
    /// leak), or with `regression`, when a version compared (`--compare-by`)
    /// is worse than the baseline on any measure.
    #[arg(long, value_delimiter = ',', value_parser = parse_verdict)]
    pub(crate) fail_on: Vec<String>,
    /// Memory limit (e.g. 512MiB) for the time-to-limit estimate of leaks.
    #[arg(long, value_parser = gomon_agent::config::parse_size)]
    pub(crate) memory_limit: Option<u64>,
    /// Compare versions: `cmdline`, or `expvar:VARIABLE` (e.g. expvar:app.version).
    #[arg(long)]
    pub(crate) compare_by: Option<String>,
    /// The version the others are compared with (default: the oldest); one
    /// that is not present is an error that lists those that are.
    #[arg(long, requires = "compare_by")]
    pub(crate) baseline: Option<String>,
    /// Shortest span of data for a verdict on the heap trend (the default
    /// is the analysis library's, the one `gomon demo` uses too).
    #[arg(long, default_value_t = DEFAULT_MIN_SPAN.into(), value_parser = parse_span)]
    pub(crate) min_span: humantime::Duration,
    /// GC CPU share (percent) from which gc-pressure is reported.
    #[arg(long, default_value_t = Thresholds::default().gc_cpu_fraction * 100.0)]
    pub(crate) gc_cpu_percent: f64,
    /// Median per-interval p99 GC pause from which gc-pressure is reported.
    #[arg(long, default_value_t = Duration::from_nanos(Thresholds::default().pause_p99_ns).into(), value_parser = parse_span)]
    pub(crate) pause_p99: humantime::Duration,
}

/// The library's default minimum span.
const DEFAULT_MIN_SPAN: Duration = Duration::from_secs(DEFAULT_MIN_SPAN_SECS as u64);

/// A duration as `--min-span` and `--pause-p99` take it.
fn parse_span(text: &str) -> Result<humantime::Duration, String> {
    gomon_agent::config::parse_duration(text).map(Into::into)
}

/// The thresholds the request asks for: the library's defaults, with the
/// values given on the command line.
fn thresholds_of(request: &Request) -> Thresholds {
    let pause: Duration = request.pause_p99.into();
    let min_span: Duration = request.min_span.into();
    Thresholds {
        memory_limit: request.memory_limit,
        min_span_secs: min_span.as_secs_f64(),
        gc_cpu_fraction: request.gc_cpu_percent / 100.0,
        pause_p99_ns: u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX),
        ..Thresholds::default()
    }
}

/// What `--fail-on` takes for a candidate version worse than the baseline
/// on any measure (with `--compare-by`).
const REGRESSION: &str = "regression";

/// Accepts the verdict names `--fail-on` takes.
fn parse_verdict(text: &str) -> Result<String, String> {
    if text == REGRESSION || Verdict::ALL.iter().any(|v| v.as_str() == text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a verdict (leak, plateau, gc-pressure, steady, insufficient-data, regression)"
        ))
    }
}

/// What `--target`, `--since` and `--compare-by expvar:` ask of the history.
fn query_of(request: &Request) -> HistoryQuery {
    HistoryQuery {
        targets: request.targets.clone(),
        since: request.since.map(|d| SystemTime::now() - d),
        label_variable: request
            .compare_by
            .as_deref()
            .and_then(|b| b.strip_prefix("expvar:"))
            .map(str::to_owned),
    }
}

/// Reads the stored documents the configuration's output (or `--data`)
/// holds; says where they came from, or why there are none.
async fn read_documents(
    request: &Request,
    query: &HistoryQuery,
) -> Result<(Vec<Value>, String), String> {
    let config = request
        .config
        .as_deref()
        .map(Config::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    let stored = read_stored(
        config.as_ref(),
        request.data.as_deref(),
        query,
        |index, done, targets| {
            eprintln!("gomon: read the heap history of {done} of {targets} targets from {index}*");
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    for line in stored.skipped.iter().take(3) {
        eprintln!(
            "gomon: skipped {}:{}: {}",
            line.file.display(),
            line.line,
            line.reason
        );
    }
    let n = stored.docs.len();
    let source = match (&stored.source, n) {
        (HistorySource::Cluster { url, index }, 0) => {
            return Err(format!(
                "no documents in {index}* on {url} (run `gomon run` first)"
            ));
        }
        (HistorySource::Cluster { url, index }, _) => {
            format!("{url} {index}* ({n} time buckets)")
        }
        (HistorySource::FileStore { dir }, 0) => {
            return Err(format!(
                "no documents in {} (run `gomon run` or `gomon demo` first)",
                dir.display()
            ));
        }
        (HistorySource::FileStore { dir }, _) => format!("{} ({n} documents)", dir.display()),
        (HistorySource::Store { file }, 0) => {
            return Err(format!(
                "no documents in {} (run `gomon run` or `gomon demo` first)",
                file.display()
            ));
        }
        (HistorySource::Store { file }, _) => format!("{} ({n} documents)", file.display()),
    };
    Ok((stored.docs, source))
}

fn mb(bytes: f64) -> String {
    format!("{:.1}", bytes / 1e6)
}

/// What "nothing matched" says: the filters that were given, and only those.
fn nothing_matches(request: &Request, source: &str) -> String {
    let mut given = Vec::new();
    if !request.targets.is_empty() {
        given.push("--target");
    }
    if request.since.is_some() {
        given.push("--since");
    }
    if given.is_empty() {
        format!("no golang.heap documents in {source}")
    } else {
        format!(
            "no golang.heap documents in {source} match {}",
            given.join(" and ")
        )
    }
}

fn print_comparison(c: &Comparison) {
    println!();
    println!(
        "{:<28} {:>9} {:>12} {:>12} {:>14} {:>10} {:>8} {:>10}",
        "version", "lifetimes", "live MB", "trend MB/h", "alloc MB/s", "GC/s", "GC CPU", "p99 µs"
    );
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_owned(), f);
    for g in &c.groups {
        println!(
            "{:<28} {:>9} {:>12} {:>12} {:>14} {:>10} {:>8} {:>10}",
            g.label,
            g.lifetimes,
            opt(g.live_heap_bytes, &|v| mb(v)),
            opt(g.growth_mb_per_hour, &|v| format!("{v:.1}")),
            opt(g.alloc_bytes_per_sec, &|v| mb(v)),
            opt(g.gc_cycles_per_sec, &|v| format!("{v:.1}")),
            opt(g.gc_cpu_fraction, &|v| format!("{:.2}%", v * 100.0)),
            opt(g.pause_p99_ns, &|v| format!("{:.0}", v / 1000.0)),
        );
    }
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:+.0}%", v * 100.0));
    for d in &c.differences {
        println!(
            "  {} vs {}: live heap {}, trend {:+.1} MB/h, allocation rate {}, GC frequency {}, GC CPU {:+.2} points, p99 pause {}",
            d.label,
            c.groups[0].label,
            pct(d.live_heap),
            d.growth_mb_per_hour.unwrap_or(0.0),
            pct(d.alloc_rate),
            pct(d.gc_rate),
            d.gc_cpu_points.unwrap_or(0.0),
            pct(d.pause_p99)
        );
        for m in &d.changes {
            println!("    {}", m.reason);
        }
    }
}

/// Runs the analysis; `Err` carries the message for a non-zero exit.
pub(crate) async fn run(request: Request) -> Result<(), String> {
    let query = query_of(&request);
    let (mut docs, source) = read_documents(&request, &query).await?;
    eprintln!("gomon: analyzing {source}");
    adopt_host_port_addresses(&mut docs);
    docs.retain(|d| query.keeps(d));
    let thresholds = thresholds_of(&request);
    let lives = lifetimes(&docs);
    if lives.is_empty() {
        return Err(nothing_matches(&request, &source));
    }
    let analyses: Vec<Analysis> = lives
        .iter()
        .map(|l| analyze_with_profiles(l, &docs, &thresholds))
        .collect();
    let comparison = request
        .compare_by
        .as_deref()
        .map(|by| {
            if let Some(variable) = by.strip_prefix("expvar:") {
                let labels = expvar_labels(&docs, variable);
                compare_with(
                    &lives,
                    |l| label_of(l, &labels),
                    request.baseline.as_deref(),
                    &thresholds,
                )
            } else {
                compare_with(
                    &lives,
                    |l| Some(l.cmdline.clone()),
                    request.baseline.as_deref(),
                    &thresholds,
                )
            }
        })
        .transpose()
        .map_err(|e| format!("--baseline: {e}"))?;
    if request.json {
        let out = json!({ "analyses": analyses, "comparison": comparison });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", table(&analyses));
        if let Some(c) = &comparison {
            print_comparison(c);
        }
    }
    let failing: Vec<&Analysis> = analyses
        .iter()
        .filter(|a| {
            a.verdicts
                .iter()
                .any(|v| request.fail_on.iter().any(|f| f == v.as_str()))
        })
        .collect();
    let regressions: Vec<String> = comparison
        .iter()
        .flat_map(|c| {
            c.differences
                .iter()
                .filter(|d| d.regression)
                .map(move |d| (d, &c.groups[0].label))
        })
        .map(|(d, base)| {
            let worse: Vec<&str> = d
                .changes
                .iter()
                .filter(|m| m.change == gomon_analyze::Change::Worse)
                .map(|m| m.measure)
                .collect();
            format!("{} worse than {base} on {}", d.label, worse.join(", "))
        })
        .collect();
    if request.fail_on.iter().any(|f| f == REGRESSION) && !regressions.is_empty() {
        return Err(format!("--fail-on regression: {}", regressions.join("; ")));
    }
    if !failing.is_empty() {
        let names: Vec<String> = failing
            .iter()
            .map(|a| format!("{} {}", target_label(a), a.verdict.as_str()))
            .collect();
        return Err(format!(
            "--fail-on {}: {}",
            request.fail_on.join(","),
            names.join(", ")
        ));
    }
    Ok(())
}
