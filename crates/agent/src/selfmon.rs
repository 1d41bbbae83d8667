//! gomon's own counters, served as expvar-shaped JSON at `/debug/vars`, so
//! that gomon's expvar metric set can monitor gomon itself.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Counters of one target.
#[derive(Debug, Default)]
pub struct TargetCounters {
    /// Fetches that produced documents.
    pub success: AtomicU64,
    /// Fetches that failed (error documents written).
    pub failures: AtomicU64,
    /// Ticks skipped because the previous fetch was still running.
    pub skipped: AtomicU64,
    /// Documents produced.
    pub events: AtomicU64,
}

/// Counters of the output.
#[derive(Debug, Default)]
pub struct OutputCounters {
    /// Documents the output wrote (for Elasticsearch: the server confirmed them).
    pub acked: AtomicU64,
    /// Documents the output could not write (a file error, a sink that refused them).
    pub failed: AtomicU64,
    /// Documents taken by the output (written, refused, or passed to the
    /// Elasticsearch sink, which accounts for them itself).
    pub taken: AtomicU64,
    /// Documents the Elasticsearch sink gave up at its drain deadline.
    pub lost: AtomicU64,
    /// Documents written to the dead-letter store.
    pub dead_lettered: AtomicU64,
    /// Documents already present (duplicates on replay).
    pub duplicates: AtomicU64,
    /// Bytes written.
    pub write_bytes: AtomicU64,
}

/// Every counter of a running agent. Shared (`Arc`) by the tasks.
#[derive(Debug, Default)]
pub struct Registry {
    targets: Mutex<BTreeMap<String, Arc<TargetCounters>>>,
    /// The output's counters.
    pub output: OutputCounters,
    /// Documents waiting between the fetchers and the output.
    pub queue_depth: AtomicU64,
    /// Documents the fetchers put in the queue to the output.
    pub produced: AtomicU64,
}

fn n(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Registry {
    /// The counters of `target` (its `service.address`, the URL fetched),
    /// created on first use. They are listed under `fetches` by the URL
    /// without its scheme (`localhost:6060/debug/vars`): short to read, and
    /// still one entry per path when two targets share a host and port.
    pub fn target(&self, target: &str) -> Arc<TargetCounters> {
        let key = target.split_once("://").map_or(target, |(_, rest)| rest);
        let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        targets.entry(key.to_owned()).or_default().clone()
    }

    /// The expvar-shaped JSON: `cmdline`, `fetches`, `output.*` and
    /// `process.*` (RSS and CPU from `/proc`, where there is one).
    pub fn to_json(&self) -> Value {
        let targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        let fetches: serde_json::Map<String, Value> = targets
            .iter()
            .map(|(name, c)| {
                (
                    name.clone(),
                    json!({"success": n(&c.success), "failures": n(&c.failures), "skipped": n(&c.skipped), "events": n(&c.events)}),
                )
            })
            .collect();
        let o = &self.output;
        let mut vars = json!({
            "cmdline": std::env::args().collect::<Vec<_>>(),
            "fetches": fetches,
            "output.events.acked": n(&o.acked),
            "output.events.failed": n(&o.failed),
            "output.events.lost": n(&o.lost),
            "pipeline.events.produced": n(&self.produced),
            "output.events.dead_lettered": n(&o.dead_lettered),
            "output.events.duplicates": n(&o.duplicates),
            "output.write.bytes": n(&o.write_bytes),
            "pipeline.queue.depth": n(&self.queue_depth),
        });
        if let Some((rss, cpu_ms)) = process_usage() {
            vars["process.rss.bytes"] = json!(rss);
            vars["process.cpu.total.ms"] = json!(cpu_ms);
        }
        vars
    }
}

/// Resident set size (bytes) and user+system CPU time (ms) of this process, from `/proc/self`.
fn process_usage() -> Option<(u64, u64)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let rss_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after ')'.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports in clock ticks of 1/100 s on every platform gomon targets.
    Some((rss_pages * 4096, (utime + stime) * 10))
}

/// Serves `registry` as JSON at `/debug/vars` on `addr` until `shutdown`
/// resolves. Returns the bound address (useful with port 0) once listening.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let handle = tokio::spawn(async move {
        let mut shutdown = shutdown;
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = shutdown.changed() => break,
            };
            let Ok((stream, _)) = accepted else { continue };
            let registry = registry.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let registry = registry.clone();
                        async move { Ok::<_, Infallible>(respond(&req, &registry)) }
                    });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok((bound, handle))
}

/// Where [`serve_configured`] serves gomon's own `/debug/vars`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// The bound address.
    pub addr: SocketAddr,
    /// The default address, when it was taken and a free port was used instead.
    pub instead_of: Option<SocketAddr>,
}

/// Self-monitoring that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// `http.host` is not an IP address.
    #[error("http.host {0:?}: not an IP address (give one such as 127.0.0.1)")]
    Host(String),
    /// The configured port cannot be bound.
    #[error(
        "cannot serve /debug/vars on {addr}: {source} (choose another http.port, or set http.enabled: false)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Serves `registry` as the `http` section says: nothing when
/// `http.enabled` is false. When `http.port` is not set and the default
/// port ([`crate::config::DEFAULT_HTTP_PORT`]) is taken (a second gomon, a
/// Metricbeat with `http.enabled`), a free port is used instead and
/// [`Served::instead_of`] says so; a port that was set and is taken is an error.
pub async fn serve_configured(
    http: &crate::config::HttpConfig,
    registry: Arc<Registry>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<Served>, ServeError> {
    if !http.enabled {
        return Ok(None);
    }
    let ip = http
        .ip()
        .ok_or_else(|| ServeError::Host(http.host.clone()))?;
    let addr = SocketAddr::new(ip, http.port.unwrap_or(crate::config::DEFAULT_HTTP_PORT));
    match serve(addr, registry.clone(), shutdown.clone()).await {
        Ok((bound, _)) => Ok(Some(Served {
            addr: bound,
            instead_of: None,
        })),
        Err(e) if http.port.is_none() && e.kind() == std::io::ErrorKind::AddrInUse => {
            let free = SocketAddr::new(ip, 0);
            let (bound, _) = serve(free, registry, shutdown)
                .await
                .map_err(|source| ServeError::Bind { addr: free, source })?;
            tracing::warn!(taken = %addr, serving = %bound, "the default self-monitoring port is taken; serving gomon's own /debug/vars on a free port instead (set http.port to choose one)");
            Ok(Some(Served {
                addr: bound,
                instead_of: Some(addr),
            }))
        }
        Err(source) => Err(ServeError::Bind { addr, source }),
    }
}

fn respond(req: &Request<hyper::body::Incoming>, registry: &Registry) -> Response<Full<Bytes>> {
    let (status, body) = if req.uri().path() == "/debug/vars" {
        (StatusCode::OK, registry.to_json().to_string())
    } else {
        (
            StatusCode::NOT_FOUND,
            "{\"error\":\"not found: try /debug/vars\"}".to_owned(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_that_differ_only_by_path_have_their_own_counters() {
        let registry = Registry::default();
        registry
            .target("http://localhost:6060/debug/vars")
            .success
            .fetch_add(2, Ordering::Relaxed);
        registry
            .target("http://localhost:6060/other/vars")
            .failures
            .fetch_add(1, Ordering::Relaxed);
        let fetches = &registry.to_json()["fetches"];
        assert_eq!(fetches["localhost:6060/debug/vars"]["success"], 2);
        assert_eq!(fetches["localhost:6060/debug/vars"]["failures"], 0);
        assert_eq!(fetches["localhost:6060/other/vars"]["failures"], 1);
    }
}
