//! Property tests of the trend estimator and the series handling.

use gomon_analyze::{Thresholds, Verdict, analyze, lifetimes, theil_sen};
use proptest::prelude::*;
use serde_json::json;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_slope_survives_bounded_noise_and_a_minority_of_outliers(
        slope in -1000.0f64..1000.0,
        intercept in -1e6f64..1e6,
        noise in prop::collection::vec(-1.0f64..1.0, 60..200),
        outlier_every in 5usize..20,
    ) {
        let points: Vec<(f64, f64)> = noise
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let x = i as f64;
                let mut y = intercept + slope * x + e * 10.0;
                if i % outlier_every == 0 {
                    y += 1e9;
                }
                (x, y)
            })
            .collect();
        let t = theil_sen(&points).unwrap();
        // Noise of ±10 over x spans of 60+: the slope is off by well under 1.
        prop_assert!((t.slope - slope).abs() < 1.0, "{} vs {}", t.slope, slope);
        prop_assert!((0.0..=1.0).contains(&t.agreement));
    }

    #[test]
    fn any_series_gets_a_verdict_without_panicking_and_splits_at_every_restart(
        allocated in prop::collection::vec(0u64..1_000_000_000, 1..150),
        restarts in prop::collection::btree_set(1usize..150, 0..4),
    ) {
        let docs: Vec<_> = allocated
            .iter()
            .enumerate()
            .map(|(i, a)| json!({
                "@timestamp": format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
                "metricset": {"name": "heap"},
                "service": {"address": "t:1"},
                "golang": {"heap": {"cmdline": "./x", "restarted": restarts.contains(&i),
                    "allocations": {"allocated": a},
                    "gc": {"next_gc_limit": 1, "total_count": i, "cpu_fraction": 0.0}}}
            }))
            .collect();
        let lives = lifetimes(&docs);
        let expected = 1 + restarts.iter().filter(|r| **r < allocated.len()).count();
        prop_assert_eq!(lives.len(), expected);
        prop_assert_eq!(lives.iter().map(|l| l.samples.len()).sum::<usize>(), allocated.len());
        for life in &lives {
            let a = analyze(life, &Thresholds::default());
            if life.samples.len() < 20 {
                prop_assert_eq!(a.verdict, Verdict::InsufficientData);
            }
        }
    }
}
