//! `gomon setup --dashboards` and `--dashboards-dir`, black-box.
//!
//! Kibana and OpenSearch Dashboards cannot be installed on the machines
//! these tests run on. The import is therefore checked on a local HTTP
//! listener that records every request byte for byte and answers as the
//! test scripts it (an `ImportRecorder`, not a Kibana): the request gomon
//! sends is compared with the one the saved objects API documents, and the
//! error paths (401, 403, 500, connection refused, a Kibana too old,
//! objects refused) are driven from it. What the dashboards chart is
//! checked against real documents: gomon runs on real Go programs into
//! the rig's Elasticsearch and OpenSearch, and every field a panel uses
//! must have values there, with a mapping the panel can aggregate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "../../../crates/dashboards/tests/support/mod.rs"]
mod objects;
mod support;

use base64::Engine as _;
use gomon_testrig::{AppKind, GoApp, engines};
use support::{delete_index, free_port, gomon, temp_dir, text, unique};

/// One scripted answer: status line, extra headers, body.
#[derive(Clone)]
struct Reply {
    status: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

impl Reply {
    fn json(status: &'static str, headers: &[(&'static str, &'static str)], body: &str) -> Reply {
        Reply {
            status,
            headers: headers.to_vec(),
            body: body.to_owned(),
        }
    }
}

/// A local HTTP/1.1 listener that records each request's raw bytes (head
/// and body) and answers `GET /api/status` and `POST .../_import` as
/// scripted. It imports nothing and is no Kibana.
struct ImportRecorder {
    addr: String,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl ImportRecorder {
    fn start(status: Reply, import: Reply) -> ImportRecorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (requests, status, import) =
                    (Arc::clone(&shared), status.clone(), import.clone());
                std::thread::spawn(move || record(stream, &status, &import, &requests));
            }
        });
        ImportRecorder { addr, requests }
    }

    fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().clone()
    }
}

fn record(stream: TcpStream, status: &Reply, import: &Reply, requests: &Mutex<Vec<Vec<u8>>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut raw = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    raw.extend_from_slice(line.as_bytes());
                    if line == "\r\n" {
                        break;
                    }
                }
            }
        }
        let head = String::from_utf8_lossy(&raw).into_owned();
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
        raw.extend_from_slice(&body);
        requests.lock().unwrap().push(raw);
        let reply = if head.starts_with("GET /api/status ") {
            status
        } else {
            import
        };
        let mut out = format!(
            "HTTP/1.1 {}\r\ncontent-type: application/json; charset=utf-8\r\n",
            reply.status
        );
        for (name, value) in &reply.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!(
            "content-length: {}\r\n\r\n{}",
            reply.body.len(),
            reply.body
        ));
        if writer.write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}

const KIBANA_STATUS: &str = r#"{"name":"kibana","uuid":"5b2de169-2785-441b-ae8c-186a1936b17d","version":{"number":"8.15.2","build_hash":"x","build_number":1,"build_snapshot":false},"status":{"overall":{"level":"available"}}}"#;
const OSD_STATUS: &str = r#"{"name":"opensearch-dashboards","uuid":"5b2de169","version":{"number":"2.19.0","build_hash":"x","build_number":1,"build_snapshot":false},"status":{"overall":{"state":"green"}}}"#;
const IMPORTED: &str = r#"{"success":true,"successCount":2,"successResults":[{"type":"index-pattern","id":"gomon-golang","meta":{"title":"gomon-golang*"},"overwrite":true},{"type":"dashboard","id":"gomon-golang-overview","meta":{"title":"[gomon Golang] Overview"}}]}"#;

fn ok(body: &str) -> Reply {
    Reply::json("200 OK", &[], body)
}

fn kibana_status(version: &str) -> Reply {
    Reply::json(
        "200 OK",
        &[("kbn-name", "kibana")],
        &KIBANA_STATUS.replace("8.15.2", version),
    )
}

