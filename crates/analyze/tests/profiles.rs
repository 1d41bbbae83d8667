//! What profile documents add to a verdict: where a leak grows, and a
//! goroutine leak, from stored `golang.profile` documents.

use gomon_analyze::{Thresholds, Verdict, analyze, analyze_with_profiles, lifetimes};
use serde_json::{Value, json};

const T: &str = "http://127.0.0.1:6060/debug/vars";

fn stamp(secs: u64) -> String {
    humantime::format_rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000 + secs),
    )
    .to_string()
}

/// Ten minutes at 1 s of a heap growing `bytes_per_sec` (a GC every 5 s).
fn heap_docs(bytes_per_sec: u64) -> Vec<Value> {
    (0..600)
        .map(|i| {
            let live = 20_000_000 + i * bytes_per_sec;
            json!({
                "@timestamp": stamp(i),
                "metricset": {"name": "heap"},
                "service": {"address": T},
                "golang": {"heap": {"cmdline": "./app", "allocations": {"allocated": live + (i % 5) * 1_000_000},
                    "gc": {"next_gc_limit": 2 * live, "total_count": i / 5, "cpu_fraction": 0.001}}},
            })
        })
        .collect()
}

fn site(function: &str, line: i64, growth: i64) -> Value {
    json!({"function": function, "file": "/src/app/main.go", "line": line,
           "growth": {"bytes": growth, "objects": 1}, "share": {"pct": 0.5},
           "stack": [format!("{function} app/main.go:{line}"), "main.main app/main.go:9"]})
}

fn profile(
    secs: u64,
    address: &str,
    sites: Vec<Value>,
    goroutines: i64,
    growing: Vec<Value>,
) -> Value {
    json!({
        "@timestamp": stamp(secs),
        "metricset": {"name": "profile"},
        "service": {"address": address},
        "golang": {"profile": {
            "heap": {"basis": if secs == 0 { "first" } else { "previous" }, "sites": sites},
            "goroutines": {"count": goroutines, "top": [], "growing": growing},
        }},
    })
}

fn goroutine_place(growth: i64) -> Value {
    json!({"function": "main.awaitReply", "file": "/src/app/main.go", "line": 24,
           "count": 100, "growth": growth, "stack": ["main.awaitReply app/main.go:24"]})
}

#[test]
fn a_leak_says_where_it_grows_from_the_heap_profiles_of_its_lifetime() {
    let mut docs = heap_docs(50_000);
    for i in 0..10 {
        docs.push(profile(
            i * 60,
            T,
            vec![
                site("main.(*Sessions).Add", 30, 3_000_000),
                site("main.buffer", 40, 200_000),
            ],
            12,
            vec![],
        ));
    }
    // Another target's profile and one long after this lifetime: not counted.
    docs.push(profile(
        120,
        "http://127.0.0.1:7070/debug/vars",
        vec![site("main.other", 1, 9_000_000_000)],
        1,
        vec![],
    ));
    docs.push(profile(
        9_000,
        T,
        vec![site("main.later", 1, 9_000_000_000)],
        1,
        vec![],
    ));
    let life = &lifetimes(&docs)[0];
    let th = Thresholds::default();
    let plain = analyze(life, &th);
    let a = analyze_with_profiles(life, &docs, &th);
    assert_eq!(a.verdict, Verdict::Leak);
    assert_eq!(a.evidence, plain.evidence, "profiles change no heap figure");
    let found = a.profiles.as_ref().unwrap();
    assert_eq!(found.profiles, 10);
    let top = &found.sites[0];
    assert_eq!(
        (top.function.as_str(), top.line),
        ("main.(*Sessions).Add", 30)
    );
    // The first profile has no growth yet: nine windows of 3 MB.
    assert_eq!(top.growth, 27_000_000);
    assert!((top.share - 27.0 / 28.8).abs() < 1e-9, "{}", top.share);
    assert!(
        a.summary.ends_with(
            "; growing at main.(*Sessions).Add app/main.go:30 (94 % of the growth in 10 profiles)"
        ),
        "{}",
        a.summary
    );
    assert!(a.summary.starts_with(&plain.summary));
    assert!(found.goroutines.as_ref().is_some_and(|g| !g.leaking));
}

