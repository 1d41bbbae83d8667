//! Unit tests of `collect`: real Go apps where the behaviour is about them,
//! a loopback server where a target misbehaves in one chosen way.

use std::collections::BTreeMap;
use std::sync::Mutex;

use gomon_testrig::{AppKind, GoApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::config::FileFormat;
use serde_json::Value;

/// A loopback server that answers each path with its JSON body (404
/// for others) and counts the requests per path: a target that
/// misbehaves in one chosen way.
struct VarsServer {
    addr: String,
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl VarsServer {
    async fn start(bodies: Vec<(&'static str, Value)>) -> VarsServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("an address").to_string();
        let hits = Arc::new(Mutex::new(BTreeMap::new()));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let path = text.split(' ').nth(1).unwrap_or_default().to_owned();
                *counted
                    .lock()
                    .expect("not poisoned")
                    .entry(path.clone())
                    .or_insert(0) += 1;
                let reply = match bodies.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => {
                        let body = body.to_string();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    None => {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_owned()
                    }
                };
                let _ = conn.write_all(reply.as_bytes()).await;
            }
        });
        VarsServer { addr, hits }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("not poisoned")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

fn config(module: &str) -> Config {
    let yaml = format!("modules:\n- module: golang\n{module}http.enabled: false\n");
    Config::parse(&yaml, FileFormat::Yaml, "test").expect("a valid configuration")
}

fn tasks(config: &Config) -> Vec<TargetTask> {
    target_settings(config)
        .expect("valid settings")
        .into_iter()
        .map(TargetTask::new)
        .collect()
}

fn memstats() -> Value {
    let fixture = include_str!("../../../heap/tests/fixtures/steady.json");
    let vars: Value = serde_json::from_str(fixture).expect("the fixture is JSON");
    vars["memstats"].clone()
}

#[tokio::test]
async fn one_fetch_feeds_both_metric_sets_when_they_read_one_url() {
    let app = GoApp::start(AppKind::Steady, &[]);
    let config = config(&format!(
        "  hosts: [\"{}\"]\n  expvar.namespace: app\n",
        app.addr()
    ));
    let mut task = tasks(&config).pop().expect("one target");
    let client = ExpvarClient::new(ClientConfig::default());
    let mut events = Vec::new();
    for _ in 0..3 {
        events.extend(task.fetch_once(&client).await);
    }
    let sets: Vec<&str> = events.iter().map(|e| e.metricset).collect();
    assert_eq!(sets, ["heap", "expvar", "heap", "expvar", "heap", "expvar"]);
    for event in &events {
        assert_eq!(event.error, None, "{event:?}");
        assert_eq!(event.address, app.vars_url());
        assert_eq!(event.period, Duration::from_secs(10));
    }
    // The app counts the requests to /debug/vars, the current one
    // included: the third tick's snapshot was its third request.
    let golang = |event: &Event| serde_json::to_value(event.golang.as_ref()).unwrap();
    let last = golang(&events[5]);
    assert_eq!(last["app"]["debug_vars.requests"], 3, "{last}");
    let heap = golang(&events[4]);
    assert!(
        heap["heap"]["gc"]["pause"].is_object(),
        "interval fields after the first fetch: {heap}"
    );
}

#[tokio::test]
async fn metric_sets_on_different_paths_fetch_once_each_per_tick() {
    let mut vars = serde_json::json!({"requests": 7, "cmdline": ["./app"]});
    vars["memstats"] = memstats();
    let server =
        VarsServer::start(vec![("/debug/vars", vars.clone()), ("/custom/vars", vars)]).await;
    let config = config(&format!(
        "  hosts: [\"{}\"]\n  expvar.namespace: app\n  expvar.path: /custom/vars\n",
        server.addr
    ));
    let mut task = tasks(&config).pop().expect("one target");
    let client = ExpvarClient::new(ClientConfig::default());
    let events = task.fetch_once(&client).await;
    assert_eq!(server.hits("/debug/vars"), 1);
    assert_eq!(server.hits("/custom/vars"), 1);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].metricset, "heap");
    assert_eq!(
        events[0].address,
        format!("http://{}/debug/vars", server.addr)
    );
    assert_eq!(events[1].metricset, "expvar");
    assert_eq!(
        events[1].address,
        format!("http://{}/custom/vars", server.addr)
    );
    assert!(events.iter().all(|e| e.error.is_none()), "{events:?}");
}

