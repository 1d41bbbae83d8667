//! The optional disk buffer: every accepted document is appended to a
//! checksummed, append-only segment file before it is sent, and marked as
//! acknowledged once the server has answered it, so a document survives an
//! outage longer than memory can hold and a crash of the process.
//!
//! Layout of the folder:
//!
//! - `NNNNNNNNNNNNNNNNNNNN.segment`: records, each a document with its
//!   length and CRC32. A segment is only appended to by the process that
//!   created it; a new process starts a new segment.
//! - `NNNNNNNNNNNNNNNNNNNN.acks`: the acknowledgements of that segment, one
//!   12-byte entry per answered record. A torn or corrupted entry is
//!   ignored, which at worst sends a record again (a duplicate, recognised
//!   by its id).
//!
//! A segment is deleted with its acks when it is no longer written to and
//! every record in it is acknowledged. On open, the records of older
//! segments without an acknowledgement are queued for replay, before
//! anything new. A torn last record (a crash during a write) and records
//! whose CRC does not match are skipped and counted, never fatal.
//!
//! All methods do blocking file I/O; the sink calls them on tokio's
//! blocking threads.
//!
//! Files: this one holds the settings and the state of the segments;
//! `record.rs` the bytes of a record and an ack entry (encode, decode,
//! damage detection); `replay.rs` opening the folder and queueing what an
//! earlier run left; `append.rs` writing, rotation, the bound on space and
//! fsync; `read.rs` handing records out; `ack.rs` acknowledgements and
//! deleting finished segments.

mod ack;
mod append;
mod read;
mod record;
mod replay;

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::SinkError;
use crate::metrics::SinkMetrics;

/// When appended records are forced to stable storage (`fsync`).
///
/// A process that is killed (even with `SIGKILL`) loses nothing the
/// operating system has received: every record is written with one `write`
/// call before [`BulkSink::send`](crate::BulkSink::send) returns. `fsync`
/// only matters for a crash of the machine (power loss, kernel panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every record: nothing accepted is lost even on power loss;
    /// each `send` waits for the disk.
    Always,
    /// At most this long after a write (checked on the next write and
    /// about once a second while idle): a machine crash loses at most the
    /// records of the last interval.
    Interval(Duration),
    /// Left to the operating system (typically within 30 s on Linux).
    Never,
}

/// Where and how large the disk buffer is; see [`SinkConfig::disk_buffer`](crate::SinkConfig::disk_buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskBufferConfig {
    /// The folder of the segment files (created if missing). One sink at a
    /// time may use it.
    pub path: PathBuf,
    /// Bytes the segment files may take together (default 1 GiB); when they
    /// would take more, [`BulkSink::send`](crate::BulkSink::send) waits until
    /// delivered records free a segment.
    pub max_bytes: u64,
    /// Size at which a new segment file is started (default 16 MiB); at
    /// most half of `max_bytes`.
    pub segment_bytes: u64,
    /// When records are forced to disk (default every second).
    pub fsync: FsyncPolicy,
}

impl DiskBufferConfig {
    /// Defaults for this folder.
    pub fn new(path: impl Into<PathBuf>) -> DiskBufferConfig {
        DiskBufferConfig {
            path: path.into(),
            max_bytes: 1 << 30,
            segment_bytes: 16 << 20,
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SinkError> {
        let invalid = |reason: &str| {
            Err(SinkError::InvalidConfig {
                field: "disk_buffer",
                reason: reason.to_owned(),
            })
        };
        if self.segment_bytes == 0 {
            return invalid("segment_bytes must be at least 1");
        }
        if self.segment_bytes.saturating_mul(2) > self.max_bytes {
            return invalid("segment_bytes must be at most half of max_bytes");
        }
        if let FsyncPolicy::Interval(d) = self.fsync
            && d.is_zero()
        {
            return invalid("an fsync interval must be above zero; use FsyncPolicy::Always");
        }
        Ok(())
    }
}

/// Where a record lives, to acknowledge it once the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    segment: u64,
    offset: u64,
    len: u64,
}

/// How [`DiskBuffer::append`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Written; the reader will find it.
    Written,
    /// No room now: wait for acknowledgements and try again.
    Full,
}

/// One segment file and what is known about its records.
#[derive(Debug)]
struct Segment {
    /// Bytes in the file.
    size: u64,
    /// No longer written to (from an earlier process, or rotated).
    sealed: bool,
    /// From an earlier process: its records are replays.
    replay: bool,
    /// Records not acknowledged (read or not).
    unacked: u64,
    /// Their bytes, headers included.
    unacked_bytes: u64,
    /// Offsets of records not yet handed to the sender, in order.
    unread: VecDeque<u64>,
    /// The acks file, opened on the first acknowledgement.
    acks: Option<File>,
}

