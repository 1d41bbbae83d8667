//! `gomon view` and `gomon run --view` as a person uses them: a store filled
//! by `gomon run` on the example Go apps (one of them leaking), the page
//! opened in a real headless Chromium (Debian's `chromium`, driven through
//! the DevTools protocol by tests/browser/drive.mjs), and the JSON API's
//! answers to bad input.
//!
//! The browser test needs `chromium` (tests/rig/browser.sh installs it;
//! GOMON_TEST_CHROMIUM names it) and `node` 20+. Without them it fails under
//! CI (GOMON_REQUIRE_SERVERS=1 or CI set) and says it skipped otherwise.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gomon_testrig::{AppKind, GoApp, repo_root, under_ci};
use serde_json::Value;
use support::{Running, free_port, temp_dir};

/// How long `gomon run` fills the store: past analyze's 60 s minimum span.
const FILL: Duration = Duration::from_secs(80);

/// The store `gomon run --view` filled, shared by the tests of this file.
struct Filled {
    data: PathBuf,
    /// What the page showed while the agent wrote (`drive.mjs --live`), when
    /// a browser was there.
    live: Option<Value>,
    leaking: String,
    steady: String,
    gcheavy: String,
}

/// Waits (up to 30 s) for `gomon: view on http://ADDR/` and returns the URL.
fn view_url(running: &mut Running) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let text = running.stderr();
        if let Some(at) = text.find("view on http://") {
            let rest = &text[at + "view on ".len()..];
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            return rest[..end].to_owned();
        }
        assert!(
            running.exited().is_none(),
            "gomon exited before serving the view: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("gomon did not print the view's URL: {}", running.stderr());
}

fn get(url: &str) -> (u16, Value) {
    let response =
        gomon_testrig::http::request("GET", url, None).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {}", response.body));
    (response.status, body)
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn target_of<'a>(targets: &'a Value, address: &str) -> &'a Value {
    targets["targets"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["address"] == address))
        .unwrap_or_else(|| panic!("{address} is not in {targets}"))
}

/// Runs `gomon run --view` on the leaking, steady and GC-heavy apps at 1 s
/// for [`FILL`], checking while it runs that the view follows the agent;
/// the GC-heavy app is restarted half-way.
fn filled() -> &'static Filled {
    static FILLED: OnceLock<Filled> = OnceLock::new();
    FILLED.get_or_init(|| {
        let dir = temp_dir("view-store");
        let data = dir.join("data");
        let mut apps: Vec<GoApp> = [AppKind::Leaking, AppKind::Steady, AppKind::GcHeavy]
            .into_iter()
            .map(|kind| GoApp::start(kind, &[]))
            .collect();
        let hosts: Vec<String> = apps.iter().map(|a| format!("{:?}", a.addr())).collect();
        let config = dir.join("gomon.yml");
        std::fs::write(
            &config,
            format!(
                "modules:\n  - module: golang\n    metricsets: [heap, expvar, profile]\n    period: 1s\n    hosts: [{}]\n    expvar.namespace: app\n    profile.period: 3s\nhttp.port: 0\n",
                hosts.join(", ")
            ),
        )
        .expect("write the config");
        let listen = format!("127.0.0.1:{}", free_port());
        let started = Instant::now();
        let mut run = Running::start(
            &[
                "run",
                "-c",
                &config.display().to_string(),
                "--data",
                &data.display().to_string(),
                "--view",
                "--listen",
                &listen,
            ],
            &[],
        );
        let url = view_url(&mut run);
        assert_eq!(url, format!("http://{listen}/"));
        let leaking = apps[0].vars_url();
        // While the agent writes, the view sees each target's latest row move.
        let mut seen = Vec::new();
        let mut restarted = false;
        let mut live = None;
        while started.elapsed() < FILL {
            if live.is_none() && started.elapsed() > Duration::from_secs(20) {
                // The page open while the agent writes follows the new rows.
                if let Some((chromium, node)) = browser() {
                    live = Some(drive(&chromium, &node, &url, &leaking, &["--live", "12"]));
                }
            }
            if !restarted && started.elapsed() > FILL / 2 {
                // The GC-heavy app restarts on the same address: a new process.
                let addr = apps[2].addr().to_owned();
                apps.pop();
                apps.push(GoApp::start(AppKind::GcHeavy, &["-addr", &addr]));
                restarted = true;
            }
            std::thread::sleep(Duration::from_secs(4));
            let (status, targets) = get(&format!("{url}api/targets"));
            assert_eq!(status, 200, "{targets}");
            if let Some(t) = targets["targets"]
                .as_array()
                .and_then(|all| all.iter().find(|t| t["address"] == leaking.as_str()))
            {
                assert_eq!(t["status"], "up", "{t}");
                seen.push(t["last_ms"].as_i64().unwrap_or(0));
            }
        }
        assert!(
            seen.len() >= 10 && seen.last() > seen.first().map(|f| f + 50_000).as_ref(),
            "the view did not follow the agent's writes: last_ms {seen:?}"
        );
        let (status, stderr) = run.terminate();
        assert!(status.success(), "gomon run --view failed: {stderr}");
        Filled {
            data,
            live,
            leaking,
            steady: apps[1].vars_url(),
            gcheavy: apps[2].vars_url(),
        }
    })
}

