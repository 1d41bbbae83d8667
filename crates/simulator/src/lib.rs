//! Many simulated Go programs in one process, for load and cost measurements.
//!
//! A real Go program answering `/debug/vars` calls `runtime.ReadMemStats`,
//! which stops the world: a thousand of them on two cores measure the
//! targets, not the agent watching them. [`Simulator`] serves N loopback
//! ports instead, each a program with its own heap and allocation rate, whose
//! body has the layout Go's `expvar` handler writes (top-level variables in
//! key order, one per line, `memstats` compact with its 256-entry pause rings
//! and 61 size classes: about 6 KB) and whose numbers advance with time:
//! allocations accumulate, GC cycles tick when the heap reaches
//! `NextGC = 2 × live` (GOGC=100), and a tenth of the programs leak, a tenth
//! fill a cache that levels off and a tenth churn through short-lived
//! garbage. Bodies are computed from the elapsed time alone, so serving one
//! costs a few microseconds and needs no lock.
//!
//! With [`Options::log`] every request is remembered (port, user agent,
//! path, arrival time) so a benchmark can tell how punctually each agent
//! fetched each target ([`Simulator::write_log`]).

use std::convert::Infallible;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

mod body;

pub use body::{Behaviour, Program};

/// How to start a [`Simulator`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The first port's address; the others follow it (`port + 1`, …).
    pub first: SocketAddr,
    /// How many programs (ports) to serve.
    pub count: u16,
    /// Remember every request for [`Simulator::write_log`].
    pub log: bool,
}

/// N simulated Go programs, one per port, served until dropped.
#[derive(Debug)]
pub struct Simulator {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    started: Instant,
    started_unix_ns: u64,
    served: AtomicU64,
    log: Option<Mutex<RequestLog>>,
}

/// Requests as they arrived: the streams (user agent, path) are interned so
/// a row is 16 bytes.
#[derive(Debug, Default)]
struct RequestLog {
    streams: Vec<(String, String)>,
    rows: Vec<(u16, u32, u64)>,
}

impl RequestLog {
    fn push(&mut self, port: u16, agent: &str, path: &str, micros: u64) {
        let stream = match self
            .streams
            .iter()
            .position(|(a, p)| a == agent && p == path)
        {
            Some(i) => i,
            None => {
                self.streams.push((agent.to_owned(), path.to_owned()));
                self.streams.len() - 1
            }
        };
        self.rows.push((port, stream as u32, micros));
    }
}

impl Simulator {
    /// Binds `count` consecutive ports from `first` and serves each.
    ///
    /// # Errors
    /// When a port cannot be bound (taken, or beyond 65535); the error names
    /// the address.
    pub async fn start(options: Options) -> io::Result<Self> {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let shared = Arc::new(Shared {
            started: Instant::now(),
            started_unix_ns: u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX),
            served: AtomicU64::new(0),
            log: options.log.then(Mutex::default),
        });
        let mut addrs = Vec::with_capacity(usize::from(options.count));
        let mut tasks = Vec::with_capacity(usize::from(options.count));
        for i in 0..options.count {
            let port = options.first.port().checked_add(i).ok_or_else(|| {
                io::Error::other(format!(
                    "{} + {i}: beyond port 65535 (lower --listen's port or --count)",
                    options.first
                ))
            })?;
            let addr = SocketAddr::new(options.first.ip(), port);
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("binding {addr}: {e}")))?;
            let addr = listener.local_addr()?;
            addrs.push(addr);
            let program = Program::new(u32::from(i));
            tasks.push(tokio::spawn(serve(listener, program, shared.clone())));
        }
        Ok(Self {
            addrs,
            shared,
            tasks,
        })
    }

    /// The addresses served, in port order.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.shared.served.load(Ordering::Relaxed)
    }

    /// Writes one line per request remembered, in arrival order:
    /// `port<TAB>user agent<TAB>path and query<TAB>arrival (Unix µs)`.
    /// Writes nothing when the simulator was started without
    /// [`Options::log`].
    ///
    /// # Errors
    /// When writing fails.
    pub fn write_log(&self, out: &mut dyn Write) -> io::Result<()> {
        let Some(log) = &self.shared.log else {
            return Ok(());
        };
        let log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = io::BufWriter::new(out);
        for (port, stream, micros) in &log.rows {
            let (agent, path) = &log.streams[*stream as usize];
            writeln!(out, "{port}\t{agent}\t{path}\t{micros}")?;
        }
        out.flush()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, program: Program, shared: Arc<Shared>) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let program = Arc::new(program);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, most likely: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let program = program.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let answer = answer(&program, &shared, port, &request);
                async move { Ok::<_, Infallible>(answer) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(
    program: &Program,
    shared: &Shared,
    port: u16,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let elapsed = shared.started.elapsed();
    if let Some(log) = &shared.log {
        let agent = request
            .headers()
            .get(hyper::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let micros = shared.started_unix_ns / 1_000 + elapsed.as_micros() as u64;
        log.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(port, agent, path, micros);
    }
    shared.served.fetch_add(1, Ordering::Relaxed);
    let mut body = Vec::with_capacity(8 * 1024);
    program.write_body(elapsed, shared.started_unix_ns, port, &mut body);
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
