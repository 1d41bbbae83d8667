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
//!
//! # Map of the files
//!
//! - The writer: `sink.rs` shows the whole chain and [`BulkSink::start`]
//!   wires it; then one file per step: `sender.rs` (the way in, back-pressure),
//!   `dispatch.rs` (the batching loop), `encoder.rs` (NDJSON bulk body, gzip),
//!   `deliver.rs` (one batch, its retries, the 413 split), `retry.rs` (item
//!   status → action, backoff), `outcome.rs` (acknowledged, dead-lettered or
//!   lost), `feeder.rs` (disk buffer → queue), `drain.rs` (the deadline and
//!   [`BulkSink::shutdown`]).
//! - Beside it: `batch.rs` (documents, bulk lines), `transport.rs` and
//!   `health.rs` (the HTTP client, hosts and their health), `response.rs`
//!   (the bulk answer), `dead_letter.rs`, `metrics.rs`, `config.rs`,
//!   `auth.rs`, `tls.rs` (trust for `https` hosts; CA loading and owner-only
//!   files come from `gomon-net`),
//!   `error.rs` ([`SinkError`]).
//! - `disk_buffer.rs` with `disk_buffer/`: `record.rs` (the bytes of a record
//!   and an ack entry), `replay.rs`, `append.rs`, `read.rs`, `ack.rs`.
//! - The control plane: `cluster.rs`, `control.rs`, `setup.rs` (templates,
//!   index naming).

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod auth;
mod batch;
mod cluster;
mod config;
mod control;
mod dead_letter;
mod deliver;
mod disk_buffer;
mod dispatch;
mod drain;
mod encoder;
mod error;
mod feeder;
mod health;
mod metrics;
mod outcome;
mod response;
mod retry;
mod sender;
mod setup;
mod sink;
mod tls;
mod transport;

pub use auth::Credentials;
pub use batch::{BulkBatch, Document, Op, content_id};
pub use cluster::{BulkOutcome, Cluster, ItemFailure, ServerInfo, ServerKind};
pub use config::{BatchLimits, Compression, SinkConfig};
pub use dead_letter::{DeadLetter, DeadLetterStore};
pub use disk_buffer::{DiskBufferConfig, FsyncPolicy};
pub use drain::DrainReport;
pub use error::SinkError;
pub use metrics::{LastError, SinkMetricsSnapshot};
pub use response::{ItemResult, parse_bulk_response};
pub use retry::{ItemAction, RetryPolicy};
pub use sender::DocumentSender;
pub use setup::{IndexTemplate, TargetNaming, TemplateOutcome, dated_index, typed_properties};
pub use sink::BulkSink;
pub use tls::TlsSettings;
