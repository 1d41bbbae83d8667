//! Verdicts on one process's heap: leak, plateau, steady, GC pressure.

use serde::Serialize;

use crate::series::{Lifetime, live_heap_points};
use crate::trend::{median_of, theil_sen};

/// When a verdict is given. The defaults suit 1–10 s data over minutes to hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Fewest samples for any verdict on the heap trend.
    pub min_samples: usize,
    /// Shortest span (seconds) for any verdict on the heap trend.
    pub min_span_secs: f64,
    /// Growth of the live heap, relative to its starting level, that counts.
    pub min_growth_fraction: f64,
    /// Growth of the live heap (bytes) below which nothing counts.
    pub min_growth_bytes: f64,
    /// Share of point pairs that must agree on a rising trend.
    pub min_agreement: f64,
    /// GC CPU fraction from which GC pressure is reported (the source
    /// article: "single-digit percents" need work).
    pub gc_cpu_fraction: f64,
    /// Median per-interval p99 GC pause (ns) from which GC pressure is reported.
    pub pause_p99_ns: u64,
    /// A memory limit (bytes) to estimate the time left before a leak reaches it.
    pub memory_limit: Option<u64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_samples: 20,
            min_span_secs: 60.0,
            min_growth_fraction: 0.10,
            min_growth_bytes: 1024.0 * 1024.0,
            min_agreement: 0.70,
            gc_cpu_fraction: 0.01,
            pause_p99_ns: 10_000_000,
            memory_limit: None,
        }
    }
}

/// What the heap of one process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The live heap keeps growing, to the end of the data.
    Leak,
    /// The live heap grew, then levelled off (a cache filling up).
    Plateau,
    /// GC takes a large share of CPU, or pauses are long.
    GcPressure,
    /// Nothing to report.
    Steady,
    /// Too few samples or too short a span to say.
    InsufficientData,
}

impl Verdict {
    /// The name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::Plateau => "plateau",
            Verdict::GcPressure => "gc-pressure",
            Verdict::Steady => "steady",
            Verdict::InsufficientData => "insufficient-data",
        }
    }
}

/// The figures behind a verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// Estimated live heap at the start (troughs of HeapAlloc), bytes.
    pub live_heap_start_bytes: f64,
    /// Estimated live heap at the end, bytes.
    pub live_heap_end_bytes: f64,
    /// Robust trend of the live heap over the whole span, MB per hour.
    pub growth_mb_per_hour: f64,
    /// Trend over the last third of the span, MB per hour.
    pub recent_growth_mb_per_hour: f64,
    /// How sure a leak or plateau call is (absent for other verdicts). Leak:
    /// share of point pairs over the last third that agree the heap rises
    /// (0.5 = chance, 1 = all). Plateau: share of the last third's troughs
    /// that stay above the early level by at least half the growth threshold.
    pub confidence: Option<f64>,
    /// NextGC (the GC limit) at the start and end, bytes.
    pub gc_limit_start_bytes: u64,
    /// NextGC at the end, bytes.
    pub gc_limit_end_bytes: u64,
    /// GC CPU fraction at the end (since the program started).
    pub gc_cpu_fraction: f64,
    /// Median of the per-interval p99 GC pauses, ns.
    pub pause_p99_ns: Option<u64>,
    /// Median GC cycles per second.
    pub gc_cycles_per_sec: Option<f64>,
    /// Median allocation rate, bytes per second.
    pub alloc_bytes_per_sec: Option<f64>,
    /// For a leak with a memory limit: seconds until the live heap reaches it.
    pub seconds_to_limit: Option<f64>,
}

/// The analysis of one process lifetime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// `host:port` of the target.
    pub target: String,
    /// The process's command line.
    pub cmdline: String,
    /// Samples read.
    pub samples: usize,
    /// Seconds covered.
    pub span_secs: f64,
    /// The main verdict: leak, plateau, gc-pressure, steady or insufficient-data.
    pub verdict: Verdict,
    /// Every verdict that applies (a leak can also be under GC pressure).
    pub verdicts: Vec<Verdict>,
    /// One sentence a person reads.
    pub summary: String,
    /// The figures.
    pub evidence: Evidence,
}

const MB: f64 = 1e6;

