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

/// The Go collector's pacing, simulated (shared with the verdict matrix of
/// `gomon-analyze`).
#[path = "../../../crates/analyze/tests/sim/mod.rs"]
mod sim;

/// Cases of the verdict matrix that need the post-GC samples most:
/// collections minutes apart at more than 1 GB, the first two minutes, a
/// cache, churn, a memory limit, GOGC=off; at 1 s and 10 s.
fn matrix_cases() -> Vec<(String, Vec<Value>, &'static [gomon_analyze::Verdict])> {
    use sim::Window::{Early, Late, Middle};
    let picks: [(&str, sim::Window, f64); 14] = [
        ("fast leak", Late, 1.0),
        // Three hours at 1 s: more samples than time buckets.
        ("slow leak, heavy churn", sim::Window::Long, 1.0),
        ("fast leak", Late, 10.0),
        ("fast leak", Early, 1.0),
        ("slow leak, heavy churn", Middle, 10.0),
        ("steady", Middle, 1.0),
        ("steady", Late, 10.0),
        ("cache fills, then levels off", Early, 1.0),
        ("churn, no leak", Middle, 10.0),
        ("GC pressure", Middle, 10.0),
        ("saw-tooth, periodic large frees", Middle, 1.0),
        ("held at GOMEMLIMIT", Late, 10.0),
        ("GOGC=off until the limit", Middle, 10.0),
        ("GOGC=off until the limit", Early, 10.0),
    ];
    let behaviours = sim::behaviours();
    picks
        .iter()
        .enumerate()
        .map(|(i, (name, window, period))| {
            let b = behaviours.iter().find(|b| b.name == *name).unwrap();
            let program = if matches!(window, Late | sim::Window::Long) {
                &b.large
            } else {
                &b.small
            };
            let (from, to) = window.range();
            let target = format!("http://sim-{i}:6060/debug/vars");
            let mut docs = program.run(from, to, *period, 7);
            for doc in &mut docs {
                doc["service"]["address"] = Value::from(target.clone());
            }
            (target, docs, (b.right)(*window))
        })
        .collect()
}

/// The live-heap figures of each target of an `analyze --json` report:
/// start, end, growth.
fn figures_of(stdout: &str) -> std::collections::BTreeMap<String, [f64; 3]> {
    let report: Value = serde_json::from_str(stdout).unwrap();
    report["analyses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let e = &a["evidence"];
            let f = |name: &str| e[name].as_f64().unwrap_or(0.0);
            (
                a["target"].as_str().unwrap().to_owned(),
                [
                    f("live_heap_start_bytes"),
                    f("live_heap_end_bytes"),
                    f("growth_mb_per_hour"),
                ],
            )
        })
        .collect()
}

