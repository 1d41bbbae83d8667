//! What a [`BulkSink`](crate::BulkSink) is told: where to write, how, and
//! within which limits.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Credentials;
use crate::disk_buffer::DiskBufferConfig;
use crate::error::SinkError;
use crate::retry::RetryPolicy;
use crate::tls::TlsSettings;

/// When a batch is sent: whichever limit is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Bytes of NDJSON before compression (default 5 MiB).
    pub max_bytes: usize,
    /// Documents (default 5000).
    pub max_documents: usize,
    /// Age of the oldest document in the batch (default 1 s).
    pub max_age: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_bytes: 5 * 1024 * 1024,
            max_documents: 5000,
            max_age: Duration::from_secs(1),
        }
    }
}

/// How request bodies travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Gzip at level 1 (fast; NDJSON of metrics shrinks about tenfold),
    /// done on tokio's blocking threads, never on the async workers.
    #[default]
    Gzip,
    /// Plain NDJSON.
    None,
}

/// Everything a [`BulkSink`](crate::BulkSink) needs. Start from
/// [`SinkConfig::new`] and change the fields that matter.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Base URLs of the nodes (`http://host:9200`, `https://host:9200/prefix`);
    /// requests go round-robin to the healthy ones. A URL with user-info
    /// (`http://user:password@host`) is refused: credentials go in
    /// [`credentials`](Self::credentials), where they are never logged.
    pub hosts: Vec<String>,
    /// How to authenticate, if the cluster needs it.
    pub credentials: Option<Credentials>,
    /// Which server certificates `https` hosts may present.
    pub tls: TlsSettings,
    /// Time to establish a TCP connection (default 5 s).
    pub connect_timeout: Duration,
    /// Time for one whole request, connection to last byte of the answer
    /// (default 60 s). A request that times out is retried; with ids, a
    /// document the server wrote anyway is then counted as a duplicate.
    pub request_timeout: Duration,
    /// When batches are sent.
    pub batch: BatchLimits,
    /// Documents the in-memory queue holds (default 10 000); when it is full,
    /// [`BulkSink::send`](crate::BulkSink::send) waits.
    pub queue_capacity: usize,
    /// Bulk requests in flight at once (default 2).
    pub max_in_flight: usize,
    /// Backoff for retries of items and of whole requests.
    pub retry: RetryPolicy,
    /// Backoff before a node marked dead is tried again (its `initial`
    /// and `max`; default 1 s to 60 s).
    pub node_revival: RetryPolicy,
    /// Request body compression (default gzip).
    pub compression: Compression,
    /// NDJSON file where refused documents are appended (created if missing).
    /// Without it, refused documents are counted and logged, then dropped.
    pub dead_letter_path: Option<PathBuf>,
    /// A folder where every accepted document is written before it is sent
    /// and kept until the server answered it (default none: documents wait
    /// in memory only and are lost if the process dies). With it, `send`
    /// waits when the buffer is full, and what a drain cannot send stays on
    /// disk for the next sink on the same folder.
    pub disk_buffer: Option<DiskBufferConfig>,
}

impl SinkConfig {
    /// Defaults for these hosts.
    pub fn new<I, S>(hosts: I) -> SinkConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SinkConfig {
            hosts: hosts.into_iter().map(Into::into).collect(),
            credentials: None,
            tls: TlsSettings::default(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            batch: BatchLimits::default(),
            queue_capacity: 10_000,
            max_in_flight: 2,
            retry: RetryPolicy::default(),
            node_revival: RetryPolicy::default(),
            compression: Compression::default(),
            dead_letter_path: None,
            disk_buffer: None,
        }
    }

    /// Refuses settings that cannot work, saying which and why.
    pub fn validate(&self) -> Result<(), SinkError> {
        let invalid = |field, reason: &str| {
            Err(SinkError::InvalidConfig {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.hosts.is_empty() {
            return invalid(
                "hosts",
                "no host given; add at least one http(s)://host:port",
            );
        }
        for host in &self.hosts {
            refuse_userinfo(host)?;
        }
        if self.queue_capacity == 0 {
            return invalid("queue_capacity", "must be at least 1");
        }
        if self.max_in_flight == 0 {
            return invalid("max_in_flight", "must be at least 1");
        }
        if self.batch.max_documents == 0 || self.batch.max_bytes == 0 {
            return invalid("batch", "max_documents and max_bytes must be at least 1");
        }
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return invalid(
                "timeouts",
                "connect and request timeouts must be above zero",
            );
        }
        if let Some(disk) = &self.disk_buffer {
            disk.validate()?;
        }
        Ok(())
    }
}

/// The user-info of a URL (`user:password` of `http://user:password@host`),
/// if it has one.
fn userinfo(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    authority.rfind('@').map(|at| &authority[..at])
}

/// `http://user:secret@host` → `http://<redacted>@host`, for messages about
/// a URL that may carry a password.
pub(crate) fn redact_userinfo(url: &str) -> String {
    match userinfo(url) {
        Some(info) => url.replacen(&format!("{info}@"), "<redacted>@", 1),
        None => url.to_owned(),
    }
}

/// Refuses a server URL with credentials in it: they would travel into
/// every log line and error message that names the server. The error shows
/// the URL without them.
pub(crate) fn refuse_userinfo(url: &str) -> Result<(), SinkError> {
    match userinfo(url) {
        None => Ok(()),
        Some(_) => Err(SinkError::InvalidUrl {
            url: redact_userinfo(url),
            reason: "credentials in the URL are not accepted; give them in \
                     SinkConfig::credentials (Credentials::Basic), which is never logged"
                .to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_credentials_are_refused_without_showing_them() {
        for host in [
            "http://elastic:s3cret-pw@127.0.0.1:9200",
            "https://elastic:s3cret%40pw@es.example:9200/prefix",
            "http://s3cret-token@127.0.0.1:9200",
        ] {
            let err = SinkConfig::new([host]).validate().unwrap_err().to_string();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("<redacted>@"), "{err}");
            assert!(err.contains("SinkConfig::credentials"), "{err}");
        }
        // An `@` in the path is not user-info.
        assert!(
            SinkConfig::new(["http://127.0.0.1:9200/a@b"])
                .validate()
                .is_ok()
        );
        assert!(
            SinkConfig::new(["http://127.0.0.1:9200"])
                .validate()
                .is_ok()
        );
    }
}
