//! `analyze --json` keeps the schema docs/analysis.md documents: every field
//! a report of the recorded run writes (analyses and a comparison) is
//! documented there, and every field documented there is written.

use std::collections::BTreeSet;

use gomon_analyze::{Thresholds, analyze, compare, expvar_labels, label_of, lifetimes};
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
    let docs: Vec<Value> = include_str!("fixtures/five-apps-240s.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lives = lifetimes(&docs);
    let analyses: Vec<_> = lives
        .iter()
        .map(|l| analyze(l, &Thresholds::default()))
        .collect();
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