/// A tool the browser test needs: its path, or `None` (after saying so)
/// when it is missing outside CI.
fn tool(name: &str, env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{env}={} does not exist", path.display());
        return Some(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| candidates.iter().map(move |c| dir.join(c)))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !under_ci(),
            "{name} is missing: tests/rig/browser.sh installs it (or set {env})"
        );
        eprintln!("SKIPPED: {name} is missing (tests/rig/browser.sh installs it)");
    }
    found
}

/// Runs tests/browser/drive.mjs and returns its report.
fn drive(chromium: &Path, node: &Path, url: &str, target: &str, extra: &[&str]) -> Value {
    let script = repo_root().join("tests/browser/drive.mjs");
    let output = Command::new(node)
        .arg("--experimental-websocket")
        .arg(&script)
        .args(["--chromium", &chromium.display().to_string()])
        .args(["--url", url, "--target", target])
        .args(extra)
        .output()
        .expect("run node");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "drive.mjs failed: {}",
        stderr
            .lines()
            .filter(|l| !l.contains("dbus"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "drive.mjs printed no report ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn chart<'a>(charts: &'a Value, id: &str) -> &'a Value {
    charts
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no chart {id:?} in {charts}"))
}

/// Chromium and Node, or `None` (after saying so) outside CI.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = tool("chromium", "GOMON_TEST_CHROMIUM", &["chromium"])?;
    let node = tool("node", "GOMON_TEST_NODE", &["node"])?;
    Some((chromium, node))
}

#[test]
fn the_page_in_a_real_browser_draws_every_chart_and_shows_the_leak() {
    let Some((chromium, node)) = browser() else {
        return;
    };
    let filled = filled();
    // Opened while `gomon run --view` wrote, the page drew new rows by itself.
    let live = filled
        .live
        .as_ref()
        .expect("the page was opened while the agent wrote");
    assert!(
        live["live"]["after"].as_u64() > live["live"]["before"].as_u64().map(|b| b + 5),
        "the open page did not follow the agent: {live}"
    );
    assert_eq!(live["live"]["indicator"], "live", "{live}");
    assert_eq!(live["problems"], serde_json::json!([]), "{live}");
    let listen = format!("127.0.0.1:{}", free_port());
    let data = filled.data.display().to_string();
    let mut view = Running::start(&["view", "--data", &data, "--listen", &listen], &[]);
    let url = view_url(&mut view);

    // What the page must draw: the API's own answer for the same range.
    let (_, heap) = get(&format!(
        "{url}api/heap?target={}&from=now-1h&points=2000",
        enc(&filled.leaking)
    ));
    let rows = heap["ts"].as_array().map_or(0, Vec::len);
    // At least a minute of rows; a few more than FILL when a loop turn ran over.
    assert!(
        (60..=FILL.as_secs() as usize + 20).contains(&rows),
        "{rows} heap rows in about {} s at 1 s",
        FILL.as_secs()
    );
    let (_, requests) = get(&format!(
        "{url}api/expvar?target={}&field=app.requests&from=now-1h&points=2000",
        enc(&filled.leaking)
    ));
    assert_eq!(requests["kind"], "counter", "{requests}");

    let artifacts = repo_root().join("target/test-artifacts");
    let screenshot = artifacts.join("view-leaking.png");
    let phone = artifacts.join("view-leaking-phone.png");
    let _ = std::fs::remove_file(&screenshot);
    let report = drive(
        &chromium,
        &node,
        &url,
        &filled.leaking,
        &[
            "--field",
            "app.requests",
            "--screenshot",
            &screenshot.display().to_string(),
            "--phone-screenshot",
            &phone.display().to_string(),
            "--bench",
            "3",
            "--compare",
            &filled.steady,
            "--restart-target",
            &filled.gcheavy,
            "--restart-screenshot",
            &artifacts.join("view-restarted.png").display().to_string(),
        ],
    );

    assert_eq!(
        report["problems"],
        serde_json::json!([]),
        "console errors: {report}"
    );
    for address in [&filled.leaking, &filled.steady, &filled.gcheavy] {
        assert!(
            report["listed"]
                .as_array()
                .is_some_and(|l| l.iter().any(|a| a == address.as_str())),
            "{address} is not in the target list: {}",
            report["listed"]
        );
    }
    // Metricbeat's six overview panels (the heap summary is the row of
    // figures) plus the live heap with its trend and the pause percentiles.
    let expected = [
        ("live", 5),
        ("heap", 4),
        ("system", 4),
        ("objects", 2),
        ("gc", 2),
        ("pauses", 3),
        ("percentiles", 3),
    ];
    let charts = &report["charts"];
    assert_eq!(
        charts.as_array().map(Vec::len),
        Some(expected.len()),
        "{charts}"
    );
    for (id, series) in expected {
        let c = chart(charts, id);
        assert_eq!(c["series"], series, "{id}: {c}");
        assert_eq!(c["points"], rows, "{id}: {c}");
        assert_eq!(c["nonEmpty"], series, "{id}: a series drew nothing: {c}");
    }
    assert_eq!(report["verdict"], "leak", "{}", report["verdictText"]);
    let text = report["verdictText"].as_str().unwrap_or_default();
    assert!(text.contains("LEAK") && text.contains("MB/h"), "{text}");
    // Beside the verdict and above the live-heap chart: where it grows,
    // from the heap profiles of the profile metric set.
    let at = text
        .find("Where the heap grows")
        .unwrap_or_else(|| panic!("no heap sites on the page: {text}"));
    assert!(
        text[at..]
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains(&format!(
                "main.main.func1.1 leaking/main.go:{}",
                gomon_testrig::leaking_line()
            ))),
        "{text}"
    );
    let stats = report["stats"].to_string();
    for stat in [
        "System total",
        "Allocated min",
        "Allocated max",
        "GC limit",
        "GC cycles",
    ] {
        assert!(stats.contains(stat), "heap summary lacks {stat}: {stats}");
    }

    // The custom variable, a counter, drawn as a rate.
    assert!(
        report["fields"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "app.requests")),
        "{}",
        report["fields"]
    );
    let custom = &report["custom"];
    assert_eq!(custom["series"], 1, "{custom}");
    assert_eq!(
        custom["points"],
        requests["ts"].as_array().map_or(0, Vec::len)
    );
    assert!(
        report["customNote"]
            .as_str()
            .is_some_and(|n| n.contains("per second")),
        "{}",
        report["customNote"]
    );

    // Another target overlaid: each chart gets its series again, dashed.
    let compared = &report["compared"];
    assert_eq!(
        chart(&compared["charts"], "heap")["series"],
        8,
        "{compared}"
    );
    assert_eq!(
        chart(&compared["charts"], "live")["series"],
        9,
        "{compared}"
    );
    assert!(
        compared["hash"]
            .as_str()
            .is_some_and(|h| h.contains("cmp=")),
        "{compared}"
    );
    assert!(
        compared["legend"]
            .as_str()
            .is_some_and(|l| l.contains("steady")),
        "{compared}"
    );

    // The restarted app: its restart is marked on the time axis and counted.
    let restarted = &report["restarted"];
    assert_eq!(restarted["restarts"], 1, "{restarted}");
    assert_eq!(restarted["stat"], "Restarts: 1", "{restarted}");

    // The URL carries target, range and variables: reopened, it is the same view.
    let hash = report["hash"].as_str().unwrap_or_default();
    assert!(
        hash.contains("t=") && hash.contains("r=1h") && hash.contains("v=app.requests"),
        "{hash}"
    );
    assert_eq!(report["reopened"]["target"], filled.leaking.as_str());
    assert_eq!(
        chart(&report["reopened"]["charts"], "v:app.requests")["points"],
        custom["points"]
    );

    // Dragging across a chart zooms into that range, in the URL too.
    let zoom = &report["zoom"];
    let (from, to) = (
        zoom["from"].as_i64().unwrap_or(0),
        zoom["to"].as_i64().unwrap_or(0),
    );
    let first = heap["ts"][0].as_i64().unwrap_or(0);
    assert!(to > from && from >= first - 60_000, "{zoom}");
    assert!(
        zoom["hash"]
            .as_str()
            .is_some_and(|h| h.contains(&format!("from={from}")))
    );
    let zoomed = chart(&zoom["charts"], "heap")["points"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        zoomed > 5 && zoomed < rows as u64,
        "zoomed chart has {zoomed} of {rows} points"
    );

    // A phone: nothing wider than the screen.
    let phone_fit = &report["phone"];
    assert!(
        phone_fit["scrollWidth"].as_i64() <= phone_fit["width"].as_i64(),
        "{phone_fit}"
    );
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    eprintln!(
        "first chart drawn after {} ms (3 loads); screenshot {}",
        report["firstChartMs"],
        screenshot.display()
    );
    let (status, stderr) = view.terminate();
    assert!(status.success(), "gomon view: {stderr}");
}

