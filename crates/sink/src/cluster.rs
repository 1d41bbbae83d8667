//! The server side: what the server is, and sending bulk requests.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use hyper::header::HeaderMap;
use serde_json::Value;

use crate::batch::BulkBatch;
use crate::config::SinkConfig;
use crate::control::ControlTransport;
use crate::error::{SinkError, truncate};
use crate::response::{BULK_FILTER_PATH, parse_bulk_response};

/// Which product answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// Elasticsearch.
    Elasticsearch,
    /// OpenSearch.
    OpenSearch,
}

/// What [`Cluster::server_info`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// Elasticsearch or OpenSearch.
    pub kind: ServerKind,
    /// The version number, e.g. `9.5.4`.
    pub version: String,
}

impl ServerInfo {
    /// Refuses servers whose bulk API or templates differ from what the
    /// sink sends: Elasticsearch before 7.10 (composable index templates)
    /// and OpenSearch before 1.0.
    pub fn check_supported(&self, url: &str) -> Result<(), SinkError> {
        let minor: u32 = self
            .version
            .split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        let (major, supported) = (
            self.major(),
            match self.kind {
                ServerKind::Elasticsearch => (self.major(), minor) >= (7, 10),
                ServerKind::OpenSearch => self.major() >= 1,
            },
        );
        if supported {
            return Ok(());
        }
        Err(SinkError::Unsupported {
            url: url.to_owned(),
            kind: format!("{:?}", self.kind),
            version: self.version.clone(),
            reason: format!(
                "major version {major} lacks composable index templates or the typeless bulk API; \
                 use Elasticsearch 7.10+ (7.17, 8.x, 9.x) or OpenSearch 1.x/2.x"
            ),
        })
    }

    /// The major version, 0 if the version does not start with a number.
    pub fn major(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }
}

/// One document the server did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFailure {
    /// Position of the document in the batch, from 0.
    pub position: usize,
    /// The item's HTTP status (400 for a mapping error, 429 when overloaded, ...).
    pub status: u16,
    /// The server's error type and reason.
    pub reason: String,
}

/// What happened to each document of one bulk request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Documents written.
    pub delivered: usize,
    /// `create` items answered 409: the id exists, the document was written before.
    pub duplicates: usize,
    /// Documents refused, with why.
    pub failed: Vec<ItemFailure>,
}

/// A connection to one Elasticsearch or OpenSearch node.
///
/// Its own requests ([`Cluster::server_info`], [`Cluster::bulk`],
/// [`Cluster::search`], templates and data streams) go on the sink's HTTP
/// client and never follow a redirect: a 3xx answer is
/// [`SinkError::Redirect`], naming where it pointed.
///
/// `Debug` shows the URL only, never the credentials.
#[derive(Clone)]
pub struct Cluster {
    control: Arc<ControlTransport>,
    url: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A connection to `url` (`http://host:port`), with a 30 s request timeout.
    /// A URL with credentials in it (`http://user:password@host`) is refused.
    pub fn new(url: &str) -> Result<Cluster, SinkError> {
        crate::config::refuse_userinfo(url)?;
        let mut config = SinkConfig::new([url]);
        config.request_timeout = Duration::from_secs(30);
        Ok(Cluster {
            control: Arc::new(ControlTransport::new(&config)?),
            url: url.trim_end_matches('/').to_owned(),
        })
    }

