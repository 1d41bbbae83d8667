//! Reads Go `expvar` endpoints.
//!
//! A Go program that imports `expvar` serves a JSON object at `/debug/vars`:
//! `cmdline` (its arguments), `memstats` (`runtime.MemStats`) and whatever
//! variables the program published. This crate fetches that object over
//! HTTP/1.1 or HTTPS (its own transport on tokio: httparse, rustls) from any
//! number of programs and
//! decodes it once into a [`Snapshot`] that the heap mapper and the
//! flattener both borrow from. It knows nothing about Elasticsearch.
//!
//! - [`Target`]: where to fetch, as Metricbeat's `hosts` accepts it
//!   (`host:port`, `http(s)://` URLs, a path override), with basic auth,
//!   a bearer token (inline or from a file) and extra headers. Secrets never
//!   show in `Debug`, `Display`, logs or errors.
//! - [`ExpvarClient`]: one keep-alive pool for all targets (an idle
//!   connection holds its socket and nothing else), a bound on
//!   fetches in flight, connect and whole-request timeouts, a body cap
//!   enforced while reading (also on the decompressed size of gzip
//!   responses), certificate verification with Mozilla's roots, a custom CA,
//!   or (loudly logged) none; see [`ClientConfig`].
//! - [`FetchError`] / [`DecodeError`]: one variant per kind of failure,
//!   each naming the target: unreachable, timeout, TLS, HTTP status, body
//!   too large, not JSON, truncated or invalid JSON with its position, top
//!   level not an object, nesting too deep.
//!
//! Integers are decoded exactly (`u64`/`i64`, never through `f64`), so a
//! counter above 2^53 keeps its last digit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gomon_expvar::{ClientConfig, ExpvarClient, Target};
//!
//! let client = ExpvarClient::new(ClientConfig::default());
//! let target = Target::parse("localhost:6060")?;
//! let snapshot = client.fetch(&target).await?;
//! let heap_alloc = snapshot.memstats().and_then(|m| m["HeapAlloc"].as_u64());
//! let cmdline = snapshot.cmdline().unwrap_or_default();
//! tracing::info!(?heap_alloc, ?cmdline, bytes = snapshot.body_bytes(), "fetched");
//!
//! // A protected HTTPS endpoint with a private CA:
//! use gomon_expvar::{CaCertificates, TlsVerification};
//! let client = ExpvarClient::new(ClientConfig {
//!     tls: TlsVerification::CustomCa(CaCertificates::from_pem_file("/etc/ssl/private-ca.pem")?),
//!     gzip: true,
//!     ..ClientConfig::default()
//! });
//! let target = Target::parse("https://svc.internal:8443/debug/vars")?
//!     .with_bearer_token_file("/var/run/secrets/token")
//!     .with_header("X-Team", "payments")?;
//! let snapshot = client.fetch(&target).await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod auth;
mod body;
mod client;
mod http1;
mod snapshot;
mod target;
mod tls;

pub use client::{ClientConfig, ExpvarClient, FetchError, RawBody, TimeoutPhase};
pub use snapshot::{DEFAULT_MAX_DEPTH, DecodeError, MAX_DEPTH_CEILING, Snapshot};
pub use target::{DEFAULT_PATH, Target, TargetError};
pub use tls::{CaCertificates, TlsConfigError, TlsVerification};
