//! Verdicts on one process's heap: leak, plateau, steady, GC pressure.

use serde::Serialize;
use serde_json::Value;

use crate::evidence::{Analysis, Evidence};
use crate::series::{Lifetime, Sample, live_heap};
use crate::trend::{median_of, theil_sen};

/// The shortest span of data for a verdict on the heap trend, unless
/// [`Thresholds::min_span_secs`] says otherwise (the CLI's `--min-span`
/// default, and the demo's).
pub const DEFAULT_MIN_SPAN_SECS: f64 = 30.0;

/// When a verdict is given. The defaults suit 1–10 s data over a minute to days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Fewest samples for any verdict on the heap trend.
    pub min_samples: usize,
    /// Shortest span (seconds) for any verdict on the heap trend.
    pub min_span_secs: f64,
    /// Growth of the live heap over the window, relative to its starting
    /// level, that counts as growth.
    pub min_growth_fraction: f64,
    /// Growth of the live heap (bytes) below which nothing counts.
    pub min_growth_bytes: f64,
    /// Share of point pairs of the last third that must agree on a rising
    /// trend for a leak.
    pub min_agreement: f64,
    /// GC CPU fraction from which GC pressure is reported (the source
    /// article: "single-digit percents" need work).
    pub gc_cpu_fraction: f64,
    /// Median per-interval p99 GC pause (ns) from which GC pressure is reported.
    pub pause_p99_ns: u64,
    /// A memory limit (bytes) to estimate the time left before a leak reaches it.
    pub memory_limit: Option<u64>,
    /// Growth of the goroutine count over the window (goroutines) below
    /// which it never counts as a goroutine leak (with
    /// `min_growth_fraction` of the starting count, whichever is larger).
    pub min_goroutine_growth: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_samples: 10,
            min_span_secs: DEFAULT_MIN_SPAN_SECS,
            min_growth_fraction: 0.10,
            min_growth_bytes: 1024.0 * 1024.0,
            min_agreement: 0.70,
            gc_cpu_fraction: 0.01,
            pause_p99_ns: 10_000_000,
            memory_limit: None,
            min_goroutine_growth: 20.0,
        }
    }
}

/// Fewest live-heap points (collections seen) for a verdict on the trend.
pub const MIN_LIVE_HEAP_POINTS: usize = 3;

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
    /// The data cannot tell: too few samples, too short a span, too few
    /// collections, or a live heap too uneven to call; the summary says
    /// which and how much more is needed.
    InsufficientData,
    /// The goroutine count keeps climbing (from the `profile` metric set's
    /// goroutine profiles); the summary names the stacks that pile up.
    GoroutineLeak,
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
            Verdict::GoroutineLeak => "goroutine-leak",
        }
    }

    /// Every verdict, in the order of [`Verdict::as_str`]'s names in help texts.
    pub const ALL: [Verdict; 6] = [
        Verdict::Leak,
        Verdict::Plateau,
        Verdict::GcPressure,
        Verdict::Steady,
        Verdict::InsufficientData,
        Verdict::GoroutineLeak,
    ];
}

const MB: f64 = 1e6;

/// A rate as the table and the summaries print it.
pub fn format_rate(mb_per_hour: f64) -> String {
    format!("{mb_per_hour:+.1} MB/h")
}

/// How many growth thresholds (bytes) half the 95 % interval of the trend
/// may add up to over the window for a `steady` call: more, and the data
/// are too uneven to call the heap flat.
const UNEVEN: f64 = 3.0;

/// Fewest points of the start level, when the first tenth holds fewer (and
/// there are three times as many): a live heap that swings needs them.
const HEAD_POINTS: usize = 10;