#[derive(Debug)]
struct State {
    segments: BTreeMap<u64, Segment>,
    active: u64,
    writer: Option<File>,
    /// Sum of the segment files' sizes.
    total_bytes: u64,
    /// Written since the last fsync.
    dirty: bool,
    last_sync: Instant,
    /// The segment the reader has open.
    reading: Option<(u64, File)>,
    /// No more appends (the sink is draining).
    closed: bool,
}

/// The buffer of one running sink.
#[derive(Debug)]
pub(crate) struct DiskBuffer {
    config: DiskBufferConfig,
    state: Mutex<State>,
    /// Woken when acknowledgements free room.
    pub(crate) space: Notify,
    /// Woken when a record is appended.
    pub(crate) data: Notify,
}

fn io_error(path: &Path, e: std::io::Error) -> SinkError {
    SinkError::DiskBuffer {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.segment"))
}

fn acks_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.acks"))
}

impl DiskBuffer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start_segment(&self, state: &mut State, id: u64) -> Result<(), SinkError> {
        let path = segment_path(&self.config.path, id);
        let file = gomon_net::files::open_options()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        state.writer = Some(file);
        state.active = id;
        state.segments.insert(
            id,
            Segment {
                size: 0,
                sealed: false,
                replay: false,
                unacked: 0,
                unacked_bytes: 0,
                unread: VecDeque::new(),
                acks: None,
            },
        );
        Ok(())
    }

    /// Seals the active segment (deleting it if nothing in it waits) and
    /// starts the next one.
    fn rotate(&self, state: &mut State) -> Result<(), SinkError> {
        if state.dirty
            && let Some(writer) = &state.writer
        {
            let _ = writer.sync_data();
            state.dirty = false;
        }
        state.writer = None;
        let old = state.active;
        if let Some(segment) = state.segments.get_mut(&old) {
            segment.sealed = true;
        }
        self.delete_if_done(state, old);
        self.start_segment(state, old + 1)
    }

    fn delete_if_done(&self, state: &mut State, id: u64) {
        let done = state
            .segments
            .get(&id)
            .is_some_and(|s| s.sealed && s.unacked == 0);
        if done && let Some(segment) = state.segments.remove(&id) {
            state.total_bytes -= segment.size;
            if state.reading.as_ref().is_some_and(|(r, _)| *r == id) {
                state.reading = None;
            }
            remove_segment(&self.config.path, id);
        }
    }

    fn publish(&self, state: &State, metrics: &SinkMetrics) {
        let (records, bytes) = state
            .segments
            .values()
            .fold((0, 0), |(r, b), s| (r + s.unacked, b + s.unacked_bytes));
        metrics.disk_records.store(records, Ordering::Relaxed);
        metrics.disk_bytes.store(bytes, Ordering::Relaxed);
        let unread: usize = state.segments.values().map(|s| s.unread.len()).sum();
        metrics.disk_unread.store(unread as u64, Ordering::Relaxed);
    }

    /// Refuses further appends (the sink is draining).
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.space.notify_waiters();
    }
}

fn remove_segment(dir: &Path, id: u64) {
    for path in [segment_path(dir, id), acks_path(dir, id)] {
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "disk buffer: could not delete a finished file");
        }
    }
}

/// What the tests of the buffer's files share.
#[cfg(test)]
mod test_support {
    use super::*;
    use crate::batch::Document;

    pub(super) fn folder(purpose: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gomon-sink-unit-{purpose}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    pub(super) fn config(dir: &Path) -> DiskBufferConfig {
        DiskBufferConfig {
            path: dir.to_owned(),
            max_bytes: 1 << 20,
            segment_bytes: 4096,
            fsync: FsyncPolicy::Never,
        }
    }

    pub(super) fn doc(i: usize) -> Document {
        Document::create("idx", format!("{{\"n\":{i}}}").into_bytes()).with_id(format!("id-{i}"))
    }

    pub(super) fn ids(records: &[(Document, Ticket)]) -> Vec<String> {
        records
            .iter()
            .map(|(d, _)| d.id.clone().unwrap_or_default())
            .collect()
    }

    pub(super) fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "segment"))
            .collect();
        files.sort();
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let mut cfg = DiskBufferConfig::new("/tmp/x");
        assert!(cfg.validate().is_ok());
        cfg.segment_bytes = cfg.max_bytes;
        assert!(cfg.validate().is_err());
        let mut cfg = DiskBufferConfig::new("/tmp/x");
        cfg.fsync = FsyncPolicy::Interval(Duration::ZERO);
        assert!(cfg.validate().is_err());
    }
}
