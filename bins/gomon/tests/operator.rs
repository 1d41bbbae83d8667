//! What an operator sees from the running binary: a target that goes down
//! and comes back is said once each (with the cause), and a taken
//! self-monitoring port does not stop gomon unless the port was chosen.

mod support;

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