#[test]
fn the_api_answers_bad_input_with_a_4xx_naming_the_parameter() {
    let filled = filled();
    let listen = format!("127.0.0.1:{}", free_port());
    let data = filled.data.display().to_string();
    let mut view = Running::start(&["view", "--data", &data, "--listen", &listen], &[]);
    let url = view_url(&mut view);
    let target = enc(&filled.steady);

    let (status, targets) = get(&format!("{url}api/targets"));
    assert_eq!(status, 200);
    let steady = target_of(&targets, &filled.steady);
    assert_eq!(steady["program"], "steady", "{steady}");
    assert_eq!(
        target_of(&targets, &filled.leaking)["verdict"]["verdict"],
        "leak"
    );
    // The analysis carries the profiles' evidence: the leaking line first.
    let (status, analysis) = get(&format!(
        "{url}api/analysis?target={}&from=now-1h",
        enc(&filled.leaking)
    ));
    assert_eq!(status, 200, "{analysis}");
    let last = analysis["lifetimes"].as_array().unwrap().last().unwrap();
    let site = &last["profiles"]["sites"][0];
    assert_eq!(
        (site["function"].as_str(), site["line"].as_i64()),
        (
            Some("main.main.func1.1"),
            Some(gomon_testrig::leaking_line())
        ),
        "{last}"
    );
    // The agent has stopped: every target shows as down a minute later; here
    // it is still up or down depending on timing, but always one of the two.
    assert!(steady["status"] == "up" || steady["status"] == "down");

    let cases: &[(&str, u16, Option<&str>)] = &[
        ("api/heap", 400, Some("target")),
        (
            "api/heap?target=http%3A%2F%2Fnowhere%3A1%2Fdebug%2Fvars",
            404,
            Some("target"),
        ),
        (
            &format!("api/heap?target={target}&from=yesterday"),
            400,
            Some("from"),
        ),
        (
            &format!("api/heap?target={target}&to=now%2B1h"),
            400,
            Some("to"),
        ),
        (
            &format!("api/heap?target={target}&from=2000&to=1000"),
            400,
            Some("from"),
        ),
        (
            &format!("api/heap?target={target}&points=0"),
            400,
            Some("points"),
        ),
        (
            &format!("api/heap?target={target}&points=lots"),
            400,
            Some("points"),
        ),
        (
            &format!("api/heap?target={target}&target={target}"),
            400,
            Some("target"),
        ),
        (&format!("api/heap?target={target}&form=1"), 400, None),
        (&format!("api/expvar?target={target}"), 400, Some("field")),
        (
            &format!("api/expvar?target={target}&field=app.nothing"),
            404,
            Some("field"),
        ),
        (
            &format!("api/expvar/fields?target={target}&from=x"),
            400,
            Some("from"),
        ),
        (
            &format!("api/analysis?target={target}&from=now-1h&to=now-2h"),
            400,
            Some("from"),
        ),
        ("api/targets?x=1", 400, None),
        ("api/nothing", 404, Some("path")),
    ];
    for (path, want, parameter) in cases {
        let (status, body) = get(&format!("{url}{path}"));
        assert_eq!(status, *want, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.len() > 10),
            "{path}: {body}"
        );
        assert_eq!(body["parameter"].as_str(), *parameter, "{path}: {body}");
    }
    let (_, form) = get(&format!("{url}api/heap?target={target}&form=1"));
    assert!(
        form["error"]
            .as_str()
            .is_some_and(|e| e.contains("\"form\"")),
        "{form}"
    );

    // A range with no data is not an error: an empty series the page shows as such.
    let (status, empty) = get(&format!("{url}api/heap?target={target}&from=1000&to=2000"));
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["ts"], serde_json::json!([]), "{empty}");
    let (status, none) = get(&format!(
        "{url}api/analysis?target={target}&from=1000&to=2000"
    ));
    assert_eq!((status, &none["lifetimes"]), (200, &serde_json::json!([])));

    let (status, stderr) = view.terminate();
    assert!(status.success(), "gomon view: {stderr}");
}

