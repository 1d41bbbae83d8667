//! Writes documents to Elasticsearch and OpenSearch through the bulk API.
//!
//! The sink knows nothing about Go: it takes documents (target index, an
//! optional id, JSON bytes), so any Rust program can reuse it. A
//! [`BulkBatch`] is one contiguous NDJSON body; [`Cluster::bulk`] sends it and
//! reports what happened to every document: delivered, already there (a
//! `create` with an id that exists), or failed with the server's status and
//! reason. [`Cluster::server_info`] tells Elasticsearch from OpenSearch and
//! reads the version, also on minimal distributions that lack `GET /`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gomon_sink::SinkError> {
//! use gomon_sink::{BulkBatch, Cluster, Op};
//! let cluster = Cluster::new("http://127.0.0.1:9200")?;
//! let mut batch = BulkBatch::default();
//! batch.push(Op::Create, "metrics-golang", Some("doc-1"), br#"{"@timestamp":"2026-01-01T00:00:00Z"}"#)?;
//! let outcome = cluster.bulk(&batch).await?;
//! assert_eq!(outcome.delivered + outcome.duplicates, 1);
//! # Ok(()) }
//! ```
//!
//! Not yet here: batching by size/age, retries, dead letters, the disk
//! buffer, several nodes, authentication and TLS settings, and setup of
//! templates.

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod batch;
mod cluster;

pub use batch::{BulkBatch, Op};
pub use cluster::{BulkOutcome, Cluster, ItemFailure, ServerInfo, ServerKind};

/// Everything that can go wrong in the sink.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The server URL does not parse.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A document that is not one line of JSON cannot go into an NDJSON body.
    #[error("document {position} of the batch is not a single-line JSON object: {reason}")]
    InvalidDocument {
        /// Position in the batch, from 0.
        position: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The request did not get an HTTP answer (refused, reset, timed out).
    #[error("{url}: {operation} failed: {reason}")]
    Transport {
        /// The server.
        url: String,
        /// What was being done (`bulk`, `server info`).
        operation: &'static str,
        /// The client's error.
        reason: String,
    },
    /// The server answered the whole request with an error status.
    #[error("{url}: {operation} answered HTTP {status}: {body}")]
    Status {
        /// The server.
        url: String,
        /// What was being done.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The server's answer is not what the API promises.
    #[error("{url}: unexpected {operation} response: {reason}")]
    Response {
        /// The server.
        url: String,
        /// What was being done.
        operation: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}
