//! What an operator sees from the running binary: a target that goes down
//! and comes back is said once each (with the cause), and a taken
//! self-monitoring port does not stop gomon unless the port was chosen.

mod support;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use gomon_testrig::{AppKind, GoApp};
use support::{Running, temp_dir};

fn file_store_config(dir: &std::path::Path, host: &str, http: &str) -> String {
    let path = dir.join("gomon.yml");
    std::fs::write(
        &path,
        format!(
            "modules:\n  - module: golang\n    period: 200ms\n    hosts: [{host:?}]\noutput.file.path: {:?}\n{http}",
            dir.join("store").display().to_string()
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn a_target_going_down_and_coming_back_is_logged_once_each_at_default_verbosity() {
    // A port for the app that stays the same across its restart.
    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let dir = temp_dir("down-up");
    let cfg = file_store_config(&dir, &addr, "http.enabled: false\n");
    let app = GoApp::start(AppKind::Steady, &["-addr", &addr]);
    let gomon = Running::start(&["run", "-c", &cfg], &[]);
    std::thread::sleep(Duration::from_secs(2));
    drop(app);
    // Ten failed fetches while it is down.
    std::thread::sleep(Duration::from_secs(2));
    let back = GoApp::start(AppKind::Steady, &["-addr", &addr]);
    std::thread::sleep(Duration::from_secs(2));
    let (status, stderr) = gomon.terminate();
    drop(back);
    assert!(status.success(), "{stderr}");
    let down: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("target is down"))
        .collect();
    let up: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("target is answering again"))
        .collect();
    assert_eq!(down.len(), 1, "{stderr}");
    assert_eq!(up.len(), 1, "{stderr}");
    assert!(
        down[0].contains(&addr),
        "the line names the target: {}",
        down[0]
    );
    assert!(
        down[0].to_lowercase().contains("refused") || down[0].contains("connect"),
        "the line gives the cause: {}",
        down[0]
    );
}

#[test]
fn a_taken_default_self_monitoring_port_moves_to_a_free_one_but_a_chosen_one_is_an_error() {
    // Hold the default port (if someone else holds it already, it is taken
    // all the same).
    let _held = std::net::TcpListener::bind("127.0.0.1:5066");
    let app = GoApp::start(AppKind::Steady, &[]);
    let dir = temp_dir("port-taken");

    let cfg = file_store_config(&dir, app.addr(), "");
    let mut gomon = Running::start(&["run", "-c", &cfg], &[]);
    let url = gomon.self_vars_url();
    assert!(!url.contains(":5066/"), "{url}");
    let vars = gomon.self_vars(&url);
    assert!(vars["fetches"].is_object(), "{vars}");
    let (status, stderr) = gomon.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("port 5066 is taken"), "{stderr}");

    let cfg = file_store_config(&dir, app.addr(), "http.port: 5066\n");
    let out = support::gomon()
        .args(["run", "--duration", "2s", "-c", &cfg])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("http.port"), "{stderr}");
    assert!(stderr.contains("5066"), "{stderr}");
}