/// `(target, verdicts)` of an `analyze --json` report, sorted.
fn verdicts_of(stdout: &str) -> Vec<(String, Vec<String>)> {
    let report: Value = serde_json::from_str(stdout).unwrap();
    let mut out: Vec<(String, Vec<String>)> = report["analyses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let verdicts = a["verdicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            (a["target"].as_str().unwrap().to_owned(), verdicts)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_file_store_elasticsearch_and_opensearch_give_the_same_verdicts_on_the_matrix() {
    let cases = matrix_cases();
    let docs: Vec<Value> = cases.iter().flat_map(|c| c.1.clone()).collect();
    let store = store_of("analyze-stores", &docs);
    let from_file = gomon()
        .args(["analyze", "--json", "--data"])
        .arg(&store)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&from_file);
    assert!(from_file.status.success(), "{stderr}");
    let expected = verdicts_of(&stdout);
    let expected_figures = figures_of(&stdout);
    assert_eq!(expected.len(), cases.len(), "{stdout}");
    // Each is right, as in the matrix.
    for (target, verdicts) in &expected {
        let (_, _, right) = cases.iter().find(|c| &c.0 == target).unwrap();
        let heap = verdicts
            .iter()
            .find(|v| *v != "gc-pressure")
            .map_or("steady", String::as_str);
        assert!(
            right.iter().any(|r| r.as_str() == heap),
            "{target}: {verdicts:?}, right: {right:?}"
        );
    }

    let note = format!(
        "{} simulated documents of {} matrix cases: the file store's verdicts",
        docs.len(),
        cases.len()
    );
    for (kind, stdout) in analyze_on_every_engine(
        "analyze-stores",
        &docs,
        "analyze::same_verdicts_from_every_store",
        &note,
    ) {
        assert_eq!(verdicts_of(&stdout), expected, "{kind}: {stdout}");
        assert_same_figures(&kind, &stdout, &expected_figures);
    }
}

/// The first and last sample of every run between two collections come
/// back exactly from a server, so its live-heap figures are the raw
/// history's (`expected`, from the file store).
fn assert_same_figures(
    kind: &str,
    stdout: &str,
    expected: &std::collections::BTreeMap<String, [f64; 3]>,
) {
    for (target, figures) in figures_of(stdout) {
        let raw = expected[&target];
        for (server, file) in figures.iter().zip(raw) {
            assert!(
                (server - file).abs() <= 1e-6 * file.abs().max(1.0),
                "{kind} {target}: {figures:?} vs the file store's {raw:?}"
            );
        }
    }
}

/// `docs` loaded into each rig server as `gomon run` stores them (through
/// the template `gomon setup` installs: a data stream where the server has
/// them), then `gomon analyze --json -c` on it: `(engine, stdout)` per
/// engine. The ledger gets `ledger_test` and `note`.
fn analyze_on_every_engine(
    name: &str,
    docs: &[Value],
    ledger_test: &str,
    note: &str,
) -> Vec<(String, String)> {
    let mut answers = Vec::new();
    for engine in gomon_testrig::engines() {
        let dir = temp_dir(&format!("{name}-{}", engine.kind));
        let index = support::unique(name);
        let config = dir.join("gomon.yml");
        std::fs::write(
            &config,
            format!(
                "metricbeat.modules:\n- module: golang\n  metricsets: [\"heap\"]\n  hosts: [\"127.0.0.1:1\"]\noutput.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"{index}\"\n",
                engine.url
            ),
        )
        .unwrap();
        let setup = gomon().args(["setup", "-c"]).arg(&config).output().unwrap();
        assert!(setup.status.success(), "{}", text(&setup).1);
        for chunk in docs.chunks(2000) {
            let mut body = String::new();
            for doc in chunk {
                body.push_str(&format!(
                    "{{\"create\":{{\"_index\":\"{index}-sim\"}}}}\n{doc}\n"
                ));
            }
            let answer =
                gomon_testrig::http::json("POST", &format!("{}/_bulk", engine.url), Some(&body));
            assert_eq!(answer["errors"], false, "{answer}");
        }
        assert_eq!(
            support::search_count(&engine.url, &index),
            docs.len() as u64
        );
        let from_server = gomon()
            .args(["analyze", "--json", "-c"])
            .arg(&config)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&from_server);
        assert!(from_server.status.success(), "{:?}: {stderr}", engine.kind);
        let _ = gomon_testrig::http::request(
            "DELETE",
            &format!("{}/_data_stream/{index}-sim", engine.url),
            None,
        );
        support::delete_index(&engine.url, &index);
        engine.record(ledger_test, note);
        let _ = std::fs::remove_dir_all(&dir);
        answers.push((format!("{:?}", engine.kind), stdout));
    }
    answers
}

