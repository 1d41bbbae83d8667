//! No secret in any output: every command of the built binary, on its happy
//! path and its error paths (server down, 401, TLS failure, target down), at
//! `-vvv` in text and JSON, with a distinct secret in every place a
//! configuration can carry one. stdout, stderr, every file gomon wrote and
//! its own `/debug/vars` are scanned for each secret (and for the base64
//! forms they take in headers): zero hits. Each test also checks that the
//! secrets did reach the servers that should get them, so a run that never
//! sent anything cannot pass.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod support;

use base64::Engine as _;
use gomon_agent::store::read_store;
use gomon_testrig::{AppKind, GoApp, engines};
use support::{delete_index, free_port, search_count};

const FORMATS: [&str; 2] = ["text", "json"];

/// Environment variables given to one gomon command.
type Env = Vec<(&'static str, String)>;

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The secrets of one test: each a distinct token, kept with every form
/// it may take in an output.
#[derive(Default)]
struct Secrets {
    values: BTreeMap<&'static str, String>,
    forms: Vec<(&'static str, String)>,
}

impl Secrets {
    /// A new secret; `name` says where it is given.
    fn new_secret(&mut self, name: &'static str) -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let value = format!("{name}-s3cr3t-{:x}{nanos:x}", std::process::id());
        self.forms.push((name, value.clone()));
        self.values.insert(name, value.clone());
        value
    }

    /// A secret with characters that must be percent-escaped in a URL;
    /// returns (the secret, its escaped form).
    fn new_url_secret(&mut self, name: &'static str) -> (String, String) {
        let plain = format!("p@ss:w/rd-{}", self.new_secret(name));
        let escaped = plain
            .replace('@', "%40")
            .replace(':', "%3A")
            .replace('/', "%2F");
        self.values.insert(name, plain.clone());
        self.forms.push((name, plain.clone()));
        self.forms.push((name, escaped.clone()));
        (plain, escaped)
    }

    /// `user:secret` as it travels in a Basic or ApiKey header.
    fn header_form(&mut self, name: &'static str, user: &str) -> String {
        let encoded = b64(&format!("{user}:{}", self.values[name]));
        self.forms.push((name, encoded.clone()));
        encoded
    }

    /// Every (secret name, file) with a hit in the files under `roots`;
    /// panics unless some bytes were scanned.
    fn scan(&self, roots: &[&Path]) -> Vec<String> {
        let mut files = Vec::new();
        for root in roots {
            collect_files(root, &mut files);
        }
        let mut bytes = 0;
        let mut hits = Vec::new();
        for file in &files {
            let Ok(content) = std::fs::read(file) else {
                continue;
            };
            bytes += content.len();
            let text = String::from_utf8_lossy(&content);
            for (name, form) in &self.forms {
                if text.contains(form.as_str()) {
                    hits.push(format!("{name} ({form}) in {}", file.display()));
                }
            }
        }
        assert!(bytes > 0, "nothing scanned under {roots:?}");
        hits
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A small HTTP/1.1 server for fault injection that records every
/// request's head: answers 401 to everything, or serves a real Go app's
/// `/debug/vars` (a recording hop in front of a target).
struct Recorder {
    addr: String,
    heads: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
enum Answer {
    Unauthorized,
    Forward(String),
}

impl Recorder {
    fn start(answer: Answer) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&heads);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (heads, answer) = (Arc::clone(&shared), answer.clone());
                std::thread::spawn(move || serve(stream, &answer, &heads));
            }
        });
        Recorder { addr, heads }
    }

    /// The values of header `name` (lower case) over every request seen.
    fn header_values(&self, name: &str) -> Vec<String> {
        let heads = self.heads.lock().unwrap();
        heads
            .iter()
            .flat_map(|head| head.lines())
            .filter_map(|line| line.split_once(':'))
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
            .collect()
    }

    fn saw_header(&self, name: &str, value: &str) -> bool {
        self.header_values(name).iter().any(|v| v == value)
    }
}

fn serve(stream: TcpStream, answer: &Answer, heads: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line.trim_end().is_empty() => break,
                Ok(_) => head.push_str(&line),
            }
        }
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        heads.lock().unwrap().push(head);
        let (status, body) = match answer {
            Answer::Unauthorized => (
                "401 Unauthorized",
                br#"{"error":{"type":"security_exception","reason":"unable to authenticate user"},"status":401}"#.to_vec(),
            ),
            Answer::Forward(upstream) => ("200 OK", fetch_vars(upstream)),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nwww-authenticate: Basic realm=\"test\"\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() || writer.write_all(&body).is_err() {
            return;
        }
    }
}

