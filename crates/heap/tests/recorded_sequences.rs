//! `HeapState` on successive `/debug/vars` payloads recorded about one second
//! apart from the example Go apps (`examples/go`), checked against a naive
//! reading of the same payloads.

use std::time::{Duration, Instant};

use gomon_heap::{HeapMetrics, HeapState, MemStats};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn cmdline(vars: &Value) -> Vec<String> {
    vars["cmdline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Observes the payloads one second apart and returns every document.
fn observe(payloads: &[&Value]) -> Vec<HeapMetrics> {
    let mut state = HeapState::new();
    let t0 = Instant::now();
    payloads
        .iter()
        .enumerate()
        .map(|(i, vars)| {
            let m = MemStats::from_json(&vars["memstats"]).unwrap();
            state.observe(&m, &cmdline(vars), t0 + Duration::from_secs(i as u64))
        })
        .collect()
}

/// The pauses of cycles `from+1..=to` read the naive way, straight from the JSON ring.
fn naive_pauses(vars: &Value, from: u64, to: u64) -> Vec<u64> {
    let ring = vars["memstats"]["PauseNs"].as_array().unwrap();
    (from + 1..=to)
        .filter(|n| to - n < 256)
        .map(|n| ring[((n - 1) % 256) as usize].as_u64().unwrap())
        .collect()
}

fn num_gc(vars: &Value) -> u64 {
    vars["memstats"]["NumGC"].as_u64().unwrap()
}

#[test]
fn steady_app_intervals_report_the_cycles_between_snapshots() {
    let seq = fixture("steady-sequence");
    let seq: Vec<&Value> = seq.as_array().unwrap().iter().collect();
    let docs = observe(&seq);
    assert!(docs[0].gc.pause.is_none() && docs[0].rate.is_none());
    for i in 1..seq.len() {
        let expected = naive_pauses(seq[i], num_gc(seq[i - 1]), num_gc(seq[i]));
        let pause = docs[i].gc.pause.unwrap();
        assert_eq!(pause.count, expected.len() as u64, "interval {i}");
        assert_eq!(pause.sum.ns, expected.iter().sum::<u64>(), "interval {i}");
        assert_eq!(pause.max.ns, expected.iter().copied().max().unwrap_or(0));
        assert_eq!(pause.missed, 0);
        let allocated = seq[i]["memstats"]["TotalAlloc"].as_u64().unwrap()
            - seq[i - 1]["memstats"]["TotalAlloc"].as_u64().unwrap();
        assert_eq!(
            docs[i].rate.unwrap().allocated_bytes_per_sec,
            allocated as f64
        );
        assert!(!docs[i].restarted);
    }
}

#[test]
fn gc_heavy_app_over_two_seconds_reports_256_pauses_and_the_missed_rest() {
    let seq = fixture("gcheavy-sequence");
    let seq: Vec<&Value> = seq.as_array().unwrap().iter().collect();
    // Skip the middle payload: more than 256 cycles between the two kept.
    let docs = observe(&[seq[0], seq[2]]);
    let completed = num_gc(seq[2]) - num_gc(seq[0]);
    assert!(completed > 256, "fixture covers {completed} cycles");
    let pause = docs[1].gc.pause.unwrap();
    assert_eq!(pause.count, 256);
    assert_eq!(pause.missed, completed - 256);
    let expected = naive_pauses(seq[2], num_gc(seq[0]), num_gc(seq[2]));
    assert_eq!(pause.sum.ns, expected.iter().sum::<u64>());
    let forced = seq[2]["memstats"]["NumForcedGC"].as_u64().unwrap()
        - seq[0]["memstats"]["NumForcedGC"].as_u64().unwrap();
    assert!(forced > 0, "the app forces a cycle every second");
    assert_eq!(docs[1].gc.forced.count, Some(forced));
}

#[test]
fn a_restarted_app_is_marked_and_its_new_cycles_are_reported() {
    let seq = fixture("steady-sequence");
    let restarted = fixture("steady");
    let last = &seq.as_array().unwrap()[2];
    assert_eq!(
        cmdline(last),
        cmdline(&restarted),
        "same command line: only counters tell"
    );
    let docs = observe(&[last, &restarted]);
    assert!(docs[1].restarted);
    let pause = docs[1].gc.pause.unwrap();
    assert_eq!(pause.count, num_gc(&restarted));
    assert!(docs[1].rate.is_none());
}

#[test]
fn the_interval_document_matches_the_reviewed_golden_file() {
    let seq = fixture("gcheavy-sequence");
    let seq: Vec<&Value> = seq.as_array().unwrap().iter().collect();
    let docs = observe(&seq[..2]);
    let actual = serde_json::to_value(&docs[1]).unwrap();
    let path = format!(
        "{}/tests/fixtures/gcheavy-interval.golden.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if gomon_testrig::bless_goldens() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
    }
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        actual, golden,
        "regenerate with GOMON_BLESS=1 only after reviewing the change"
    );
}

fn leaf_paths(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaf_paths(&format!("{prefix}.{k}"), v, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn every_field_of_a_full_document_is_documented_in_fields_md() {
    let seq = fixture("gcheavy-sequence");
    let seq: Vec<&Value> = seq.as_array().unwrap().iter().collect();
    let docs = observe(&seq[..2]);
    let mut paths = Vec::new();
    leaf_paths(
        "golang.heap",
        &serde_json::to_value(&docs[1]).unwrap(),
        &mut paths,
    );
    let fields_md =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/fields.md"))
            .unwrap();
    for path in &paths {
        assert!(
            fields_md.contains(&format!("`{path}`")),
            "{path} is not documented in docs/fields.md"
        );
    }
    assert!(
        paths.len() >= 20 + 9,
        "Metricbeat's 20 fields and gomon's additions: {paths:?}"
    );
}