#[test]
fn gomon_view_refuses_a_newer_store_and_a_missing_one() {
    let dir = temp_dir("view-newer");
    let path = dir.join(gomon_store::DEFAULT_FILE);
    drop(gomon_store::Store::open(&path, gomon_store::StoreSettings::default()).expect("a store"));
    let conn = rusqlite::Connection::open(&path).expect("open the store with SQLite");
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .expect("make it newer");
    drop(conn);
    let data = dir.display().to_string();
    let listen = format!("127.0.0.1:{}", free_port());
    let output = support::gomon()
        .args(["view", "--data", &data, "--listen", &listen])
        .output()
        .expect("run gomon view");
    let (_, stderr) = support::text(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("newer gomon") && stderr.contains("schema 99"),
        "{stderr}"
    );

    let empty = temp_dir("view-missing");
    let output = support::gomon()
        .args([
            "view",
            "--data",
            &empty.display().to_string(),
            "--listen",
            &listen,
        ])
        .output()
        .expect("run gomon view");
    let (_, stderr) = support::text(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("no store at") && stderr.contains("gomon run"),
        "{stderr}"
    );
}

/// A cluster that cannot be reached: the view still starts (the server may
/// come up later), and each API answer is a 502 that names the server
/// (without its credentials) and the question, never the password.
#[test]
fn a_cluster_that_cannot_answer_is_a_502_naming_the_server_and_never_the_password() {
    let dir = temp_dir("view-dead-cluster");
    let password = "view-dead-cluster-secret-4711";
    let config = dir.join("es.yml");
    std::fs::write(
        &config,
        format!("modules:\n  - module: golang\n    hosts: [\"localhost:6060\"]\noutput.elasticsearch:\n  hosts: [\"http://127.0.0.1:9\"]\n  username: viewer\n  password: \"{password}\"\n"),
    )
    .expect("write the config");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut view = Running::start(
        &[
            "view",
            "-c",
            &config.display().to_string(),
            "--listen",
            &listen,
        ],
        &[],
    );
    let url = view_url(&mut view);
    let (status, body) = get(&format!("{url}api/targets"));
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("http://127.0.0.1:9") && error.contains("the target list"),
        "{body}"
    );
    let (status, body) = get(&format!("{url}api/heap?target=x"));
    assert_eq!(status, 502, "{body}");
    let (_, stderr) = view.terminate();
    for text in [&stderr, &body.to_string(), &error.to_owned()] {
        assert!(!text.contains(password), "the password was shown: {text}");
    }
    assert!(stderr.contains("index gomon-golang*"), "{stderr}");
}

