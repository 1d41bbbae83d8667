//! Writes documents to Elasticsearch and OpenSearch through the bulk API,
//! losing nothing it can keep and duplicating nothing it can recognise.
//!
//! The sink knows nothing about Go: it takes [`Document`]s (a target index or
//! data stream, an optional id, one line of JSON), so any Rust program can
//! reuse it. Two layers:
//!
//! - [`BulkSink`] is the writer a program keeps running: a bounded queue
//!   (a full queue makes [`BulkSink::send`] wait: back-pressure, never
//!   unbounded memory), batches that flush on size, document count or age,
//!   gzip off the async runtime's threads, per-item handling of the answer
//!   (2xx delivered, 409 on `create` = already there, 429/5xx retried alone
//!   with exponential backoff and full jitter, other 4xx written to a
//!   dead-letter file), a whole-request 413 split in halves, several hosts
//!   with per-node health, and a drain on [`BulkSink::shutdown`] that reports
//!   what it could not send. [`BulkSink::metrics`] returns counters as a plain
//!   serialisable struct.
//! - [`Cluster`] is the control plane on the `elasticsearch` crate: what the
//!   server is ([`Cluster::server_info`], also on minimal distributions that
//!   lack `GET /`), one-shot [`Cluster::bulk`] of a [`BulkBatch`], and the
//!   idempotent installation of index templates ([`IndexTemplate`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), gomon_sink::SinkError> {
//! use std::time::Duration;
//! use gomon_sink::{BulkSink, Document, SinkConfig};
//!
//! let mut config = SinkConfig::new(["http://127.0.0.1:9200"]);
//! config.dead_letter_path = Some("/var/lib/myapp/dead-letters.ndjson".into());
//! let sink = BulkSink::start(config)?;
//! let doc = Document::create("metrics-app", br#"{"@timestamp":"2026-01-01T00:00:00Z","n":1}"#.to_vec())
//!     .with_content_id(); // a replayed document is recognised, never indexed twice
//! sink.send(doc).await?;
//! let report = sink.shutdown(Duration::from_secs(10)).await;
//! assert_eq!(report.lost, 0);
//! # Ok(()) }
//! ```
//!
//! What is lost in each situation is written down in `docs/reliability.md`
//! of the gomon repository. With [`SinkConfig::disk_buffer`] set, every
//! accepted document is first appended to a checksummed segment file and
//! replayed by the next sink on the same folder if it was not answered
//! (after a crash, `kill -9`, or a drain deadline): at-least-once, and with
//! ids effectively exactly-once.

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod auth;
mod batch;
mod cluster;
mod config;
mod control;
mod dead_letter;
mod disk_buffer;
mod health;
mod metrics;
mod owner_only;
mod response;
mod retry;
mod service;
mod setup;
mod tls;
mod transport;

pub use auth::Credentials;
pub use batch::{BulkBatch, Document, Op, content_id};
pub use cluster::{BulkOutcome, Cluster, ItemFailure, ServerInfo, ServerKind};
pub use config::{BatchLimits, Compression, SinkConfig};
pub use dead_letter::{DeadLetter, DeadLetterStore};
pub use disk_buffer::{DiskBufferConfig, FsyncPolicy};
pub use metrics::{LastError, SinkMetricsSnapshot};
pub use response::{ItemResult, parse_bulk_response};
pub use retry::{ItemAction, RetryPolicy};
pub use service::{BulkSink, DocumentSender, DrainReport};
pub use setup::{IndexTemplate, TargetNaming, TemplateOutcome, dated_index, typed_properties};
pub use tls::TlsSettings;

/// Everything that can go wrong in the sink.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The server URL does not parse.
    #[error(
        "invalid server URL {url:?}: {reason}; give it as http://host:port or https://host:port"
    )]
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
    /// A document handed to [`BulkSink::send`] cannot be sent at all.
    #[error(
        "document for index {index:?} refused before sending: {reason}; \
         serialise it with serde_json::to_vec (one line, an object)"
    )]
    RefusedDocument {
        /// The target index.
        index: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration cannot work.
    #[error("invalid sink configuration: {field}: {reason}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The sink was shut down; nothing more can be sent through it.
    #[error(
        "the bulk sink is shut down: the document was not queued; start a new sink to send more"
    )]
    Closed,
    /// [`BulkSink::try_send`] found the queue full.
    #[error("the bulk sink's queue is full ({capacity} documents): wait with send() or slow down")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The dead-letter file cannot be opened or written.
    #[error("dead-letter file {path:?}: {reason}; check that its folder exists and is writable")]
    DeadLetter {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The disk buffer's folder or files cannot be read or written.
    #[error(
        "disk buffer {path:?}: {reason}; check that the folder is writable, has free space \
         and is used by one sink at a time"
    )]
    DiskBuffer {
        /// The folder or file.
        path: std::path::PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The TLS settings cannot be used (unreadable or malformed CA file).
    #[error("TLS settings: {reason}")]
    Tls {
        /// What is wrong.
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
    /// The server answered with a redirect. The sink never follows one:
    /// credentials, templates and documents go only to the hosts configured.
    #[error(
        "{url}: {operation} answered HTTP {status} redirecting to {location}; redirects are \
         not followed (credentials stay with the hosts configured): list the server's own \
         address in hosts"
    )]
    Redirect {
        /// The server.
        url: String,
        /// What was being done.
        operation: &'static str,
        /// The HTTP status (301, 302, 303, 307, 308).
        status: u16,
        /// Where it pointed: `scheme://host:port` of its `Location` only.
        location: String,
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
    /// The server is of a kind or version the sink does not support.
    #[error("{url}: {kind} {version} is not supported: {reason}")]
    Unsupported {
        /// The server.
        url: String,
        /// Elasticsearch or OpenSearch.
        kind: String,
        /// The version found.
        version: String,
        /// What would not work.
        reason: String,
    },
}

/// Cuts `text` to at most `max` bytes on a character boundary (for error
/// messages that quote a server's answer).
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}
