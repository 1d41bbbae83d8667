//! The `profile` metric set on real Go programs: the leaking app's leak
//! named at its line, the goroutine-leaking app's blocked stack named, a
//! program without `net/http/pprof` reported once, and a target serving
//! broken profiles given error documents while the others go on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gomon_agent::Agent;
use gomon_agent::config::{Config, FileFormat};
use gomon_agent::document::{Event, Golang};
use gomon_testrig::{AppKind, GoApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(hosts: &[String], dir: &std::path::Path) -> Config {
    let yaml = format!(
        "modules:\n  - module: golang\n    metricsets: [heap, profile]\n    period: 1s\n    hosts: [{}]\n    profile:\n      period: 3s\n      top: 5\noutput.store:\n  path: {}\nhttp.enabled: false\n",
        hosts.join(", "),
        dir.display()
    );
    Config::parse(&yaml, FileFormat::Yaml, "test.yml").unwrap()
}

/// Runs the agent for `seconds` and returns every event it produced, by
/// `service.address`.
async fn run(
    config: Config,
    dir: &std::path::Path,
    seconds: u64,
) -> HashMap<String, Vec<Arc<Event>>> {
    let agent = Agent::new(config, dir).await.unwrap();
    let mut tap = agent.subscribe();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(agent.run(stop_rx));
    let mut events: HashMap<String, Vec<Arc<Event>>> = HashMap::new();
    let until = Instant::now() + Duration::from_secs(seconds);
    while let Ok(Ok(event)) =
        tokio::time::timeout(until.saturating_duration_since(Instant::now()), tap.recv()).await
    {
        events.entry(event.address.clone()).or_default().push(event);
    }
    stop_tx.send(true).unwrap();
    running.await.unwrap();
    events
}

fn profiles(events: &[Arc<Event>]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| e.metricset == "profile")
        .map(|e| &**e)
        .collect()
}

fn metrics(event: &Event) -> &gomon_pprof::report::ProfileMetrics {
    match &event.golang {
        Some(Golang::Profile(p)) => p,
        other => panic!("not a profile event: {other:?} {:?}", event.error),
    }
}

/// A server that answers every request with `body` (status 200).
async fn serve_bytes(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let Ok(n) = socket.read(&mut buf).await else {
                    return;
                };
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let body = if request.starts_with("GET /debug/vars") {
                    br#"{"memstats": {"NumGC": 1, "HeapAlloc": 1000, "TotalAlloc": 1000, "PauseNs": [1]}, "cmdline": ["broken"]}"#.to_vec()
                } else {
                    body
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_name_the_leaking_line_and_the_piling_goroutines_and_a_missing_pprof_once() {
    let leaking = GoApp::start(AppKind::Leaking, &["-leak-bytes", "262144"]);
    let goroutines = GoApp::start(AppKind::GoroutineLeak, &[]);
    let steady = GoApp::start(AppKind::Steady, &[]);
    let bare = GoApp::start(AppKind::Steady, &["-pprof=false"]);
    let broken = serve_bytes(b"<html>not a profile</html>".to_vec()).await;
    let dir = std::env::temp_dir().join(format!("gomon-profiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let hosts: Vec<String> = [
        leaking.addr(),
        goroutines.addr(),
        steady.addr(),
        bare.addr(),
        broken.as_str(),
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let events = run(config(&hosts, &dir), &dir, 13).await;
    let of = |addr: &str| {
        events
            .get(&format!("http://{addr}/debug/vars"))
            .cloned()
            .unwrap_or_default()
    };

    // The leak: every profile that changed since the previous one (Go
    // updates the heap profile at each GC) names the leaking line first.
    let leak = of(leaking.addr());
    let leak_profiles = profiles(&leak);
    assert!(leak_profiles.len() >= 3, "{}", leak_profiles.len());
    // Summed over the profiles (as `gomon analyze` sums them), the
    // leaking line holds most of the growth.
    let mut by_site: HashMap<(String, String, i64), i64> = HashMap::new();
    let mut total = 0;
    for event in &leak_profiles[1..] {
        assert!(event.error.is_none());
        let heap = metrics(event).heap.as_ref().unwrap();
        let basis = serde_json::to_value(heap.basis).unwrap();
        if basis == "unchanged" {
            assert!(heap.sites.is_empty());
            continue;
        }
        assert_eq!(basis, "previous");
        let window = heap.window.unwrap().sec;
        assert!((2.0..13.0).contains(&window), "{window}");
        for site in &heap.sites {
            let grown = site.growth.unwrap().bytes;
            total += grown.max(0);
            *by_site
                .entry((site.function.clone(), site.file.clone(), site.line))
                .or_default() += grown;
        }
    }
    let ((function, file, line), grown) = by_site.iter().max_by_key(|(_, g)| **g).unwrap();
    assert_eq!(
        (function.as_str(), *line),
        ("main.main.func1.1", gomon_testrig::leaking_line()),
        "{by_site:?}"
    );
    assert!(file.ends_with("examples/go/leaking/main.go"), "{file}");
    assert!(*grown > total / 2, "{by_site:?}");
    // Heap documents go on beside the profiles.
    assert!(leak.iter().filter(|e| e.metricset == "heap").count() >= 6);

    // The goroutine leak: the count climbs and the blocked stack is named.
    let piled = profiles(&of(goroutines.addr()))
        .into_iter()
        .map(|e| metrics(e).goroutines.clone().unwrap())
        .collect::<Vec<_>>();
    assert!(piled.len() >= 3);
    assert!(
        piled.last().unwrap().count > piled[0].count + 50,
        "{piled:?}"
    );
    for g in &piled[1..] {
        assert_eq!(g.growing[0].function, "main.awaitReply", "{g:?}");
        assert_eq!(g.growing[0].line, 24);
        assert!(g.growth.unwrap() > 0);
    }

    // The steady program: no site keeps growing from one profile to the next.
    let steady_events = of(steady.addr());
    let calm = profiles(&steady_events);
    assert!(calm.len() >= 3);
    let growths: Vec<i64> = calm[1..]
        .iter()
        .map(|e| metrics(e).heap.as_ref().unwrap().growth.unwrap().bytes)
        .collect();
    assert!(growths.iter().any(|g| *g <= 1 << 20), "{growths:?}");

    // Without net/http/pprof: one error document saying what to import, then quiet.
    let bare_events = of(bare.addr());
    let missing = profiles(&bare_events);
    assert_eq!(missing.len(), 1, "{missing:?}");
    let message = missing[0].error.as_deref().unwrap();
    assert!(
        message.contains("404") && message.contains("net/http/pprof"),
        "{message}"
    );
    assert!(
        bare_events
            .iter()
            .filter(|e| e.metricset == "heap" && e.error.is_none())
            .count()
            >= 6
    );

    // Broken profiles: an error document per period for that target only.
    let broken_events = of(&broken);
    let bad = profiles(&broken_events);
    assert!(bad.len() >= 3, "{bad:?}");
    for event in bad {
        let message = event.error.as_deref().unwrap();
        assert!(
            message.contains("not a pprof profile") && message.contains(&broken),
            "{message}"
        );
        assert!(event.golang.is_none());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
