//! The `gomon` binary end to end, on the real example Go apps and the real
//! servers of the test rig.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use gomon_agent::store::read_store;
use gomon_testrig::{AppKind, GoApp, engines};
use serde_json::Value;
use support::{gomon, temp_dir, text};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn the_articles_config_checks_and_its_malformed_snippet_is_refused_with_line_and_column() {
    let ok = gomon()
        .args(["test", "config", "-c"])
        .arg(repo("examples/configs/metricbeat.yml"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&ok);
    assert!(ok.status.success(), "{stderr}");
    assert!(stdout.contains("\"namespace\": \"metricbeat\""), "{stdout}");

    let bad = gomon()
        .args(["test", "config", "-c"])
        .arg(repo(
            "crates/agent/tests/fixtures/article-first-snippet.yml",
        ))
        .output()
        .unwrap();
    let (_, stderr) = text(&bad);
    assert!(!bad.status.success());
    assert!(stderr.contains("line 3 column"), "{stderr}");
}

#[test]
fn demo_builds_monitors_and_stops_the_example_apps() {
    use std::io::{BufRead, BufReader};
    let data = temp_dir("demo");
    let mut child = gomon()
        .args(["demo", "--duration", "6s", "--data"])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    // While it runs, the demo's charts are served on loopback.
    let url = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("no live charts line: {seen:?}"))
            .unwrap();
        seen.push(line.clone());
        if let Some(rest) = line.strip_prefix("gomon demo: charts live at ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let started = std::time::Instant::now();
    let listed = loop {
        let targets = gomon_testrig::http::json("GET", &format!("{url}api/targets"), None);
        let n = targets["targets"].as_array().map_or(0, Vec::len);
        if n == 6 || started.elapsed() > std::time::Duration::from_secs(5) {
            break n;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(listed, 6, "the six example apps in the live view");
    seen.extend(lines.map_while(Result::ok));
    let output = child.wait_with_output().unwrap();
    let stdout = seen.join("\n");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for app in [
        "steady",
        "leaking",
        "gcheavy",
        "cache",
        "churnleak",
        "goroutineleak",
    ] {
        assert!(
            stdout.contains(&format!("  {app:<13} heap")),
            "summary of {app}: {stdout}"
        );
        // Four seconds are too few for a verdict, and the demo says so.
        assert!(
            stdout.contains(&format!("  {app:<13} insufficient-data")),
            "verdict of {app}: {stdout}"
        );
    }
    assert!(stdout.contains("the example apps are stopped"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "gomon view --data {}",
            data.join("store").display()
        )),
        "the demo names the command that charts its data: {stdout}"
    );
    let reader = gomon_store::Reader::open(&data.join("store/gomon.db")).unwrap();
    let docs = reader
        .documents(None, gomon_store::TimeRange::all())
        .unwrap();
    let heap = docs
        .iter()
        .filter(|d| d["metricset"]["name"] == "heap")
        .count();
    let expvar = docs
        .iter()
        .filter(|d| d["metricset"]["name"] == "expvar")
        .count();
    assert!(
        heap >= 6 && expvar >= 6,
        "{heap} heap, {expvar} expvar documents"
    );
    // Nothing of the demo is left running.
    let bin = data.join("bin");
    let ps = Command::new("pgrep")
        .arg("-f")
        .arg(bin.to_string_lossy().as_ref())
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
    std::fs::remove_dir_all(&data).unwrap();
}

fn write_config(dir: &Path, hosts: &[&str], output: &str) -> PathBuf {
    let hosts: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
    let yaml = format!(
        "metricbeat.modules:\n- module: golang\n  metricsets: [\"heap\", \"expvar\"]\n  period: 500ms\n  hosts: [{}]\n  heap.path: \"/debug/vars\"\n  expvar:\n    namespace: \"example\"\n    path: \"/debug/vars\"\n{output}\nhttp:\n  port: 0\n",
        hosts.join(", ")
    );
    let path = dir.join("gomon.yml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn run_into_the_file_store_fetches_each_target_once_per_period_for_both_metric_sets() {
    let dir = temp_dir("run-file");
    let apps: Vec<GoApp> = [AppKind::Steady, AppKind::Leaking]
        .into_iter()
        .map(|k| GoApp::start(k, &[]))
        .collect();
    let hosts: Vec<&str> = apps.iter().map(GoApp::addr).collect();
    let store = dir.join("store");
    let config = write_config(
        &dir,
        &hosts,
        &format!("output.file:\n  path: \"{}\"\n", store.display()),
    );
    let output = gomon()
        .args(["run", "--duration", "3s", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");

    let (docs, _) = read_store(&store, "gomon").unwrap();
    for app in &apps {
        let of_app: Vec<&Value> = docs
            .iter()
            .filter(|d| d["service"]["address"] == app.vars_url().as_str())
            .collect();
        let heap: Vec<&&Value> = of_app
            .iter()
            .filter(|d| d["metricset"]["name"] == "heap")
            .collect();
        let expvar: Vec<&&Value> = of_app
            .iter()
            .filter(|d| d["metricset"]["name"] == "expvar")
            .collect();
        assert!(
            heap.len() >= 4,
            "{}: {} heap documents",
            app.kind(),
            heap.len()
        );
        assert_eq!(heap.len(), expvar.len(), "{}", app.kind());
        // One HTTP request per tick feeds both metric sets: the app counts them.
        let last = expvar.last().unwrap();
        let requests = last["golang"]["example"]["debug_vars.requests"]
            .as_u64()
            .unwrap();
        assert!(
            requests as usize <= heap.len(),
            "{}: {requests} requests for {} ticks",
            app.kind(),
            heap.len()
        );
        // Metricbeat's metadata.
        let doc = heap.last().unwrap();
        assert_eq!(doc["event"]["module"], "golang");
        assert_eq!(doc["event"]["dataset"], "golang.heap");
        assert_eq!(doc["metricset"]["period"], 500);
        assert_eq!(doc["service"]["type"], "golang");
        assert!(doc["host"]["name"].is_string() && doc["agent"]["version"].is_string());
        for field in ["name", "hostname", "id", "ephemeral_id", "type"] {
            assert!(doc["agent"][field].is_string(), "agent.{field}: {doc}");
        }
        assert!(
            doc["golang"]["heap"]["gc"]["pause"]["count"].is_u64(),
            "interval fields after the first fetch"
        );
        assert_eq!(expvar[0]["event"]["dataset"], "golang.example");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_target_that_is_down_gets_error_documents_while_the_others_continue() {
    let dir = temp_dir("run-down");
    let app = GoApp::start(AppKind::Steady, &[]);
    let (down, down_url) = {
        let gone = GoApp::start(AppKind::Steady, &[]);
        (gone.addr().to_owned(), gone.vars_url())
    };
    let store = dir.join("store");
    let config = write_config(
        &dir,
        &[app.addr(), &down],
        &format!("output.file:\n  path: \"{}\"\n", store.display()),
    );
    let output = gomon()
        .args(["run", "--duration", "2s", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    let (docs, _) = read_store(&store, "gomon").unwrap();
    let errors: Vec<&Value> = docs
        .iter()
        .filter(|d| d["service"]["address"] == down_url.as_str())
        .collect();
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|d| d["error"]["message"].as_str().unwrap().contains(&down))
    );
    let good = docs
        .iter()
        .filter(|d| d["service"]["address"] == app.vars_url().as_str() && d["error"].is_null())
        .count();
    assert!(good >= 4, "{good} documents of the healthy target");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gomon_monitors_itself_through_its_own_debug_vars() {
    let dir = temp_dir("self");
    let app = GoApp::start(AppKind::Steady, &[]);
    let config = write_config(&dir, &[app.addr()], "output.console: {}\n");
    let mut child = gomon()
        .args(["run", "--duration", "4s", "-c"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let banner = lines.next().unwrap().unwrap();
    let url = banner
        .split("own metrics at ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no self-monitoring address in {banner:?}"))
        .to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let once = gomon()
        .args(["once", &url, "--namespace", "gomon"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&once);
    assert!(once.status.success(), "{stderr}");
    let doc: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(doc["event"]["dataset"], "golang.gomon");
    let fetches = &doc["golang"]["gomon"][format!("fetches.{}/debug/vars.success", app.addr())];
    assert!(fetches.as_u64().unwrap() >= 1, "{doc}");
    assert!(
        doc["golang"]["gomon"]["process.rss.bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    let status = child.wait().unwrap();
    assert!(status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_into_elasticsearch_and_opensearch_writes_documents_with_metricbeat_fields() {
    let app = GoApp::start(AppKind::Leaking, &[]);
    for engine in engines() {
        let dir = temp_dir(&format!("run-{}", engine.kind));
        let index = format!("gomon-cli-{}", std::process::id());
        let config = write_config(
            &dir,
            &[app.addr()],
            &format!(
                "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"{index}\"\n",
                engine.url
            ),
        );
        let output = gomon()
            .args(["run", "--duration", "3s", "--data"])
            .arg(&dir)
            .arg("-c")
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{:?}: {}",
            engine.kind,
            text(&output).1
        );

        let search = |body: &str| -> Value {
            let out = Command::new("curl")
                .args(["-s", "-H", "content-type: application/json", "-d", body])
                .arg(format!("{}/{index}*/_search", engine.url))
                .output()
                .unwrap();
            serde_json::from_slice(&out.stdout).unwrap()
        };
        let _ = Command::new("curl")
            .args(["-s", "-XPOST"])
            .arg(format!("{}/{index}*/_refresh", engine.url))
            .output();
        let heap = search(r#"{"query":{"term":{"metricset.name":"heap"}},"size":100}"#);
        let hits = heap["hits"]["hits"].as_array().unwrap();
        assert!(hits.len() >= 4, "{:?}: {heap}", engine.kind);
        assert!(
            hits.iter()
                .all(|h| h["_source"]["golang"]["heap"]["allocations"]["allocated"].is_u64())
        );
        let acked = search(
            r#"{"size":0,"aggs":{"m":{"max":{"field":"golang.example.output.events.acked"}}}}"#,
        );
        assert!(
            acked["aggregations"]["m"]["value"].as_f64().unwrap() > 0.0,
            "{acked}"
        );
        // The template gomon installed typed the expvar counter as double.
        let mapping = Command::new("curl")
            .arg("-s")
            .arg(format!(
                "{}/{index}*/_mapping/field/golang.example.output.events.acked",
                engine.url
            ))
            .output()
            .unwrap();
        let mapping = String::from_utf8_lossy(&mapping.stdout).into_owned();
        assert!(
            mapping.contains("\"type\":\"double\""),
            "{:?}: {mapping}",
            engine.kind
        );
        for path in [format!("_data_stream/{index}"), format!("{index}*")] {
            let _ = Command::new("curl")
                .args(["-s", "-XDELETE"])
                .arg(format!("{}/{path}", engine.url))
                .output();
        }
        let _ = Command::new("curl")
            .args(["-s", "-XDELETE"])
            .arg(format!("{}/_index_template/{index}", engine.url))
            .output();
        engine.record(
            "cli::run_into_elasticsearch",
            &format!("{} heap documents from gomon run", hits.len()),
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn analyze_calls_a_live_leak_a_leak_and_fails_the_pipeline_on_it() {
    let dir = temp_dir("analyze");
    let leaking = GoApp::start(AppKind::Leaking, &[]);
    let steady = GoApp::start(AppKind::Steady, &[]);
    let store = dir.join("store");
    let config = write_config(
        &dir,
        &[leaking.addr(), steady.addr()],
        &format!("output.file:\n  path: \"{}\"\n", store.display()),
    );
    let run = gomon()
        .args(["run", "--duration", "25s", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run).1);

    let out = gomon()
        .args([
            "analyze",
            "--min-span",
            "15s",
            "--fail-on",
            "leak",
            "--json",
            "--data",
        ])
        .arg(&store)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "--fail-on leak must fail: {stdout}");
    assert!(stderr.contains(&leaking.vars_url()), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let verdict = |addr: &str| {
        report["analyses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["target"] == addr)
            .map(|a| a["verdict"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(verdict(&leaking.vars_url()), "leak", "{stdout}");
    assert_eq!(verdict(&steady.vars_url()), "steady", "{stdout}");

    // Without --fail-on the table is printed and the status is 0.
    let table = gomon()
        .args(["analyze", "--min-span", "15s", "--data"])
        .arg(&store)
        .output()
        .unwrap();
    let (stdout, _) = text(&table);
    assert!(table.status.success());
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&leaking.vars_url()) && l.contains("leak")),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn setup_installs_the_template_once_and_test_output_reports_the_server() {
    for engine in engines() {
        let dir = temp_dir(&format!("setup-{}", engine.kind));
        let index = format!("gomon-setup-{}", std::process::id());
        let config = write_config(
            &dir,
            &["127.0.0.1:1"],
            &format!(
                "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"{index}\"\n",
                engine.url
            ),
        );
        let first = gomon().args(["setup", "-c"]).arg(&config).output().unwrap();
        let (stdout, stderr) = text(&first);
        assert!(first.status.success(), "{stderr}");
        assert!(stdout.contains("Installed"), "{stdout}");
        let again = gomon().args(["setup", "-c"]).arg(&config).output().unwrap();
        assert!(
            text(&again).0.contains("AlreadyCurrent"),
            "{}",
            text(&again).0
        );

        let test = gomon()
            .args(["test", "output", "-c"])
            .arg(&config)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&test);
        assert!(test.status.success(), "{stderr}");
        let kind = match engine.kind {
            gomon_testrig::EngineKind::Elasticsearch => "Elasticsearch",
            gomon_testrig::EngineKind::OpenSearch => "OpenSearch",
        };
        assert!(stdout.contains(kind), "{stdout}");
        let _ = Command::new("curl")
            .args(["-s", "-XDELETE"])
            .arg(format!("{}/_index_template/{index}", engine.url))
            .output();
        engine.record(
            "cli::setup",
            "template installed once, then already current",
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The recorded four-minute run of the five example apps.
fn recorded_run() -> Vec<Value> {
    let text = std::fs::read_to_string(repo("crates/analyze/tests/fixtures/five-apps-240s.ndjson"))
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verdicts(report: &str) -> Vec<(String, String)> {
    let report: Value = serde_json::from_str(report).unwrap();
    let mut out: Vec<(String, String)> = report["analyses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["target"].as_str().unwrap().to_owned(),
                a["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn import_loads_ndjson_into_the_store_and_analyze_reads_the_same_verdicts_there() {
    let dir = temp_dir("import");
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::copy(
        repo("crates/analyze/tests/fixtures/five-apps-240s.ndjson"),
        files.join("gomon.ndjson"),
    )
    .unwrap();
    let from_file = gomon()
        .args(["analyze", "--json", "--data"])
        .arg(&files)
        .output()
        .unwrap();
    assert!(from_file.status.success(), "{}", text(&from_file).1);
    let expected = verdicts(&text(&from_file).0);
    assert_eq!(expected.len(), 5);

    let data = dir.join("data");
    let import = |args: &[&str]| {
        gomon()
            .arg("import")
            .args(args)
            .arg("--data")
            .arg(&data)
            .arg(&files)
            .output()
            .unwrap()
    };
    let first = import(&[]);
    let (stdout, stderr) = text(&first);
    assert!(first.status.success(), "{stdout}\n{stderr}");
    let heap = recorded_run()
        .iter()
        .filter(|d| d["metricset"]["name"] == "heap")
        .count();
    assert!(
        stdout.contains(&format!("imported {heap} heap and")),
        "{stdout}"
    );
    assert!(data.join("gomon.db").is_file());
    // Twice: still one row per document.
    assert!(import(&[]).status.success());
    let reader = gomon_store::Reader::open(&data.join("gomon.db")).unwrap();
    let stored = reader
        .documents(None, gomon_store::TimeRange::all())
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .filter(|d| d["metricset"]["name"] == "heap")
            .count(),
        heap
    );
    let from_store = gomon()
        .args(["analyze", "--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(from_store.status.success(), "{}", text(&from_store).1);
    assert_eq!(verdicts(&text(&from_store).0), expected);

    // A file that is not NDJSON: reported by line, nothing else lost.
    let junk = dir.join("junk.ndjson");
    std::fs::write(&junk, "{\"a\": 1}\nnot json\n").unwrap();
    let bad = gomon()
        .args(["import", "--data"])
        .arg(&data)
        .arg(&junk)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&bad);
    assert!(bad.status.success(), "{stderr}");
    assert!(stderr.contains("junk.ndjson:2: not JSON"), "{stderr}");
    assert!(stdout.contains("2 lines skipped"), "{stdout}");
    let missing = gomon()
        .args(["import", "--data"])
        .arg(&data)
        .arg(dir.join("nope"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(text(&missing).1.contains("nope"), "{}", text(&missing).1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn analyze_gives_the_same_verdicts_from_the_file_store_and_from_both_engines() {
    let docs = recorded_run();
    let dir = temp_dir("analyze-es");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::copy(
        repo("crates/analyze/tests/fixtures/five-apps-240s.ndjson"),
        store.join("gomon.ndjson"),
    )
    .unwrap();
    let from_file = gomon()
        .args(["analyze", "--json", "--data"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(from_file.status.success(), "{}", text(&from_file).1);
    let expected = verdicts(&text(&from_file).0);
    assert_eq!(expected.len(), 5);

    for engine in engines() {
        let index = format!("gomon-history-{}", std::process::id());
        let config = write_config(
            &dir,
            &["127.0.0.1:1"],
            &format!(
                "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"{index}\"\n",
                engine.url
            ),
        );
        // Store the recorded documents the way `gomon run` does.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let es = gomon_agent::config::Config::load(&config)
                .unwrap()
                .output
                .elasticsearch
                .unwrap();
            let sink_config = gomon_agent::output::sink_config(&es, &dir).unwrap();
            let cluster = gomon_sink::Cluster::with_config(&sink_config).unwrap();
            let (naming, _) = cluster
                .set_up(&gomon_agent::output::template_for(&index), false)
                .await
                .unwrap();
            let sink = gomon_sink::BulkSink::start(sink_config).unwrap();
            for doc in &docs {
                let target = match naming {
                    gomon_sink::TargetNaming::DataStream => index.clone(),
                    gomon_sink::TargetNaming::DatedIndices => format!("{index}-2026.11.25"),
                };
                let bytes = serde_json::to_vec(doc).unwrap();
                let id = gomon_agent::output::document_id(doc);
                sink.send(gomon_sink::Document::create(target, bytes).with_id(id))
                    .await
                    .unwrap();
            }
            let report = sink.shutdown(std::time::Duration::from_secs(30)).await;
            assert_eq!(report.lost, 0);
            assert_eq!(
                report.metrics.events_acked,
                docs.len() as u64,
                "{:?}",
                report.metrics
            );
        });
        let _ = Command::new("curl")
            .args(["-s", "-XPOST"])
            .arg(format!("{}/{index}*/_refresh", engine.url))
            .output();

        let from_es = gomon()
            .args(["analyze", "--json", "-c"])
            .arg(&config)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&from_es);
        assert!(from_es.status.success(), "{:?}: {stderr}", engine.kind);
        assert!(
            stderr.contains(&format!(
                "read the heap history of 5 of 5 targets from {index}*"
            )),
            "{stderr}"
        );
        assert_eq!(verdicts(&stdout), expected, "{:?}", engine.kind);

        // Versions compared from the aggregated labels, as from the file store.
        let by_version = gomon()
            .args([
                "analyze",
                "--json",
                "--compare-by",
                "expvar:app.version",
                "-c",
            ])
            .arg(&config)
            .output()
            .unwrap();
        let report: Value = serde_json::from_str(&text(&by_version).0).unwrap();
        let groups: Vec<(&str, u64)> = report["comparison"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["label"].as_str().unwrap(),
                    g["lifetimes"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            groups,
            vec![("1.0.0", 4), ("2.0.0", 1)],
            "{:?}",
            engine.kind
        );

        for path in [
            format!("_data_stream/{index}"),
            format!("{index}*"),
            format!("_index_template/{index}"),
        ] {
            let _ = Command::new("curl")
                .args(["-s", "-XDELETE"])
                .arg(format!("{}/{path}", engine.url))
                .output();
        }
        engine.record(
            "cli::analyze_from_elasticsearch",
            "2400 recorded documents, same 5 verdicts as the file store",
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn with_a_disk_queue_documents_survive_an_outage_and_arrive_at_the_next_run() {
    let app = GoApp::start(AppKind::Steady, &[]);
    for engine in engines() {
        let dir = temp_dir(&format!("disk-queue-{}", engine.kind));
        let index = format!("gomon-queue-{}", std::process::id());
        let queue = dir.join("queue");
        let config_for = |host: &str, name: &str| {
            let sub = dir.join(name);
            std::fs::create_dir_all(&sub).unwrap();
            write_config(
                &sub,
                &[app.addr()],
                &format!(
                    "output.elasticsearch:\n  hosts: [\"{host}\"]\n  index: \"{index}\"\nqueue.disk.path: \"{}\"\n",
                    queue.display()
                ),
            )
        };
        // Run 1: the output is down (nothing listens on port 1).
        let down = gomon()
            .args(["run", "--duration", "3s", "--data"])
            .arg(&dir)
            .arg("-c")
            .arg(config_for("http://127.0.0.1:1", "down"))
            .output()
            .unwrap();
        let (_, stderr) = text(&down);
        assert!(down.status.success(), "{stderr}");
        let kept: u64 = stderr
            .split(" kept in the disk buffer")
            .next()
            .and_then(|head| head.rsplit(", ").next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no disk buffer count in {stderr}"));
        assert!(kept >= 8, "{kept} documents kept: {stderr}");

        // Run 2: the output is back; the buffered documents go first.
        let up = gomon()
            .args(["run", "--duration", "2s", "--data"])
            .arg(&dir)
            .arg("-c")
            .arg(config_for(&engine.url, "up"))
            .output()
            .unwrap();
        assert!(up.status.success(), "{}", text(&up).1);
        let _ = Command::new("curl")
            .args(["-s", "-XPOST"])
            .arg(format!("{}/{index}*/_refresh", engine.url))
            .output();
        let count = Command::new("curl")
            .arg("-s")
            .arg(format!("{}/{index}*/_count", engine.url))
            .output()
            .unwrap();
        let count: Value = serde_json::from_slice(&count.stdout).unwrap();
        let total = count["count"].as_u64().unwrap();
        assert!(
            total >= kept + 2,
            "{:?}: {total} documents, {kept} from the outage",
            engine.kind
        );
        for path in [
            format!("_data_stream/{index}"),
            format!("{index}*"),
            format!("_index_template/{index}"),
        ] {
            let _ = Command::new("curl")
                .args(["-s", "-XDELETE"])
                .arg(format!("{}/{path}", engine.url))
                .output();
        }
        engine.record(
            "cli::disk_queue",
            &format!("{kept} documents kept through an outage, {total} in the index after"),
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn targets_that_differ_only_by_path_are_told_apart_and_analyze_takes_either_form() {
    let dir = temp_dir("paths");
    let app = GoApp::start(AppKind::Steady, &[]);
    let health_url = format!("http://{}/healthz", app.addr());
    let store = dir.join("store");
    // Two modules on one host:port: /debug/vars, and the app's /healthz
    // (a JSON object, read by the expvar metric set).
    let yaml = format!(
        "metricbeat.modules:\n\
         - module: golang\n  metricsets: [heap, expvar]\n  period: 500ms\n  hosts: [\"{addr}\"]\n  expvar.namespace: example\n\
         - module: golang\n  metricsets: [expvar]\n  period: 500ms\n  hosts: [\"{health_url}\"]\n  expvar.namespace: health\n\
         output.file:\n  path: \"{store}\"\nhttp:\n  enabled: false\n",
        addr = app.addr(),
        store = store.display()
    );
    let config = dir.join("gomon.yml");
    std::fs::write(&config, yaml).unwrap();
    let run = gomon()
        .args(["run", "--duration", "3s", "--data"])
        .arg(dir.join("data"))
        .arg("-c")
        .arg(&config)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run).1);
    let (docs, _) = read_store(&store, "gomon").unwrap();
    let at = |url: &str| -> Vec<&Value> {
        docs.iter()
            .filter(|d| d["service"]["address"] == url)
            .collect()
    };
    let vars = at(&app.vars_url());
    let health = at(&health_url);
    assert!(
        vars.len() >= 4,
        "{} documents of {}",
        vars.len(),
        app.vars_url()
    );
    assert!(
        health.len() >= 2,
        "{} documents of {health_url}",
        health.len()
    );
    assert!(
        health
            .iter()
            .all(|d| d["golang"]["health"]["status"] == "ok"),
        "{health:?}"
    );
    assert!(vars.iter().all(|d| d["golang"]["health"].is_null()));
    // Their Elasticsearch ids differ even for the same metric set and time.
    let same_time = |d: &Value| {
        let mut d = d.clone();
        d["@timestamp"] = "2026-01-01T00:00:00.000Z".into();
        gomon_agent::output::document_id(&d)
    };
    let expvar_of_vars = vars
        .iter()
        .find(|d| d["metricset"]["name"] == "expvar")
        .unwrap();
    assert_ne!(same_time(expvar_of_vars), same_time(health[0]));
    // One agent id for every document of the run.
    let ids: std::collections::BTreeSet<&str> = docs
        .iter()
        .map(|d| d["agent"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");

    // `analyze --target`: host:port (every path there) or the full URL.
    for filter in [app.addr().to_owned(), app.vars_url()] {
        let out = gomon()
            .args([
                "analyze",
                "--json",
                "--min-span",
                "1s",
                "--target",
                &filter,
                "--data",
            ])
            .arg(&store)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "--target {filter}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let targets: Vec<&str> = report["analyses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["target"].as_str().unwrap())
            .collect();
        assert_eq!(targets, [app.vars_url().as_str()], "--target {filter}");
    }
    let none = gomon()
        .args(["analyze", "--json", "--target", &health_url, "--data"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(!none.status.success(), "no heap documents at {health_url}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn analyze_target_filters_still_match_documents_stored_with_host_port_addresses() {
    let dir = temp_dir("legacy-target");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::copy(
        repo("crates/analyze/tests/fixtures/five-apps-240s.ndjson"),
        store.join("gomon.ndjson"),
    )
    .unwrap();
    for filter in ["leaking:6060", "http://leaking:6060/debug/vars"] {
        let out = gomon()
            .args(["analyze", "--json", "--target", filter, "--data"])
            .arg(&store)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "--target {filter}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let analyses = report["analyses"].as_array().unwrap();
        assert_eq!(analyses.len(), 1, "--target {filter}: {stdout}");
        assert_eq!(analyses[0]["target"], "leaking:6060");
        assert_eq!(analyses[0]["verdict"], "leak");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every entry under `dir` with its mode bits, folders first.
fn modes_under(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
        out.push((folder.clone(), true, mode));
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path(), false, meta.permissions().mode() & 0o777));
            }
        }
    }
    out
}

#[test]
fn data_folders_are_0700_and_data_files_0600_whatever_the_umask() {
    let dir = temp_dir("modes");
    let data = dir.join("data");
    let app = GoApp::start(AppKind::Steady, &[]);
    let engine = engines()
        .into_iter()
        .next()
        .expect("a server from the test rig");
    let index = format!("gomon-modes-{}", std::process::id());
    // With umask 022, files would be 0644 and folders 0755 unless gomon sets modes.
    let run = |config: &Path| {
        let out = Command::new("sh")
            .args(["-c", "umask 022; exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_gomon"))
            .args(["run", "--duration", "3s", "--data"])
            .arg(&data)
            .arg("-c")
            .arg(config)
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| !k.starts_with("GOMON_") || k == "GOMON_LOG"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
    };
    // The file store, rotated at every document, and the agent id.
    let file_dir = dir.join("file");
    std::fs::create_dir_all(&file_dir).unwrap();
    run(&write_config(
        &file_dir,
        &[app.addr()],
        &format!(
            "output.file:\n  path: \"{}\"\n  rotate_every_kb: 1\n  number_of_files: 3\n",
            data.join("store").display()
        ),
    ));
    // Elasticsearch with the disk queue; dead letters in the data folder.
    let es_dir = dir.join("es");
    std::fs::create_dir_all(&es_dir).unwrap();
    run(&write_config(
        &es_dir,
        &[app.addr()],
        &format!(
            "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"{index}\"\nqueue.disk.path: \"{}\"\n",
            engine.url,
            data.join("queue").display()
        ),
    ));
    let entries = modes_under(&data);
    let names: Vec<String> = entries
        .iter()
        .map(|(p, _, _)| p.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    for expected in [
        "agent-id",
        "store/gomon.ndjson",
        "store/gomon.ndjson.1",
        "dead-letters.ndjson",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("queue/") && n.ends_with(".segment")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("queue/") && n.ends_with(".acks")),
        "{names:?}"
    );
    for (path, is_dir, mode) in &entries {
        let wanted = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, wanted, "{} is {mode:o}", path.display());
    }
    for path in [
        format!("_data_stream/{index}"),
        format!("{index}*"),
        format!("_index_template/{index}"),
    ] {
        let _ = Command::new("curl")
            .args(["-s", "-XDELETE"])
            .arg(format!("{}/{path}", engine.url))
            .output();
    }
    engine.record(
        "cli::data_modes",
        &format!(
            "{} entries under the data folder, folders 0700, files 0600, umask 022",
            entries.len()
        ),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// How a run of the binary ended: status, stdout, stderr, wall time and
/// peak resident memory (VmHWM, polled every millisecond while it runs).
struct Measured {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: std::time::Duration,
    peak_kib: u64,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `cmd`, killing it after `hang_guard` (a test failure, not a measure).
fn measured(mut cmd: Command, hang_guard: std::time::Duration) -> Measured {
    use std::io::Read;
    use std::process::Stdio;
    let start = std::time::Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id();
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > hang_guard {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {hang_guard:?} (peak {peak_kib} KiB): {}",
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    Measured {
        status,
        elapsed: start.elapsed(),
        peak_kib,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[test]
fn hostile_config_files_end_at_once_with_a_clear_error_in_little_memory() {
    let dir = temp_dir("hostile-config");
    // "Billion laughs": ten levels of ten aliases, 10^10 nodes once expanded.
    let mut bomb = String::from(
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for (prev, name) in "abcdefghi".chars().zip("bcdefghij".chars()) {
        let aliases = vec![format!("*{prev}"); 10].join(", ");
        bomb.push_str(&format!("{name}: &{name} [{aliases}]\n"));
    }
    bomb.push_str(
        "modules:\n- module: golang\n  hosts: [\"localhost:6060\"]\n  expvar.include: [*j]\n",
    );
    assert!((512..=1024).contains(&bomb.len()), "{} bytes", bomb.len());
    std::fs::write(dir.join("bomb.yml"), &bomb).unwrap();
    // Deep block indentation, just under the 4 MiB cap: only the depth limit stops it.
    let mut deep = String::new();
    for level in 0.. {
        let line = format!("{}k:\n", " ".repeat(level));
        if deep.len() + line.len() > 4_000_000 {
            break;
        }
        deep.push_str(&line);
    }
    std::fs::write(dir.join("deep.yml"), &deep).unwrap();
    // 600,000 modules, about 40 MB.
    let mut many = String::from("modules:\n");
    for i in 0..600_000 {
        many.push_str(&format!(
            "- module: golang\n  hosts: [\"host-{i:06}:6060\"]\n  period: 10s\n  enabled: true\n"
        ));
    }
    assert!(many.len() > 40_000_000, "{} bytes", many.len());
    std::fs::write(dir.join("many.yml"), &many).unwrap();
    drop((deep, many));

    let cases: [(PathBuf, &str); 4] = [
        (
            dir.join("bomb.yml"),
            "more than 500000 YAML nodes (aliases counted as what they expand to) at line",
        ),
        (
            dir.join("deep.yml"),
            "nested deeper than 64 levels at line 65",
        ),
        (dir.join("many.yml"), "the file is too large: 4"),
        (
            PathBuf::from("/dev/zero"),
            "the file is too large: more than 4194304 bytes",
        ),
    ];
    for (file, expected) in &cases {
        for args in [&["test", "config"][..], &["run"][..]] {
            let mut cmd = gomon();
            cmd.args(args)
                .arg("-c")
                .arg(file)
                .arg("--data")
                .arg(dir.join("data"));
            if args == ["test", "config"] {
                cmd = gomon();
                cmd.args(args).arg("-c").arg(file);
            }
            let run = measured(cmd, std::time::Duration::from_secs(20));
            eprintln!(
                "gomon {} -c {}: {:?}, peak RSS {} KiB, {}",
                args.join(" "),
                file.display(),
                run.elapsed,
                run.peak_kib,
                run.stderr.trim()
            );
            assert_eq!(run.status.code(), Some(1), "{}\n{}", run.stdout, run.stderr);
            assert!(
                run.stderr.contains(expected),
                "expected {expected:?}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains(&file.display().to_string()),
                "{}",
                run.stderr
            );
            assert!(run.peak_kib < 100 * 1024, "peak RSS {} KiB", run.peak_kib);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_keys_fail_test_config_and_are_warned_once_by_run_which_goes_on() {
    let dir = temp_dir("unknown-keys");
    let config = dir.join("metricbeat.yml");
    std::fs::write(
        &config,
        format!(
            "metricbeat.modules:\n- module: system\n  metricsets: [cpu]\n  enabled: false\n- module: golang\n  hosts: [\"127.0.0.1:1\"]\n  period: 1s\n  perod: 5s\nprocessors:\n- add_host_metadata: ~\nsetup.dashboards.enabled: true\noutptu:\n  console: {{}}\noutput.file.path: \"{}\"\nhttp.port: 0\n",
            dir.join("store").display()
        ),
    )
    .unwrap();
    let check = gomon()
        .args(["test", "config", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&check);
    assert!(!check.status.success(), "{stderr}");
    for expected in [
        "gomon: error: metricbeat.modules[1].perod: unknown key; did you mean period?",
        "gomon: error: outptu: unknown key; did you mean output?",
        "gomon: note: ignored (Metricbeat settings gomon does not implement): processors, setup.dashboards",
        "gomon: note: skipped (gomon runs the golang module only): metricbeat.modules[0] (module: system)",
        "2 unknown keys",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
    assert!(!stderr.contains("config OK"), "{stderr}");
    assert!(stdout.contains("\"period\": \"1s\""), "{stdout}");

    let run = gomon()
        .args(["run", "--duration", "1500ms", "-c"])
        .arg(&config)
        .arg("--data")
        .arg(dir.join("data"))
        .output()
        .unwrap();
    let (_, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .matches("metricbeat.modules[1].perod: unknown key; did you mean period?")
            .count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("gomon: note: ignored").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("gomon: warning: outptu: unknown key"),
        "{stderr}"
    );
    assert!(stderr.contains("monitoring 127.0.0.1:1"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn test_config_refuses_the_output_settings_run_refuses() {
    let dir = temp_dir("check-like-run");
    for (name, extra, expected) in [
        (
            "verification.yml",
            "  ssl.verification_mode: none\n",
            "output.elasticsearch: ssl.verification_mode other than full is not supported",
        ),
        (
            "username.yml",
            "  username: elastic\n",
            "output.elasticsearch: username is set but password is not",
        ),
        (
            "ca.yml",
            "  ssl.certificate_authorities: /nonexistent/gomon-ca.pem\n",
            "/nonexistent/gomon-ca.pem",
        ),
    ] {
        let config = dir.join(name);
        std::fs::write(
            &config,
            format!("modules:\n- module: golang\n  hosts: [\"127.0.0.1:1\"]\noutput.elasticsearch:\n  hosts: [\"127.0.0.1:1\"]\n{extra}http.port: 0\n"),
        )
        .unwrap();
        for args in [
            &["test", "config", "-c"][..],
            &["run", "--duration", "1s", "-c"][..],
        ] {
            let out = gomon().args(args).arg(&config).output().unwrap();
            let (_, stderr) = text(&out);
            assert!(!out.status.success(), "{args:?} {name}: {stderr}");
            assert!(stderr.contains(expected), "{args:?} {name}: {stderr}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn environment_overrides_apply_without_a_config_file() {
    let dir = temp_dir("env-no-config");
    let store = dir.join("env-store");
    let run = gomon()
        .env("GOMON_HTTP__PORT", "0")
        .env("GOMON_OUTPUT__FILE__PATH", &store)
        .args(["run", "--duration", "1s", "--data"])
        .arg(dir.join("data"))
        .output()
        .unwrap();
    let (_, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    let banner = stderr
        .lines()
        .find(|l| l.contains("monitoring localhost:6060"))
        .unwrap_or_default();
    assert!(banner.contains(&store.display().to_string()), "{stderr}");
    assert!(
        banner.contains("/debug/vars") && !banner.contains(":5066/"),
        "{stderr}"
    );

    let run = gomon()
        .env("GOMON_HTTP__ENABLED", "false")
        .args(["run", "--duration", "1s", "--data"])
        .arg(dir.join("data"))
        .output()
        .unwrap();
    let (_, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    let banner = stderr
        .lines()
        .find(|l| l.contains("monitoring localhost:6060"))
        .unwrap_or_default();
    assert!(
        !banner.is_empty() && !banner.contains("own metrics"),
        "{stderr}"
    );

    let run = gomon()
        .env("GOMON_HTTP__PORT", "not-a-port")
        .args(["run", "--duration", "1s", "--data"])
        .arg(dir.join("data"))
        .output()
        .unwrap();
    let (_, stderr) = text(&run);
    assert!(!run.status.success(), "{stderr}");
    assert!(stderr.contains("http.port"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
