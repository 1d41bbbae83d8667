//! The server side: what the server is, and sending bulk requests.

use std::time::Duration;

use elasticsearch::Elasticsearch;
use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{Method, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::{BulkBatch, SinkError};

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
#[derive(Debug, Clone)]
pub struct Cluster {
    client: Elasticsearch,
    url: String,
}

#[derive(Deserialize)]
struct BulkResponse {
    #[serde(default)]
    items: Vec<serde_json::Map<String, Value>>,
}

impl Cluster {
    /// A connection to `url` (`http://host:port`), with a 30 s request timeout.
    pub fn new(url: &str) -> Result<Cluster, SinkError> {
        let invalid = |reason: String| SinkError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(parsed))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Cluster {
            client: Elasticsearch::new(transport),
            url: url.trim_end_matches('/').to_owned(),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The underlying `elasticsearch` client, for control-plane calls.
    pub fn client(&self) -> &Elasticsearch {
        &self.client
    }

    async fn get_json(
        &self,
        path: &str,
        operation: &'static str,
    ) -> Result<(u16, HeaderMap, Value), SinkError> {
        let response = self
            .client
            .send(
                Method::Get,
                path,
                HeaderMap::new(),
                None::<&()>,
                None::<&[u8]>,
                None,
            )
            .await
            .map_err(|e| self.transport_error(operation, &e))?;
        let status = response.status_code().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| self.transport_error(operation, &e))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, headers, value))
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

    /// Sends one batch and sorts every item into delivered, duplicate or failed.
    pub async fn bulk(&self, batch: &BulkBatch) -> Result<BulkOutcome, SinkError> {
        const OP: &str = "bulk";
        if batch.is_empty() {
            return Ok(BulkOutcome::default());
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        let response = self
            .client
            .send(
                Method::Post,
                "/_bulk",
                headers,
                Some(&[("filter_path", "errors,items.*.status,items.*.error")]),
                Some(batch.body()),
                None,
            )
            .await
            .map_err(|e| self.transport_error(OP, &e))?;
        let status = response.status_code().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| self.transport_error(OP, &e))?;
        if !(200..300).contains(&status) {
            return Err(self.status_error(OP, status, &Value::String(text)));
        }
        let parsed: BulkResponse =
            serde_json::from_str(&text).map_err(|e| SinkError::Response {
                url: self.url.clone(),
                operation: OP,
                reason: format!("{e}"),
            })?;
        if parsed.items.len() != batch.len() {
            return Err(SinkError::Response {
                url: self.url.clone(),
                operation: OP,
                reason: format!("{} items for {} documents", parsed.items.len(), batch.len()),
            });
        }
        let mut outcome = BulkOutcome::default();
        for (position, item) in parsed.items.iter().enumerate() {
            let (action, result) = item.iter().next().ok_or_else(|| SinkError::Response {
                url: self.url.clone(),
                operation: OP,
                reason: format!("empty item at position {position}"),
            })?;
            let status = result.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
            match status {
                200..=299 => outcome.delivered += 1,
                409 if action == "create" => outcome.duplicates += 1,
                _ => {
                    let error = result.get("error");
                    let kind = error
                        .and_then(|e| e.get("type"))
                        .and_then(Value::as_str)
                        .unwrap_or("unknown");
                    let reason = error
                        .and_then(|e| e.get("reason"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    outcome.failed.push(ItemFailure {
                        position,
                        status,
                        reason: format!("{kind}: {reason}"),
                    });
                }
            }
        }
        tracing::debug!(server = %self.url, delivered = outcome.delivered, duplicates = outcome.duplicates, failed = outcome.failed.len(), "bulk request done");
        Ok(outcome)
    }

    fn transport_error(&self, operation: &'static str, error: &elasticsearch::Error) -> SinkError {
        SinkError::Transport {
            url: self.url.clone(),
            operation,
            reason: error.to_string(),
        }
    }

    fn status_error(&self, operation: &'static str, status: u16, body: &Value) -> SinkError {
        let mut body = match body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if body.len() > 512 {
            let mut cut = 512;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        SinkError::Status {
            url: self.url.clone(),
            operation,
            status,
            body,
        }
    }
}