#[test]
fn a_climbing_goroutine_count_is_a_goroutine_leak_naming_where_they_pile_up() {
    let mut docs = heap_docs(0);
    for i in 0..10 {
        docs.push(profile(
            i * 60,
            T,
            vec![],
            10 + 1_200 * i as i64,
            vec![goroutine_place(1_200)],
        ));
    }
    let life = &lifetimes(&docs)[0];
    let a = analyze_with_profiles(life, &docs, &Thresholds::default());
    assert_eq!(a.verdict, Verdict::GoroutineLeak);
    assert_eq!(a.verdicts[0], Verdict::GoroutineLeak);
    assert!(a.verdicts.contains(&Verdict::Steady), "{:?}", a.verdicts);
    let g = a.profiles.as_ref().unwrap().goroutines.as_ref().unwrap();
    assert!(g.leaking);
    assert!(
        (g.growth_per_hour - 72_000.0).abs() < 1.0,
        "{}",
        g.growth_per_hour
    );
    // A straight climb: its 95 % interval is the rate itself.
    assert_eq!(
        (g.growth_low_per_hour, g.growth_high_per_hour),
        (g.growth_per_hour, g.growth_per_hour)
    );
    assert_eq!(g.growing[0].growth, 12_000);
    assert!(
        a.summary.starts_with("goroutines climb 1210 → 9610 (+72000/h), piling up at main.awaitReply app/main.go:24; heap: "),
        "{}",
        a.summary
    );
    // Nothing about a heap site: the heap does not leak.
    assert!(!a.summary.contains("growing at"), "{}", a.summary);
}

#[test]
fn a_goroutine_count_that_wanders_or_is_too_short_is_no_leak() {
    let th = Thresholds::default();
    // Workers come and go around 200.
    let mut docs = heap_docs(0);
    for (i, n) in [200, 230, 190, 215, 205, 240, 185, 210, 200, 220]
        .iter()
        .enumerate()
    {
        docs.push(profile(
            i as u64 * 60,
            T,
            vec![],
            *n,
            vec![goroutine_place(30)],
        ));
    }
    let life = &lifetimes(&docs)[0];
    let a = analyze_with_profiles(life, &docs, &th);
    assert_eq!(a.verdict, Verdict::Steady);
    assert!(!a.profiles.unwrap().goroutines.unwrap().leaking);

    // A small steady rise: +10 over the window is below the threshold.
    let mut docs = heap_docs(0);
    for i in 0..10 {
        docs.push(profile(i * 60, T, vec![], 50 + i as i64, vec![]));
    }
    let life = &lifetimes(&docs)[0];
    let g = analyze_with_profiles(life, &docs, &th)
        .profiles
        .unwrap()
        .goroutines
        .unwrap();
    assert!(!g.leaking && g.threshold == 20.0, "{g:?}");

    // Three profiles are too few for a call on the goroutine count.
    let mut docs = heap_docs(0);
    for i in 0..3 {
        docs.push(profile(i * 200, T, vec![], 10 + 5_000 * i as i64, vec![]));
    }
    let life = &lifetimes(&docs)[0];
    let a = analyze_with_profiles(life, &docs, &th);
    assert!(a.profiles.unwrap().goroutines.is_none());
    assert_eq!(a.verdict, Verdict::Steady);
}

