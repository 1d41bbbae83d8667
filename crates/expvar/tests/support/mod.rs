//! A small HTTP/1.1 server on 127.0.0.1 that stands in for a Go program
//! misbehaving in one specific way: it writes raw responses, so it can send
//! what no well-behaved server library would (wrong lengths, endless
//! bodies, silence).

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The head of one request the server received.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    /// `GET /debug/vars HTTP/1.1`
    pub(crate) request_line: String,
    /// Header names lower-cased, in arrival order.
    pub(crate) headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The value of a header, by lower-case name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with one request.
pub(crate) enum Reply {
    /// Writes these bytes and waits for the next request on the connection.
    KeepAlive(Vec<u8>),
    /// Writes these bytes and closes the connection.
    Close(Vec<u8>),
    /// Writes `head`, then `chunk` up to `count` times with `pause` between,
    /// then closes; stops early when the client goes away.
    Stream {
        head: Vec<u8>,
        chunk: Vec<u8>,
        count: usize,
        pause: Duration,
    },
    /// Says nothing for this long, then closes.
    Hang(Duration),
    /// Writes each piece with `pause` between, then waits for the next
    /// request on the connection.
    Pieces {
        pieces: Vec<Vec<u8>>,
        pause: Duration,
    },
}

type Handler = dyn Fn(&RequestHead) -> Reply + Send + Sync;

/// A running test server; stops when dropped.
pub(crate) struct TestServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RequestHead>>>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves plain HTTP with `handler`.
    pub(crate) async fn start(
        handler: impl Fn(&RequestHead) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        TestServer::spawn(None, Arc::new(handler)).await
    }

    /// Serves HTTPS with `acceptor` and `handler`.
    pub(crate) async fn start_tls(
        acceptor: tokio_rustls::TlsAcceptor,
        handler: impl Fn(&RequestHead) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        TestServer::spawn(Some(acceptor), Arc::new(handler)).await
    }

    async fn spawn(tls: Option<tokio_rustls::TlsAcceptor>, handler: Arc<Handler>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let requests = requests.clone();
            let connections = connections.clone();
            async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    let handler = handler.clone();
                    let requests = requests.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        match tls {
                            None => serve(tcp, handler, requests).await,
                            Some(acceptor) => {
                                // A client that refuses the certificate ends
                                // the handshake; nothing to serve then.
                                if let Ok(stream) = acceptor.accept(tcp).await {
                                    serve(stream, handler, requests).await;
                                }
                            }
                        }
                    });
                }
            }
        });
        TestServer {
            addr,
            requests,
            connections,
            task,
        }
    }

    /// `127.0.0.1:port`
    pub(crate) fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The heads of every request received so far.
    pub(crate) fn requests(&self) -> Vec<RequestHead> {
        self.requests.lock().unwrap().clone()
    }

    /// How many TCP connections were accepted.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handler: Arc<Handler>,
    requests: Arc<Mutex<Vec<RequestHead>>>,
) {
    // Bounded: at most 1000 requests per connection.
    for _ in 0..1000 {
        let head = match read_head(&mut stream).await {
            Head::Request(head) => head,
            Head::Closed => return,
            Head::NotHttp => {
                // What Go's net/http answers to bytes that are not HTTP
                // (a TLS handshake sent to a plain port, for one).
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                    .await;
                return;
            }
        };
        requests.lock().unwrap().push(head.clone());
        match handler(&head) {
            Reply::KeepAlive(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::Close(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                return;
            }
            Reply::Stream {
                head,
                chunk,
                count,
                pause,
            } => {
                if stream.write_all(&head).await.is_err() {
                    return;
                }
                for _ in 0..count {
                    tokio::time::sleep(pause).await;
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                let _ = stream.shutdown().await;
                return;
            }
            Reply::Hang(duration) => {
                tokio::time::sleep(duration).await;
                return;
            }
            Reply::Pieces { pieces, pause } => {
                for piece in pieces {
                    if stream.write_all(&piece).await.is_err() {
                        return;
                    }
                    let _ = stream.flush().await;
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

enum Head {
    Request(RequestHead),
    Closed,
    NotHttp,
}

/// Reads one request head (up to the blank line).
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Head {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        if buffer.len() > 64 * 1024 {
            return Head::NotHttp;
        }
        match stream.read(&mut byte).await {
            Ok(1) => buffer.push(byte[0]),
            _ => return Head::Closed,
        }
        if !buffer[0].is_ascii_uppercase() {
            return Head::NotHttp;
        }
    }
    let Ok(text) = String::from_utf8(buffer) else {
        return Head::NotHttp;
    };
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Head::Request(RequestHead {
        request_line,
        headers,
    })
}

/// A complete response with a `Content-Length`.
pub(crate) fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len()).into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// `200 OK` with `body` in chunked transfer coding, in chunks of `size`
/// bytes, with a chunk extension and a trailer, as a server may send it.
pub(crate) fn chunked_response(body: &[u8], size: usize) -> Vec<u8> {
    let mut out =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x};ext=1\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nX-Trailer: done\r\n\r\n");
    out
}

/// `200 OK` with a JSON body, as Go's expvar handler answers.
pub(crate) fn json_response(body: &str) -> Vec<u8> {
    response(
        "200 OK",
        &[("Content-Type", "application/json; charset=utf-8")],
        body.as_bytes(),
    )
}

/// Gzip-compresses `data`.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A small expvar payload, as a Go program would publish.
pub(crate) const SMALL_EXPVAR: &str = r#"{
"cmdline": ["./app", "-addr", ":6060"],
"big_counter": 9007199254740993,
"memstats": {"HeapAlloc": 1048576, "NumGC": 7, "PauseNs": [1, 2, 3]}
}"#;

/// Log lines written while the guard lives, on this thread (tests run on a
/// current-thread runtime, so that is every task of the test).
pub(crate) struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl CapturedLogs {
    /// Captures everything down to TRACE.
    pub(crate) fn start() -> CapturedLogs {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let buffer = buffer.clone();
            move || SharedBuffer(buffer.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(writer)
            .finish();
        CapturedLogs {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A file under the system temp directory, removed when dropped.
pub(crate) struct TempFile {
    pub(crate) path: std::path::PathBuf,
}

impl TempFile {
    /// Creates `name` (made unique per process) with `contents`.
    pub(crate) fn new(name: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("gomon-expvar-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile { path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
