//! The HTTP side: one shared connection pool for every target.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::{DecodeError, Snapshot, Target};

/// Limits and timeouts of an [`ExpvarClient`]. Defaults follow Metricbeat:
/// 2 s to connect, 10 s for the whole request, and a 16 MiB body cap.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time allowed to open the TCP connection.
    pub connect_timeout: Duration,
    /// Time allowed for the whole request, body included.
    pub request_timeout: Duration,
    /// Largest body accepted; enforced while reading.
    pub max_body_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 16 << 20,
        }
    }
}

/// Why a fetch failed; every variant names the target.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection refused, reset, or the request could not be sent.
    #[error("{target}: request failed: {reason}")]
    Unreachable {
        /// The target fetched.
        target: String,
        /// The underlying error, flattened to text.
        reason: String,
    },
    /// No complete answer within the request timeout.
    #[error("{target}: no complete response within {after:?}")]
    Timeout {
        /// The target fetched.
        target: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server answered with a non-2xx status.
    #[error("{target}: HTTP status {status}")]
    Status {
        /// The target fetched.
        target: String,
        /// The status code.
        status: u16,
    },
    /// The body grew past the configured cap.
    #[error("{target}: response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The target fetched.
        target: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// The connection broke while reading the body.
    #[error("{target}: reading the body failed: {reason}")]
    Read {
        /// The target fetched.
        target: String,
        /// The underlying error, flattened to text.
        reason: String,
    },
    /// The body is not an expvar object.
    #[error("{target}: {source}")]
    Decode {
        /// The target fetched.
        target: String,
        /// What is wrong with the body.
        source: DecodeError,
    },
}

/// An async client for expvar endpoints. Cheap to clone; clones share one
/// keep-alive connection pool.
#[derive(Debug, Clone)]
pub struct ExpvarClient {
    http: Client<HttpConnector, Empty<Bytes>>,
    config: ClientConfig,
}

impl ExpvarClient {
    /// A client with its own connection pool; fetches must run on a tokio runtime.
    pub fn new(config: ClientConfig) -> ExpvarClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        ExpvarClient { http, config }
    }

    /// The limits this client applies.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Fetches and decodes one snapshot of `target`.
    pub async fn fetch(&self, target: &Target) -> Result<Snapshot, FetchError> {
        let started = Instant::now();
        let limit = self.config.request_timeout;
        let body = tokio::time::timeout(limit, self.fetch_body(target))
            .await
            .map_err(|_| FetchError::Timeout {
                target: target.to_string(),
                after: limit,
            })??;
        let duration = started.elapsed();
        tracing::debug!(target_address = %target, bytes = body.len(), ?duration, "fetched expvar");
        Snapshot::decode(&body, duration).map_err(|source| FetchError::Decode {
            target: target.to_string(),
            source,
        })
    }

    async fn fetch_body(&self, target: &Target) -> Result<Bytes, FetchError> {
        let name = || target.to_string();
        let request = Request::get(target.uri().clone())
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("gomon/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| FetchError::Unreachable {
                target: name(),
                reason: e.to_string(),
            })?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| FetchError::Unreachable {
                target: name(),
                reason: error_chain(&e),
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                target: name(),
                status: status.as_u16(),
            });
        }
        let limited = Limited::new(response.into_body(), self.config.max_body_bytes);
        match limited.collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(FetchError::BodyTooLarge {
                target: name(),
                limit: self.config.max_body_bytes,
            }),
            Err(e) => Err(FetchError::Read {
                target: name(),
                reason: e.to_string(),
            }),
        }
    }
}

/// hyper-util's error says only "client error (Connect)"; the cause says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
