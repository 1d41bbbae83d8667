//! Pure helpers behind the API: program names, target status, counters and
//! their per-second rates, the analysis with its trend line.
//!
//! ```
//! use gomon_view::series::{is_counter, per_second, program_name};
//! assert_eq!(program_name("/srv/bin/orders -addr :6060"), "orders");
//! let ts = [0, 1000, 2000, 3000];
//! let acked = [Some(10.0), Some(30.0), Some(30.0), Some(90.0)];
//! assert!(is_counter(&acked));
//! assert_eq!(per_second(&ts, &acked), vec![None, Some(20.0), Some(0.0), Some(60.0)]);
//! ```

use gomon_analyze::fields::{self, heap};
use gomon_analyze::{Analysis, Thresholds, analyze_with_profiles, lifetimes, live_heap, theil_sen};
use gomon_store::Series;
use serde::Serialize;
use serde_json::{Value, json};

/// A target with no document for this long is shown as down.
pub const STALE_AFTER_MS: i64 = 60_000;

/// The program's name: the last path element of the command line's first
/// word (`/srv/bin/orders -addr :6060` → `orders`); empty for no command line.
pub fn program_name(cmdline: &str) -> String {
    gomon_analyze::program_name(cmdline).to_owned()
}

/// `up` or `down`: down when the last fetch failed or nothing came for
/// [`STALE_AFTER_MS`].
pub fn status(last_ms: i64, last_error: Option<&str>, now_ms: i64) -> &'static str {
    if last_error.is_some() || now_ms.saturating_sub(last_ms) > STALE_AFTER_MS {
        "down"
    } else {
        "up"
    }
}

/// Whether an expvar series reads as a counter (Go's `expvar.Int` counting
/// events): whole numbers that rise at least once and, apart from restarts
/// (a fall to below a tenth of the previous value), never fall. Counters
/// are charted as per-second rates, like Timelion's `.derivative()`.
pub fn is_counter(values: &[Option<f64>]) -> bool {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.len() < 2 || present.iter().any(|v| v.fract() != 0.0 || *v < 0.0) {
        return false;
    }
    let mut rose = false;
    for pair in present.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b > a {
            rose = true;
        } else if b < a && b > a / 10.0 {
            return false;
        }
    }
    rose
}

/// Per-second rate of a counter between consecutive points; `None` at the
/// first point, across a gap, and where the counter fell (a restart).
pub fn per_second(ts: &[i64], values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    let mut previous: Option<(i64, f64)> = None;
    for (t, v) in ts.iter().zip(values) {
        let rate = match (previous, v) {
            (Some((t0, v0)), Some(v1)) if *t > t0 && *v1 >= v0 => {
                Some((v1 - v0) * 1000.0 / (*t - t0) as f64)
            }
            _ => None,
        };
        out.push(rate);
        previous = v.map(|v| (*t, v));
    }
    out
}

/// One process's analysis and the straight line to draw over its live heap.
#[derive(Debug, Clone, Serialize)]
pub struct LifetimeAnalysis {
    /// The verdicts, summary and evidence from `gomon-analyze`.
    #[serde(flatten)]
    pub analysis: Analysis,
    /// First sample, Unix ms.
    pub from_ms: i64,
    /// Last sample, Unix ms.
    pub to_ms: i64,
    /// The Theil–Sen line through the live-heap points the verdict read,
    /// from its first to its last point, `[[ms, bytes], [ms, bytes]]`;
    /// absent without a verdict on the trend.
    pub trend: Option<[(i64, f64); 2]>,
}

