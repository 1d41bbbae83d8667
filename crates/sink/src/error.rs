//! [`SinkError`], the one error type of the crate, and `truncate` for
//! messages that quote a server's answer.

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
    /// A document handed to [`BulkSink::send`](crate::BulkSink::send) cannot be sent at all.
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
    /// [`BulkSink::try_send`](crate::BulkSink::try_send) found the queue full.
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
