//! Test support: a fault-injecting HTTP proxy that sits between the sink
//! and a real server, and helpers that read what the server holds.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gomon_sink::{BatchLimits, Cluster, RetryPolicy, SinkConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the proxy does to one bulk request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward unchanged.
    Pass,
    /// Remove these items from the request before forwarding (the server
    /// never sees them) and answer them with this status (429 or 5xx).
    RejectItems(Vec<usize>, u16),
    /// Forward everything (the server writes it), then report these items
    /// as failed with this status: the sink retries documents that exist.
    FailItemsAfterWrite(Vec<usize>, u16),
    /// Answer the whole request with this status, not forwarding it.
    Status(u16),
    /// Close the connection without answering, not forwarding.
    ResetBeforeForward,
    /// Forward (the server writes it), then close without answering.
    ResetAfterForward,
    /// Forward, then wait this long before answering.
    Delay(Duration),
}

#[derive(Debug, Default)]
pub struct ProxyLog {
    /// Bulk requests received.
    pub bulk_requests: usize,
    /// Faults applied, in order.
    pub applied: Vec<String>,
    /// `Authorization` headers seen.
    pub authorizations: Vec<String>,
    /// Bulk requests that came gzipped.
    pub gzipped: usize,
}

struct State {
    upstream: String,
    script: Mutex<VecDeque<Fault>>,
    /// Bulk requests with more documents than this are answered 413.
    max_docs: usize,
    log: Mutex<ProxyLog>,
    client: Client<HttpConnector, Full<Bytes>>,
    /// Simulates a server that is down: every new connection is closed at
    /// once and every request on an open one is answered with a reset.
    down: AtomicBool,
}

/// The proxy: listens on 127.0.0.1, stops when dropped.
pub struct FaultProxy {
    pub url: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy to `upstream` applying `script` to bulk requests in order
    /// (then passing), and 413 to any bulk request above `max_docs`.
    pub async fn start(upstream: &str, script: Vec<Fault>, max_docs: usize) -> FaultProxy {
        FaultProxy::start_with_tls(upstream, script, max_docs, None).await
    }

    /// The same, serving HTTPS with `tls` when given (the URL is then
    /// `https://127.0.0.1:PORT`).
    pub async fn start_with_tls(
        upstream: &str,
        script: Vec<Fault>,
        max_docs: usize,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            script: Mutex::new(script.into()),
            max_docs,
            log: Mutex::default(),
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            down: AtomicBool::new(false),
        });
        let shared = state.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                if shared.down.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let state = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { handle(state, req).await }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(acceptor) => {
                            // A client that refuses the certificate ends the handshake.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
        });
        FaultProxy {
            url: format!("{scheme}://{addr}"),
            state,
            task,
        }
    }

    pub fn log<T>(&self, read: impl FnOnce(&ProxyLog) -> T) -> T {
        read(&self.state.log.lock().unwrap())
    }

    /// Takes the "server" down (every connection refused) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    pub fn script_left(&self) -> usize {
        self.state.script.lock().unwrap().len()
    }
}

type Reply = Result<Response<Full<Bytes>>, std::io::Error>;

fn json_reply(status: u16, body: &Value) -> Reply {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap())
}

fn reset() -> Reply {
    Err(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "injected reset",
    ))
}