/// `gomon run --view` writes a leaking and a steady Go program into the real
/// Elasticsearch and OpenSearch (its own view lists them while it writes);
/// then `gomon view -c` on the same configuration
/// serves the same API from the cluster through aggregations: the targets
/// with their program names, heap series of at most the asked points whose
/// steps and highest HeapAlloc are those of the documents stored, the
/// expvar counter, and the leak verdict; on Elasticsearch a real Chromium
/// draws the charts from it.
#[test]
fn the_view_of_elasticsearch_and_opensearch_charts_the_stored_documents_and_the_leak() {
    let engines = gomon_testrig::engines();
    if engines.is_empty() {
        return;
    }
    let leaking = GoApp::start(AppKind::Leaking, &[]);
    let steady = GoApp::start(AppKind::Steady, &[]);
    let hosts = format!("{:?}, {:?}", leaking.addr(), steady.addr());
    let mut runs = Vec::new();
    for engine in &engines {
        let dir = temp_dir(&format!("view-cluster-{}", engine.kind));
        let index = support::unique(&format!("gomon-view-{}", engine.kind));
        let config = dir.join("gomon.yml");
        std::fs::write(
            &config,
            format!(
                "modules:\n  - module: golang\n    metricsets: [heap, expvar]\n    period: 1s\n    hosts: [{hosts}]\n    expvar.namespace: app\nhttp.port: 0\noutput.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"{index}\"\n",
                engine.url
            ),
        )
        .expect("write the config");
        // `gomon run --view` serves the same cluster while it writes.
        let mut run = Running::start(
            &[
                "run",
                "-c",
                &config.display().to_string(),
                "--data",
                &dir.join("data").display().to_string(),
                "--view",
                "--listen",
                &format!("127.0.0.1:{}", free_port()),
            ],
            &[],
        );
        let beside = view_url(&mut run);
        runs.push((engine, index, config, run, beside));
    }
    std::thread::sleep(FILL);
    for (engine, index, config, run, beside) in runs {
        let (status, listed) = get(&format!("{beside}api/targets"));
        assert_eq!(status, 200, "{listed}");
        assert_eq!(
            target_of(&listed, &leaking.vars_url())["status"],
            "up",
            "{}: gomon run --view: {listed}",
            engine.kind
        );
        let (status, stderr) = run.terminate();
        assert!(status.success(), "{}: gomon run: {stderr}", engine.kind);
        let docs: Vec<Value> = support::search_all(&engine.url, &index)
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let listen = format!("127.0.0.1:{}", free_port());
        let mut view = Running::start(
            &[
                "view",
                "-c",
                &config.display().to_string(),
                "--listen",
                &listen,
            ],
            &[],
        );
        let url = view_url(&mut view);
        assert!(
            view.stderr()
                .contains(&format!("{} index {index}*", engine.url)),
            "{}",
            view.stderr()
        );

        let (status, targets) = get(&format!("{url}api/targets"));
        assert_eq!(status, 200, "{targets}");
        assert_eq!(
            targets["targets"].as_array().map(Vec::len),
            Some(2),
            "{targets}"
        );
        let listed = target_of(&targets, &leaking.vars_url());
        assert_eq!(listed["program"], "leaking", "{listed}");
        assert!(
            listed["cmdline"]
                .as_str()
                .is_some_and(|c| c.contains("leaking")),
            "{listed}"
        );
        assert_eq!(target_of(&targets, &steady.vars_url())["program"], "steady");

        // The heap series: one point per step holding documents, and the
        // highest HeapAlloc of each step is a stored document's.
        let heap_docs: Vec<(i64, f64)> = docs
            .iter()
            .filter(|d| {
                d["metricset"]["name"] == "heap"
                    && d["service"]["address"] == leaking.vars_url().as_str()
            })
            .filter(|d| d["error"].is_null())
            .map(|d| {
                (
                    support::timestamp_ms(d) as i64,
                    d["golang"]["heap"]["allocations"]["allocated"]
                        .as_f64()
                        .unwrap_or(-1.0),
                )
            })
            .collect();
        assert!(
            heap_docs.len() >= 60,
            "{}: {} heap documents",
            engine.kind,
            heap_docs.len()
        );
        let (_, heap) = get(&format!(
            "{url}api/heap?target={}&from=now-1h&points=500",
            enc(&leaking.vars_url())
        ));
        let step = heap["step_ms"].as_i64().unwrap_or(0);
        assert_eq!(step, 7_200, "one hour in 500 points: {heap}");
        let ts: Vec<i64> = heap["ts"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let mut steps: Vec<i64> = heap_docs
            .iter()
            .map(|(t, _)| t.div_euclid(step) * step)
            .collect();
        steps.sort_unstable();
        steps.dedup();
        assert_eq!(ts, steps, "{}: the steps holding documents", engine.kind);
        let highest = &heap["columns"]["allocations.allocated.max"];
        for (i, at) in ts.iter().enumerate() {
            let expected = heap_docs
                .iter()
                .filter(|(t, _)| t.div_euclid(step) * step == *at)
                .map(|(_, a)| *a)
                .fold(f64::MIN, f64::max);
            assert_eq!(
                highest[i].as_f64(),
                Some(expected),
                "{}: step {at}",
                engine.kind
            );
        }
        let live = heap["columns"]["live"]
            .as_array()
            .map_or(0, |l| l.iter().filter(|v| v.is_number()).count());
        assert!(
            live >= 3,
            "{}: the live heap after collections: {heap}",
            engine.kind
        );

        let (status, fields) = get(&format!(
            "{url}api/expvar/fields?target={}",
            enc(&leaking.vars_url())
        ));
        assert_eq!(status, 200, "{fields}");
        assert!(
            fields["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "app.requests")),
            "{fields}"
        );
        let (_, requests) = get(&format!(
            "{url}api/expvar?target={}&field=app.requests&from=now-1h&points=500",
            enc(&leaking.vars_url())
        ));
        assert_eq!(requests["kind"], "counter", "{requests}");
        assert!(
            requests["ts"].as_array().is_some_and(|t| t.len() >= 5),
            "{requests}"
        );

        let (_, analysis) = get(&format!(
            "{url}api/analysis?target={}&from=now-1h",
            enc(&leaking.vars_url())
        ));
        let last = analysis["lifetimes"]
            .as_array()
            .and_then(|l| l.last())
            .cloned()
            .unwrap_or_default();
        assert_eq!(last["verdict"], "leak", "{}: {analysis}", engine.kind);
        let (_, steady_analysis) = get(&format!(
            "{url}api/analysis?target={}&from=now-1h",
            enc(&steady.vars_url())
        ));
        let steady_last = steady_analysis["lifetimes"]
            .as_array()
            .and_then(|l| l.last())
            .cloned()
            .unwrap_or_default();
        assert_ne!(
            steady_last["verdict"], "leak",
            "{}: {steady_analysis}",
            engine.kind
        );

        // An unknown target is a 404, as from the store.
        let (status, body) = get(&format!("{url}api/heap?target=nowhere%3A1"));
        assert_eq!(status, 404, "{body}");

        // An index nothing was written to yet: an empty list, not an error.
        let empty = temp_dir(&format!("view-cluster-empty-{}", engine.kind));
        let empty_config = empty.join("gomon.yml");
        std::fs::write(
            &empty_config,
            format!(
                "modules:\n  - module: golang\n    hosts: [\"localhost:6060\"]\noutput.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"{}\"\n",
                engine.url,
                support::unique("gomon-view-never-written")
            ),
        )
        .expect("write the config");
        let mut nothing = Running::start(
            &[
                "view",
                "-c",
                &empty_config.display().to_string(),
                "--listen",
                &format!("127.0.0.1:{}", free_port()),
            ],
            &[],
        );
        let nothing_url = view_url(&mut nothing);
        let (status, body) = get(&format!("{nothing_url}api/targets"));
        assert_eq!(status, 200, "{}: {body}", engine.kind);
        assert_eq!(body["targets"], serde_json::json!([]), "{body}");
        drop(nothing);

        let mut drawn = None;
        if engine.kind == gomon_testrig::EngineKind::Elasticsearch
            && let Some((chromium, node)) = browser()
        {
            let report = drive(
                &chromium,
                &node,
                &url,
                &leaking.vars_url(),
                &["--field", "app.requests"],
            );
            assert_eq!(
                report["problems"],
                serde_json::json!([]),
                "console errors: {report}"
            );
            for (id, series) in [("live", 5), ("heap", 4), ("system", 4), ("gc", 2)] {
                let c = chart(&report["charts"], id);
                assert_eq!(c["series"], series, "{id}: {c}");
                assert_eq!(c["nonEmpty"], series, "{id}: a series drew nothing: {c}");
                assert!(c["points"].as_u64().is_some_and(|p| p >= 20), "{id}: {c}");
            }
            assert_eq!(report["verdict"], "leak", "{}", report["verdictText"]);
            assert_eq!(report["custom"]["series"], 1, "{report}");
            drawn = Some(report["charts"].as_array().map_or(0, Vec::len));
        }
        let (status, stderr) = view.terminate();
        assert!(status.success(), "gomon view: {stderr}");
        engine.record(
            "view::cluster_source",
            &format!(
                "{} heap documents charted in {} steps, verdict leak{}",
                heap_docs.len(),
                ts.len(),
                drawn.map_or(String::new(), |n| format!(", {n} charts drawn in Chromium"))
            ),
        );
        support::delete_index(&engine.url, &index);
    }
}

/// `curl` over HTTPS trusting `ca`: the status and body (status 0 when no
/// HTTP answer came, e.g. plain HTTP to the TLS port).
fn curl(url: &str, ca: &Path, user: Option<&str>) -> (u16, String, String) {
    let mut command = Command::new("curl");
    command
        .args(["-s", "-S", "--max-time", "10", "-D", "-", "--cacert"])
        .arg(ca)
        .arg(url);
    if let Some(user) = user {
        command.args(["-u", user]);
    }
    let output = command.output().expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// Beyond loopback the view is refused unless it has TLS and a login (the
/// message says which keys to set); with `view.ssl.*` and `view.username`
/// / `view.password` it answers HTTPS only, 401 without or with wrong
/// credentials and 200 with the right ones; the same through the flags
/// with a password file; and the password is in nothing gomon prints.
#[test]
fn beyond_loopback_the_view_needs_tls_and_a_login_and_never_prints_the_password() {
    let dir = temp_dir("view-tls");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("a data folder");
    drop(
        gomon_store::Store::open(
            &data.join(gomon_store::DEFAULT_FILE),
            gomon_store::StoreSettings::default(),
        )
        .expect("a store"),
    );
    let data_arg = data.display().to_string();

    // Open on every address: refused, naming the keys and the opt-out.
    let port = free_port();
    let output = support::gomon()
        .args([
            "view",
            "--data",
            &data_arg,
            "--listen",
            &format!("0.0.0.0:{port}"),
        ])
        .output()
        .expect("run gomon view");
    let (_, stderr) = support::text(&output);
    assert!(!output.status.success(), "{stderr}");
    for needed in [
        "0.0.0.0",
        "view.ssl.certificate",
        "view.ssl.key",
        "view.username",
        "view.password",
        "--insecure-listen",
    ] {
        assert!(stderr.contains(needed), "{needed} not in: {stderr}");
    }

    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("a self-signed certificate");
    let (cert, key) = (dir.join("view.crt"), dir.join("view.key"));
    std::fs::write(&cert, certified.cert.pem()).expect("write the certificate");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write the key");
    let password = "view-tls-secret-0815";
    let config = dir.join("gomon.yml");
    std::fs::write(
        &config,
        format!(
            "modules:\n  - module: golang\n    hosts: [\"localhost:6060\"]\nview:\n  username: ops\n  password: \"{password}\"\n  ssl:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ),
    )
    .expect("write the config");
    let config_arg = config.display().to_string();
    let port = free_port();
    let mut view = Running::start(
        &[
            "view",
            "-c",
            &config_arg,
            "--data",
            &data_arg,
            "--listen",
            &format!("0.0.0.0:{port}"),
        ],
        &[],
    );
    let start = Instant::now();
    while !view.stderr().contains("view on https://") {
        assert!(
            view.exited().is_none() && start.elapsed() < Duration::from_secs(30),
            "no HTTPS view: {}",
            view.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let base = format!("https://127.0.0.1:{port}");
    let (status, head, body) = curl(&format!("{base}/api/targets"), &cert, None);
    assert_eq!(status, 401, "{head}{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{head}"
    );
    let (status, _, body) = curl(&format!("{base}/api/targets"), &cert, Some("ops:wrong"));
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = curl(
        &format!("{base}/"),
        &cert,
        Some(&format!("other:{password}")),
    );
    assert_eq!(status, 401, "the page too, and the user counts: {body}");
    let right = format!("ops:{password}");
    let (status, _, body) = curl(&format!("{base}/api/targets"), &cert, Some(&right));
    assert_eq!(status, 200, "{body}");
    let targets: Value = serde_json::from_str(&body).expect("JSON");
    assert!(targets["targets"].is_array(), "{targets}");
    let (status, _, body) = curl(&format!("{base}/"), &cert, Some(&right));
    assert_eq!(status, 200);
    assert!(body.contains("<html"), "{body}");
    // Plain HTTP on the TLS port gets no page.
    let (status, _, _) = curl(
        &format!("http://127.0.0.1:{port}/api/targets"),
        &cert,
        Some(&right),
    );
    assert_ne!(status, 200, "plain HTTP was answered");
    let (status, stderr) = view.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("basic auth"), "{stderr}");

    // The same from the flags, the password from a file.
    let secret_file = dir.join("view-password");
    let other_password = "view-flag-secret-4242";
    std::fs::write(&secret_file, format!("{other_password}\n")).expect("write the password");
    let port = free_port();
    let mut view = Running::start(
        &[
            "view",
            "--data",
            &data_arg,
            "--listen",
            &format!("0.0.0.0:{port}"),
            "--certificate",
            &cert.display().to_string(),
            "--key",
            &key.display().to_string(),
            "--username",
            "ops",
            "--password-file",
            &secret_file.display().to_string(),
        ],
        &[],
    );
    let start = Instant::now();
    while !view.stderr().contains("view on https://") {
        assert!(
            view.exited().is_none() && start.elapsed() < Duration::from_secs(30),
            "no HTTPS view: {}",
            view.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let base = format!("https://127.0.0.1:{port}");
    let (status, _, _) = curl(&format!("{base}/api/targets"), &cert, Some(&right));
    assert_eq!(status, 401, "the file's password, not the config's");
    let (status, _, body) = curl(
        &format!("{base}/api/targets"),
        &cert,
        Some(&format!("ops:{other_password}")),
    );
    assert_eq!(status, 200, "{body}");
    let (_, flag_stderr) = view.terminate();

    // What `gomon test config` prints of that configuration.
    let output = support::gomon()
        .args(["test", "config", "-c", &config_arg])
        .output()
        .expect("run gomon test config");
    let (stdout, test_stderr) = support::text(&output);
    assert!(output.status.success(), "{test_stderr}");
    assert!(stdout.contains("view"), "{stdout}");
    for printed in [&stderr, &flag_stderr, &stdout, &test_stderr] {
        assert!(
            !printed.contains(password) && !printed.contains(other_password),
            "a password was printed: {printed}"
        );
    }
}
