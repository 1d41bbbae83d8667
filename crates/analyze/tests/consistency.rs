//! One number drives each verdict and what is printed about it: over any
//! generated series, the verdict agrees with the figures of its evidence,
//! and the summary and the table print those same figures.

use gomon_analyze::{Analysis, Thresholds, Verdict, analyze, format_rate, lifetimes, table};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A process whose live heap moves by `slope` bytes/s (optionally levelling
/// off at `cap`), with allocation noise, GCs every `gc_every` samples (or
/// several per sample), NextGC at `ratio` × the live heap, and GC taking
/// `cpu` of the CPU.
#[allow(clippy::too_many_arguments)]
fn series(
    n: usize,
    period: f64,
    base: f64,
    slope: f64,
    cap: Option<f64>,
    noise: &[f64],
    gc_every: usize,
    ratio: f64,
    cpu: f64,
) -> Vec<Value> {
    let mut total = 0u64;
    let mut gc = 0u64;
    (0..n)
        .map(|i| {
            let t = i as f64 * period;
            let mut live = (base + slope * t).max(0.0);
            if let Some(cap) = cap {
                live = live.min(cap);
            }
            let extra = noise[i % noise.len()] * live;
            let allocated = (live + extra) as u64;
            total += allocated / 4 + 1;
            if gc_every == 0 || i % gc_every == 0 {
                gc += 1 + (i % 3) as u64;
            }
            json!({
                "@timestamp": humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(1_780_000_000.0 + t)
                ).to_string(),
                "metricset": {"name": "heap"},
                "service": {"address": "http://gen:1/debug/vars"},
                "golang": {"heap": {
                    "cmdline": "/srv/gen -x",
                    "allocations": {"allocated": allocated, "total": total},
                    "gc": {"next_gc_limit": (live * ratio) as u64, "total_count": gc,
                           "cpu_fraction": cpu},
                }}
            })
        })
        .collect()
}

fn check(a: &Analysis) -> Result<(), TestCaseError> {
    let e = &a.evidence;
    let rate = format_rate(e.growth_mb_per_hour);
    let threshold = e.growth_threshold_bytes;
    let window_hours = e.window_secs / 3600.0;
    let rise = e.live_heap_end_bytes - e.live_heap_start_bytes;
    match a.verdicts.iter().find(|v| **v != Verdict::GcPressure) {
        Some(Verdict::Steady) | None => {
            prop_assert!(
                e.growth_mb_per_hour <= e.growth_threshold_mb_per_hour,
                "steady with growth above the threshold: {a:#?}"
            );
            prop_assert!(rise <= threshold, "steady with a rise: {a:#?}");
            prop_assert!(rise >= -2.0 * threshold, "steady with a fall: {a:#?}");
            prop_assert!(
                e.growth_mb_per_hour * 1e6 * window_hours >= -threshold * 1.01
                    || e.growth_high_mb_per_hour >= 0.0,
                "steady with a sure fall: {a:#?}"
            );
            prop_assert!(a.summary.contains(&rate), "{rate} not in {:?}", a.summary);
        }
        Some(Verdict::Leak) => {
            prop_assert!(
                e.growth_mb_per_hour > e.growth_threshold_mb_per_hour,
                "{a:#?}"
            );
            prop_assert!(rise > 0.0, "a leak whose end is below its start: {a:#?}");
            prop_assert!(e.recent_growth_mb_per_hour > 0.0, "{a:#?}");
            prop_assert!(a.summary.contains(&rate), "{rate} not in {:?}", a.summary);
        }
        Some(Verdict::Plateau) => {
            prop_assert!(rise > threshold, "a plateau without a rise: {a:#?}");
            prop_assert!(a.summary.contains(&rate), "{rate} not in {:?}", a.summary);
        }
        Some(Verdict::InsufficientData) => {
            prop_assert!(a.summary.contains("need "), "{}", a.summary);
        }
        // Heap documents alone never give these.
        Some(Verdict::GcPressure | Verdict::GoroutineLeak) => unreachable!(),
    }
    // The table prints the same figures as the summary and the evidence.
    let text = table(std::slice::from_ref(a));
    let row = text.lines().nth(1).unwrap_or_default();
    if e.growth_threshold_mb_per_hour > 0.0 {
        prop_assert!(row.contains(&rate), "{rate} not in the row {row:?}");
        let levels = format!(
            "{:.1} → {:.1}",
            e.live_heap_start_bytes / 1e6,
            e.live_heap_end_bytes / 1e6
        );
        prop_assert!(row.contains(&levels), "{levels} not in the row {row:?}");
    }
    prop_assert!(row.ends_with(&a.summary), "{row:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn the_verdict_the_summary_and_the_table_agree_with_the_evidence(
        n in 3usize..400,
        period in prop::sample::select(vec![1.0, 5.0, 10.0, 60.0]),
        base in 1e5f64..3e9,
        slope_per_hour in prop::sample::select(vec![0.0, 0.01, 0.1, 0.5, 3.0, -0.2]),
        cap_at in prop::option::of(0.1f64..0.9),
        noise in prop::collection::vec(0.0f64..0.8, 1..40),
        gc_every in 0usize..30,
        ratio in 1.05f64..3.0,
        cpu in prop::sample::select(vec![0.001, 0.2]),
    ) {
        let slope = base * slope_per_hour / 3600.0;
        let span = n as f64 * period;
        let cap = cap_at.map(|f| base + slope.max(0.0) * span * f);
        let docs = series(n, period, base, slope, cap, &noise, gc_every, ratio, cpu);
        for life in lifetimes(&docs) {
            check(&analyze(&life, &Thresholds::default()))?;
        }
    }
}

/// A case the property once found: a heap that rose for a third of the
/// window and then stayed at its cap, with HeapAlloc noise above it. The
/// last third's trend is exactly zero, its interval wide: no leak.
#[test]
fn a_heap_held_at_a_cap_is_no_leak_when_its_last_third_is_flat() {
    let noise = [
        0.4196557794803594,
        0.06242238365300735,
        0.7119238748310869,
        0.781179752558507,
        0.15311778121288117,
        0.0763412729035961,
        0.1636353961476469,
        0.21821660528106948,
        0.2701479988835172,
        0.2532070699250733,
        0.291419013747319,
        0.33256860170875013,
        0.2886755955689619,
        0.5656884162195766,
    ];
    let (n, period, base) = (153, 60.0, 2_100_678_892.612_017_4);
    let slope = base * 0.5 / 3600.0;
    let cap = base + slope * n as f64 * period * 0.345_973_495_043_071_7;
    let docs = series(
        n,
        period,
        base,
        slope,
        Some(cap),
        &noise,
        0,
        1.380_895_530_921_697_5,
        0.001,
    );
    let lives = lifetimes(&docs);
    let a = analyze(&lives[0], &Thresholds::default());
    assert_eq!(a.evidence.recent_growth_mb_per_hour, 0.0, "{a:#?}");
    assert_ne!(a.verdict, Verdict::Leak, "{}", a.summary);
    check(&a).unwrap();
}
