//! The HTTP side: one shared connection pool for every target.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::HeaderMap;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::body::{BodyError, Encoding, ReadBody, gunzip_capped};
use crate::http1::{Failure, Transport};
use crate::snapshot::DEFAULT_MAX_DEPTH;
use crate::tls::{TlsVerification, client_config};
use crate::{DecodeError, Snapshot, Target};

/// Limits, timeouts and TLS trust of an [`ExpvarClient`]. Defaults follow
/// Metricbeat: 2 s to connect, 10 s for the whole request; plus a 16 MiB
/// body cap, 64 fetches in flight, nesting up to 64 levels, no gzip, and
/// certificates verified against Mozilla's roots.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time allowed to open the TCP connection.
    pub connect_timeout: Duration,
    /// Time allowed for the whole request: connecting, TLS, headers, body.
    pub request_timeout: Duration,
    /// Largest body accepted, enforced while reading; for a gzip-compressed
    /// response it caps both the received and the decompressed bytes.
    pub max_body_bytes: usize,
    /// Most fetches running at once across all targets (at least 1);
    /// further fetches wait for a slot (the wait does not count against
    /// `request_timeout`).
    pub max_in_flight: usize,
    /// Deepest nesting of objects and arrays accepted (the top-level object
    /// is level 1); at most [`MAX_DEPTH_CEILING`](crate::MAX_DEPTH_CEILING).
    pub max_depth: usize,
    /// Ask for gzip (`Accept-Encoding: gzip`). Gzip responses are decoded
    /// whether or not they were asked for.
    pub gzip: bool,
    /// Which certificates `https` targets may present.
    pub tls: TlsVerification,
    /// How long an idle keep-alive connection stays in the pool.
    pub pool_idle_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 16 << 20,
            max_in_flight: 64,
            max_depth: DEFAULT_MAX_DEPTH,
            gzip: false,
            tls: TlsVerification::default(),
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Opening the TCP connection ([`ClientConfig::connect_timeout`]).
    Connect,
    /// The whole request ([`ClientConfig::request_timeout`]).
    Request,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connection not established",
            TimeoutPhase::Request => "no complete response",
        })
    }
}

/// Why a fetch failed; every variant names the target (its URL, never its
/// credentials).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection refused or reset, host unknown or unreachable.
    #[error("{target}: cannot reach the target: {reason}")]
    Unreachable {
        /// The target fetched.
        target: String,
        /// The underlying error chain, flattened to text.
        reason: String,
    },
    /// A timeout expired.
    #[error("{target}: {phase} within {after:?}")]
    Timeout {
        /// The target fetched.
        target: String,
        /// Connecting, or the whole request.
        phase: TimeoutPhase,
        /// The timeout that expired.
        after: Duration,
    },
    /// The TLS handshake failed, most often because the certificate is not
    /// trusted or does not name the host.
    #[error("{target}: TLS handshake failed: {reason}")]
    Tls {
        /// The target fetched.
        target: String,
        /// rustls's reason, with a hint on what to do when there is one.
        reason: String,
    },
    /// The server answered with a non-2xx status.
    #[error("{target}: HTTP status {status}{}", canonical_reason(*.status))]
    Status {
        /// The target fetched.
        target: String,
        /// The status code.
        status: u16,
    },
    /// The body grew past the configured cap.
    #[error("{target}: response body larger than {limit} bytes{}", if *.decompressed { " once decompressed" } else { "" })]
    BodyTooLarge {
        /// The target fetched.
        target: String,
        /// The cap in bytes.
        limit: usize,
        /// Whether the decompressed size (of a gzip response) went past it.
        decompressed: bool,
    },
    /// The connection broke while reading the body, or its gzip stream is corrupt.
    #[error("{target}: reading the body failed: {reason}")]
    Read {
        /// The target fetched.
        target: String,
        /// The underlying error, flattened to text.
        reason: String,
    },
    /// The response uses a `Content-Encoding` this client cannot decode.
    #[error("{target}: unsupported Content-Encoding {encoding:?}")]
    UnsupportedEncoding {
        /// The target fetched.
        target: String,
        /// The encoding the server used.
        encoding: String,
    },
    /// The target's bearer token file could not be used.
    #[error("{target}: {reason}")]
    Credentials {
        /// The target fetched.
        target: String,
        /// What is wrong with the file (never the token).
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

fn canonical_reason(status: u16) -> String {
    hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|reason| format!(" ({reason})"))
        .unwrap_or_default()
}

