//! The bulk path's own HTTP client (hyper): one contiguous body per request,
//! separate connect and request timeouts, failover across nodes, and the
//! raw status and body back for per-item handling.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::SinkConfig;
use crate::error::SinkError;
use crate::health::NodePool;
use crate::response::BULK_FILTER_PATH;

/// Bulk responses larger than this are refused (with `filter_path`, a
/// response is a few bytes per item).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The HTTP client of the bulk path and the control plane: the sink's TLS
/// settings and connect timeout, a keep-alive pool, and no redirect
/// following (hyper's client never follows one; callers report a 3xx).
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds the [`HttpClient`] of `config`.
pub(crate) fn http_client(config: &SinkConfig) -> Result<HttpClient, SinkError> {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(config.connect_timeout));
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.tls.client_config())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(50))
        .build(connector))
}

/// Where a redirect answer points, for messages: the `host:port` of its
/// `Location` (never its path or query, which may carry tokens), or a note
/// that it stays on the same server or names none.
pub(crate) fn redirect_target(location: Option<&HeaderValue>) -> String {
    let Some(location) = location.and_then(|l| l.to_str().ok()) else {
        return "no Location".to_owned();
    };
    match location.parse::<Uri>() {
        Ok(uri) => match uri.authority() {
            // User-info is dropped: only the host and port are named.
            Some(authority) => {
                let host_port = authority
                    .as_str()
                    .rsplit_once('@')
                    .map_or(authority.as_str(), |(_, h)| h);
                format!("{}://{host_port}", uri.scheme_str().unwrap_or("http"))
            }
            None => "a path on the same server".to_owned(),
        },
        Err(_) => "an unreadable Location".to_owned(),
    }
}

/// What a node answered to one bulk request.
#[derive(Debug)]
pub(crate) struct BulkReply {
    /// The HTTP status of the whole request.
    pub(crate) status: u16,
    /// The `Location` of a redirect answer, as [`redirect_target`] names it.
    pub(crate) redirect: Option<String>,
    /// The response body.
    pub(crate) body: Bytes,
    /// The node that answered.
    pub(crate) server: String,
}

/// Sends bulk bodies to the nodes of one cluster.
#[derive(Debug)]
pub(crate) struct BulkTransport {
    http: HttpClient,
    nodes: NodePool,
    bulk_uris: Vec<Uri>,
    authorization: Option<HeaderValue>,
    request_timeout: Duration,
}

impl BulkTransport {
    pub(crate) fn new(config: &SinkConfig) -> Result<BulkTransport, SinkError> {
        let mut bases = Vec::new();
        let mut bulk_uris = Vec::new();
        for host in &config.hosts {
            let base = host.trim_end_matches('/');
            let invalid = |reason: &str| SinkError::InvalidUrl {
                url: host.clone(),
                reason: reason.to_owned(),
            };
            let uri: Uri = base
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
            match uri.scheme_str() {
                Some("http") | Some("https") => {}
                _ => return Err(invalid("the scheme must be http or https")),
            }
            if uri.host().is_none() {
                return Err(invalid("no host"));
            }
            if uri.query().is_some() {
                return Err(invalid("a query string is not allowed in a host URL"));
            }
            let bulk = format!("{base}/_bulk?filter_path={BULK_FILTER_PATH}");
            bulk_uris.push(
                bulk.parse()
                    .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?,
            );
            bases.push(base.to_owned());
        }
        let http = http_client(config)?;
        let authorization = config
            .credentials
            .as_ref()
            .map(|c| c.header())
            .transpose()?;
        Ok(BulkTransport {
            http,
            nodes: NodePool::new(bases, config.node_revival),
            bulk_uris,
            authorization,
            request_timeout: config.request_timeout,
        })
    }

    /// Nodes believed alive now.
    pub(crate) fn alive_nodes(&self) -> usize {
        self.nodes.alive(Instant::now())
    }

    /// Sends one bulk body. A node that cannot be reached, times out or
    /// answers 502/503/504 is marked dead and the same body goes to the next
    /// node, each node at most once; the last answer or error is returned.
    pub(crate) async fn send_bulk(
        &self,
        body: Bytes,
        gzipped: bool,
    ) -> Result<BulkReply, SinkError> {
        let mut tried = Vec::with_capacity(self.nodes.len());
        let mut last: Option<Result<BulkReply, SinkError>> = None;
        while let Some(node) = self.nodes.pick(&tried, Instant::now()) {
            tried.push(node);
            let result = self.send_to(node, body.clone(), gzipped).await;
            let node_failed = match &result {
                Ok(reply) => matches!(reply.status, 502..=504),
                Err(_) => true,
            };
            if node_failed {
                self.nodes.mark_dead(node, Instant::now());
                last = Some(result);
                continue;
            }
            self.nodes.mark_alive(node);
            return result;
        }
        last.unwrap_or_else(|| {
            Err(SinkError::Transport {
                url: "(no node)".to_owned(),
                operation: "bulk",
                reason: "no node configured".to_owned(),
            })
        })
    }

    async fn send_to(
        &self,
        node: usize,
        body: Bytes,
        gzipped: bool,
    ) -> Result<BulkReply, SinkError> {
        let server = self.nodes.url(node).to_owned();
        let failed = |reason: String| SinkError::Transport {
            url: server.clone(),
            operation: "bulk",
            reason,
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.bulk_uris[node].clone())
            .header(CONTENT_TYPE, "application/x-ndjson")
            .header(ACCEPT, "application/json");
        if gzipped {
            request = request.header(CONTENT_ENCODING, "gzip");
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
                .map_err(|e| failed(gomon_net::error_chain(&e)))?;
            let status = response.status().as_u16();
            let redirect = response
                .status()
                .is_redirection()
                .then(|| redirect_target(response.headers().get(hyper::header::LOCATION)));
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| failed(format!("reading the response: {e}")))?
                .to_bytes();
            Ok(BulkReply {
                status,
                redirect,
                body,
                server: server.clone(),
            })
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(failed(format!(
                "no complete answer within the request timeout of {:?}; raise request_timeout \
                 or lower the batch size if the server is slow",
                self.request_timeout
            ))),
        }
    }
}
