//! A fault-injecting HTTP proxy in front of a real server, for black-box
//! tests of the `gomon` binary: it forwards every request to the real
//! server, and can delay or refuse bulk requests (`/_bulk`) on demand.
//!
//! It listens on 127.0.0.1 only, answers one request per connection
//! (`Connection: close`), and stops when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to bulk requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkFault {
    /// Forward them.
    Pass,
    /// Wait this long, then forward them (a slow server).
    Delay(Duration),
    /// Answer with this status without forwarding (429, 503: a storm).
    Status(u16),
    /// Forward them, then throw the server's answer away and answer with
    /// this status: the documents are written but the client does not
    /// know, so its retries meet documents that are already there.
    ForwardThenStatus(u16),
}

#[derive(Debug)]
struct State {
    upstream: String,
    fault: Mutex<BulkFault>,
    stopping: AtomicBool,
    bulk_requests: AtomicU64,
    refused: AtomicU64,
}

/// The running proxy.
#[derive(Debug)]
pub struct FaultProxy {
    addr: String,
    state: Arc<State>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://HOST:PORT`) on a free loopback port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address").to_string();
        let state = Arc::new(State {
            upstream: upstream
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            fault: Mutex::new(BulkFault::Pass),
            stopping: AtomicBool::new(false),
            bulk_requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let accepting = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = accepting.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        FaultProxy { addr, state }
    }

    /// `http://127.0.0.1:PORT`, to put in a config instead of the server's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes what happens to the next bulk requests.
    pub fn set(&self, fault: BulkFault) {
        *self
            .state
            .fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fault;
    }

    /// Bulk requests seen so far, and how many of them were refused.
    pub fn bulk_requests(&self) -> (u64, u64) {
        (
            self.state.bulk_requests.load(Ordering::Relaxed),
            self.state.refused.load(Ordering::Relaxed),
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(client: TcpStream, state: &State) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut content_length = 0usize;
    let mut request_line = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if request_line.is_empty() {
            request_line = line.clone();
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
        // Forwarded with one request per connection.
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    let mut client = client;
    if request_line.contains("/_bulk") {
        state.bulk_requests.fetch_add(1, Ordering::Relaxed);
        let fault = *state
            .fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match fault {
            BulkFault::Pass => {}
            BulkFault::Delay(d) => std::thread::sleep(d),
            BulkFault::Status(code) => {
                state.refused.fetch_add(1, Ordering::Relaxed);
                return refuse(client, code);
            }
            BulkFault::ForwardThenStatus(code) => {
                state.refused.fetch_add(1, Ordering::Relaxed);
                forward(&state.upstream, &head, &body)?;
                return refuse(client, code);
            }
        }
    }
    let answer = forward(&state.upstream, &head, &body)?;
    // The upstream's own Connection header (if any) is left as is; the
    // client learns from the close that this connection is done.
    client.write_all(&answer)?;
    client.shutdown(Shutdown::Both)
}

fn forward(upstream: &str, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(upstream)?;
    upstream.write_all(head)?;
    upstream.write_all(b"Connection: close\r\n\r\n")?;
    upstream.write_all(body)?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    Ok(answer)
}

fn refuse(mut client: TcpStream, code: u16) -> std::io::Result<()> {
    let text = r#"{"error":"injected by the test proxy"}"#;
    write!(
        client,
        "HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    client.shutdown(Shutdown::Both)
}
