//! The field paths other code reads (`gomon_analyze::fields::heap`) against
//! what this crate writes: `HeapMetrics` serialised from `HeapState::observe`
//! on payloads recorded one second apart from the `gcheavy` example app, so
//! the interval fields (pause percentiles, forced count, rates) are there.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use gomon_analyze::fields::{self, heap};
use gomon_heap::{HeapState, MemStats};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("a fixture")).expect("JSON")
}

/// Every recorded payload observed one second apart, each serialised where
/// a stored document holds it (`golang.heap`).
fn documents(name: &str) -> Vec<Value> {
    let sequence = fixture(name);
    let payloads = sequence.as_array().expect("a sequence of payloads");
    assert!(payloads.len() >= 2, "an interval needs two snapshots");
    let mut state = HeapState::new();
    let t0 = Instant::now();
    payloads
        .iter()
        .enumerate()
        .map(|(i, vars)| {
            let memstats = MemStats::from_json(&vars["memstats"]).expect("memstats");
            let cmdline: Vec<&str> = vars["cmdline"]
                .as_array()
                .expect("cmdline")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let metrics = state.observe(&memstats, &cmdline, t0 + Duration::from_secs(i as u64));
            let mut doc = json!({});
            fields::set(
                &mut doc,
                heap::OBJECT,
                serde_json::to_value(&metrics).expect("serialisable"),
            );
            doc
        })
        .collect()
}

/// The dotted paths of every leaf of a document.
fn leaves(prefix: &str, value: &Value, out: &mut BTreeSet<String>) {
    match value.as_object() {
        Some(map) => {
            for (key, child) in map {
                leaves(&format!("{prefix}.{key}"), child, out);
            }
        }
        None => {
            out.insert(prefix.to_owned());
        }
    }
}

#[test]
fn every_heap_field_path_read_elsewhere_is_in_a_serialised_heap_metrics() {
    let docs = documents("gcheavy-sequence");
    let full = docs
        .iter()
        .skip(1)
        .find(|doc| !fields::get(doc, heap::GC_PAUSE_P99_NS).is_null())
        .expect("an interval with a GC in it");
    for path in heap::ALL {
        assert!(
            !fields::get(full, path).is_null(),
            "{path} is not in a serialised HeapMetrics: {full}"
        );
    }
    assert!(fields::get(full, heap::RESTARTED).is_boolean());
    assert!(fields::get(full, heap::CMDLINE).is_string());
    assert!(fields::get(full, heap::GC_CPU_FRACTION).is_f64());
}

#[test]
fn every_field_a_serialised_heap_metrics_carries_has_a_path() {
    let listed: BTreeSet<String> = heap::ALL.iter().map(|p| (*p).to_owned()).collect();
    let mut seen = BTreeSet::new();
    for doc in documents("gcheavy-sequence")
        .iter()
        .chain(&documents("steady-sequence"))
    {
        let mut paths = BTreeSet::new();
        leaves(heap::OBJECT, fields::get(doc, heap::OBJECT), &mut paths);
        let unlisted: Vec<&String> = paths.difference(&listed).collect();
        assert!(
            unlisted.is_empty(),
            "not in gomon_analyze::fields::heap::ALL: {unlisted:?}"
        );
        seen.extend(paths);
    }
    assert_eq!(
        seen, listed,
        "every listed path is written by some document"
    );
}