/// GET `http://addr/debug/vars` (HTTP/1.0: the body ends at EOF).
fn fetch_vars(addr: &str) -> Vec<u8> {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return Vec::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(stream, "GET /debug/vars HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => raw[at + 4..].to_vec(),
        None => Vec::new(),
    }
}

/// Where one test keeps what it gives gomon (`input/`, never scanned) and
/// what gomon leaves (`out/` as its data and home folder, `logs/` for its
/// stdout, stderr and `/debug/vars`).
struct Workspace {
    root: PathBuf,
}

impl Workspace {
    fn new(name: &str) -> Workspace {
        let root =
            std::env::temp_dir().join(format!("gomon-secrets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for sub in ["input", "out", "logs"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        Workspace { root }
    }

    fn input(&self, name: &str) -> PathBuf {
        self.root.join("input").join(name)
    }

    fn out(&self, name: &str) -> PathBuf {
        self.root.join("out").join(name)
    }

    fn write_config(&self, name: &str, yaml: &str) -> PathBuf {
        let path = self.input(name);
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// Runs gomon at `-vvv` in `format` with `env`; stdout and stderr go to
    /// `logs/<label>.*`. For `run`, gomon's own `/debug/vars` on `self_port`
    /// is fetched while it runs, into `logs/<label>.vars.json`.
    fn gomon(
        &self,
        label: &str,
        format: &str,
        env: &[(&str, String)],
        args: &[&str],
        self_port: Option<u16>,
    ) -> Outcome {
        let logs = self.root.join("logs");
        let stdout = logs.join(format!("{label}.{format}.stdout"));
        let stderr = logs.join(format!("{label}.{format}.stderr"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gomon"));
        for (key, _) in std::env::vars() {
            if key.starts_with("GOMON_") {
                cmd.env_remove(key);
            }
        }
        let home = self.root.join("out/home");
        cmd.env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["-vvv", "--log-format", format])
            .args(args)
            .current_dir(self.root.join("out"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let mut child = cmd.spawn().unwrap();
        let mut vars = None;
        if let Some(port) = self_port {
            std::thread::sleep(Duration::from_millis(1800));
            let body = fetch_vars(&format!("127.0.0.1:{port}"));
            std::fs::write(logs.join(format!("{label}.{format}.vars.json")), &body).unwrap();
            vars = Some(String::from_utf8_lossy(&body).into_owned());
        }
        let status = child.wait().unwrap();
        Outcome {
            success: status.success(),
            stdout: std::fs::read_to_string(&stdout).unwrap(),
            stderr: std::fs::read_to_string(&stderr).unwrap(),
            vars,
        }
    }

    /// Every secret hit in what gomon printed and wrote.
    fn assert_clean(&self, secrets: &Secrets) {
        let hits = secrets.scan(&[&self.root.join("out"), &self.root.join("logs")]);
        assert!(hits.is_empty(), "secrets leaked:\n{}", hits.join("\n"));
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
    vars: Option<String>,
}

#[test]
fn target_credentials_in_urls_fields_headers_and_token_files_never_appear_in_run_or_once() {
    let ws = Workspace::new("targets");
    let mut s = Secrets::default();
    let app = GoApp::start(AppKind::Steady, &[]);
    let proxy = Recorder::start(Answer::Forward(app.addr().to_owned()));
    let deny = Recorder::start(Answer::Unauthorized);
    let down = free_port();

    let (url_pw, url_pw_escaped) = s.new_url_secret("target-url-password");
    let url_pw2 = s.new_secret("second-target-url-password");
    let module_pw = s.new_secret("module-password");
    let header = s.new_secret("header-value");
    let bearer = s.new_secret("bearer-token-file");
    let down_pw = s.new_secret("down-target-url-password");
    let deny_pw = s.new_secret("401-target-url-password");
    let tls_pw = s.new_secret("tls-target-url-password");
    let once_pw = s.new_secret("once-url-password");
    let once_bad_pw = s.new_secret("once-error-url-password");
    let basic_url = s.header_form("target-url-password", "tuser");
    let basic_url2 = s.header_form("second-target-url-password", "tuser2");
    let basic_module = s.header_form("module-password", "muser");
    let basic_deny = s.header_form("401-target-url-password", "euser");
    let basic_once = s.header_form("once-url-password", "ouser");
    s.header_form("down-target-url-password", "duser");
    s.header_form("tls-target-url-password", "fuser");
    s.header_form("once-error-url-password", "ouser");
    let token_file = ws.input("token");
    std::fs::write(&token_file, format!("{bearer}\n")).unwrap();

    let p = &proxy.addr;
    let modules = format!(
        "modules:
- module: golang
  period: 500ms
  hosts: [\"http://tuser:{url_pw_escaped}@{p}/debug/vars\", \"http://tuser2:{url_pw2}@{p}/second\"]
  username: someone-else
  password: \"{module_pw}\"
  headers:
    X-Secret: \"{header}\"
  expvar.namespace: example
- module: golang
  period: 500ms
  hosts: [\"{p}/third\"]
  username: muser
  password: \"{module_pw}\"
- module: golang
  period: 500ms
  hosts: [\"http://{p}/fourth\"]
  bearer_token_file: \"{}\"
- module: golang
  period: 500ms
  hosts: [\"http://duser:{down_pw}@127.0.0.1:{down}\", \"http://euser:{deny_pw}@{}\", \"https://fuser:{tls_pw}@{}\"]
",
        token_file.display(),
        deny.addr,
        app.addr(),
    );
    let store = ws.out("store");
    for format in FORMATS {
        let port = free_port();
        let config = ws.write_config(
            &format!("file-{format}.yml"),
            &format!(
                "{modules}output.file:\n  path: \"{}\"\n  filename: {format}\nhttp:\n  port: {port}\n",
                store.display()
            ),
        );
        let run = ws.gomon(
            "run-file",
            format,
            &[],
            &["run", "--duration", "3s", "-c", config.to_str().unwrap()],
            Some(port),
        );
        assert!(run.success, "{}", run.stderr);
        // The banner names the targets, without their credentials.
        assert!(
            run.stderr.contains(&format!("{p}/second")),
            "{}",
            run.stderr
        );
        let vars = run.vars.unwrap();
        assert!(
            vars.contains("fetches") && vars.contains(p.as_str()),
            "{vars}"
        );

        let (docs, _) = read_store(&store, format).unwrap();
        let of = |address: &str, error: bool| {
            docs.iter()
                .filter(|d| {
                    d["service"]["address"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(address)
                        && d["error"].is_object() == error
                })
                .count()
        };
        assert!(
            of(p, false) >= 8,
            "{} documents from the proxied targets",
            of(p, false)
        );
        for failing in [
            format!("127.0.0.1:{down}"),
            deny.addr.clone(),
            app.addr().to_owned(),
        ] {
            assert!(of(&failing, true) >= 1, "no error documents of {failing}");
        }

        for (label, target) in [
            ("once", format!("http://ouser:{once_pw}@{p}")),
            (
                "once-401",
                format!("http://ouser:{once_bad_pw}@{}", deny.addr),
            ),
            (
                "once-down",
                format!("http://ouser:{once_bad_pw}@127.0.0.1:{down}"),
            ),
            (
                "once-tls",
                format!("https://ouser:{once_bad_pw}@{}", app.addr()),
            ),
        ] {
            let once = ws.gomon(label, format, &[], &["once", &target], None);
            assert_eq!(once.success, label == "once", "{label}: {}", once.stderr);
            if label == "once" {
                assert!(once.stdout.contains("golang.heap"), "{}", once.stdout);
            }
        }
    }

    ws.assert_clean(&s);
    // The credentials did reach the targets, each host with its own.
    assert!(
        proxy.saw_header("authorization", &format!("Basic {basic_url}")),
        "URL credentials, percent-escapes decoded"
    );
    assert!(proxy.saw_header("authorization", &format!("Basic {basic_url2}")));
    assert!(proxy.saw_header("authorization", &format!("Basic {basic_module}")));
    assert!(proxy.saw_header("authorization", &format!("Basic {basic_once}")));
    assert!(proxy.saw_header("authorization", &format!("Bearer {bearer}")));
    assert!(proxy.saw_header("x-secret", &header));
    assert!(deny.saw_header("authorization", &format!("Basic {basic_deny}")));
    assert!(url_pw.contains('@'), "the URL secret needs escaping");
}

#[test]
fn output_credentials_never_appear_when_shipping_to_the_engines_or_failing_to() {
    let ws = Workspace::new("outputs");
    let mut s = Secrets::default();
    let app = GoApp::start(AppKind::Steady, &[]);
    let deny = Recorder::start(Answer::Unauthorized);
    let down = free_port();
    let target_pw = s.new_secret("target-url-password");
    let (es_url_pw, es_url_pw_escaped) = s.new_url_secret("output-url-password");
    let es_pw = s.new_secret("output-password");
    let api_key = s.new_secret("output-api-key");
    let down_pw = s.new_secret("down-output-url-password");
    let tls_pw = s.new_secret("tls-output-url-password");
    let env_pw = s.new_secret("env-output-password");
    s.header_form("target-url-password", "tuser");
    s.header_form("output-url-password", "ouser");
    s.header_form("output-password", "ouser2");
    let api_header = s.header_form("output-api-key", "kid");
    let env_header = s.header_form("env-output-password", "envuser");
    s.header_form("down-output-url-password", "ouser");
    s.header_form("tls-output-url-password", "ouser");
    let modules = format!(
        "modules:\n- module: golang\n  period: 500ms\n  hosts: [\"http://tuser:{target_pw}@{}\"]\n  expvar.namespace: example\n",
        app.addr()
    );
    let index = format!("gomon-secrets-{}", std::process::id());
    let engines = engines();

    for format in FORMATS {
        // (label, output section, environment, needs documents to arrive)
        let mut runs: Vec<(String, String, Env, Option<String>)> = Vec::new();
        for (i, engine) in engines.iter().enumerate() {
            let authority = engine.url.trim_start_matches("http://");
            let output = if i == 0 {
                format!("  hosts: [\"http://ouser:{es_url_pw_escaped}@{authority}\"]\n")
            } else {
                format!(
                    "  hosts: [\"{}\"]\n  username: ouser2\n  password: \"{es_pw}\"\n",
                    engine.url
                )
            };
            runs.push((
                format!("run-{}", engine.kind),
                output,
                vec![],
                Some(engine.url.clone()),
            ));
            // A name the server refuses: every document goes to the dead letters.
            runs.push((
                format!("dead-letters-{}", engine.kind),
                format!("  hosts: [\"http://ouser:{es_url_pw_escaped}@{authority}\"]\n  index: Upper-Case-{index}\n"),
                vec![],
                None,
            ));
            runs.push((
                format!("tls-{}", engine.kind),
                format!("  hosts: [\"https://ouser:{tls_pw}@{authority}\"]\n"),
                vec![],
                None,
            ));
        }
        runs.push((
            "401".into(),
            format!(
                "  hosts: [\"{}\"]\n  api_key: \"kid:{api_key}\"\n",
                deny.addr
            ),
            vec![],
            None,
        ));
        runs.push((
            "env-401".into(),
            format!("  hosts: [\"{}\"]\n", deny.addr),
            vec![
                (
                    "GOMON_OUTPUT__ELASTICSEARCH__USERNAME",
                    "envuser".to_owned(),
                ),
                ("GOMON_OUTPUT__ELASTICSEARCH__PASSWORD", env_pw.clone()),
            ],
            None,
        ));
        runs.push((
            "down".into(),
            format!("  hosts: [\"http://ouser:{down_pw}@127.0.0.1:{down}\"]\n"),
            vec![],
            None,
        ));

        // Each run takes its --duration plus the drain of a failing output: run them side by side.
        let one = |(label, output, env, engine_url): (String, String, Env, Option<String>)| {
            let queue = ws.out(&format!("queue-{label}-{format}"));
            let dead = ws.out(&format!("dead-{label}-{format}.ndjson"));
            let output = if output.contains("index:") {
                format!(
                    "{output}  dead_letter_path: \"{}\"\nsetup.template.enabled: false\n",
                    dead.display()
                )
            } else {
                format!(
                    "{output}  index: {index}\n  dead_letter_path: \"{}\"\n",
                    dead.display()
                )
            };
            let port = free_port();
            let config = ws.write_config(
                &format!("{label}-{format}.yml"),
                &format!(
                    "{modules}output.elasticsearch:\n{output}queue.disk.path: \"{}\"\nhttp:\n  port: {port}\n",
                    queue.display()
                ),
            );
            let data = ws.out(&format!("data-{label}-{format}"));
            let run = ws.gomon(
                &label,
                format,
                &env,
                &[
                    "run",
                    "--duration",
                    "3s",
                    "--data",
                    data.to_str().unwrap(),
                    "-c",
                    config.to_str().unwrap(),
                ],
                Some(port),
            );
            assert!(
                run.vars.as_deref().is_some_and(|v| v.contains("fetches")),
                "{label}: {:?}",
                run.vars
            );
            if let Some(url) = engine_url {
                assert!(run.success, "{label}: {}", run.stderr);
                let count = search_count(&url, &index);
                assert!(count >= 4, "{label}: {count} documents in {index}");
                // analyze -c reads them back with the same credentials.
                let analyze = ws.gomon(
                    &format!("analyze-{label}"),
                    format,
                    &[],
                    &["analyze", "-c", config.to_str().unwrap(), "--since", "1h"],
                    None,
                );
                assert!(analyze.success, "{label}: {}", analyze.stderr);
                assert!(analyze.stdout.contains(app.addr()), "{}", analyze.stdout);
            }
            if label.starts_with("dead-letters") {
                let letters = std::fs::read_to_string(&dead).unwrap_or_default();
                assert!(
                    letters.contains("invalid_index_name"),
                    "{label}: {letters}\n{}",
                    run.stderr
                );
            }
            if label == "down" {
                let mut files = Vec::new();
                collect_files(&queue, &mut files);
                let bytes: u64 = files
                    .iter()
                    .filter_map(|f| f.metadata().ok())
                    .map(|m| m.len())
                    .sum();
                assert!(
                    bytes > 0,
                    "the disk buffer kept the documents of the outage"
                );
            }
        };
        std::thread::scope(|scope| {
            for run in runs {
                scope.spawn(|| one(run));
            }
        });
    }
    ws.assert_clean(&s);
    assert!(deny.saw_header("authorization", &format!("ApiKey {api_header}")));
    assert!(deny.saw_header("authorization", &format!("Basic {env_header}")));
    assert!(es_url_pw.contains('@'), "the URL secret needs escaping");
    for engine in &engines {
        delete_index(&engine.url, &index);
        engine.record(
            "secrets::output_credentials",
            "gomon run with URL and field credentials at -vvv text and json: no secret in any output",
        );
    }
}

#[test]
fn test_config_test_output_setup_and_analyze_print_no_secret_on_any_path() {
    let ws = Workspace::new("control");
    let mut s = Secrets::default();
    let deny = Recorder::start(Answer::Unauthorized);
    let down = free_port();
    let engines = engines();
    let index = format!("gomon-secrets-setup-{}", std::process::id());
    let (target_pw, target_pw_escaped) = s.new_url_secret("target-url-password");
    let module_pw = s.new_secret("module-password");
    let header = s.new_secret("header-value");
    let (url_pw, url_pw_escaped) = s.new_url_secret("output-url-password");
    let deny_pw = s.new_secret("401-output-url-password");
    let down_pw = s.new_secret("down-output-password");
    let tls_key = s.new_secret("tls-output-api-key");
    let env_url_pw = s.new_secret("env-hosts-url-password");
    let env_pw = s.new_secret("env-output-password");
    let env_key = s.new_secret("env-output-api-key");
    let env_conflict_pw = s.new_secret("env-conflicting-password");
    let env_conflict_url_pw = s.new_secret("env-conflicting-url-password");
    s.header_form("target-url-password", "tuser");
    s.header_form("module-password", "muser");
    s.header_form("output-url-password", "ouser");
    let deny_header = s.header_form("401-output-url-password", "cuser");
    s.header_form("down-output-password", "cuser");
    s.header_form("tls-output-api-key", "kid");
    let env_url_header = s.header_form("env-hosts-url-password", "envuser");
    let env_header = s.header_form("env-output-password", "envuser2");
    s.header_form("env-output-api-key", "kid");
    s.header_form("env-conflicting-password", "envuser");
    s.header_form("env-conflicting-url-password", "envuser");
    let modules = format!(
        "modules:\n- module: golang\n  hosts: [\"http://tuser:{target_pw_escaped}@127.0.0.1:{down}\", \"127.0.0.1:{down}/other\"]\n  username: muser\n  password: \"{module_pw}\"\n  headers:\n    X-Secret: \"{header}\"\n"
    );

    // (label, output section, environment, succeeds)
    let mut cases: Vec<(String, String, Env, bool)> = Vec::new();
    let first = engines.first().map(|e| e.url.clone());
    if let Some(url) = &first {
        let authority = url.trim_start_matches("http://");
        cases.push(("engine".into(), format!("output.elasticsearch:\n  hosts: [\"http://ouser:{url_pw_escaped}@{authority}\"]\n  index: {index}\n"), vec![], true));
        cases.push((
            "env-api-key".into(),
            format!("output.elasticsearch.index: {index}\n"),
            vec![
                ("GOMON_OUTPUT__ELASTICSEARCH__HOSTS", url.clone()),
                (
                    "GOMON_OUTPUT__ELASTICSEARCH__API_KEY",
                    format!("kid:{env_key}"),
                ),
            ],
            true,
        ));
        cases.push(("tls".into(), format!("output.elasticsearch:\n  hosts: [\"https://{authority}\"]\n  api_key: \"kid:{tls_key}\"\n"), vec![], false));
    }
    cases.push((
        "401".into(),
        format!(
            "output.elasticsearch.hosts: [\"http://cuser:{deny_pw}@{}\"]\n",
            deny.addr
        ),
        vec![],
        false,
    ));
    cases.push(("down".into(), format!("output.elasticsearch:\n  hosts: [\"127.0.0.1:{down}\"]\n  username: cuser\n  password: \"{down_pw}\"\n"), vec![], false));
    cases.push((
        "env-url".into(),
        String::new(),
        vec![(
            "GOMON_OUTPUT__ELASTICSEARCH__HOSTS",
            format!("http://envuser:{env_url_pw}@{}", deny.addr),
        )],
        false,
    ));
    cases.push((
        "env-password".into(),
        String::new(),
        vec![
            ("GOMON_OUTPUT__ELASTICSEARCH__HOSTS", deny.addr.clone()),
            (
                "GOMON_OUTPUT__ELASTICSEARCH__USERNAME",
                "envuser2".to_owned(),
            ),
            ("GOMON_OUTPUT__ELASTICSEARCH__PASSWORD", env_pw.clone()),
        ],
        false,
    ));
    cases.push((
        "env-conflict".into(),
        String::new(),
        vec![
            (
                "GOMON_OUTPUT__ELASTICSEARCH__HOSTS",
                format!("http://envuser:{env_conflict_url_pw}@{}", deny.addr),
            ),
            (
                "GOMON_OUTPUT__ELASTICSEARCH__PASSWORD",
                env_conflict_pw.clone(),
            ),
        ],
        false,
    ));

    let mut conflicts = Vec::new();
    for format in FORMATS {
        for (label, output, env, succeeds) in &cases {
            let config = ws.write_config(
                &format!("{label}-{format}.yml"),
                &format!("{modules}{output}"),
            );
            let config = config.to_str().unwrap();
            let checked = ws.gomon(
                &format!("test-config-{label}"),
                format,
                env,
                &["test", "config", "-c", config],
                None,
            );
            if label == "env-conflict" {
                conflicts.push(checked);
                continue;
            }
            assert!(checked.success, "{label}: {}", checked.stderr);
            assert!(checked.stdout.contains("<redacted>"), "{}", checked.stdout);
            let tested = ws.gomon(
                &format!("test-output-{label}"),
                format,
                env,
                &["test", "output", "-c", config],
                None,
            );
            assert_eq!(tested.success, *succeeds, "{label}: {}", tested.stderr);
            let set_up = ws.gomon(
                &format!("setup-{label}"),
                format,
                env,
                &["setup", "-c", config],
                None,
            );
            assert_eq!(set_up.success, *succeeds, "{label}: {}", set_up.stderr);
            let analyzed = ws.gomon(
                &format!("analyze-{label}"),
                format,
                env,
                &["analyze", "-c", config],
                None,
            );
            // No documents were written to this index: analyze fails, saying where it looked.
            assert!(!analyzed.success, "{label}: {}", analyzed.stdout);
        }
    }
    ws.assert_clean(&s);
    // Credentials given twice, differently, are refused, naming the key.
    for conflict in conflicts {
        assert!(!conflict.success, "{}", conflict.stdout);
        assert!(
            conflict.stderr.contains("output.elasticsearch.hosts[0]"),
            "{}",
            conflict.stderr
        );
    }
    assert!(deny.saw_header("authorization", &format!("Basic {deny_header}")));
    assert!(deny.saw_header("authorization", &format!("Basic {env_url_header}")));
    assert!(deny.saw_header("authorization", &format!("Basic {env_header}")));
    assert!(target_pw.contains('@') && url_pw.contains('@'));
    if let Some(url) = &first {
        delete_index(url, &index);
        engines[0].record(
            "secrets::control_plane",
            "test config, test output, setup, analyze with URL, field and environment credentials: no secret in any output",
        );
    }
}

#[test]
fn setup_kibana_password_api_key_and_url_password_never_appear_in_test_config_or_setup_dashboards()
{
    let ws = Workspace::new("kibana");
    let mut s = Secrets::default();
    let deny = Recorder::start(Answer::Unauthorized);
    let down = free_port();
    let password = s.new_secret("kibana-password");
    let api_key = s.new_secret("kibana-api-key");
    let (url_pw, url_pw_escaped) = s.new_url_secret("kibana-url-password");
    let env_pw = s.new_secret("kibana-env-password");
    let password_header = s.header_form("kibana-password", "kuser");
    let key_header = s.header_form("kibana-api-key", "kid");
    let url_header = s.header_form("kibana-url-password", "urluser");
    let env_header = s.header_form("kibana-env-password", "envuser");
    let modules = "modules:\n- module: golang\n  hosts: [\"localhost:6060\"]\n";
    // (label, setup.kibana section, environment)
    let cases: Vec<(&str, String, Env)> = vec![
        (
            "password-401",
            format!(
                "setup.kibana:\n  host: \"http://{}\"\n  username: kuser\n  password: \"{password}\"\n",
                deny.addr
            ),
            vec![],
        ),
        (
            "api-key-401",
            format!(
                "setup.kibana:\n  host: \"{}\"\n  api_key: \"kid:{api_key}\"\n",
                deny.addr
            ),
            vec![],
        ),
        (
            "url-401",
            format!(
                "setup.kibana.host: \"http://urluser:{url_pw_escaped}@{}\"\n",
                deny.addr
            ),
            vec![],
        ),
        (
            "env-401",
            format!("setup.kibana.host: \"http://{}\"\n", deny.addr),
            vec![
                ("GOMON_SETUP__KIBANA__USERNAME", "envuser".to_owned()),
                ("GOMON_SETUP__KIBANA__PASSWORD", env_pw.clone()),
            ],
        ),
        (
            "down",
            format!(
                "setup.kibana:\n  host: \"http://urluser:{url_pw_escaped}@127.0.0.1:{down}\"\n  password: \"{password}\"\n"
            ),
            vec![],
        ),
    ];
    for format in FORMATS {
        for (label, kibana, env) in &cases {
            let config = ws.write_config(
                &format!("{label}-{format}.yml"),
                &format!("{modules}{kibana}"),
            );
            let config = config.to_str().unwrap();
            let checked = ws.gomon(
                &format!("kibana-test-config-{label}"),
                format,
                env,
                &["test", "config", "-c", config],
                None,
            );
            assert!(checked.success, "{label}: {}", checked.stderr);
            assert!(checked.stdout.contains("\"kibana\""), "{}", checked.stdout);
            let set_up = ws.gomon(
                &format!("kibana-setup-{label}"),
                format,
                env,
                &["setup", "-c", config, "--dashboards"],
                None,
            );
            assert!(!set_up.success, "{label}: {}", set_up.stdout);
            let expected = if *label == "down" {
                "cannot reach"
            } else {
                "HTTP 401"
            };
            assert!(
                set_up.stderr.contains(expected),
                "{label}: {}",
                set_up.stderr
            );
        }
    }
    ws.assert_clean(&s);
    // The secrets did reach the listener that refused them.
    assert!(deny.saw_header("authorization", &format!("Basic {password_header}")));
    assert!(deny.saw_header("authorization", &format!("ApiKey {key_header}")));
    assert!(deny.saw_header("authorization", &format!("Basic {url_header}")));
    assert!(deny.saw_header("authorization", &format!("Basic {env_header}")));
    assert!(url_pw.contains('@'));
}