impl FetchError {
    /// The target the failed fetch was for.
    pub fn target(&self) -> &str {
        match self {
            FetchError::Unreachable { target, .. }
            | FetchError::Timeout { target, .. }
            | FetchError::Tls { target, .. }
            | FetchError::Status { target, .. }
            | FetchError::BodyTooLarge { target, .. }
            | FetchError::Read { target, .. }
            | FetchError::UnsupportedEncoding { target, .. }
            | FetchError::Credentials { target, .. }
            | FetchError::Decode { target, .. } => target,
        }
    }
}

/// A body fetched as bytes ([`ExpvarClient::fetch_bytes_within`]).
#[derive(Debug, Clone)]
pub struct RawBody {
    /// The body (gunzipped when the server sent `Content-Encoding: gzip`).
    pub bytes: Vec<u8>,
    /// Bytes received on the wire.
    pub wire_bytes: usize,
    /// The `Content-Type` the server gave.
    pub content_type: Option<String>,
    /// From the request to the last byte.
    pub duration: Duration,
}

/// An async client for expvar endpoints. Cheap to clone; clones share one
/// keep-alive connection pool (HTTP/1.1) and one limit of fetches in flight.
#[derive(Clone)]
pub struct ExpvarClient {
    transport: Arc<Transport>,
    in_flight: Arc<Semaphore>,
    config: ClientConfig,
}

impl fmt::Debug for ExpvarClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpvarClient")
            .field("config", &self.config)
            .field("free_slots", &self.in_flight.available_permits())
            .finish_non_exhaustive()
    }
}

impl ExpvarClient {
    /// A client with its own connection pool; fetches must run on a tokio
    /// runtime. With [`TlsVerification::DangerAcceptInvalidCertificates`] it
    /// logs a warning.
    pub fn new(config: ClientConfig) -> ExpvarClient {
        ExpvarClient {
            transport: Arc::new(transport(&config)),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            config,
        }
    }

    /// The limits this client applies.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// A client that trusts `tls` instead, with its own connection pool,
    /// sharing this client's limit of fetches in flight (and its other
    /// settings): targets that need different certificate checks still
    /// count against one limit. (One pool cannot serve both: it reuses a
    /// connection by host and port alone, so a connection checked under
    /// looser trust could serve a target that asked for stricter.)
    pub fn with_tls(&self, tls: TlsVerification) -> ExpvarClient {
        let config = ClientConfig {
            tls,
            ..self.config.clone()
        };
        ExpvarClient {
            transport: Arc::new(transport(&config)),
            in_flight: self.in_flight.clone(),
            config,
        }
    }

    /// Fetches and decodes one snapshot of `target` within
    /// [`ClientConfig::request_timeout`]. Cancel-safe: dropping the future
    /// drops the request and frees its slot.
    pub async fn fetch(&self, target: &Target) -> Result<Snapshot, FetchError> {
        self.fetch_within(target, self.config.request_timeout).await
    }

    /// [`fetch`](ExpvarClient::fetch) with this fetch's own whole-request
    /// timeout, so that targets with different timeouts share one pool.
    pub async fn fetch_within(
        &self,
        target: &Target,
        request_timeout: Duration,
    ) -> Result<Snapshot, FetchError> {
        self.fetch_decoded(target, request_timeout, |body, duration, max_depth| {
            Snapshot::decode_with_max_depth(body, duration, max_depth)
                .map(|snapshot| (snapshot, ()))
        })
        .await
        .map(|(snapshot, ())| snapshot)
    }

