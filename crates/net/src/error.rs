//! The crate's one error type.

use std::path::PathBuf;

/// A CA file or PEM text that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The file could not be read.
    #[error("CA file {path:?} cannot be read: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The PEM holds no `CERTIFICATE` block, or a malformed one.
    #[error("CA certificates from {source_name}: {reason}")]
    InvalidPem {
        /// The file name, or `PEM text`.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
}