/// What the heap trend says, before GC pressure is added.
enum Trended {
    Call(Verdict, String),
    Unclear(String),
}

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
    // Collections over the span (a median of per-interval rates is 0 for a
    // program that collects less often than it is polled).
    evidence.gc_cycles_per_sec = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) if b.t > a.t => {
            Some(b.gc_count.saturating_sub(a.gc_count) as f64 / (b.t - a.t))
        }
        _ => None,
    };
    let alloc_rates: Vec<f64> = samples.iter().filter_map(|s| s.alloc_rate).collect();
    evidence.alloc_bytes_per_sec = median_of(&alloc_rates);

    let gc_pressure = evidence.gc_cpu_fraction >= th.gc_cpu_fraction
        || evidence.pause_p99_ns.is_some_and(|p| p >= th.pause_p99_ns);
    let live = live_heap(samples);
    evidence.gc_cycles_seen = live.cycles;
    evidence.live_heap_source = Some(live.source);
    evidence.gc_goal_ratio = live.goal_ratio;
    let points = live.points;
    evidence.live_heap_points = points.len();

    let trended = if n < th.min_samples
        || span_secs < th.min_span_secs
        || points.len() < MIN_LIVE_HEAP_POINTS
    {
        Trended::Unclear(missing_data(samples, span_secs, points.len(), th))
    } else {
        judge_trend(&points, samples, th, &mut evidence)
    };
    // GC pressure stands for a steady heap, and comes after any other heap
    // verdict (insufficient-data included).
    let (verdicts, summary) = match trended {
        Trended::Call(Verdict::Steady, _) if gc_pressure => {
            (vec![Verdict::GcPressure], gc_pressure_summary(&evidence))
        }
        Trended::Call(verdict, summary) if gc_pressure => (
            vec![verdict, Verdict::GcPressure],
            format!(
                "{summary}; GC takes {:.1} % of CPU",
                evidence.gc_cpu_fraction * 100.0
            ),
        ),
        Trended::Call(verdict, summary) => (vec![verdict], summary),
        Trended::Unclear(why) if gc_pressure => (
            vec![Verdict::InsufficientData, Verdict::GcPressure],
            format!(
                "{why}; GC takes {:.1} % of CPU (p99 pause {} µs, {:.2} cycles/s)",
                evidence.gc_cpu_fraction * 100.0,
                evidence.pause_p99_ns.unwrap_or(0) / 1000,
                evidence.gc_cycles_per_sec.unwrap_or(0.0)
            ),
        ),
        Trended::Unclear(why) => (vec![Verdict::InsufficientData], why),
    };
    let verdict = verdicts[0];
    Analysis {
        target: lifetime.target.clone(),
        cmdline: lifetime.cmdline.clone(),
        program: crate::report::program_name(&lifetime.cmdline).to_owned(),
        samples: n,
        span_secs,
        verdict,
        verdicts,
        summary,
        evidence,
        profiles: None,
    }
}

/// [`analyze`], then what the profile documents among `docs` add
/// ([`attach_profiles`]).
pub fn analyze_with_profiles(lifetime: &Lifetime, docs: &[Value], th: &Thresholds) -> Analysis {
    let mut analysis = analyze(lifetime, th);
    attach_profiles(&mut analysis, lifetime, docs, th);
    analysis
}

/// Adds what the lifetime's profile documents say (none: nothing changes):
/// a `leak` gets *where* (the sites that grew most, with their share of
/// the growth) in its summary; a goroutine count that climbs makes
/// `goroutine-leak` the main verdict, its summary naming the places where
/// goroutines pile up, followed by what the heap does.
pub fn attach_profiles(
    analysis: &mut Analysis,
    lifetime: &Lifetime,
    docs: &[Value],
    th: &Thresholds,
) {
    let Some(found) = crate::profiles::profile_evidence(docs, lifetime, th) else {
        return;
    };
    if analysis.verdicts.contains(&Verdict::Leak)
        && let Some(top) = found.sites.first()
    {
        analysis.summary = format!(
            "{}; growing at {} ({:.0} % of the growth in {} profiles)",
            analysis.summary,
            top.label(),
            top.share * 100.0,
            found.profiles
        );
    }
    if let Some(g) = found.goroutines.as_ref().filter(|g| g.leaking) {
        let place = g
            .growing
            .first()
            .map(|p| format!(", piling up at {}", p.label()))
            .unwrap_or_default();
        analysis.summary = format!(
            "goroutines climb {:.0} → {:.0} ({:+.0}/h){place}; heap: {}",
            g.start, g.end, g.growth_per_hour, analysis.summary
        );
        analysis
            .verdicts
            .retain(|v| *v != Verdict::InsufficientData);
        analysis.verdicts.insert(0, Verdict::GoroutineLeak);
        analysis.verdict = Verdict::GoroutineLeak;
    }
    analysis.profiles = Some(found);
}

fn gc_pressure_summary(evidence: &Evidence) -> String {
    format!(
        "live heap flat at {:.1} MB ({}), but GC takes {:.1} % of CPU (p99 pause {} µs, {:.2} cycles/s)",
        evidence.live_heap_end_bytes / MB,
        format_rate(evidence.growth_mb_per_hour),
        evidence.gc_cpu_fraction * 100.0,
        evidence.pause_p99_ns.unwrap_or(0) / 1000,
        evidence.gc_cycles_per_sec.unwrap_or(0.0)
    )
}