fn config(dir: &Path, kibana: &str) -> String {
    let path = dir.join("gomon.yml");
    std::fs::write(
        &path,
        format!(
            "modules:\n- module: golang\n  hosts: [\"localhost:6060\"]\nsetup.kibana:\n{kibana}"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The import request the saved objects API documents: a multipart form
/// with one file part holding the NDJSON, `overwrite=true`, the XSRF header.
fn expected_import(path: &str, auth: &str, xsrf: &str, host: &str, ndjson: &str) -> Vec<u8> {
    let boundary = "gomon-saved-objects-7c3f9a1e";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"gomon-golang.ndjson\"\r\nContent-Type: application/ndjson\r\n\r\n{ndjson}\r\n--{boundary}--\r\n"
    );
    format!(
        "POST {path} HTTP/1.1\r\nauthorization: {auth}\r\n{xsrf}: true\r\ncontent-type: multipart/form-data; boundary={boundary}\r\nhost: {host}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(1500).collect()
}

#[test]
fn setup_dashboards_sends_kibana_the_documented_import_request_byte_for_byte() {
    let dir = temp_dir("dash-kibana");
    let recorder = ImportRecorder::start(kibana_status("8.15.2"), ok(IMPORTED));
    let config = config(
        &dir,
        &format!(
            "  host: \"http://{}\"\n  username: elastic\n  password: \"pw-kib\"\n  space.id: ops\n",
            recorder.addr
        ),
    );
    let output = gomon()
        .args(["setup", "-c", &config, "--dashboards"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("elastic:pw-kib")
    );
    let requests = recorder.requests();
    assert_eq!(requests.len(), 2, "status, then import");
    let status = format!(
        "GET /api/status HTTP/1.1\r\nauthorization: {auth}\r\nhost: {}\r\n\r\n",
        recorder.addr
    );
    assert_eq!(show(&requests[0]), show(status.as_bytes()));
    let expected = expected_import(
        "/s/ops/api/saved_objects/_import?overwrite=true",
        &auth,
        "kbn-xsrf",
        &recorder.addr,
        &repo_file("dashboards/kibana/gomon-golang.ndjson"),
    );
    assert!(
        requests[1] == expected,
        "got:\n{}\nwant:\n{}",
        show(&requests[1]),
        show(&expected)
    );
    assert!(stdout.contains("Kibana 8.15.2"), "{stdout}");
    assert!(
        stdout.contains("replaced index-pattern gomon-golang"),
        "{stdout}"
    );
    assert!(
        stdout.contains("created dashboard gomon-golang-overview"),
        "{stdout}"
    );
    assert!(!stdout.contains("pw-kib") && !stderr.contains("pw-kib"));
}

#[test]
fn setup_dashboards_sends_opensearch_dashboards_its_own_objects_with_osd_xsrf_and_an_api_key() {
    let dir = temp_dir("dash-osd");
    let recorder = ImportRecorder::start(
        Reply::json("200 OK", &[("osd-name", "osd")], OSD_STATUS),
        ok(IMPORTED),
    );
    let config = config(
        &dir,
        &format!(
            "  host: \"{}\"\n  api_key: \"kid:key-value\"\n",
            recorder.addr
        ),
    );
    let output = gomon()
        .args(["setup", "-c", &config, "--dashboards"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let auth = format!(
        "ApiKey {}",
        base64::engine::general_purpose::STANDARD.encode("kid:key-value")
    );
    let requests = recorder.requests();
    assert_eq!(requests.len(), 2);
    let expected = expected_import(
        "/api/saved_objects/_import?overwrite=true",
        &auth,
        "osd-xsrf",
        &recorder.addr,
        &repo_file("dashboards/opensearch/gomon-golang.ndjson"),
    );
    assert!(
        requests[1] == expected,
        "got:\n{}\nwant:\n{}",
        show(&requests[1]),
        show(&expected)
    );
    assert!(stdout.contains("OpenSearch Dashboards 2.19.0"), "{stdout}");
}

/// Runs `setup --dashboards` against `recorder` (or `host`), expecting failure; returns stderr.
fn failing_setup(name: &str, host: &str) -> String {
    let dir = temp_dir(name);
    let config = config(
        &dir,
        &format!("  host: \"{host}\"\n  username: elastic\n  password: \"pw-fail\"\n"),
    );
    let output = gomon()
        .args(["setup", "-c", &config, "--dashboards"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{name}: succeeded: {stdout}");
    assert!(
        !stdout.contains("pw-fail") && !stderr.contains("pw-fail"),
        "{name}: password printed"
    );
    stderr
}

#[test]
fn setup_dashboards_fails_clearly_on_401_403_500_refused_connections_old_kibana_and_refused_objects()
 {
    let unauthorized =
        ImportRecorder::start(Reply::json("401 Unauthorized", &[], "{}"), ok(IMPORTED));
    let stderr = failing_setup("dash-401", &format!("http://{}", unauthorized.addr));
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("setup.kibana.password"),
        "{stderr}"
    );
    assert_eq!(
        unauthorized.requests().len(),
        1,
        "nothing imported after a 401"
    );

    let forbidden = ImportRecorder::start(
        kibana_status("9.1.0"),
        Reply::json("403 Forbidden", &[], "{}"),
    );
    let stderr = failing_setup("dash-403", &format!("http://{}", forbidden.addr));
    assert!(
        stderr.contains("HTTP 403") && stderr.contains("privilege"),
        "{stderr}"
    );

    let broken = ImportRecorder::start(
        kibana_status("8.6.0"),
        Reply::json(
            "500 Internal Server Error",
            &[],
            r#"{"statusCode":500,"error":"Internal Server Error","message":"boom"}"#,
        ),
    );
    let stderr = failing_setup("dash-500", &format!("http://{}", broken.addr));
    assert!(
        stderr.contains("HTTP 500") && stderr.contains("boom"),
        "{stderr}"
    );
    assert_eq!(broken.requests().len(), 2);

    let stderr = failing_setup("dash-refused", &format!("http://127.0.0.1:{}", free_port()));
    assert!(
        stderr.contains("cannot reach") && stderr.contains("setup.kibana.host"),
        "{stderr}"
    );

    let old = ImportRecorder::start(kibana_status("8.5.3"), ok(IMPORTED));
    let stderr = failing_setup("dash-old", &format!("http://{}", old.addr));
    assert!(
        stderr.contains("Kibana 8.5.3") && stderr.contains("8.6 or later"),
        "{stderr}"
    );
    assert_eq!(old.requests().len(), 1, "an old Kibana gets no import");

    let refused = ImportRecorder::start(
        kibana_status("8.17.0"),
        ok(
            r#"{"success":false,"successCount":0,"errors":[{"type":"lens","id":"gomon-golang-heap","title":"Heap","error":{"type":"unsupported_type"}}]}"#,
        ),
    );
    let stderr = failing_setup("dash-refused-objects", &format!("http://{}", refused.addr));
    assert!(
        stderr.contains("refused 1 saved object")
            && stderr.contains("lens gomon-golang-heap: unsupported_type"),
        "{stderr}"
    );
}

#[test]
fn expvar_without_dashboards_or_a_malformed_expvar_is_refused() {
    let dir = temp_dir("dash-expvar-args");
    let config = config(&dir, "  host: \"127.0.0.1:1\"\n");
    let alone = gomon()
        .args(["setup", "-c", &config, "--expvar", "app:requests"])
        .output()
        .unwrap();
    assert!(!alone.status.success());
    assert!(
        text(&alone).1.contains("--expvar goes with --dashboards"),
        "{}",
        text(&alone).1
    );
    let malformed = gomon()
        .args(["setup", "--expvar", "requests", "--dashboards-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!malformed.status.success());
    assert!(
        text(&malformed).1.contains("NAMESPACE:NAME"),
        "{}",
        text(&malformed).1
    );
}

#[test]
fn dashboards_dir_writes_the_committed_ndjson_for_air_gapped_installs() {
    let dir = temp_dir("dash-dir");
    let output = gomon()
        .args(["setup", "--dashboards-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    for folder in ["kibana", "opensearch"] {
        let written =
            std::fs::read_to_string(dir.join(folder).join("gomon-golang.ndjson")).unwrap();
        assert_eq!(
            written,
            repo_file(&format!("dashboards/{folder}/gomon-golang.ndjson"))
        );
    }
}

#[test]
fn every_field_a_panel_uses_has_values_in_real_documents_on_elasticsearch_and_opensearch() {
    let gc_heavy = GoApp::start(AppKind::GcHeavy, &[]);
    // The leaking app is restarted on the same address during each run, so
    // the Restarts panel's `golang.heap.restarted : true` has documents too.
    let leaking_addr = format!("127.0.0.1:{}", free_port());
    // The expvar panel charts the example apps' own counters, as a user
    // generating it for their program does.
    let written = temp_dir("dash-real-objects");
    let output = gomon()
        .args([
            "setup",
            "--expvar",
            "example:output.events.acked,output.events.not_acked",
            "--dashboards-dir",
        ])
        .arg(&written)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    let mut used = std::collections::BTreeMap::new();
    for folder in ["kibana", "opensearch"] {
        let ndjson =
            std::fs::read_to_string(written.join(folder).join("gomon-golang.ndjson")).unwrap();
        used.extend(objects::fields_used(&objects::parse_ndjson(&ndjson)));
    }
    assert!(
        used.contains_key("golang.example.output.events.not_acked"),
        "{used:?}"
    );
    assert!(
        !used.contains_key("golang.metricbeat.output.elasticsearch.events.acked"),
        "{used:?}"
    );
    assert!(used.len() >= 25, "{used:?}");
    for engine in engines() {
        let dir = temp_dir(&format!("dash-real-{}", engine.kind));
        let index = unique("dash");
        let leaking = GoApp::start(
            AppKind::Leaking,
            &["-addr", &leaking_addr, "-leak-bytes", "524288"],
        );
        let hosts = [
            format!("\"{}\"", gc_heavy.addr()),
            format!("\"{leaking_addr}\""),
        ];
        let config = dir.join("gomon.yml");
        std::fs::write(&config, format!(
            "metricbeat.modules:\n- module: golang\n  metricsets: [\"heap\", \"expvar\", \"profile\"]\n  period: 500ms\n  profile.period: 1s\n  hosts: [{}]\n  expvar:\n    namespace: \"example\"\noutput.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"{index}\"\nhttp:\n  port: 0\n",
            hosts.join(", "), engine.url)).unwrap();
        let running = gomon()
            .args(["run", "--duration", "6s", "--data"])
            .arg(&dir)
            .arg("-c")
            .arg(&config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        drop(leaking);
        let restarted = GoApp::start(
            AppKind::Leaking,
            &["-addr", &leaking_addr, "-leak-bytes", "524288"],
        );
        let output = running.wait_with_output().unwrap();
        drop(restarted);
        assert!(
            output.status.success(),
            "{:?}: {}",
            engine.kind,
            text(&output).1
        );
        let _ = gomon_testrig::http::request(
            "POST",
            &format!("{}/{index}*/_refresh", engine.url),
            None,
        );
        for (field, need) in &used {
            // A boolean is matched against `true` (the Restarts panel); any other field must exist.
            let query = if *need == objects::Need::Boolean {
                format!(r#"{{"query":{{"term":{{"{field}":true}}}}}}"#)
            } else {
                format!(r#"{{"query":{{"exists":{{"field":"{field}"}}}}}}"#)
            };
            let count = gomon_testrig::http::json(
                "POST",
                &format!("{}/{index}*/_count", engine.url),
                Some(&query),
            );
            assert!(
                count["count"].as_u64().unwrap_or(0) > 0,
                "{:?}: no document has {field}: {count}",
                engine.kind
            );
            let mapping = gomon_testrig::http::json(
                "GET",
                &format!("{}/{index}*/_mapping/field/{field}", engine.url),
                None,
            );
            let types: Vec<String> = mapping
                .as_object()
                .unwrap()
                .values()
                .filter_map(|i| {
                    i["mappings"].as_object()?.values().next()?["mapping"]
                        .as_object()?
                        .values()
                        .next()?["type"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect();
            assert!(
                !types.is_empty() && types.iter().all(|t| objects::serves(t, *need)),
                "{:?}: {field} is mapped {types:?}, the panel needs {need:?}",
                engine.kind
            );
        }
        remove(&engine.url, &index);
        engine.record(
            "dashboards::fields_have_values",
            &format!("{} fields the Kibana and OpenSearch Dashboards panels use have values (restarted: true after a restart) and a fitting mapping", used.len()),
        );
    }
}

/// Removes the test's dated indices by name (Elasticsearch refuses wildcard
/// deletes by default), then its template.
fn remove(server: &str, index: &str) {
    if let Ok(listed) = gomon_testrig::http::request(
        "GET",
        &format!("{server}/_cat/indices/{index}*?h=index"),
        None,
    ) {
        for name in listed.body.split_whitespace() {
            let _ = gomon_testrig::http::request("DELETE", &format!("{server}/{name}"), None);
        }
    }
    delete_index(server, index);
}
