//! The control plane's HTTP requests (server info, data-stream check,
//! template GET and PUT, one-shot bulk, searches): on the sink's own hyper
//! client, with the same hosts, TLS, credentials and timeouts as the bulk
//! path. A redirect is never followed: it is an error that names where it
//! pointed, so that credentials and templates never reach a host nobody
//! configured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use hyper::{Method, Request};

use crate::config::SinkConfig;
use crate::error::SinkError;
use crate::transport::{HttpClient, http_client, redirect_target};
use gomon_net::error_chain;

/// Control-plane answers larger than this are refused (a search with
/// aggregations over years of data stays far below).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// What a server answered to one control-plane request.
#[derive(Debug)]
pub(crate) struct ControlReply {
    /// The HTTP status (never a 3xx: those are errors).
    pub(crate) status: u16,
    /// The response headers.
    pub(crate) headers: HeaderMap,
    /// The response body.
    pub(crate) body: Bytes,
}

/// Sends control-plane requests round-robin to the configured hosts.
#[derive(Debug)]
pub(crate) struct ControlTransport {
    http: HttpClient,
    bases: Vec<String>,
    next: AtomicUsize,
    authorization: Option<HeaderValue>,
    request_timeout: Duration,
}

impl ControlTransport {
    pub(crate) fn new(config: &SinkConfig) -> Result<ControlTransport, SinkError> {
        let mut bases = Vec::with_capacity(config.hosts.len());
        for host in &config.hosts {
            let base = host.trim_end_matches('/');
            let invalid = |reason: String| SinkError::InvalidUrl {
                url: host.clone(),
                reason,
            };
            let uri: hyper::Uri = base.parse().map_err(|e| invalid(format!("{e}")))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) {
                return Err(invalid("the scheme must be http or https".to_owned()));
            }
            if uri.host().is_none() {
                return Err(invalid("no host".to_owned()));
            }
            bases.push(base.to_owned());
        }
        if bases.is_empty() {
            return Err(SinkError::InvalidConfig {
                field: "hosts",
                reason: "no host configured".to_owned(),
            });
        }
        let authorization = config
            .credentials
            .as_ref()
            .map(|c| c.header())
            .transpose()?;
        Ok(ControlTransport {
            http: http_client(config)?,
            bases,
            next: AtomicUsize::new(0),
            authorization,
            request_timeout: config.request_timeout,
        })
    }

    /// Sends one request to the next host: `path_and_query` starts with `/`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&'static str>,
        body: Bytes,
        operation: &'static str,
    ) -> Result<ControlReply, SinkError> {
        let base = &self.bases[self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len()];
        let failed = |reason: String| SinkError::Transport {
            url: base.clone(),
            operation,
            reason,
        };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{base}{path_and_query}"))
            .header(ACCEPT, "application/json");
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| failed(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| failed(error_chain(&e)))?;
            let status = response.status();
            if status.is_redirection() {
                return Err(SinkError::Redirect {
                    url: base.clone(),
                    operation,
                    status: status.as_u16(),
                    location: redirect_target(response.headers().get(LOCATION)),
                });
            }
            let headers = response.headers().clone();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| failed(format!("reading the response: {e}")))?
                .to_bytes();
            Ok(ControlReply {
                status: status.as_u16(),
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(failed(format!(
                "no complete answer within the request timeout of {:?}",
                self.request_timeout
            ))),
        }
    }
}