/// What is missing for a verdict on the trend, in the terms a person can act on.
fn missing_data(samples: &[Sample], span_secs: f64, points: usize, th: &Thresholds) -> String {
    let n = samples.len();
    let mut needs = Vec::new();
    if n < th.min_samples {
        needs.push(plural(th.min_samples - n, "more sample"));
    }
    if span_secs < th.min_span_secs {
        needs.push(format!(
            "{:.0} s more data",
            (th.min_span_secs - span_secs).ceil()
        ));
    }
    let collections = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => b.gc_count.saturating_sub(a.gc_count),
        _ => 0,
    };
    // Collections are counted but too few samples follow them: more samples
    // settle it, and the needs above say how many.
    let samples_short = collections as usize >= MIN_LIVE_HEAP_POINTS && !needs.is_empty();
    if points < MIN_LIVE_HEAP_POINTS && !samples_short {
        let more = MIN_LIVE_HEAP_POINTS - points;
        let pace = if collections > 0 && span_secs > 0.0 {
            let every = span_secs / collections as f64;
            format!(
                " (one every {every:.0} s here, so about {:.0} s more)",
                every * more as f64
            )
        } else if let Some(last) = samples.last() {
            format!(
                " (NumGC stayed at {} while HeapAlloc went to {:.1} MB of a {:.1} MB GC limit)",
                last.gc_count,
                last.allocated as f64 / MB,
                last.next_gc as f64 / MB
            )
        } else {
            String::new()
        };
        needs.push(format!(
            "{}: the live heap is only seen just after one, and {} seen{pace}",
            plural(more, "more garbage collection"),
            match points {
                1 => "1 was".to_owned(),
                p => format!("{p} were"),
            }
        ));
    }
    format!(
        "{} over {span_secs:.0} s: need {}",
        plural(n, "sample"),
        needs.join(" and ")
    )
}