    /// [`fetch_within`](ExpvarClient::fetch_within), with `memstats` read
    /// straight into `T` while the body is decoded
    /// ([`Snapshot::decode_reading_memstats`]): the snapshot then holds no
    /// `memstats` text, and `T` comes beside it.
    pub async fn fetch_reading_memstats<T: DeserializeOwned>(
        &self,
        target: &Target,
        request_timeout: Duration,
    ) -> Result<(Snapshot, Option<T>), FetchError> {
        self.fetch_decoded(target, request_timeout, Snapshot::decode_reading_memstats)
            .await
    }

    async fn fetch_decoded<T>(
        &self,
        target: &Target,
        request_timeout: Duration,
        decode: impl FnOnce(&[u8], Duration, usize) -> Result<(Snapshot, T), DecodeError>,
    ) -> Result<(Snapshot, T), FetchError> {
        // The semaphore is never closed, so this always yields a slot.
        let _slot = self.in_flight.acquire().await.ok();
        let started = Instant::now();
        let limit = request_timeout;
        let outcome = tokio::time::timeout(limit, self.fetch_body(target))
            .await
            .unwrap_or_else(|_| {
                Err(FetchError::Timeout {
                    target: target.to_string(),
                    phase: TimeoutPhase::Request,
                    after: limit,
                })
            });
        let duration = started.elapsed();
        let body = match outcome {
            Ok(body) => body,
            Err(error) => {
                tracing::debug!(target_address = %target, ?duration, %error, "expvar fetch failed");
                return Err(error);
            }
        };
        tracing::debug!(
            target_address = %target,
            body_bytes = body.bytes().len(),
            wire_bytes = body.wire_bytes(),
            ?duration,
            "fetched expvar"
        );
        decode(body.bytes(), duration, self.config.max_depth)
            .map(|(snapshot, typed)| (snapshot.with_wire_bytes(body.wire_bytes()), typed))
            .map_err(|source| FetchError::Decode {
                target: target.to_string(),
                source: source.with_content_type(body.response.content_type()),
            })
    }

    /// Fetches `target`'s body as bytes, without decoding it (a pprof
    /// profile, say), under this client's limits: the same pool, slots,
    /// body cap and gzip handling as [`fetch`](ExpvarClient::fetch), with
    /// `accept` as the `Accept` header and `request_timeout` for the whole
    /// request.
    pub async fn fetch_bytes_within(
        &self,
        target: &Target,
        accept: &'static str,
        request_timeout: Duration,
    ) -> Result<RawBody, FetchError> {
        let _slot = self.in_flight.acquire().await.ok();
        let started = Instant::now();
        let body = tokio::time::timeout(request_timeout, self.fetch_body_as(target, accept))
            .await
            .unwrap_or_else(|_| {
                Err(FetchError::Timeout {
                    target: target.to_string(),
                    phase: TimeoutPhase::Request,
                    after: request_timeout,
                })
            })?;
        Ok(RawBody {
            wire_bytes: body.wire_bytes(),
            content_type: body.response.content_type(),
            bytes: body.into_bytes(),
            duration: started.elapsed(),
        })
    }

    async fn fetch_body(&self, target: &Target) -> Result<ReadBody, FetchError> {
        self.fetch_body_as(target, "application/json").await
    }