/// Analyses one process lifetime.
pub fn analyze(lifetime: &Lifetime, th: &Thresholds) -> Analysis {
    let samples = &lifetime.samples;
    let n = samples.len();
    let span_secs = lifetime.span();
    let mut evidence = Evidence::default();
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        evidence.gc_limit_start_bytes = first.next_gc;
        evidence.gc_limit_end_bytes = last.next_gc;
        evidence.gc_cpu_fraction = last.cpu_fraction;
    }
    let p99s: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.pause_p99_ns.map(|p| p as f64))
        .collect();
    evidence.pause_p99_ns = median_of(&p99s).map(|p| p as u64);
    let gc_rates: Vec<f64> = samples.iter().filter_map(|s| s.gc_rate).collect();
    evidence.gc_cycles_per_sec = median_of(&gc_rates);
    let alloc_rates: Vec<f64> = samples.iter().filter_map(|s| s.alloc_rate).collect();
    evidence.alloc_bytes_per_sec = median_of(&alloc_rates);

    let gc_pressure = evidence.gc_cpu_fraction >= th.gc_cpu_fraction
        || evidence.pause_p99_ns.is_some_and(|p| p >= th.pause_p99_ns);
    let base = |verdict: Verdict, summary: String, evidence: Evidence| {
        let mut verdicts = vec![verdict];
        if gc_pressure && verdict != Verdict::GcPressure {
            verdicts.push(Verdict::GcPressure);
        }
        let verdict = if verdict == Verdict::Steady && gc_pressure {
            Verdict::GcPressure
        } else {
            verdict
        };
        if verdict == Verdict::GcPressure {
            verdicts.retain(|v| *v != Verdict::Steady);
        }
        Analysis {
            target: lifetime.target.clone(),
            cmdline: lifetime.cmdline.clone(),
            samples: n,
            span_secs,
            verdict,
            verdicts,
            summary,
            evidence,
        }
    };

    let points = live_heap_points(samples);
    if n < th.min_samples || span_secs < th.min_span_secs || points.len() < 6 {
        let mut needs = Vec::new();
        if n < th.min_samples {
            needs.push(format!("{} more samples", th.min_samples - n));
        }
        if span_secs < th.min_span_secs {
            needs.push(format!("{:.0} s more data", th.min_span_secs - span_secs));
        }
        if needs.is_empty() {
            needs.push("more GC cycles (fewer than 6 live-heap points)".to_owned());
        }
        let summary = format!(
            "{n} samples over {span_secs:.0} s: need {}",
            needs.join(" and ")
        );
        return base(Verdict::InsufficientData, summary, evidence);
    }

    let overall = theil_sen(&points);
    let at = |t: f64| overall.map_or(0.0, |tr| tr.intercept + tr.slope * t);
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    evidence.live_heap_start_bytes = at(t0).max(0.0);
    evidence.live_heap_end_bytes = at(t1).max(0.0);
    evidence.growth_mb_per_hour = overall.map_or(0.0, |tr| tr.slope * 3600.0 / MB);

    // Head: the first tenth of the time (at least two points), the level
    // the process started from; tail: the last third.
    let mut head: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0 <= t0 + (t1 - t0) / 10.0)
        .collect();
    if head.len() < 2 {
        head = points.iter().copied().take(2).collect();
    }
    let tail: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0 >= t1 - (t1 - t0) / 3.0)
        .collect();
    let head_level = median_of(&head.iter().map(|p| p.1).collect::<Vec<_>>()).unwrap_or(0.0);
    let tail_level = median_of(&tail.iter().map(|p| p.1).collect::<Vec<_>>()).unwrap_or(0.0);
    let threshold = (th.min_growth_fraction * head_level).max(th.min_growth_bytes);
    let recent = theil_sen(&tail);
    evidence.recent_growth_mb_per_hour = recent.map_or(0.0, |tr| tr.slope * 3600.0 / MB);

    // Still rising at the end, fast enough to matter over the whole span.
    let still_rising = recent.is_some_and(|tr| {
        tr.slope > 0.0 && tr.agreement >= th.min_agreement && tr.slope * (t1 - t0) > threshold
    }) && overall
        .is_some_and(|tr| tr.slope > 0.0 && tr.agreement >= th.min_agreement);
    if still_rising {
        let slope = recent.map_or(0.0, |tr| tr.slope);
        evidence.confidence = recent.map(|tr| tr.agreement);
        if let Some(limit) = th.memory_limit {
            let left = limit as f64 - evidence.live_heap_end_bytes;
            evidence.seconds_to_limit = Some((left / slope).max(0.0));
        }
        let to_limit = evidence
            .seconds_to_limit
            .map(|s| {
                format!(
                    "; reaches the limit in {}",
                    humantime::format_duration(std::time::Duration::from_secs(s as u64))
                )
            })
            .unwrap_or_default();
        let summary = format!(
            "live heap grows {:.1} MB/h ({:.1} → {:.1} MB in {:.0} s), still rising at the end{}",
            evidence.recent_growth_mb_per_hour,
            evidence.live_heap_start_bytes / MB,
            evidence.live_heap_end_bytes / MB,
            span_secs,
            to_limit
        );
        return base(Verdict::Leak, summary, evidence);
    }
    // Not rising at the end: report the early and late levels, not the
    // ends of a straight line that does not describe the data.
    evidence.live_heap_start_bytes = head_level;
    evidence.live_heap_end_bytes = tail_level;
    if tail_level - head_level > threshold {
        let above = tail
            .iter()
            .filter(|p| p.1 > head_level + threshold / 2.0)
            .count();
        evidence.confidence = Some(above as f64 / tail.len().max(1) as f64);
        let summary = format!(
            "live heap grew from {:.1} to {:.1} MB, then levelled off ({:+.1} MB/h over the last third)",
            head_level / MB,
            tail_level / MB,
            evidence.recent_growth_mb_per_hour
        );
        return base(Verdict::Plateau, summary, evidence);
    }
    let summary = if gc_pressure {
        format!(
            "live heap flat at {:.1} MB, but GC takes {:.1} % of CPU (p99 pause {} µs, {:.0} cycles/s)",
            tail_level / MB,
            evidence.gc_cpu_fraction * 100.0,
            evidence.pause_p99_ns.unwrap_or(0) / 1000,
            evidence.gc_cycles_per_sec.unwrap_or(0.0)
        )
    } else {
        format!(
            "live heap flat at {:.1} MB ({:+.1} MB/h)",
            tail_level / MB,
            evidence.growth_mb_per_hour
        )
    };
    base(Verdict::Steady, summary, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names people type after `--fail-on` and read in tables are the
    /// names in the JSON report.
    #[test]
    fn each_verdict_has_the_name_its_json_uses() {
        for (verdict, name) in [
            (Verdict::Leak, "leak"),
            (Verdict::Plateau, "plateau"),
            (Verdict::GcPressure, "gc-pressure"),
            (Verdict::Steady, "steady"),
            (Verdict::InsufficientData, "insufficient-data"),
        ] {
            assert_eq!(verdict.as_str(), name);
            assert_eq!(
                serde_json::to_value(verdict).ok(),
                Some(serde_json::Value::from(name))
            );
        }
    }
}