/// A target slower than its period (it answers after 2.5 s, the period is
/// 1 s) is not an error: its documents arrive late but valid, the ticks it
/// overran are counted as skipped, and the fast target beside it keeps its
/// schedule.
#[test]
fn a_target_slower_than_its_period_skips_ticks_without_error_documents_or_delaying_others() {
    let slow = GoApp::start(AppKind::Steady, &["-vars-delay", "2500ms"]);
    let fast = GoApp::start(AppKind::Steady, &[]);
    let dir = temp_dir("slow-target");
    let store = dir.join("data");
    let cfg = dir.join("gomon.yml");
    std::fs::write(
        &cfg,
        format!(
            "modules:\n  - module: golang\n    period: 1s\n    hosts: [{:?}, {:?}]\noutput.store.path: {:?}\nhttp.port: 0\n",
            slow.addr(),
            fast.addr(),
            store.display().to_string()
        ),
    )
    .unwrap();
    let mut gomon = Running::start(&["run", "-c", &cfg.display().to_string()], &[]);
    let vars_url = gomon.self_vars_url();
    std::thread::sleep(Duration::from_secs(9));
    let vars = gomon.self_vars(&vars_url);
    let (status, stderr) = gomon.terminate();
    assert!(status.success(), "{stderr}");
    let counters = |addr: &str| {
        vars["fetches"]
            .as_object()
            .and_then(|f| f.iter().find(|(k, _)| k.contains(addr)))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no counters for {addr}: {vars}"))
    };
    let slow_counters = counters(slow.addr());
    assert!(
        slow_counters["skipped"].as_u64().unwrap_or(0) >= 3,
        "the overrun ticks are counted: {slow_counters}"
    );
    assert_eq!(slow_counters["failures"], 0, "{slow_counters}");

    let reader = gomon_store::Reader::open(&store.join("gomon.db")).unwrap();
    let docs = reader
        .documents(None, gomon_store::TimeRange::all())
        .unwrap();
    let of = |addr: &str| -> Vec<&serde_json::Value> {
        docs.iter()
            .filter(|d| {
                d["service"]["address"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(addr)
            })
            .collect()
    };
    let slow_docs = of(slow.addr());
    assert!(
        slow_docs.len() >= 2 && slow_docs.iter().all(|d| d.get("error").is_none()),
        "late but valid: {slow_docs:?}"
    );
    // The fast target: one document a second all along (9 s, a random
    // start offset within the first second).
    let fast_docs = of(fast.addr());
    assert!(fast_docs.len() >= 8, "{} fast documents", fast_docs.len());
    assert!(fast_docs.iter().all(|d| d.get("error").is_none()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A target that does not answer (a fetch waits up to its 10 s timeout)
/// does not hold up a stop: SIGTERM ends gomon at once.
#[test]
fn a_hung_target_does_not_delay_stopping() {
    let hung = GoApp::start(AppKind::Steady, &["-vars-delay", "60s"]);
    let dir = temp_dir("hung-target");
    let cfg = dir.join("gomon.yml");
    std::fs::write(
        &cfg,
        format!(
            "modules:\n  - module: golang\n    period: 1s\n    hosts: [{:?}]\noutput.store.path: {:?}\nhttp.port: 0\n",
            hung.addr(),
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    let mut gomon = Running::start(&["run", "-c", &cfg.display().to_string()], &[]);
    let _ = gomon.self_vars_url();
    std::thread::sleep(Duration::from_secs(2));
    let asked = std::time::Instant::now();
    let (status, stderr) = gomon.terminate();
    let took = asked.elapsed();
    assert!(status.success(), "{stderr}");
    assert!(
        took < Duration::from_secs(3),
        "stopping took {took:?} with a fetch in flight\n{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `(soft, hard)` of "Max open files" in a `/proc/PID/limits` text.
fn open_files_of(limits: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open-file line in {limits}"));
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

/// `gomon <args>` started by a shell that first runs `ulimit` with `limit`
/// (e.g. `-Sn 256`), the way a service manager or a login shell hands a
/// process a low open-file limit.
fn gomon_under_ulimit(limit: &str, args: &[&str]) -> std::process::Child {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit {limit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_gomon"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every target keeps a connection open, so a fleet needs more descriptors
/// than the common soft limit of 1,024: gomon raises its soft limit to the
/// hard one at start, as Go programs (Metricbeat) do.
#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    let (_, hard) = open_files_of(&std::fs::read_to_string("/proc/self/limits").unwrap());
    assert!(
        hard == "unlimited" || hard.parse::<u64>().unwrap() > 256,
        "the test needs a hard limit above 256, not {hard}"
    );
    let dir = temp_dir("nofile-raised");
    let cfg = file_store_config(&dir, "127.0.0.1:1", "http.enabled: false\n");
    let mut child = gomon_under_ulimit("-Sn 256", &["run", "-c", &cfg]);
    // Read the limits once gomon has started (its start-up line), not the
    // shell's before its `ulimit`.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("gomon: monitoring"));
    assert!(started.is_some(), "gomon did not start");
    let seen =
        open_files_of(&std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap());
    child.kill().unwrap();
    let _ = child.wait();
    if hard == "unlimited" {
        assert_eq!(seen.0, "1048576", "{seen:?}");
    } else {
        assert_eq!(seen, (hard.clone(), hard), "soft limit after start");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// When the hard limit itself is too low for the targets, gomon says so at
/// start, with the figures and what to do, and runs anyway.
#[test]
fn too_low_a_hard_limit_for_the_targets_is_warned_about_at_start() {
    let dir = temp_dir("nofile-low");
    let hosts: Vec<String> = (1..=60).map(|i| format!("127.0.0.{i}:1")).collect();
    let path = dir.join("gomon.yml");
    std::fs::write(
        &path,
        format!(
            "modules:\n  - module: golang\n    period: 10s\n    hosts: [{}]\noutput.file.path: {:?}\nhttp.enabled: false\n",
            hosts.join(", "),
            dir.join("store").display().to_string()
        ),
    )
    .unwrap();
    let mut child = gomon_under_ulimit(
        "-n 100",
        &["run", "--duration", "2s", "-c", path.to_str().unwrap()],
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{stderr}");
    let warning: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("open files"))
        .collect();
    assert_eq!(warning.len(), 1, "{stderr}");
    assert!(
        warning[0].contains("60 targets need about 124 open files")
            && warning[0].contains("may open 100 (hard limit 100)")
            && warning[0].contains("ulimit -n"),
        "{}",
        warning[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
