//! `analyze --json` keeps the schema docs/analysis.md documents: every field
//! a report of the recorded run writes (analyses and a comparison) is
//! documented there, and every field documented there is written.

use std::collections::BTreeSet;

use gomon_analyze::{
    Thresholds, analyze_with_profiles, compare, expvar_labels, label_of, lifetimes,
};
use serde_json::{Value, json};

fn keys(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[test]
fn the_json_report_writes_exactly_the_fields_its_documented_schema_lists() {
    let mut docs: Vec<Value> = include_str!("fixtures/five-apps-240s.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Profile documents for the leaking app, every 20 s of its run.
    let stamps: Vec<Value> = docs
        .iter()
        .filter(|d| d["service"]["address"] == "leaking:6060" && d["metricset"]["name"] == "heap")
        .step_by(20)
        .map(|d| d["@timestamp"].clone())
        .collect();
    for (i, stamp) in stamps.iter().enumerate() {
        let place = json!({"function": "main.leak", "file": "/src/main.go", "line": 30,
            "growth": {"bytes": 1_000_000, "objects": 10}, "share": {"pct": 1.0},
            "count": 5, "stack": ["main.leak main.go:30"]});
        docs.push(json!({
            "@timestamp": stamp, "metricset": {"name": "profile"},
            "service": {"address": "leaking:6060"},
            "golang": {"profile": {
                "heap": {"basis": "previous", "sites": [place.clone()]},
                "goroutines": {"count": 10 + i, "growing": [{"function": "main.wait", "file": "/src/main.go",
                    "line": 9, "count": 3, "growth": 1, "stack": ["main.wait main.go:9"]}]},
            }},
        }));
    }
    let lives = lifetimes(&docs);
    let analyses: Vec<_> = lives
        .iter()
        .map(|l| analyze_with_profiles(l, &docs, &Thresholds::default()))
        .collect();
    assert!(
        analyses
            .iter()
            .any(|a| a.profiles.as_ref().is_some_and(|p| p.goroutines.is_some())),
        "the report has every kind of field"
    );
    let labels = expvar_labels(&docs, "app.version");
    let comparison = compare(&lives, |l| label_of(l, &labels), None).unwrap();
    // What `gomon analyze --json` prints.
    let report = json!({ "analyses": analyses, "comparison": comparison });
    let mut written = BTreeSet::new();
    keys(&report, &mut written);
    assert!(written.len() > 50, "{written:?}");

    let page = include_str!("../../../docs/analysis.md");
    let schema = &page[page.find("## `analyze --json`").unwrap()..];
    let documented: BTreeSet<String> = schema
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect();
    let undocumented: Vec<&String> = written.difference(&documented).collect();
    let unwritten: Vec<&String> = documented.difference(&written).collect();
    assert!(
        undocumented.is_empty(),
        "written, not documented: {undocumented:?}"
    );
    assert!(
        unwritten.is_empty(),
        "documented, not written: {unwritten:?}"
    );
}
