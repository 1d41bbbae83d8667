//! gomon's embedded store: the documents of `gomon run` in one SQLite file
//! (`gomon.db` in the data folder), made for the question a chart asks:
//! "this field of this target between these two instants, in at most N
//! points".
//!
//! - Rows are keyed by target and time. A heap document is one row with the
//!   `golang.heap` leaves as columns; an expvar document is one row with its
//!   `golang.<namespace>` object as JSON text.
//! - Every heap row also says whether it is a *live heap* sample: HeapAlloc
//!   just after a GC cycle completed (NumGC changed since the target's
//!   previous row), the quantity a leak verdict is about.
//! - Rollups per minute and per hour are kept beside the rows, recomputed
//!   from them as rows arrive (at most 10 s behind), so a 24-hour chart of
//!   1 s data reads 1,440 minute rows instead of 86,400, and a 30-day chart
//!   43,200 instead of 2.6 million; raw rows are deleted after the retention
//!   (7 days by default), rollups later (90 days and 2 years).
//! - Crash safety is SQLite's: WAL mode, one transaction per
//!   [`Store::write`]. A write that returned is on disk in the WAL; a process
//!   killed in the middle of one leaves the file as it was before it.
//!
//! [`Store`] is the one writer; [`Reader`] answers the view's and the
//! analysis' queries, from any number of threads, while the writer writes.
//!
//! ```
//! use gomon_store::{Reader, Store, StoreSettings, TimeRange};
//! use serde_json::json;
//!
//! let dir = std::env::temp_dir().join(format!("gomon-store-doc-{}", std::process::id()));
//! let path = dir.join(gomon_store::DEFAULT_FILE);
//! let mut store = Store::open(&path, StoreSettings::default()).unwrap();
//! let doc = json!({
//!     "@timestamp": "2026-01-02T03:04:05.000Z",
//!     "metricset": {"name": "heap"},
//!     "service": {"address": "http://127.0.0.1:6060/debug/vars"},
//!     "golang": {"heap": {"allocations": {"allocated": 5_000_000}, "gc": {"total_count": 3}}},
//! });
//! store.write(&[doc]).unwrap();
//! let reader = Reader::open(&path).unwrap();
//! let series = reader
//!     .heap_series("http://127.0.0.1:6060/debug/vars", TimeRange::all(), 100)
//!     .unwrap();
//! assert_eq!(series.column("allocations.allocated").unwrap(), &[Some(5e6)]);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

#![deny(missing_docs)]

mod import;
mod read;
mod row;
pub mod schema;
mod write;

pub use import::{ImportError, ImportReport, import_ndjson};
pub use read::{Reader, Series, TargetInfo};
pub use schema::SCHEMA_VERSION;
pub use write::{Store, StoreSettings, Written};

/// The store's file name in the data folder.
pub const DEFAULT_FILE: &str = "gomon.db";

/// A span of time in Unix milliseconds: `from_ms` included, `to_ms` not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Start, included.
    pub from_ms: i64,
    /// End, excluded.
    pub to_ms: i64,
}

impl TimeRange {
    /// Everything.
    pub fn all() -> TimeRange {
        TimeRange {
            from_ms: i64::MIN,
            to_ms: i64::MAX,
        }
    }

    /// The last `span` up to now.
    pub fn last(span: std::time::Duration) -> TimeRange {
        let now = now_ms();
        TimeRange {
            from_ms: now.saturating_sub(i64::try_from(span.as_millis()).unwrap_or(i64::MAX)),
            to_ms: now.saturating_add(1),
        }
    }

    fn width(&self) -> i64 {
        self.to_ms.saturating_sub(self.from_ms).max(1)
    }
}

/// Why the store cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite's own error (the file, a lock, a full disk).
    #[error("store {}: {source}", path.display())]
    Sqlite {
        /// The store file.
        path: std::path::PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file was written by a newer gomon: it is left untouched.
    #[error(
        "the store was written by a newer gomon (schema {found}; this one reads up to {supported}): upgrade gomon, or use another --data folder"
    )]
    Newer {
        /// The schema version found.
        found: i64,
        /// The newest this code reads.
        supported: i64,
    },
    /// The file is a SQLite database, but not a store this code understands.
    #[error("the store is damaged: {what}")]
    Corrupt {
        /// What is wrong.
        what: String,
    },
    /// There is no store at the path.
    #[error("no store at {} (run `gomon run` or `gomon import` first)", .0.display())]
    Missing(std::path::PathBuf),
    /// The folder or the file cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: std::path::PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: std::path::PathBuf::new(),
            source,
        }
    }
}

impl StoreError {
    /// Names the file in SQLite errors that do not carry it yet.
    pub(crate) fn at(self, path: &std::path::Path) -> StoreError {
        match self {
            StoreError::Sqlite { source, path: p } if p.as_os_str().is_empty() => {
                StoreError::Sqlite {
                    path: path.to_path_buf(),
                    source,
                }
            }
            other => other,
        }
    }
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
