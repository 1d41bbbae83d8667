//! What the black-box tests of the `gomon` binary share: running it as a
//! user does, watching its stderr and its own `/debug/vars` while it runs,
//! and stopping it every way a machine can.

#![allow(dead_code, unreachable_pub)] // Each test file uses a different part; private to the tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// The built binary, with the tests' own `GOMON_*` settings removed
/// (`GOMON_LOG` is kept, to debug a test).
pub fn gomon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gomon"));
    for (key, _) in std::env::vars() {
        if key.starts_with("GOMON_") && key != "GOMON_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A fresh folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gomon-bb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// A command's stdout and stderr as text.
pub fn text(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Documents in `index*` (refreshed first); 0 when there is no such index.
pub fn search_count(server: &str, index: &str) -> u64 {
    let _ = gomon_testrig::http::request("POST", &format!("{server}/{index}*/_refresh"), None);
    gomon_testrig::http::request("GET", &format!("{server}/{index}*/_count"), None)
        .ok()
        .and_then(|r| serde_json::from_str::<Value>(&r.body).ok())
        .and_then(|v| v["count"].as_u64())
        .unwrap_or(0)
}

/// Removes what a test left on a server: the data stream, indices and
/// template named after `index`.
pub fn delete_index(server: &str, index: &str) {
    // Elasticsearch 8+ refuses to delete indices by wildcard
    // (`action.destructive_requires_name`): name each dated index.
    let dated: Vec<String> = gomon_testrig::http::request(
        "GET",
        &format!("{server}/_cat/indices/{index}*?h=index&format=json"),
        None,
    )
    .ok()
    .and_then(|r| serde_json::from_str::<Value>(&r.body).ok())
    .and_then(|v| v.as_array().cloned())
    .unwrap_or_default()
    .iter()
    .filter_map(|i| i["index"].as_str())
    .filter(|name| !name.starts_with('.'))
    .map(str::to_owned)
    .collect();
    let paths = [format!("_data_stream/{index}")]
        .into_iter()
        .chain(dated)
        .chain([format!("_index_template/{index}")]);
    for path in paths {
        let _ = gomon_testrig::http::request("DELETE", &format!("{server}/{path}"), None);
    }
}

/// A name unique to this test process, for indices.
pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("gomon-bb-{name}-{}-{nanos}", std::process::id())
}

/// A running `gomon` whose stderr is collected line by line.
pub struct Running {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// Starts `gomon <args>` with stdout discarded and stderr collected.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut cmd = gomon();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start gomon");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        Running { child, stderr }
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// Waits (up to 30 s) for the URL of its own `/debug/vars` in the
    /// startup line.
    pub fn self_vars_url(&mut self) -> String {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let text = self.stderr();
            if let Some(at) = text.find("own metrics at http://") {
                let rest = &text[at + "own metrics at ".len()..];
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == ')')
                    .unwrap_or(rest.len());
                return rest[..end].to_owned();
            }
            assert!(
                self.exited().is_none(),
                "gomon exited before it started: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gomon did not print its own metrics URL: {}", self.stderr());
    }

    /// Its own counters, read over HTTP while it runs.
    pub fn self_vars(&self, url: &str) -> Value {
        gomon_testrig::http::json("GET", url, None)
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill_9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.stderr()
    }

    /// SIGTERM, then wait (up to 60 s) for it to exit by itself.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stderr());
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "gomon did not stop within 60 s of SIGTERM: {}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Milliseconds since the epoch of a document's `@timestamp`.
pub fn timestamp_ms(doc: &Value) -> u64 {
    let text = doc["@timestamp"].as_str().expect("@timestamp is a string");
    let time = humantime::parse_rfc3339(text).expect("@timestamp is RFC 3339");
    millis(time)
}

/// Milliseconds since the epoch.
pub fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    millis(SystemTime::now())
}

/// Reads the lines appended to a file since `offset` (complete lines only).
pub fn new_lines(path: &Path, offset: &mut u64) -> Vec<Value> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    if file.seek(SeekFrom::Start(*offset)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    *offset += complete as u64;
    bytes[..complete]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("every stored line is JSON"))
        .collect()
}

/// Every document in `index*` with its `_id` (refreshed first).
pub fn search_all(server: &str, index: &str) -> Vec<(String, Value)> {
    search(server, index, false)
}

/// [`search_all`] for polls while a writer creates the index: an index
/// whose first shard is still starting answers 503 ("all shards failed",
/// no shard named) and has nothing searchable yet.
pub fn search_all_while_created(server: &str, index: &str) -> Vec<(String, Value)> {
    search(server, index, true)
}

fn search(server: &str, index: &str, starting_is_empty: bool) -> Vec<(String, Value)> {
    let _ = gomon_testrig::http::request("POST", &format!("{server}/{index}*/_refresh"), None);
    let response = gomon_testrig::http::request(
        "POST",
        &format!("{server}/{index}*/_search?size=10000"),
        Some(r#"{"query":{"match_all":{}}}"#),
    )
    .expect("search");
    if response.status == 404 {
        return Vec::new();
    }
    let starting = response.status == 503
        && response.body.contains("search_phase_execution_exception")
        && response.body.contains(r#""failed_shards":[]"#);
    if starting_is_empty && starting {
        return Vec::new();
    }
    assert_eq!(response.status, 200, "{}", response.body);
    let body: Value = serde_json::from_str(&response.body).expect("search answer is JSON");
    body["hits"]["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .map(|h| {
                    (
                        h["_id"].as_str().unwrap_or_default().to_owned(),
                        h["_source"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The value of the Go app's own fetch counter in an expvar document of
/// namespace `app` (which fetch of that app this document came from).
pub fn fetch_number(doc: &Value) -> Option<u64> {
    doc["golang"]["app"]["debug_vars.requests"].as_u64()
}