    /// A control-plane connection with the hosts, credentials, CA and
    /// request timeout of a sink's configuration, sending round-robin over
    /// the hosts. With a custom CA, the CA is added to the trusted roots.
    pub fn with_config(config: &SinkConfig) -> Result<Cluster, SinkError> {
        config.validate()?;
        Ok(Cluster {
            control: Arc::new(ControlTransport::new(config)?),
            url: config.hosts.join(","),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn get_json(
        &self,
        path: &str,
        operation: &'static str,
    ) -> Result<(u16, HeaderMap, Value), SinkError> {
        let reply = self
            .control
            .send(Method::GET, path, None, bytes::Bytes::new(), operation)
            .await?;
        Ok((reply.status, reply.headers, json_or_text(&reply.body)))
    }

    /// `POST <index_pattern>/_search` with `body`: the status and the answer
    /// (JSON, or the text as a JSON string).
    pub async fn search(
        &self,
        index_pattern: &str,
        body: &Value,
    ) -> Result<(u16, Value), SinkError> {
        self.request_json(
            Method::POST,
            &format!("/{index_pattern}/_search"),
            Some(body.clone()),
            "search",
        )
        .await
    }

    /// Asks the server what it is. Uses `GET /`, and `GET /_nodes/_local` where
    /// `GET /` is not served (Elasticsearch's minimal test distribution).
    pub async fn server_info(&self) -> Result<ServerInfo, SinkError> {
        const OP: &str = "server info";
        let (status, _, root) = self.get_json("/", OP).await?;
        if status == 200 {
            let version = root.pointer("/version/number").and_then(Value::as_str);
            let distribution = root
                .pointer("/version/distribution")
                .and_then(Value::as_str);
            if let Some(version) = version {
                let kind = if distribution == Some("opensearch") {
                    ServerKind::OpenSearch
                } else {
                    ServerKind::Elasticsearch
                };
                return Ok(ServerInfo {
                    kind,
                    version: version.to_owned(),
                });
            }
        }
        let (status, headers, nodes) = self
            .get_json("/_nodes/_local?filter_path=nodes.*.version", OP)
            .await?;
        if status != 200 {
            return Err(self.status_error(OP, status, &nodes));
        }
        let version = nodes
            .get("nodes")
            .and_then(Value::as_object)
            .and_then(|n| n.values().next())
            .and_then(|n| n.get("version"))
            .and_then(Value::as_str)
            .ok_or_else(|| SinkError::Response {
                url: self.url.clone(),
                operation: OP,
                reason: format!("no version in {nodes}"),
            })?;
        let kind = if headers.contains_key("x-elastic-product") {
            ServerKind::Elasticsearch
        } else {
            ServerKind::OpenSearch
        };
        Ok(ServerInfo {
            kind,
            version: version.to_owned(),
        })
    }

    /// Sends one batch and sorts every item into delivered, duplicate or
    /// failed (one request, no retries: [`BulkSink`](crate::BulkSink) is the
    /// writer that retries).
    pub async fn bulk(&self, batch: &BulkBatch) -> Result<BulkOutcome, SinkError> {
        const OP: &str = "bulk";
        if batch.is_empty() {
            return Ok(BulkOutcome::default());
        }
        let reply = self
            .control
            .send(
                Method::POST,
                &format!("/_bulk?filter_path={BULK_FILTER_PATH}"),
                Some("application/x-ndjson"),
                bytes::Bytes::copy_from_slice(batch.body()),
                OP,
            )
            .await?;
        let status = reply.status;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        if !(200..300).contains(&status) {
            return Err(self.status_error(OP, status, &Value::String(text)));
        }
        let items = parse_bulk_response(text.as_bytes(), batch.len()).map_err(|reason| {
            SinkError::Response {
                url: self.url.clone(),
                operation: OP,
                reason,
            }
        })?;
        let mut outcome = BulkOutcome::default();
        for (position, item) in items.into_iter().enumerate() {
            match item.status {
                200..=299 => outcome.delivered += 1,
                409 if item.action == "create" => outcome.duplicates += 1,
                status => outcome.failed.push(ItemFailure {
                    position,
                    status,
                    reason: item.error.unwrap_or_else(|| format!("HTTP {status}")),
                }),
            }
        }
        tracing::debug!(server = %self.url, delivered = outcome.delivered, duplicates = outcome.duplicates, failed = outcome.failed.len(), "bulk request done");
        Ok(outcome)
    }

    /// One control-plane request with an optional JSON body; the status and
    /// the body (JSON, or the text as a JSON string).
    pub(crate) async fn request_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        operation: &'static str,
    ) -> Result<(u16, Value), SinkError> {
        let content_type = body.is_some().then_some("application/json");
        let body = body.map(|b| bytes::Bytes::from(b.to_string()));
        let reply = self
            .control
            .send(
                method,
                path,
                content_type,
                body.unwrap_or_default(),
                operation,
            )
            .await?;
        Ok((reply.status, json_or_text(&reply.body)))
    }

    pub(crate) fn status_error(
        &self,
        operation: &'static str,
        status: u16,
        body: &Value,
    ) -> SinkError {
        let body = match body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let body = truncate(body, 512);
        SinkError::Status {
            url: self.url.clone(),
            operation,
            status,
            body,
        }
    }
}

/// An answer as JSON, or its text as a JSON string when it is not JSON.
fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credentials;

    #[test]
    fn a_cluster_with_credentials_never_shows_them() {
        let mut config = SinkConfig::new(["http://127.0.0.1:9200", "http://127.0.0.2:9200"]);
        config.credentials = Some(Credentials::Basic {
            username: "elastic".into(),
            password: "s3cret-pw".into(),
        });
        let cluster = Cluster::with_config(&config).unwrap();
        let shown = format!("{cluster:?} {config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("127.0.0.1:9200"), "{shown}");
    }

    #[test]
    fn old_servers_are_refused_with_what_to_use_instead() {
        let info = |kind, version: &str| ServerInfo {
            kind,
            version: version.to_owned(),
        };
        let url = "http://es:9200";
        assert!(
            info(ServerKind::Elasticsearch, "7.17.29")
                .check_supported(url)
                .is_ok()
        );
        assert!(
            info(ServerKind::Elasticsearch, "9.5.4")
                .check_supported(url)
                .is_ok()
        );
        assert!(
            info(ServerKind::OpenSearch, "2.19.6")
                .check_supported(url)
                .is_ok()
        );
        let err = info(ServerKind::Elasticsearch, "6.8.23")
            .check_supported(url)
            .unwrap_err()
            .to_string();
        assert!(err.contains("6.8.23") && err.contains("7.10+"), "{err}");
        assert!(
            info(ServerKind::Elasticsearch, "7.9.3")
                .check_supported(url)
                .is_err()
        );
    }
}