/// A real Go program late in a leak, where GC cycles come more than a
/// minute apart: the `leaking` example app holding 1 GiB from the start (a
/// ballast, standing in for the gigabyte a leaking service reaches after
/// hours), leaking 640 KiB/s (2.36 GB/h) beside 11 MiB/s of short-lived
/// garbage, so that a collection comes about every 95 s: three or more in
/// the run, which a verdict needs. (At 8 MiB/s they came every 124 s, and
/// the third one landed on either side of the run's end.) One gomon polls it every
/// second, another every 10 s, for 250 s. The file store, the embedded
/// store (`gomon import`), Elasticsearch and OpenSearch all call it a leak,
/// with the same live-heap figures, near the true rate. (This is the case
/// that was called `steady … (+7379.6 MB/h)` from the servers.)
#[test]
fn a_real_go_program_leaking_past_a_gigabyte_is_a_leak_in_every_store() {
    use gomon_testrig::{AppKind, GoApp};
    let app = GoApp::start(
        AppKind::Leaking,
        &["-ballast-mb", "1024", "-garbage-kb", "1100"],
    );
    let dir = temp_dir("analyze-late-leak");
    let runs: Vec<(&str, PathBuf, std::process::Child)> = ["1s", "10s"]
        .into_iter()
        .map(|period| {
            let store = dir.join(format!("file-{period}"));
            let config = dir.join(format!("gomon-{period}.yml"));
            std::fs::write(
                &config,
                format!(
                    "modules:\n- module: golang\n  metricsets: [heap]\n  period: {period}\n  hosts: [{:?}]\nhttp.enabled: false\noutput.file.path: {:?}\n",
                    app.addr(),
                    store.display().to_string()
                ),
            )
            .unwrap();
            let child = gomon()
                .args(["run", "--duration", "250s", "-c"])
                .arg(&config)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (period, store, child)
        })
        .collect();
    let mut stores = Vec::new();
    for (period, store, child) in runs {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{period}: {}", text(&out).1);
        stores.push((period, store));
    }
    let vars = gomon_testrig::http::json("GET", &app.vars_url(), None);
    let gc_cycles = vars["memstats"]["NumGC"].as_u64().unwrap();
    drop(app);
    assert!(
        (3..=5).contains(&gc_cycles),
        "collections more than a minute apart: {gc_cycles} in about 250 s"
    );

    for (period, store) in stores {
        let analyze = |args: &[&str], data: &Path| {
            let out = gomon()
                .args(["analyze", "--json"])
                .args(args)
                .arg("--data")
                .arg(data)
                .output()
                .unwrap();
            let (stdout, stderr) = text(&out);
            assert!(out.status.success(), "{period}: {stderr}");
            stdout
        };
        let from_file = analyze(&[], &store);
        let verdicts = verdicts_of(&from_file);
        assert_eq!(verdicts.len(), 1, "{period}: {from_file}");
        assert_eq!(verdicts[0].1, ["leak"], "{period}: {from_file}");
        let figures = figures_of(&from_file);
        let growth = figures.values().next().unwrap()[2];
        assert!(
            (1500.0..=3200.0).contains(&growth),
            "{period}: growth {growth} MB/h, true rate 2359 MB/h: {from_file}"
        );

        eprintln!("every {period}: {gc_cycles} collections in 250 s, growth {growth:.1} MB/h");
        let embedded = dir.join(format!("embedded-{period}"));
        let import = gomon()
            .args(["import", "--data"])
            .arg(&embedded)
            .arg(&store)
            .output()
            .unwrap();
        assert!(import.status.success(), "{}", text(&import).1);
        let from_embedded = analyze(&[], &embedded);
        assert_eq!(
            verdicts_of(&from_embedded),
            verdicts,
            "{period}: {from_embedded}"
        );
        assert_same_figures("embedded store", &from_embedded, &figures);

        let docs: Vec<Value> = std::fs::read_dir(&store)
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|f| f.to_string_lossy().contains(".ndjson"))
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect::<String>()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let note = format!(
            "{} heap documents of a real Go program leaking past 1 GiB, polled every {period}: leak, the file store's figures",
            docs.len()
        );
        for (kind, stdout) in analyze_on_every_engine(
            "analyze-late-leak",
            &docs,
            "analyze::late_real_leak_in_every_store",
            &note,
        ) {
            assert_eq!(verdicts_of(&stdout), verdicts, "{kind} {period}: {stdout}");
            assert_same_figures(&kind, &stdout, &figures);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Three half-hour processes of a version, polled every 10 s.
fn version_docs(label: &str, churn: f64, seed: u64) -> Vec<Value> {
    let program = sim::program(|_| 40e6, churn);
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

#[test]
fn fail_on_regression_fails_ci_for_a_version_that_allocates_thirty_percent_more() {
    let mut docs = version_docs("1.0", 10e6, 1);
    docs.extend(version_docs("1.1", 13e6, 2));
    docs.extend(version_docs("1.0.1", 10e6, 3));
    let store = store_of("analyze-regression", &docs);
    let run = |baseline: &str| {
        gomon()
            .args([
                "analyze",
                "--compare-by",
                "cmdline",
                "--baseline",
                baseline,
                "--fail-on",
                "regression",
                "--data",
            ])
            .arg(&store)
            .output()
            .unwrap()
    };
    let out = run("./app -version 1.0");
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains("./app -version 1.1 worse than ./app -version 1.0 on allocation rate"),
        "{stderr}"
    );
    assert!(!stderr.contains("1.0.1 worse"), "{stderr}");
    assert!(stdout.contains("allocation rate worse +"), "{stdout}");
    // The faster-allocating version as the baseline: nothing is worse.
    let reversed = run("./app -version 1.1");
    assert!(reversed.status.success(), "{}", text(&reversed).1);
    assert!(
        text(&reversed).0.contains("allocation rate better"),
        "{}",
        text(&reversed).0
    );
}

/// Releases compared on real Go programs: the steady example app run as
/// three versions at once, 1.0.0 as it is, 1.1.0 allocating 30 % more per
/// unit of work (short-lived garbage), 1.2.0 with a small leak (50 KB/s);
/// gomon monitors them for 70 s, then `analyze --compare-by
/// expvar:app.version --baseline 1.0.0 --fail-on regression` says which
/// measure each got worse on, and fails the CI step.
#[test]
fn releases_of_a_real_go_program_are_compared_with_a_verdict_per_measure() {
    use gomon_testrig::{AppKind, GoApp};
    let apps = [
        GoApp::start(AppKind::Steady, &["-version", "1.0.0"]),
        GoApp::start(
            AppKind::Steady,
            &["-version", "1.1.0", "-extra-alloc-pct", "30"],
        ),
        GoApp::start(
            AppKind::Steady,
            &["-version", "1.2.0", "-leak-bytes", "5000"],
        ),
    ];
    let dir = temp_dir("analyze-releases");
    let data = dir.join("data");
    let hosts: Vec<String> = apps.iter().map(|a| format!("{:?}", a.addr())).collect();
    let config = dir.join("gomon.yml");
    std::fs::write(
        &config,
        format!(
            "modules:\n- module: golang\n  metricsets: [heap, expvar]\n  period: 1s\n  hosts: [{}]\n  expvar.namespace: example\nhttp.enabled: false\noutput.store.path: {:?}\n",
            hosts.join(", "),
            data.display().to_string()
        ),
    )
    .unwrap();
    let run = gomon()
        .args(["run", "--duration", "70s", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run).1);
    drop(apps);

    let out = gomon()
        .args([
            "analyze",
            "--json",
            "--compare-by",
            "expvar:app.version",
            "--baseline",
            "1.0.0",
            "--fail-on",
            "regression",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "a regression fails the step: {stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let differences = report["comparison"]["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let change = |label: &str, measure: &str| -> String {
        differences
            .iter()
            .filter(|d| d["label"] == label)
            .flat_map(|d| d["changes"].as_array().cloned().unwrap_or_default())
            .find(|c| c["measure"] == measure)
            .and_then(|c| c["change"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "missing".to_owned())
    };
    assert_eq!(change("1.1.0", "allocation rate"), "worse", "{stdout}");
    assert_ne!(change("1.1.0", "growth"), "worse", "{stdout}");
    assert_eq!(change("1.2.0", "growth"), "worse", "{stdout}");
    assert_ne!(change("1.2.0", "allocation rate"), "worse", "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