#[tokio::test]
async fn a_snapshot_without_memstats_gives_a_heap_error_event_naming_the_target() {
    let server = VarsServer::start(vec![(
        "/debug/vars",
        serde_json::json!({"requests": 7, "cmdline": ["./app"]}),
    )])
    .await;
    let config = config(&format!(
        "  hosts: [\"{}\"]\n  expvar.namespace: app\n",
        server.addr
    ));
    let mut task = tasks(&config).pop().expect("one target");
    let client = ExpvarClient::new(ClientConfig::default());
    let events = task.fetch_once(&client).await;
    assert_eq!(server.hits("/debug/vars"), 1, "one fetch for both");
    let url = format!("http://{}/debug/vars", server.addr);
    let heap = &events[0];
    assert_eq!(heap.metricset, "heap");
    assert_eq!(heap.golang, None);
    assert_eq!(
        heap.error.as_deref(),
        Some(format!("{url}: no memstats variable (does the program import expvar?)").as_str())
    );
    // The custom variables are still there.
    let expvar = &events[1];
    assert_eq!(expvar.error, None);
    assert_eq!(
        serde_json::to_value(expvar.golang.as_ref()).unwrap()["app"]["requests"],
        serde_json::json!(7)
    );
}

#[tokio::test]
async fn a_failed_fetch_is_an_error_event_for_each_metric_set() {
    let server = VarsServer::start(Vec::new()).await;
    let config = config(&format!(
        "  hosts: [\"{}\"]\n  expvar.namespace: app\n",
        server.addr
    ));
    let mut task = tasks(&config).pop().expect("one target");
    let client = ExpvarClient::new(ClientConfig::default());
    let events = task.fetch_once(&client).await;
    assert_eq!(server.hits("/debug/vars"), 1);
    assert_eq!(events.len(), 2);
    for event in &events {
        let error = event.error.as_deref().expect("an error");
        assert!(error.contains("HTTP status 404"), "{error}");
        assert!(error.contains(&server.addr), "{error}");
    }
}

#[test]
fn a_bad_expvar_glob_is_refused_with_its_key_path() {
    let mut config = config("  hosts: [\"127.0.0.1:6060\"]\n  expvar.namespace: app\n");
    let module = &mut config.modules[0];
    module.expvar.include = vec!["requests".to_owned(), String::new()];
    let error = expvar_settings(module, "modules[0]").expect_err("an empty glob");
    assert_eq!(error.key(), "modules[0].expvar.include[1]");
    assert_eq!(
        error.to_string(),
        "modules[0].expvar.include[1]: invalid path glob \"\": empty pattern"
    );
    module.expvar.include.clear();
    module.expvar.rates = vec![String::new()];
    let error = target_settings(&config).expect_err("an empty rate glob");
    assert_eq!(error.key(), "modules[0].expvar.rates[0]");
    // A module that does not run the expvar metric set builds no flattener.
    config.modules[0].metricsets = Some(vec![MetricSet::Heap]);
    assert_eq!(target_settings(&config).expect("heap only").len(), 1);
}

#[test]
fn reading_a_configuration_refuses_a_bad_expvar_glob() {
    let yaml = "modules:\n- module: golang\n  hosts: [\"127.0.0.1:6060\"]\n  expvar:\n    namespace: app\n    exclude: [\"a.*\", \"\"]\nhttp.enabled: false\n";
    let error = Config::parse(yaml, FileFormat::Yaml, "test.yml").expect_err("an empty glob");
    assert!(
        error
            .to_string()
            .contains("modules[0].expvar.exclude[1]: invalid path glob"),
        "{error}"
    );
}

#[test]
fn targets_with_the_same_ssl_share_one_client() {
    let mut config = config("  hosts: [\"127.0.0.1:6060\", \"127.0.0.1:6061\"]\n");
    let mut second = config.modules[0].clone();
    second.ssl.verification_mode = Some("none".to_owned());
    config.modules.push(second.clone());
    config.modules.push(second);
    let settings = target_settings(&config).expect("valid settings");
    assert_eq!(settings.len(), 6);
    let mut pool = ClientPool::new(ClientConfig::default());
    for target in &settings {
        pool.client_for(target);
    }
    assert_eq!(
        pool.clients.len(),
        1,
        "one extra pool, for ssl.verification_mode: none"
    );
}

#[tokio::test]
async fn once_without_memstats_needs_a_namespace() {
    let server = VarsServer::start(vec![(
        "/debug/vars",
        serde_json::json!({"requests": 7, "cmdline": ["./app"]}),
    )])
    .await;
    let client = ExpvarClient::new(ClientConfig::default());
    let target = Target::parse(&server.addr).expect("a target");
    let error = collect_once(&client, target.clone(), None)
        .await
        .expect_err("nothing to print");
    assert!(
        matches!(error, CollectError::NoMemstats { .. }),
        "{error:?}"
    );
    let events = collect_once(&client, target, Some("app"))
        .await
        .expect("the custom variables");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].dataset, "golang.app");
    assert_eq!(events[0].period, Duration::ZERO);
}

#[test]
fn hosts_in_messages_keep_their_form_without_credentials() {
    assert_eq!(redact_host("localhost:6060"), "localhost:6060");
    assert_eq!(
        redact_host("http://user:secret@10.0.0.5:8080/debug/vars"),
        "http://<redacted>@10.0.0.5:8080/debug/vars"
    );
    assert_eq!(redact_host("user:secret@db:6060"), "<redacted>@db:6060");
}