/// Analyses the documents of one target: one entry per process lifetime,
/// oldest first.
pub fn analyse(docs: &[Value]) -> Vec<LifetimeAnalysis> {
    let thresholds = Thresholds::default();
    lifetimes(docs)
        .into_iter()
        .map(|lifetime| {
            let analysis = analyze_with_profiles(&lifetime, docs, &thresholds);
            let ms = |t: f64| (t * 1000.0).round() as i64;
            let from_ms = lifetime.samples.first().map_or(0, |s| ms(s.t));
            let to_ms = lifetime.samples.last().map_or(0, |s| ms(s.t));
            let points = live_heap(&lifetime.samples).points;
            let line = theil_sen(&points);
            let trend = match (points.first(), points.last(), line, analysis.verdict) {
                (_, _, _, gomon_analyze::Verdict::InsufficientData) => None,
                (Some(a), Some(b), Some(line), _) if b.0 > a.0 => {
                    let at = |t: f64| (line.intercept + line.slope * t).max(0.0);
                    Some([(ms(a.0), at(a.0)), (ms(b.0), at(b.0))])
                }
                _ => None,
            };
            LifetimeAnalysis {
                analysis,
                from_ms,
                to_ms,
                trend,
            }
        })
        .collect()
}

/// Heap documents rebuilt from a downsampled heap series, one per step, for
/// the analysis of long ranges (reading every raw row of a day would take
/// seconds). Each step's HeapAlloc is its post-GC live heap (the `live`
/// column) where a GC completed in the step, else its smallest HeapAlloc,
/// which is what the analysis looks for in raw rows; the other fields are
/// the step's values. Steps without data are skipped.
pub fn documents_from_series(address: &str, series: &Series) -> Vec<Value> {
    let column = |name: &str| series.column(name).unwrap_or(&[]);
    let at = |name: &str, i: usize| column(name).get(i).copied().flatten();
    let mut docs = Vec::with_capacity(series.ts.len());
    for (i, ts) in series.ts.iter().enumerate() {
        let Some(allocated) = at("live", i).or_else(|| at("allocations.allocated.min", i)) else {
            continue;
        };
        let Some(time) = u64::try_from(*ts)
            .ok()
            .map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        else {
            continue;
        };
        let mut doc = json!({
            "@timestamp": humantime::format_rfc3339_millis(time).to_string(),
            "metricset": {"name": "heap"},
            "service": {"address": address},
        });
        let whole = |v: Option<f64>| v.map(|v| json!(v.max(0.0).round() as u64));
        let set = |doc: &mut Value, path: &str, value: Option<Value>| {
            if let Some(value) = value {
                fields::set(doc, path, value);
            }
        };
        set(
            &mut doc,
            heap::ALLOCATIONS_ALLOCATED,
            whole(Some(allocated)),
        );
        set(
            &mut doc,
            heap::GC_NEXT_GC_LIMIT,
            whole(at("gc.next_gc_limit", i)),
        );
        set(
            &mut doc,
            heap::GC_TOTAL_COUNT,
            whole(at("gc.total_count", i)),
        );
        set(
            &mut doc,
            heap::GC_CPU_FRACTION,
            at("gc.cpu_fraction", i).map(|v| json!(v)),
        );
        set(
            &mut doc,
            heap::GC_PAUSE_P99_NS,
            whole(at("gc.pause.p99.ns", i)),
        );
        for path in [
            heap::RATE_ALLOCATED_BYTES_PER_SEC,
            heap::RATE_GC_CYCLES_PER_SEC,
        ] {
            let name = fields::below(heap::OBJECT, path).unwrap_or(path);
            set(&mut doc, path, at(name, i).map(|v| json!(v)));
        }
        set(
            &mut doc,
            heap::RESTARTED,
            Some(json!(at("restarted", i).is_some_and(|v| v > 0.0))),
        );
        docs.push(doc);
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn program_names_come_from_the_first_word() {
        assert_eq!(program_name("./leaky -addr 127.0.0.1:0"), "leaky");
        assert_eq!(program_name("C:\\apps\\svc.exe"), "svc.exe");
        assert_eq!(program_name("orders"), "orders");
        assert_eq!(program_name(""), "");
    }

    #[test]
    fn a_target_is_down_after_an_error_or_a_silence() {
        assert_eq!(status(1_000, None, 2_000), "up");
        assert_eq!(status(1_000, Some("connection refused"), 2_000), "down");
        assert_eq!(status(1_000, None, 1_000 + STALE_AFTER_MS + 1), "down");
    }

    #[test]
    fn counters_are_rising_whole_numbers_and_gauges_are_not() {
        let v = |xs: &[f64]| xs.iter().map(|x| Some(*x)).collect::<Vec<_>>();
        assert!(is_counter(&v(&[1.0, 5.0, 5.0, 9.0])));
        // A restart resets it to near zero: still a counter.
        assert!(is_counter(&v(&[100.0, 200.0, 3.0, 50.0])));
        assert!(!is_counter(&v(&[5.0, 4.0, 6.0])), "a gauge going down");
        assert!(!is_counter(&v(&[0.5, 1.5])), "fractions");
        assert!(!is_counter(&v(&[7.0, 7.0, 7.0])), "never rises");
        assert!(!is_counter(&[Some(1.0)]));
    }

    #[test]
    fn rates_skip_gaps_and_restarts() {
        let ts = [0, 2000, 4000, 6000, 8000];
        let v = [Some(0.0), Some(10.0), None, Some(30.0), Some(2.0)];
        assert_eq!(per_second(&ts, &v), vec![None, Some(5.0), None, None, None]);
    }

    #[test]
    fn a_downsampled_growing_heap_is_still_a_leak() {
        // Two hours in 60 s steps: a GC in every step, the live heap rising
        // 2 MB a step under a saw-tooth that reaches 40 MB higher.
        let n = 120;
        let ts: Vec<i64> = (0..n).map(|i| 1_800_000_000_000 + i * 60_000).collect();
        let col = |f: &dyn Fn(i64) -> f64| (0..n).map(|i| Some(f(i))).collect::<Vec<_>>();
        let series = Series {
            step_ms: 60_000,
            ts,
            columns: vec![
                ("live".into(), col(&|i| 10e6 + i as f64 * 2e6)),
                (
                    "allocations.allocated.min".into(),
                    col(&|i| 10e6 + i as f64 * 2e6),
                ),
                (
                    "allocations.allocated".into(),
                    col(&|i| 30e6 + i as f64 * 2e6),
                ),
                ("gc.next_gc_limit".into(), col(&|i| 20e6 + i as f64 * 4e6)),
                ("gc.total_count".into(), col(&|i| i as f64 * 10.0)),
                ("gc.cpu_fraction".into(), col(&|_| 0.001)),
                ("restarted".into(), col(&|_| 0.0)),
            ],
        };
        let docs = documents_from_series("a:1", &series);
        assert_eq!(docs.len(), 120);
        let out = analyse(&docs);
        assert_eq!(out.len(), 1, "one process");
        assert_eq!(
            out[0].analysis.verdict.as_str(),
            "leak",
            "{}",
            out[0].analysis.summary
        );
        let [a, b] = out[0].trend.expect("a trend line");
        assert!(a.1 < 15e6 && b.1 > 230e6 && b.0 > a.0, "{a:?} → {b:?}");
    }

    #[test]
    fn a_growing_heap_gets_a_rising_trend_line() {
        let docs: Vec<Value> = (0..120)
            .map(|i| {
                json!({
                    "@timestamp": format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
                    "metricset": {"name": "heap"},
                    "service": {"address": "a:1"},
                    "golang": {"heap": {"cmdline": "./app",
                        "allocations": {"allocated": 5_000_000 + i * 100_000},
                        "gc": {"next_gc_limit": 10_000_000, "total_count": i, "cpu_fraction": 0.001}}}
                })
            })
            .collect();
        let out = analyse(&docs);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].analysis.verdict.as_str(), "leak");
        let [a, b] = out[0].trend.expect("a trend line");
        assert!(b.0 > a.0 && b.1 > a.1, "{a:?} → {b:?}");
        assert_eq!(out[0].to_ms - out[0].from_ms, 119_000);
    }
}