/// `1 sample`, `2 samples`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The heap verdict from the live-heap points, with its evidence filled in.
fn judge_trend(
    points: &[(f64, f64)],
    samples: &[Sample],
    th: &Thresholds,
    evidence: &mut Evidence,
) -> Trended {
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let window = (t1 - t0).max(f64::MIN_POSITIVE);
    // The first tenth, or the first ten points up to a third of them (at
    // least two): the level the window starts from.
    let head_end = points
        .iter()
        .position(|p| p.0 > t0 + window / 10.0)
        .unwrap_or(points.len())
        .max(HEAD_POINTS.min(points.len() / 3))
        .max(2)
        .min(points.len());
    // The last third, or when it holds fewer than three points (collections
    // minutes apart), the last two: the latest step of the live heap.
    let in_last_third = points.iter().filter(|p| p.0 >= t1 - window / 3.0).count();
    let tail_start = if in_last_third < MIN_LIVE_HEAP_POINTS {
        points.len() - 2
    } else {
        points.len() - in_last_third
    };
    let head = &points[..head_end];
    let tail = &points[tail_start..];
    // A level is the lower quartile of the points: they are upper bounds of
    // the live heap, and a live heap that swings (work built up and freed)
    // returns to its floor.
    let level = |ps: &[(f64, f64)]| {
        let mut v: Vec<f64> = ps.iter().map(|p| p.1).collect();
        v.sort_unstable_by(f64::total_cmp);
        v.get((v.len().saturating_sub(1)) / 4).copied()
    };
    let start = level(head).unwrap_or(0.0);
    let end = level(tail).unwrap_or(0.0);
    let threshold = (th.min_growth_fraction * start).max(th.min_growth_bytes);
    let per_hour = |bytes_per_sec: f64| bytes_per_sec * 3600.0 / MB;
    let (Some(overall), Some(recent)) = (theil_sen(points), theil_sen(tail)) else {
        return Trended::Unclear(format!(
            "{} samples: the live-heap points share one time: need samples further apart",
            samples.len()
        ));
    };
    evidence.live_heap_start_bytes = start;
    evidence.live_heap_end_bytes = end;
    evidence.growth_threshold_bytes = threshold;
    evidence.window_secs = window;
    // The growth rate that counts: the threshold per hour, or over the
    // window when that is longer, so that a long window catches a slower leak.
    // Below `min_growth_bytes` over the window nothing counts either.
    let threshold_rate = (threshold / window.max(3600.0)).max(th.min_growth_bytes / window);
    evidence.growth_threshold_mb_per_hour = per_hour(threshold_rate);
    evidence.growth_mb_per_hour = per_hour(overall.slope);
    evidence.growth_low_mb_per_hour = per_hour(overall.slope_low);
    evidence.growth_high_mb_per_hour = per_hour(overall.slope_high);
    evidence.recent_growth_mb_per_hour = per_hour(recent.slope);
    evidence.recent_growth_low_mb_per_hour = per_hour(recent.slope_low);
    evidence.recent_growth_high_mb_per_hour = per_hour(recent.slope_high);
    let rate = format_rate(evidence.growth_mb_per_hour);
    let recent_rate = format_rate(evidence.recent_growth_mb_per_hour);
    let rise = end - start;
    let mb = |bytes: f64| bytes / MB;

    // Growing: the whole window's trend is above the threshold and its
    // 95 % interval above zero, and the later levels are higher.
    let grows = overall.slope_low > 0.0 && overall.slope > threshold_rate && rise > 0.0;
    // Still rising at the end: the last third rises for sure, at a third
    // of the window's rate or more; or it rises, is measured to within
    // 1.5 times the window's rate, and does not show it slowing down.
    let rising_for_sure = recent.slope_low > 0.0
        && recent.slope >= overall.slope / 3.0
        && recent.agreement >= th.min_agreement;
    let not_slowing = recent.slope > 0.0
        && recent.slope_high >= overall.slope
        && (recent.slope_high - recent.slope_low) / 2.0 <= 1.5 * overall.slope;
    if grows && (rising_for_sure || not_slowing) {
        evidence.confidence = Some(recent.agreement);
        if let Some(limit) = th.memory_limit {
            let now = overall.intercept + overall.slope * t1;
            evidence.seconds_to_limit = Some(((limit as f64 - now) / overall.slope).max(0.0));
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
        return Trended::Call(
            Verdict::Leak,
            format!(
                "live heap grows {rate} ({:.1} → {:.1} MB over {:.0} s), still rising at the end ({recent_rate} over the last third){to_limit}",
                mb(start),
                mb(end),
                window
            ),
        );
    }
    // Levelled off: the end level is above the start by more than the
    // threshold, and the last third no longer rises: for sure slower than
    // the window's average rise and at a third of it at most, or at no rate
    // that counts.
    let rise_rate = rise / window;
    let levelled = (recent.slope <= rise_rate / 3.0 && recent.slope_high < rise_rate)
        || recent.slope.abs() <= threshold_rate;
    if rise > threshold && levelled {
        let above = tail
            .iter()
            .filter(|p| p.1 > start + threshold / 2.0)
            .count();
        evidence.confidence = Some(above as f64 / tail.len() as f64);
        return Trended::Call(
            Verdict::Plateau,
            format!(
                "live heap grew from {:.1} to {:.1} MB ({rate}), then levelled off ({recent_rate} over the last third)",
                mb(start),
                mb(end)
            ),
        );
    }
    let precise_enough =
        (overall.slope_high - overall.slope_low) / 2.0 * window <= UNEVEN * threshold;
    // Steady: no growth rate above the threshold, no rise of the level; no
    // fall that is both sure and above the threshold over the window, nor a
    // fall of the level of twice the threshold; a trend measured well enough.
    if !grows
        && overall.slope <= threshold_rate
        && (overall.slope * window >= -threshold || overall.slope_high >= 0.0)
        && (-2.0 * threshold..=threshold).contains(&rise)
        && precise_enough
    {
        return Trended::Call(
            Verdict::Steady,
            format!("live heap flat at {:.1} MB ({rate})", mb(end)),
        );
    }
    // No call the numbers support: say why, and what would settle it.
    let cycles_per_hour = evidence.gc_cycles_seen as f64 * 3600.0
        / (samples.last().map_or(0.0, |s| s.t) - samples[0].t).max(1.0);
    let why = if grows || rise > threshold {
        format!(
            "live heap grew from {:.1} to {:.1} MB ({rate}), but the last third ({} points, {recent_rate}, \
             95 % interval {} to {}) cannot tell whether it still rises",
            mb(start),
            mb(end),
            tail.len(),
            format_rate(evidence.recent_growth_low_mb_per_hour),
            format_rate(evidence.recent_growth_high_mb_per_hour),
        )
    } else if overall.slope * window < -threshold || rise < -2.0 * threshold {
        format!(
            "live heap is falling ({:.1} → {:.1} MB, {rate})",
            mb(start),
            mb(end)
        )
    } else {
        format!(
            "live heap near {:.1} MB ({rate}), too uneven to tell a growth of {} from none \
             (95 % interval {} to {})",
            mb(end),
            format_rate(evidence.growth_threshold_mb_per_hour),
            format_rate(per_hour(overall.slope_low)),
            format_rate(per_hour(overall.slope_high))
        )
    };
    Trended::Unclear(format!(
        "{why}: need a longer window ({} live-heap points from {} collections, about {:.0} per hour)",
        points.len(),
        evidence.gc_cycles_seen,
        cycles_per_hour
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds since the Unix epoch of the first sample.
    const T0: f64 = 1_800_000_000.0;

    /// A sample `t` seconds in, HeapAlloc `allocated_mb` (MB), NextGC 10 %
    /// above it (so the live heap is read from HeapAlloc after each
    /// collection), after `gc_count` collections, GC taking `cpu` of the CPU.
    fn sample(t: f64, allocated_mb: f64, gc_count: u64, cpu: f64) -> Sample {
        Sample {
            t: T0 + t,
            allocated: (allocated_mb * MB) as u64,
            total_alloc: None,
            next_gc: (allocated_mb * 1.1 * MB) as u64,
            gc_count,
            cpu_fraction: cpu,
            pause_p99_ns: None,
            alloc_rate: None,
            gc_rate: None,
            restarted: false,
            cmdline: "./app".to_owned(),
        }
    }

    fn lifetime(samples: Vec<Sample>) -> Lifetime {
        Lifetime {
            target: "app:6060".to_owned(),
            cmdline: "./app".to_owned(),
            samples,
        }
    }

    /// `n` samples `period` seconds apart, a collection before each, the
    /// live heap at `mb(t)`.
    fn collecting(n: usize, period: f64, mb: impl Fn(f64) -> f64, cpu: f64) -> Lifetime {
        lifetime(
            (0..n)
                .map(|i| {
                    let t = i as f64 * period;
                    sample(t, mb(t), i as u64, cpu)
                })
                .collect(),
        )
    }

    fn summary_of(life: Lifetime) -> String {
        analyze(&life, &Thresholds::default()).summary
    }

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

    /// The GC rate is the collections over the span, and a single sample
    /// has no rate (not a division by a zero span).
    #[test]
    fn the_gc_rate_is_the_collections_over_the_span() {
        let samples = (0..=60)
            .map(|i| sample(f64::from(i), 50.0, u64::from(i as u32 / 2), 0.001))
            .collect();
        let a = analyze(&lifetime(samples), &Thresholds::default());
        assert_eq!(a.evidence.gc_cycles_per_sec, Some(0.5));

        let one = analyze(
            &lifetime(vec![sample(0.0, 50.0, 3, 0.2)]),
            &Thresholds::default(),
        );
        assert_eq!(one.evidence.gc_cycles_per_sec, None);
        assert!(one.summary.contains(", 0.00 cycles/s)"), "{}", one.summary);
    }

    /// GC pressure is added to whatever the heap trend says, and only when
    /// GC takes its share of the CPU.
    #[test]
    fn gc_pressure_is_added_to_a_leak_and_to_an_abstention() {
        let leak = analyze(
            &collecting(61, 1.0, |t| 20.0 + t * 0.1, 0.2),
            &Thresholds::default(),
        );
        assert_eq!(leak.verdicts, vec![Verdict::Leak, Verdict::GcPressure]);
        assert!(
            leak.summary.starts_with("live heap grows ")
                && leak.summary.ends_with("; GC takes 20.0 % of CPU"),
            "{}",
            leak.summary
        );

        let short = analyze(&collecting(5, 1.0, |_| 20.0, 0.2), &Thresholds::default());
        assert_eq!(
            short.verdicts,
            vec![Verdict::InsufficientData, Verdict::GcPressure]
        );
        assert!(
            short
                .summary
                .contains("; GC takes 20.0 % of CPU (p99 pause 0 µs, 1.00 cycles/s)"),
            "{}",
            short.summary
        );

        let calm = analyze(&collecting(5, 1.0, |_| 20.0, 0.001), &Thresholds::default());
        assert_eq!(calm.verdicts, vec![Verdict::InsufficientData]);
        assert!(!calm.summary.contains("GC takes"), "{}", calm.summary);
    }

    /// `min_samples` and `min_span_secs` are the least data a verdict
    /// needs: exactly that much is enough, and one sample or one second
    /// less is not.
    #[test]
    fn the_minimum_samples_and_span_are_enough_and_less_is_not() {
        let flat = |n: usize, period: f64| collecting(n, period, |_| 50.0, 0.001);
        let th = Thresholds::default();
        assert_eq!(analyze(&flat(10, 10.0), &th).verdict, Verdict::Steady);
        assert_eq!(analyze(&flat(31, 1.0), &th).verdict, Verdict::Steady);
        assert_eq!(
            summary_of(flat(9, 10.0)),
            "9 samples over 80 s: need 1 more sample"
        );
        assert_eq!(
            summary_of(flat(10, 1.0)),
            "10 samples over 9 s: need 21 s more data"
        );
        assert_eq!(
            summary_of(flat(4, 10.0)),
            "4 samples over 30 s: need 6 more samples"
        );
    }

    /// Too few collections: how many more, and at the pace seen, about how
    /// long that takes; with none, what NumGC and HeapAlloc did.
    #[test]
    fn too_few_collections_say_how_many_more_and_how_long_that_takes() {
        let gcs = [0, 1, 1, 2, 2];
        let samples = gcs
            .iter()
            .enumerate()
            .map(|(i, gc)| sample(i as f64 * 10.0, 20.0, *gc, 0.001))
            .collect();
        assert_eq!(
            summary_of(lifetime(samples)),
            "5 samples over 40 s: need 5 more samples and 1 more garbage collection: the live heap \
             is only seen just after one, and 2 were seen (one every 20 s here, so about 20 s more)"
        );

        let samples = (0..12)
            .map(|i| {
                let mut s = sample(f64::from(i) * 5.0, 10.0 + f64::from(i), 7, 0.001);
                s.next_gc = 40_000_000;
                s
            })
            .collect();
        assert_eq!(
            summary_of(lifetime(samples)),
            "12 samples over 55 s: need 3 more garbage collections: the live heap is only seen \
             just after one, and 0 were seen (NumGC stayed at 7 while HeapAlloc went to 21.0 MB \
             of a 40.0 MB GC limit)"
        );

        // Samples that share one time give no pace.
        let same = lifetime(vec![
            sample(0.0, 20.0, 1, 0.001),
            sample(0.0, 21.0, 2, 0.001),
        ]);
        let summary = summary_of(same);
        assert!(
            summary.starts_with(
                "2 samples over 0 s: need 8 more samples and 30 s more data and 2 more"
            ) && !summary.contains("one every"),
            "{summary}"
        );
    }

    /// Collections counted but too few samples after them: more samples
    /// settle it, and the summary asks only for those; three live-heap
    /// points (two collections and the NextGC the data starts with) are
    /// enough collections.
    #[test]
    fn enough_collections_ask_only_for_samples() {
        let samples = [(0, 5), (40, 12)]
            .iter()
            .map(|(t, gc)| sample(f64::from(*t), 20.0, *gc, 0.001))
            .collect();
        assert_eq!(
            summary_of(lifetime(samples)),
            "2 samples over 40 s: need 8 more samples"
        );

        // NextGC twice the live heap: the live heap is read from NextGC,
        // the first sample's included.
        let goal = |t: f64, mb: f64, next_mb: f64, gc: u64| {
            let mut s = sample(t, mb, gc, 0.001);
            s.next_gc = (next_mb * MB) as u64;
            s
        };
        let life = lifetime(vec![
            goal(0.0, 25.0, 40.0, 0),
            goal(10.0, 21.0, 42.0, 1),
            goal(20.0, 30.0, 42.0, 1),
            goal(30.0, 22.0, 44.0, 2),
        ]);
        let a = analyze(&life, &Thresholds::default());
        assert_eq!(a.evidence.live_heap_points, 3);
        assert_eq!(a.summary, "4 samples over 30 s: need 6 more samples");
    }

    /// The trend verdict on live-heap points given in (seconds, MB), with
    /// its evidence.
    fn judged(points_mb: &[(f64, f64)]) -> (Option<Verdict>, Evidence) {
        let (verdict, _, evidence) = judged_with_summary(points_mb);
        (verdict, evidence)
    }

    fn judged_with_summary(points_mb: &[(f64, f64)]) -> (Option<Verdict>, String, Evidence) {
        let points: Vec<(f64, f64)> = points_mb.iter().map(|(t, m)| (*t, m * MB)).collect();
        let samples = collecting(points.len(), 10.0, |_| 50.0, 0.001).samples;
        let mut evidence = Evidence::default();
        match judge_trend(&points, &samples, &Thresholds::default(), &mut evidence) {
            Trended::Call(v, summary) => (Some(v), summary, evidence),
            Trended::Unclear(why) => (None, why, evidence),
        }
    }

    /// The levels the table prints: the lower quartile of the first tenth
    /// of the window (its end included), or of the first third of the
    /// points when that is more (at least two, at most ten); and of the
    /// last third.
    #[test]
    fn the_start_and_end_levels_are_lower_quartiles_of_the_first_tenth_and_last_third() {
        // The first tenth (0–10 s) holds six points, more than a third.
        let (_, e) = judged(&[
            (0.0, 30.0),
            (2.0, 30.0),
            (4.0, 30.0),
            (6.0, 30.0),
            (8.0, 10.0),
            (10.0, 10.0),
            (40.0, 30.0),
            (70.0, 30.0),
            (100.0, 30.0),
        ]);
        assert_eq!(e.live_heap_start_bytes, 10.0 * MB);
        // Evenly spaced: a third of twelve points, four.
        let rising: Vec<(f64, f64)> = (0..12)
            .map(|i| (f64::from(i) * 10.0, 10.0 + f64::from(i)))
            .collect();
        let (_, e) = judged(&rising);
        assert_eq!(
            (e.live_heap_start_bytes, e.live_heap_end_bytes),
            (10.0 * MB, 18.0 * MB)
        );
    }

    /// A growth of exactly the threshold is the most a steady heap grows.
    #[test]
    fn a_growth_of_exactly_the_threshold_is_steady() {
        let threshold_mb = Thresholds::default().min_growth_bytes / MB;
        let (verdict, e) = judged(&[
            (0.0, 5.0),
            (1800.0, 5.0 + threshold_mb / 2.0),
            (3600.0, 5.0 + threshold_mb),
        ]);
        assert_eq!(e.growth_mb_per_hour, e.growth_threshold_mb_per_hour);
        assert_eq!(verdict, Some(Verdict::Steady));
        // A step of the level of exactly the threshold early on, flat
        // either side.
        let step: Vec<(f64, f64)> = (0..40)
            .map(|i| {
                let mb = if i < 6 { 5.0 } else { 5.0 + threshold_mb };
                (f64::from(i) * 10.0, mb)
            })
            .collect();
        let (verdict, e) = judged(&step);
        assert_eq!(
            e.live_heap_end_bytes - e.live_heap_start_bytes,
            e.growth_threshold_bytes
        );
        assert_eq!(verdict, Some(Verdict::Steady));
    }

    /// A leak needs the whole window's trend sure: a 95 % interval that
    /// reaches down to zero (a long flat start) is not above zero.
    #[test]
    fn a_trend_whose_interval_reaches_zero_is_no_leak() {
        let levels = [
            10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0, 30.0, 40.0, 50.0,
        ];
        let points: Vec<(f64, f64)> = levels
            .iter()
            .enumerate()
            .map(|(i, mb)| (i as f64 * 10.0, *mb))
            .collect();
        let (verdict, e) = judged(&points);
        assert_eq!(e.growth_low_mb_per_hour, 0.0, "{e:?}");
        assert!(e.recent_growth_low_mb_per_hour > 0.0, "{e:?}");
        assert_ne!(verdict, Some(Verdict::Leak));
    }

    /// A trend that rises while the floor of the live heap ends where it
    /// started is no leak.
    #[test]
    fn no_leak_while_the_floor_ends_where_it_started() {
        let (verdict, e) = judged(&[
            (0.0, 10.0),
            (10.0, 11.0),
            (20.0, 12.0),
            (30.0, 13.0),
            (40.0, 14.0),
            (50.0, 15.0),
            (60.0, 16.0),
            (70.0, 17.0),
            (80.0, 10.0),
            (90.0, 30.0),
            (100.0, 40.0),
            (110.0, 50.0),
        ]);
        assert_eq!(e.live_heap_end_bytes, e.live_heap_start_bytes);
        assert!(e.growth_low_mb_per_hour > 0.0, "{e:?}");
        assert_ne!(verdict, Some(Verdict::Leak));
    }

    /// A heap that filled fast and still creeps up at the end, surely but
    /// at under a third of its average rate, has levelled off.
    #[test]
    fn a_creep_at_under_a_third_of_the_fill_rate_is_a_plateau() {
        let points: Vec<(f64, f64)> = (0..12)
            .map(|i| {
                let t = f64::from(i) * 10.0;
                let mb = if t <= 70.0 {
                    10.0 + t * 0.5
                } else {
                    45.0 + (t - 70.0) * 0.02
                };
                (t, mb)
            })
            .collect();
        let (verdict, e) = judged(&points);
        assert!(e.recent_growth_low_mb_per_hour > 0.0, "{e:?}");
        assert_eq!(verdict, Some(Verdict::Plateau));
    }

    /// A leak's summary: its rate, levels and window, and with a memory
    /// limit the time until the live heap reaches it.
    #[test]
    fn a_leak_says_its_rate_levels_and_time_to_the_limit() {
        let life = collecting(41, 1.0, |t| 20.0 + t * 0.1, 0.001);
        assert_eq!(
            summary_of(life.clone()),
            "live heap grows +360.0 MB/h (20.3 → 23.0 MB over 39 s), still rising at the end \
             (+360.0 MB/h over the last third)"
        );
        let th = Thresholds {
            memory_limit: Some(100_000_000),
            ..Thresholds::default()
        };
        let a = analyze(&life, &th);
        // From 24 MB at the last point, 76 MB at 0.1 MB/s.
        let left = a.evidence.seconds_to_limit.unwrap_or_default();
        assert!((left - 760.0).abs() < 1.0, "{left}");
        assert!(
            a.summary.contains("; reaches the limit in 12m "),
            "{}",
            a.summary
        );
    }

    /// A plateau's confidence: the share of the last third's points that
    /// stay above the start level by more than half the growth threshold.
    #[test]
    fn a_plateau_is_as_sure_as_its_last_third_stays_above_the_start() {
        let threshold_mb = Thresholds::default().min_growth_bytes / MB;
        let mut points: Vec<(f64, f64)> = (0..16)
            .map(|i| {
                let t = f64::from(i) * 10.0;
                (t, 10.0 + (t - 70.0).max(0.0) * 0.25)
            })
            .collect();
        // The last third: six points at 30 MB, one dip to 0.3 of the
        // threshold above the start and one to 1.4 of it.
        for (i, above) in [30.0, 0.3, 30.0, 30.0, 30.0, 1.4, 30.0, 30.0]
            .into_iter()
            .enumerate()
        {
            let mb = if above < 20.0 {
                10.0 + above * threshold_mb
            } else {
                above
            };
            points.push((160.0 + i as f64 * 10.0, mb));
        }
        let (verdict, e) = judged(&points);
        assert_eq!(verdict, Some(Verdict::Plateau), "{e:?}");
        assert_eq!(e.live_heap_start_bytes, 10.0 * MB);
        assert_eq!(e.confidence, Some(7.0 / 8.0));
    }

    /// A live heap that swings widely around a flat level is too uneven to
    /// call steady: the summary says so, with the interval of the trend;
    /// a floor a little lower at the end is no fall.
    #[test]
    fn a_heap_swinging_widely_is_too_uneven_to_call_steady() {
        let swings = [
            12.0, 12.5, 17.0, 30.0, 15.0, 28.0, 20.0, 28.0, 15.0, 30.0, 17.0, 12.5, 12.0,
        ];
        let points: Vec<(f64, f64)> = swings
            .iter()
            .enumerate()
            .map(|(i, mb)| (i as f64 * 10.0, *mb))
            .collect();
        let (verdict, why, e) = judged_with_summary(&points);
        assert_eq!(verdict, None, "{why}");
        assert!(
            why.starts_with(
                "live heap near 12.5 MB (+0.0 MB/h), too uneven to tell a growth of +31.5 MB/h \
                 from none (95 % interval -480.0 MB/h to +480.0 MB/h)"
            ),
            "{why}"
        );

        let lower_floor: Vec<(f64, f64)> = (0..12)
            .map(|i| {
                let low = if i >= 8 { 8.0 } else { 10.0 };
                (f64::from(i) * 10.0, if i % 2 == 0 { low } else { 30.0 })
            })
            .collect();
        let (verdict, why, e2) = judged_with_summary(&lower_floor);
        assert_eq!(verdict, None, "{why}");
        assert!(e2.live_heap_end_bytes < e2.live_heap_start_bytes, "{e2:?}");
        assert!(why.starts_with("live heap near 8.0 MB"), "{why}");
        assert_eq!(
            (e.live_heap_start_bytes, e.live_heap_end_bytes),
            (12.0 * MB, 12.5 * MB)
        );
    }

    /// A rise whose last third cannot tell whether it still rises gets no
    /// verdict, and the summary says the heap grew: whether the whole
    /// window's trend is sure or not, and whether the rise of the level
    /// passed the threshold or not.
    #[test]
    fn a_rise_with_an_unclear_last_third_says_it_grew_and_cannot_tell_more() {
        let cases: [&[f64]; 3] = [
            // A sure rise; the last third rises at half the rate, its
            // interval down to zero.
            &[
                10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 26.8, 26.8, 28.2,
            ],
            // A sure trend above the threshold, a rise of the level below it.
            &[5.0, 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7, 5.9, 6.6, 6.0, 6.1],
            // No sure trend (a noisy start), a rise of the level above the
            // threshold.
            &[
                10.9, 10.3, 10.7, 10.1, 10.8, 10.2, 10.6, 10.0, 13.0, 16.0, 14.0, 17.0,
            ],
        ];
        for (case, levels) in cases.iter().enumerate() {
            let points: Vec<(f64, f64)> = levels
                .iter()
                .enumerate()
                .map(|(i, mb)| (i as f64 * 10.0, *mb))
                .collect();
            let (verdict, why, e) = judged_with_summary(&points);
            assert_eq!(verdict, None, "case {case}: {why}");
            assert!(
                why.starts_with("live heap grew from ")
                    && why.contains(") cannot tell whether it still rises"),
                "case {case}: {why}"
            );
            assert!(e.recent_growth_low_mb_per_hour <= 0.0, "case {case}: {e:?}");
        }
    }

    /// A live heap that falls, by its trend or by its level, gets no
    /// verdict: the summary says it falls, and how many collections the
    /// window held at what pace.
    #[test]
    fn a_falling_heap_says_it_falls_and_the_pace_of_collections() {
        let slow = collecting(41, 1.0, |t| 30.0 - t * 0.1, 0.001);
        assert!(summary_of(slow).starts_with("live heap is falling (29.2 → 26.3 MB, -360.0 MB/h)"));
        let sliding = collecting(41, 1.0, |t| 30.0 - t * 0.2, 0.001);
        assert_eq!(
            summary_of(sliding),
            "live heap is falling (28.4 → 22.6 MB, -720.0 MB/h): need a longer window \
             (40 live-heap points from 40 collections, about 3600 per hour)"
        );
        // Flat, then a drop in the last third: no trend, a lower level.
        let dropped = collecting(13, 10.0, |t| if t < 90.0 { 30.0 } else { 10.0 }, 0.001);
        assert_eq!(
            summary_of(dropped),
            "live heap is falling (30.0 → 10.0 MB, +0.0 MB/h): need a longer window \
             (12 live-heap points from 12 collections, about 360 per hour)"
        );
    }
}