async fn forward(
    state: &State,
    method: hyper::Method,
    path_and_query: &str,
    body: Bytes,
) -> (u16, Bytes) {
    let request = Request::builder()
        .method(method)
        .uri(format!("{}{path_and_query}", state.upstream))
        .header("content-type", "application/x-ndjson")
        .body(Full::new(body))
        .unwrap();
    let response = state.client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    if state.down.load(Ordering::SeqCst) {
        return reset();
    }
    let method = req.method().clone();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let gzipped = req
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let authorization = req
        .headers()
        .get("authorization")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let raw = req.into_body().collect().await.unwrap().to_bytes();
    let body = if gzipped {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut plain)
            .unwrap();
        Bytes::from(plain)
    } else {
        raw
    };
    if !req_is_bulk(&path_and_query) {
        let (status, body) = forward(&state, method, &path_and_query, body).await;
        return Ok(Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .unwrap());
    }
    // NDJSON pairs: action line, source line.
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let pairs: Vec<(&[u8], &[u8])> = lines.chunks(2).map(|c| (c[0], c[1])).collect();
    let count = pairs.len();
    let fault = if pairs.len() > state.max_docs {
        Fault::Status(413)
    } else {
        state
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Fault::Pass)
    };
    {
        let mut log = state.log.lock().unwrap();
        log.bulk_requests += 1;
        log.gzipped += usize::from(gzipped);
        if let Some(a) = authorization {
            log.authorizations.push(a);
        }
        if !matches!(fault, Fault::Pass) {
            log.applied
                .push(format!("{fault:?} on {} documents", pairs.len()));
        }
    }
    let injected = |status: u16| {
        json!({"create": {"status": status, "error": {
            "type": if status == 429 { "es_rejected_execution_exception" } else { "injected_failure" },
            "reason": "injected by the test proxy"}}})
    };
    match fault {
        Fault::Pass => {
            let (status, body) = forward(&state, method, &path_and_query, body).await;
            Ok(Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(body))
                .unwrap())
        }
        Fault::Status(status) => json_reply(
            status,
            &json!({"error": {"type": "injected", "reason": "injected by the test proxy"}, "status": status}),
        ),
        Fault::ResetBeforeForward => reset(),
        Fault::ResetAfterForward => {
            let _ = forward(&state, method, &path_and_query, body).await;
            reset()
        }
        Fault::Delay(delay) => {
            let (status, body) = forward(&state, method, &path_and_query, body).await;
            tokio::time::sleep(delay).await;
            Ok(Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(body))
                .unwrap())
        }
        Fault::FailItemsAfterWrite(positions, status) => {
            let (_, reply) = forward(&state, method, &path_and_query, body.clone()).await;
            let mut answer: Value = serde_json::from_slice(&reply).unwrap();
            for p in positions.into_iter().filter(|p| *p < count) {
                answer["items"][p] = injected(status);
            }
            answer["errors"] = json!(true);
            json_reply(200, &answer)
        }
        Fault::RejectItems(positions, status) => {
            let mut kept = Vec::new();
            for (i, (action, source)) in pairs.iter().enumerate() {
                if !positions.contains(&i) {
                    kept.extend_from_slice(action);
                    kept.push(b'\n');
                    kept.extend_from_slice(source);
                    kept.push(b'\n');
                }
            }
            let forwarded = if kept.is_empty() {
                Vec::new()
            } else {
                let (_, body) = forward(&state, method, &path_and_query, Bytes::from(kept)).await;
                let answer: Value = serde_json::from_slice(&body).unwrap();
                answer["items"].as_array().cloned().unwrap_or_default()
            };
            let mut forwarded = forwarded.into_iter();
            let items: Vec<Value> = (0..pairs.len())
                .map(|i| {
                    if positions.contains(&i) {
                        injected(status)
                    } else {
                        forwarded.next().unwrap()
                    }
                })
                .collect();
            json_reply(200, &json!({"errors": true, "items": items}))
        }
    }
}

fn req_is_bulk(path_and_query: &str) -> bool {
    path_and_query
        .split('?')
        .next()
        .unwrap_or("")
        .ends_with("/_bulk")
}

/// Every `_id` in `index` (refreshed first), sorted.
pub async fn ids_in(cluster: &Cluster, index: &str) -> Vec<String> {
    let client = gomon_testrig::es_client(cluster.url());
    client
        .indices()
        .refresh(elasticsearch::indices::IndicesRefreshParts::Index(&[index]))
        .send()
        .await
        .unwrap();
    let response = client
        .search(elasticsearch::SearchParts::Index(&[index]))
        .body(json!({"size": 10000, "_source": false, "query": {"match_all": {}}}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let mut ids: Vec<String> = body["hits"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {body}"))
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Deletes an index (ignoring a missing one).
pub async fn delete_index(cluster: &Cluster, index: &str) {
    let _ = gomon_testrig::es_client(cluster.url())
        .indices()
        .delete(elasticsearch::indices::IndicesDeleteParts::Index(&[index]))
        .send()
        .await;
}

/// A unique name for this test process and purpose.
pub fn unique(purpose: &str) -> String {
    format!("gomon-sink-{purpose}-{}", std::process::id())
}

/// A folder for this test's files, emptied first.
pub fn scratch_dir(purpose: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique(purpose));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A private CA (its PEM) and a TLS acceptor with a certificate it signed
/// for 127.0.0.1, made fresh for each test.
pub fn private_ca_and_acceptor() -> (String, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "gomon-sink test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
    .unwrap();
    (ca_pem, tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Settings for tests: small batches, fast retries.
pub fn test_config(hosts: Vec<String>) -> SinkConfig {
    let mut config = SinkConfig::new(hosts);
    config.batch = BatchLimits {
        max_bytes: 1024 * 1024,
        max_documents: 100,
        max_age: Duration::from_millis(200),
    };
    config.retry = RetryPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        ..RetryPolicy::default()
    };
    config.node_revival = RetryPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    config.request_timeout = Duration::from_secs(3);
    config.connect_timeout = Duration::from_secs(2);
    config
}
