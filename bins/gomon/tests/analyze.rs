//! `gomon analyze` as a person runs it: what it prints about the stored
//! history, and that the file store, Elasticsearch and OpenSearch give the
//! same verdicts on the same data.

use std::path::{Path, PathBuf};

mod support;

use serde_json::Value;
use support::{gomon, temp_dir, text};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The recorded four-minute run of the five example apps.
fn recorded_run() -> Vec<Value> {
    let text = std::fs::read_to_string(repo("crates/analyze/tests/fixtures/five-apps-240s.ndjson"))
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A file store holding `docs`.
fn store_of(name: &str, docs: &[Value]) -> PathBuf {
    let dir = temp_dir(name);
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let lines: Vec<String> = docs.iter().map(Value::to_string).collect();
    std::fs::write(store.join("gomon.ndjson"), lines.join("\n") + "\n").unwrap();
    store
}

#[test]
fn the_table_names_each_target_with_its_program_and_stays_aligned() {
    let store = store_of("analyze-table", &recorded_run());
    let out = gomon()
        .args(["analyze", "--data"])
        .arg(&store)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for app in ["steady", "leaking", "gcheavy", "cache", "churnleak"] {
        assert!(
            stdout.contains(&format!("{app}:6060 ({app})")),
            "{app} with its program name: {stdout}"
        );
    }
    let column = |line: &str, what: &str| line[..line.find(what).unwrap()].chars().count();
    let mut lines = stdout.lines();
    let header = lines.next().unwrap();
    let summary_at = column(header, "summary");
    for line in lines {
        let at = column(line, "live heap ");
        assert_eq!(at, summary_at, "summary column of {line:?} in\n{stdout}");
    }
}

#[test]
fn an_unknown_baseline_is_an_error_that_lists_the_versions_present() {
    let store = store_of("analyze-baseline", &recorded_run());
    let out = gomon()
        .args([
            "analyze",
            "--compare-by",
            "expvar:app.version",
            "--baseline",
            "9.9",
            "--data",
        ])
        .arg(&store)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr
            .contains("no version \"9.9\" to use as the baseline; versions present: 1.0.0, 2.0.0"),
        "{stderr}"
    );
    let known = gomon()
        .args([
            "analyze",
            "--compare-by",
            "expvar:app.version",
            "--baseline",
            "2.0.0",
            "--data",
        ])
        .arg(&store)
        .output()
        .unwrap();
    assert!(known.status.success(), "{}", text(&known).1);
    assert!(
        text(&known).0.contains("1.0.0 vs 2.0.0"),
        "{}",
        text(&known).0
    );
}

#[test]
fn when_nothing_matches_the_message_names_only_the_filters_given() {
    let store = store_of("analyze-filters", &recorded_run());
    let run = |args: &[&str]| {
        let out = gomon()
            .arg("analyze")
            .args(args)
            .arg("--data")
            .arg(&store)
            .output()
            .unwrap();
        assert!(!out.status.success());
        text(&out).1
    };
    let since = run(&["--since", "1m"]);
    assert!(since.contains("match --since"), "{since}");
    assert!(!since.contains("--target"), "{since}");
    let target = run(&["--target", "127.0.0.1:1"]);
    assert!(target.contains("match --target"), "{target}");
    assert!(!target.contains("--since"), "{target}");
    let both = run(&["--target", "127.0.0.1:1", "--since", "1m"]);
    assert!(both.contains("match --target and --since"), "{both}");

    // Only expvar documents and no filter: no filter is blamed.
    let expvar_only: Vec<Value> = recorded_run()
        .into_iter()
        .filter(|d| d["metricset"]["name"] == "expvar")
        .collect();
    let store = store_of("analyze-no-heap", &expvar_only);
    let out = gomon()
        .args(["analyze", "--data"])
        .arg(&store)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("no golang.heap documents in"), "{stderr}");
    assert!(
        !stderr.contains("--target") && !stderr.contains("--since"),
        "{stderr}"
    );
}

#[test]
fn the_default_minimum_span_is_the_librarys_so_forty_seconds_get_verdicts() {
    let help = gomon().args(["analyze", "--help"]).output().unwrap();
    assert!(
        text(&help).0.contains(&format!(
            "[default: {}s]",
            gomon_analyze::DEFAULT_MIN_SPAN_SECS
        )),
        "{}",
        text(&help).0
    );
    // The first 40 s of each app, as a short demo leaves them.
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let first: Vec<Value> = recorded_run()
        .into_iter()
        .filter(|d| {
            let n = seen
                .entry(format!(
                    "{}{}",
                    d["service"]["address"], d["metricset"]["name"]
                ))
                .or_default();
            *n += 1;
            *n <= 40
        })
        .collect();
    let store = store_of("analyze-short", &first);
    let out = gomon()
        .args(["analyze", "--json", "--data"])
        .arg(&store)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    for a in report["analyses"].as_array().unwrap() {
        assert!(
            !a["summary"].as_str().unwrap().contains("s more data"),
            "{a}"
        );
        if a["target"] == "leaking:6060" {
            assert_eq!(a["verdict"], "leak", "{a}");
        }
    }
}