    async fn fetch_body_as(
        &self,
        target: &Target,
        accept: &'static str,
    ) -> Result<ReadBody, FetchError> {
        let name = || target.to_string();
        let headers = target
            .request_headers()
            .await
            .map_err(|e| FetchError::Credentials {
                target: name(),
                reason: e.to_string(),
            })?;
        let request = request_head(target, accept, self.config.gzip, &headers);
        let exchange = self
            .transport
            .send(target.uri(), &request)
            .await
            .map_err(|failure| self.failure(target, failure))?;
        let status = exchange.status();
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                target: name(),
                status,
            });
        }
        let encoding = match exchange.content_encoding() {
            None => Encoding::Identity,
            Some(value) => {
                match std::str::from_utf8(value).map(|v| v.trim().to_ascii_lowercase()) {
                    Ok(v) if v.is_empty() || v == "identity" => Encoding::Identity,
                    Ok(v) if v == "gzip" || v == "x-gzip" => Encoding::Gzip,
                    _ => {
                        return Err(FetchError::UnsupportedEncoding {
                            target: name(),
                            encoding: String::from_utf8_lossy(value).into_owned(),
                        });
                    }
                }
            }
        };
        let limit = self.config.max_body_bytes;
        let too_large = |decompressed| FetchError::BodyTooLarge {
            target: name(),
            limit,
            decompressed,
        };
        if exchange.content_length().is_some_and(|n| n > limit as u64) {
            // Content-Length already says it is too big: don't read it.
            return Err(too_large(false));
        }
        let response = exchange
            .read_body(limit)
            .await
            .map_err(|failure| self.failure(target, failure))?;
        let gunzipped = match encoding {
            Encoding::Identity => None,
            Encoding::Gzip => Some(gunzip_capped(response.body(), limit).map_err(|e| match e {
                BodyError::TooLarge => too_large(true),
                BodyError::Gzip(reason) => FetchError::Read {
                    target: name(),
                    reason: format!("corrupt gzip stream: {reason}"),
                },
            })?),
        };
        Ok(ReadBody {
            response,
            gunzipped,
        })
    }

    /// What a failed exchange means for the user.
    fn failure(&self, target: &Target, failure: Failure) -> FetchError {
        let unreachable = |reason: String| FetchError::Unreachable {
            target: target.to_string(),
            reason,
        };
        match failure {
            Failure::Resolve(error) => unreachable(format!("dns error: {error}")),
            Failure::Connect(address, error) => {
                unreachable(format!("tcp connect error: {address}: {error}"))
            }
            Failure::ConnectTimeout => FetchError::Timeout {
                target: target.to_string(),
                phase: TimeoutPhase::Connect,
                after: self.config.connect_timeout,
            },
            Failure::Tls(error) => {
                let tls = causes(&error)
                    .into_iter()
                    .find_map(|cause| cause.downcast_ref::<rustls::Error>());
                match tls {
                    Some(tls) => FetchError::Tls {
                        target: target.to_string(),
                        reason: format!("{tls}{}", tls_hint(tls)),
                    },
                    None => unreachable(format!("TLS handshake: {error}")),
                }
            }
            Failure::Closed => unreachable("the connection closed before a response".to_owned()),
            Failure::Head(reason) => unreachable(reason),
            Failure::Body(reason) => FetchError::Read {
                target: target.to_string(),
                reason,
            },
            Failure::TooLarge => FetchError::BodyTooLarge {
                target: target.to_string(),
                limit: self.config.max_body_bytes,
                decompressed: false,
            },
        }
    }
}

/// The head of a `GET` of `target`: one buffer, written in one go.
fn request_head(target: &Target, accept: &str, gzip: bool, headers: &HeaderMap) -> Vec<u8> {
    let uri = target.uri();
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or("", |a| a.as_str());
    let mut head = Vec::with_capacity(160 + 64 * headers.len());
    for part in [
        "GET ",
        path,
        " HTTP/1.1\r\nHost: ",
        authority,
        "\r\nAccept: ",
        accept,
        concat!("\r\nUser-Agent: gomon/", env!("CARGO_PKG_VERSION"), "\r\n"),
    ] {
        head.extend_from_slice(part.as_bytes());
    }
    if gzip {
        head.extend_from_slice(b"Accept-Encoding: gzip\r\n");
    }
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// One keep-alive pool with `config`'s connect timeout and TLS trust.
fn transport(config: &ClientConfig) -> Transport {
    Transport::new(
        client_config(&config.tls),
        config.connect_timeout,
        config.pool_idle_timeout,
    )
}

fn tls_hint(error: &rustls::Error) -> &'static str {
    use rustls::CertificateError;
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            " (if the server uses a private CA, give its certificate in the module's ssl.certificate_authorities)"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => " (fetch the target by a name its certificate holds)",
        _ => "",
    }
}

/// An error and everything beneath it. `io::Error::source` skips the error
/// it wraps, and the TLS layers wrap rustls's error in two of them, so
/// wrapped errors are followed explicitly. Bounded against cycles.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut found = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        found.push(current);
        if found.len() >= 32 {
            break;
        }
        let wrapped = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        next = wrapped.or_else(|| current.source());
    }
    found
}