#[test]
fn a_profile_taken_just_before_the_first_heap_sample_belongs_to_the_lifetime() {
    let mut docs = heap_docs(50_000);
    let at = |millis_before: u64| {
        humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH
                + std::time::Duration::from_millis(1_800_000_000_000 - millis_before),
        )
        .to_string()
    };
    // Half a second before the first heap sample: this process; two
    // seconds before: not.
    for (before, function) in [(500, "main.early"), (2_000, "main.previous")] {
        let mut p = profile(0, T, vec![site(function, 1, 1_000_000)], 12, vec![]);
        p["@timestamp"] = json!(at(before));
        p["golang"]["profile"]["heap"]["basis"] = json!("previous");
        docs.push(p);
    }
    let life = &lifetimes(&docs)[0];
    let found = analyze_with_profiles(life, &docs, &Thresholds::default())
        .profiles
        .unwrap();
    assert_eq!(found.profiles, 1);
    assert_eq!(found.sites[0].function, "main.early");
}

#[test]
fn a_site_whose_growth_sums_to_nothing_is_not_where_the_heap_grows() {
    let mut docs = heap_docs(50_000);
    for (i, freed) in [0, 2_000_000, -2_000_000].into_iter().enumerate() {
        docs.push(profile(
            i as u64 * 60 + 60,
            T,
            vec![
                site("main.(*Sessions).Add", 30, 3_000_000),
                site("main.buffer", 40, freed),
            ],
            12,
            vec![],
        ));
    }
    let life = &lifetimes(&docs)[0];
    let found = analyze_with_profiles(life, &docs, &Thresholds::default())
        .profiles
        .unwrap();
    let functions: Vec<&str> = found.sites.iter().map(|s| s.function.as_str()).collect();
    assert_eq!(functions, vec!["main.(*Sessions).Add"]);
    assert_eq!(found.sites[0].share, 1.0);
}

/// The goroutine count is judged only over the minimum span, and grows
/// only past the larger of 20 goroutines and 10 % of where it started.
#[test]
fn the_goroutine_count_needs_the_minimum_span_and_a_tenth_more_than_it_started() {
    let th = Thresholds::default();
    let goroutines = |docs: &[Value]| {
        let life = &lifetimes(docs)[0];
        analyze_with_profiles(life, docs, &th)
            .profiles
            .and_then(|p| p.goroutines)
    };
    // Four profiles over 15 s: too short; over exactly 30 s: judged.
    for (step, judged) in [(5, false), (10, true)] {
        let mut docs = heap_docs(0);
        for i in 0..4 {
            docs.push(profile(i * step, T, vec![], 50 + 40 * i as i64, vec![]));
        }
        let g = goroutines(&docs);
        assert_eq!(g.is_some(), judged, "{step} s apart: {g:?}");
    }
    // From 1005 goroutines (the first third's median), +45 over the
    // window: under 10 %.
    let mut docs = heap_docs(0);
    for i in 0..10 {
        docs.push(profile(i * 60, T, vec![], 1_000 + 5 * i as i64, vec![]));
    }
    let g = goroutines(&docs).unwrap();
    assert!(g.growth_low_per_hour > 0.0, "{g:?}");
    assert_eq!(g.threshold, 100.5);
    assert!(!g.leaking, "{g:?}");
}

/// A climb of the goroutine count is a leak only when the whole interval
/// of its trend is above zero: a long flat start (counts are whole
/// numbers, so many pairs tie) leaves it at zero.
#[test]
fn a_goroutine_trend_whose_interval_reaches_zero_is_no_leak() {
    let mut docs = heap_docs(0);
    for (i, n) in [50, 50, 50, 50, 50, 50, 50, 80, 110, 140]
        .iter()
        .enumerate()
    {
        docs.push(profile(i as u64 * 60, T, vec![], *n, vec![]));
    }
    let life = &lifetimes(&docs)[0];
    let g = analyze_with_profiles(life, &docs, &Thresholds::default())
        .profiles
        .unwrap()
        .goroutines
        .unwrap();
    assert_eq!(g.growth_low_per_hour, 0.0, "{g:?}");
    assert!(
        g.growth_per_hour * g.window_secs / 3600.0 >= g.threshold,
        "{g:?}"
    );
    assert!(!g.leaking, "{g:?}");
}
