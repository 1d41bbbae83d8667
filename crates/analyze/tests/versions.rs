//! Releases compared with a verdict per measure: versions of a simulated
//! program (`sim`), each run as three processes of half an hour polled
//! every 10 s: the same program again, one that allocates 30 % more per
//! unit of work, one that adds a small leak.

mod sim;

use gomon_analyze::{Change, Comparison, compare, lifetimes};
use serde_json::Value;

const MB: f64 = 1e6;

fn version(label: &str, program: &sim::Program, seed: u64) -> Vec<Value> {
    (0..3)
        .flat_map(|i| {
            let mut docs = program.run(1800.0, 3600.0, 10.0, seed * 10 + i);
            for doc in &mut docs {
                doc["service"]["address"] =
                    Value::from(format!("http://{label}-{i}:6060/debug/vars"));
                doc["golang"]["heap"]["cmdline"] = Value::from(format!("./app -version {label}"));
            }
            docs
        })
        .collect()
}

fn compared(candidate: &str, program: &sim::Program) -> Comparison {
    let base = sim::program(|_| 40.0 * MB, 10.0 * MB);
    let mut docs = version("1.0", &base, 1);
    docs.extend(version(candidate, program, 2));
    let lives = lifetimes(&docs);
    compare(
        &lives,
        |l| Some(l.cmdline.clone()),
        Some("./app -version 1.0"),
    )
    .unwrap()
}

fn change(c: &Comparison, measure: &str) -> Change {
    c.differences[0]
        .changes
        .iter()
        .find(|m| m.measure == measure)
        .map(|m| m.change)
        .unwrap()
}

#[test]
fn the_same_program_again_is_the_same_on_every_measure() {
    let c = compared("1.0.1", &sim::program(|_| 40.0 * MB, 10.0 * MB));
    let d = &c.differences[0];
    for m in &d.changes {
        assert_eq!(m.change, Change::Same, "{}", m.reason);
    }
    assert!(!d.regression);
}

#[test]
fn thirty_percent_more_allocation_is_a_worse_allocation_rate_and_nothing_else_worse_in_memory() {
    let c = compared("1.1", &sim::program(|_| 40.0 * MB, 13.0 * MB));
    let d = &c.differences[0];
    assert_eq!(
        change(&c, "allocation rate"),
        Change::Worse,
        "{:#?}",
        d.changes
    );
    assert_eq!(change(&c, "live heap"), Change::Same, "{:#?}", d.changes);
    assert_eq!(change(&c, "growth"), Change::Same, "{:#?}", d.changes);
    assert!(d.regression);
    let alloc = d
        .changes
        .iter()
        .find(|m| m.measure == "allocation rate")
        .unwrap();
    let ratio = alloc.candidate.unwrap() / alloc.baseline.unwrap();
    assert!(
        (1.25..1.35).contains(&ratio),
        "about +30 %: {}",
        alloc.reason
    );
}

#[test]
fn a_small_leak_is_a_worse_growth() {
    let c = compared(
        "1.2",
        &sim::program(|t| 40.0 * MB + t * 40.0 * MB / 3600.0, 10.0 * MB),
    );
    let d = &c.differences[0];
    assert_eq!(change(&c, "growth"), Change::Worse, "{:#?}", d.changes);
    assert_eq!(
        change(&c, "allocation rate"),
        Change::Same,
        "{:#?}",
        d.changes
    );
    assert!(d.regression);
}

#[test]
fn the_growth_measure_calls_leaks_with_the_thresholds_the_verdicts_use() {
    let base = sim::program(|_| 40.0 * MB, 10.0 * MB);
    let leaky = sim::program(|t| 40.0 * MB + t * 40.0 * MB / 3600.0, 10.0 * MB);
    let mut docs = version("1.0", &base, 1);
    docs.extend(version("1.2", &leaky, 2));
    let lives = lifetimes(&docs);
    let by_cmdline = |l: &gomon_analyze::Lifetime| Some(l.cmdline.clone());
    // Half-hour processes cannot be judged with a two-hour minimum span: no
    // lifetime is called a leak, so the growth cannot be worse.
    let strict = gomon_analyze::Thresholds {
        min_span_secs: 7200.0,
        ..Default::default()
    };
    let c = gomon_analyze::compare_with(&lives, by_cmdline, Some("./app -version 1.0"), &strict)
        .unwrap();
    assert_ne!(
        change(&c, "growth"),
        Change::Worse,
        "{:#?}",
        c.differences[0].changes
    );
    let c = gomon_analyze::compare_with(
        &lives,
        by_cmdline,
        Some("./app -version 1.0"),
        &gomon_analyze::Thresholds::default(),
    )
    .unwrap();
    assert_eq!(change(&c, "growth"), Change::Worse);
}
