//! The optional disk buffer: every accepted document is appended to a
//! checksummed, append-only segment file before it is sent, and marked as
//! acknowledged once the server has answered it, so a document survives an
//! outage longer than memory can hold and a crash of the process.
//!
//! Layout of the folder:
//!
//! - `NNNNNNNNNNNNNNNNNNNN.segment`: records, each `[payload length: u32 LE]
//!   [CRC32 of the payload: u32 LE][payload]`; the payload is the document
//!   (`[op: u8][index length: u32 LE][index][has id: u8][id length: u32 LE]
//!   [id][source]`). A segment is only appended to by the process that
//!   created it; a new process starts a new segment.
//! - `NNNNNNNNNNNNNNNNNNNN.acks`: the acknowledgements of that segment, one
//!   12-byte entry per answered record (`[record offset: u64 LE][CRC32 of
//!   those 8 bytes: u32 LE]`). A torn or corrupted entry is ignored, which
//!   at worst sends a record again (a duplicate, recognised by its id).
//!
//! A segment is deleted with its acks when it is no longer written to and
//! every record in it is acknowledged. On open, the records of older
//! segments without an acknowledgement are queued for replay, before
//! anything new. A torn last record (a crash during a write) and records
//! whose CRC does not match are skipped and counted, never fatal.
//!
//! All methods do blocking file I/O; the service calls them on tokio's
//! blocking threads.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::batch::{Document, Op};
use crate::error::SinkError;
use crate::metrics::{SinkMetrics, add};

/// Bytes before each record's payload: its length and its CRC32.
const HEADER: u64 = 8;
/// Bytes of one acknowledgement entry.
const ACK_ENTRY: usize = 12;
/// A record longer than this is treated as a corrupt length field.
const MAX_RECORD: u64 = 1 << 30;

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

/// The record of `doc`: header and payload.
pub(crate) fn encode_record(doc: &Document) -> Vec<u8> {
    let id = doc.id.as_deref().unwrap_or("");
    let payload_len = 1 + 4 + doc.index.len() + 1 + 4 + id.len() + doc.source.len();
    let mut out = Vec::with_capacity(HEADER as usize + payload_len);
    out.extend_from_slice(&(payload_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(match doc.op {
        Op::Create => 0,
        Op::Index => 1,
    });
    out.extend_from_slice(&(doc.index.len() as u32).to_le_bytes());
    out.extend_from_slice(doc.index.as_bytes());
    out.push(u8::from(doc.id.is_some()));
    out.extend_from_slice(&(id.len() as u32).to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&doc.source);
    let crc = crc32fast::hash(&out[HEADER as usize..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The document in a payload, if it is well formed.
fn decode_payload(payload: &[u8]) -> Option<Document> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, tail) = bytes.split_at(n);
        *bytes = tail;
        Some(head)
    }
    fn take_u32(bytes: &mut &[u8]) -> Option<usize> {
        let raw: [u8; 4] = take(bytes, 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(raw) as usize)
    }
    let mut rest = payload;
    let op = match take(&mut rest, 1)?[0] {
        0 => Op::Create,
        1 => Op::Index,
        _ => return None,
    };
    let n = take_u32(&mut rest)?;
    let index = std::str::from_utf8(take(&mut rest, n)?).ok()?.to_owned();
    let has_id = take(&mut rest, 1)?[0];
    let n = take_u32(&mut rest)?;
    let id = std::str::from_utf8(take(&mut rest, n)?).ok()?.to_owned();
    let id = match has_id {
        0 => None,
        1 => Some(id),
        _ => return None,
    };
    Some(Document {
        op,
        index,
        id,
        source: Bytes::copy_from_slice(rest),
    })
}

/// What is at one offset of a segment's bytes.
#[derive(Debug, PartialEq)]
pub(crate) enum Scanned {
    /// A record: the document and the record's length (header included).
    Record(Document, u64),
    /// A record whose CRC or content is wrong; the next starts after it.
    Corrupt(u64),
    /// The rest cannot be read: a torn write, or a length that cannot be.
    Torn,
}

/// Reads the record at the start of `bytes`.
pub(crate) fn scan(bytes: &[u8]) -> Scanned {
    if (bytes.len() as u64) < HEADER {
        return Scanned::Torn;
    }
    let len = u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    // A zero length is what a zero-filled tail (a crash after the file grew)
    // looks like; no real record is empty.
    if len == 0 || len > MAX_RECORD || HEADER + len > bytes.len() as u64 {
        return Scanned::Torn;
    }
    let payload = &bytes[HEADER as usize..(HEADER + len) as usize];
    if crc32fast::hash(payload) != crc {
        return Scanned::Corrupt(HEADER + len);
    }
    match decode_payload(payload) {
        Some(doc) => Scanned::Record(doc, HEADER + len),
        None => Scanned::Corrupt(HEADER + len),
    }
}

fn encode_ack(offset: u64) -> [u8; ACK_ENTRY] {
    let mut entry = [0; ACK_ENTRY];
    entry[..8].copy_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&entry[..8]);
    entry[8..].copy_from_slice(&crc.to_le_bytes());
    entry
}

/// The offsets acknowledged in an acks file's bytes; bad entries ignored.
pub(crate) fn decode_acks(bytes: &[u8]) -> HashSet<u64> {
    bytes
        .chunks_exact(ACK_ENTRY)
        .filter(|e| crc32fast::hash(&e[..8]).to_le_bytes() == e[8..])
        .map(|e| {
            let mut raw = [0; 8];
            raw.copy_from_slice(&e[..8]);
            u64::from_le_bytes(raw)
        })
        .collect()
}

impl DiskBuffer {
    /// Opens (or creates) the buffer in `config.path`: finds what earlier
    /// processes left unacknowledged, queues it for replay, and starts a
    /// new segment.
    pub(crate) fn open(
        config: DiskBufferConfig,
        metrics: &SinkMetrics,
    ) -> Result<DiskBuffer, SinkError> {
        config.validate()?;
        let dir = config.path.clone();
        crate::owner_only::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io_error(&dir, e))? {
            let entry = entry.map_err(|e| io_error(&dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name
                .strip_suffix(".segment")
                .and_then(|n| n.parse::<u64>().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut segments = BTreeMap::new();
        let mut total_bytes = 0;
        let mut corrupt = 0;
        for &id in &ids {
            let path = segment_path(&dir, id);
            let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
            let acked = match std::fs::read(acks_path(&dir, id)) {
                Ok(acks) => decode_acks(&acks),
                Err(_) => HashSet::new(),
            };
            let mut segment = Segment {
                size: bytes.len() as u64,
                sealed: true,
                replay: true,
                unacked: 0,
                unacked_bytes: 0,
                unread: VecDeque::new(),
                acks: None,
            };
            let mut offset = 0u64;
            let mut skipped = 0;
            while offset < segment.size {
                match scan(&bytes[offset as usize..]) {
                    Scanned::Record(_, len) => {
                        if !acked.contains(&offset) {
                            segment.unread.push_back(offset);
                            segment.unacked += 1;
                            segment.unacked_bytes += len;
                        }
                        offset += len;
                    }
                    Scanned::Corrupt(len) => {
                        skipped += 1;
                        offset += len;
                    }
                    Scanned::Torn => {
                        skipped += 1;
                        break;
                    }
                }
            }
            if skipped > 0 {
                tracing::warn!(segment = %path.display(), skipped, "disk buffer: corrupt or torn records skipped");
            }
            corrupt += skipped;
            if segment.unacked == 0 {
                remove_segment(&dir, id);
            } else {
                total_bytes += segment.size;
                segments.insert(id, segment);
            }
        }
        add(&metrics.disk_records_corrupt, corrupt);
        let active = ids.last().map_or(1, |last| last + 1);
        let replay: u64 = segments.values().map(|s| s.unacked).sum();
        if replay > 0 {
            tracing::info!(folder = %dir.display(), records = replay, "disk buffer: unacknowledged records from an earlier run will be replayed first");
        }
        let buffer = DiskBuffer {
            config,
            state: Mutex::new(State {
                segments,
                active,
                writer: None,
                total_bytes,
                dirty: false,
                last_sync: Instant::now(),
                reading: None,
                closed: false,
            }),
            space: Notify::new(),
            data: Notify::new(),
        };
        {
            let mut state = buffer.lock();
            buffer.start_segment(&mut state, active)?;
            buffer.publish(&state, metrics);
        }
        Ok(buffer)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start_segment(&self, state: &mut State, id: u64) -> Result<(), SinkError> {
        let path = segment_path(&self.config.path, id);
        let file = crate::owner_only::open_options()
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

    /// Appends `doc`, or says there is no room. Fails if the sink is
    /// draining or the file cannot be written.
    pub(crate) fn append(
        &self,
        doc: &Document,
        metrics: &SinkMetrics,
    ) -> Result<Appended, SinkError> {
        let record = encode_record(doc);
        let len = record.len() as u64;
        let mut state = self.lock();
        if state.closed {
            return Err(SinkError::Closed);
        }
        if state.total_bytes + len > self.config.max_bytes {
            // A fully acknowledged active segment is only kept because it
            // is being written: start a new one and free it.
            let active_done = state
                .segments
                .get(&state.active)
                .is_some_and(|s| s.unacked == 0 && s.size > 0);
            if active_done {
                self.rotate(&mut state)?;
            }
            // A record larger than the whole buffer still goes into an empty one.
            if state.total_bytes > 0 && state.total_bytes + len > self.config.max_bytes {
                return Ok(Appended::Full);
            }
        }
        let active_size = state.segments.get(&state.active).map_or(0, |s| s.size);
        if active_size > 0 && active_size + len > self.config.segment_bytes {
            self.rotate(&mut state)?;
        }
        let path = segment_path(&self.config.path, state.active);
        let Some(writer) = state.writer.as_mut() else {
            return Err(io_error(&path, std::io::Error::other("no open segment")));
        };
        if let Err(e) = writer.write_all(&record) {
            // Part of the record may be in the file: never append after it.
            let size = writer.metadata().map_or(active_size, |m| m.len());
            let active = state.active;
            let grown = state.segments.get_mut(&active).map_or(0, |segment| {
                let grown = size.saturating_sub(segment.size);
                segment.size = size;
                grown
            });
            state.total_bytes += grown;
            let _ = self.rotate(&mut state);
            return Err(io_error(&path, e));
        }
        let sync_now = match self.config.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(d) => state.last_sync.elapsed() >= d,
            FsyncPolicy::Never => false,
        };
        if sync_now {
            // The record is in the file (the operating system has it): keep
            // it and say so rather than refuse a document that will be sent.
            if let Some(Err(e)) = state.writer.as_ref().map(File::sync_data) {
                tracing::warn!(segment = %path.display(), error = %e, "disk buffer: fsync failed; the record is kept but may not survive a machine crash");
                metrics.record_error(format!("disk buffer {}: fsync failed: {e}", path.display()));
            }
            state.last_sync = Instant::now();
            state.dirty = false;
        } else {
            state.dirty = true;
        }
        let active = state.active;
        if let Some(segment) = state.segments.get_mut(&active) {
            segment.unread.push_back(segment.size);
            segment.size += len;
            segment.unacked += 1;
            segment.unacked_bytes += len;
        }
        state.total_bytes += len;
        self.publish(&state, metrics);
        drop(state);
        self.data.notify_one();
        Ok(Appended::Written)
    }

    /// Forces written records and acknowledgements to disk if the fsync
    /// policy says it is time (`force`: whatever the policy).
    pub(crate) fn sync(&self, force: bool) {
        let mut state = self.lock();
        let due = match self.config.fsync {
            FsyncPolicy::Always => false,
            FsyncPolicy::Interval(d) => state.dirty && state.last_sync.elapsed() >= d,
            FsyncPolicy::Never => false,
        };
        if (due || force)
            && let Some(writer) = &state.writer
        {
            if let Err(e) = writer.sync_data() {
                tracing::warn!(error = %e, "disk buffer: fsync failed");
            }
            state.dirty = false;
            state.last_sync = Instant::now();
        }
        if force {
            for segment in state.segments.values() {
                if let Some(acks) = &segment.acks {
                    let _ = acks.sync_data();
                }
            }
        }
    }

    /// Up to `max` records not yet handed out, oldest first (replays before
    /// new records), each with its ticket.
    pub(crate) fn read(&self, max: usize, metrics: &SinkMetrics) -> Vec<(Document, Ticket)> {
        let mut out = Vec::new();
        let mut state = self.lock();
        while out.len() < max {
            let Some(id) = state
                .segments
                .iter()
                .find(|(_, s)| !s.unread.is_empty())
                .map(|(id, _)| *id)
            else {
                break;
            };
            let (offset, replay) = {
                let Some(segment) = state.segments.get_mut(&id) else {
                    break;
                };
                let Some(offset) = segment.unread.pop_front() else {
                    break;
                };
                (offset, segment.replay)
            };
            match self.read_record(&mut state, id, offset) {
                Some((doc, len)) => {
                    if replay {
                        add(&metrics.events_replayed, 1);
                    }
                    out.push((
                        doc,
                        Ticket {
                            segment: id,
                            offset,
                            len,
                        },
                    ));
                }
                None => {
                    // It was valid when written or scanned; the disk changed it.
                    add(&metrics.disk_records_corrupt, 1);
                    tracing::warn!(
                        segment = id,
                        offset,
                        "disk buffer: a record became unreadable; skipped"
                    );
                    let bytes = state.segments.get(&id).map_or(0, |s| {
                        (s.unacked_bytes / s.unacked.max(1)).min(s.unacked_bytes)
                    });
                    self.ack_locked(
                        &mut state,
                        Ticket {
                            segment: id,
                            offset,
                            len: bytes,
                        },
                    );
                }
            }
        }
        self.publish(&state, metrics);
        out
    }

    fn read_record(&self, state: &mut State, id: u64, offset: u64) -> Option<(Document, u64)> {
        if state.reading.as_ref().is_none_or(|(r, _)| *r != id) {
            let file = File::open(segment_path(&self.config.path, id)).ok()?;
            state.reading = Some((id, file));
        }
        let (_, file) = state.reading.as_mut()?;
        file.seek(SeekFrom::Start(offset)).ok()?;
        let mut header = [0u8; HEADER as usize];
        file.read_exact(&mut header).ok()?;
        let len = u64::from(u32::from_le_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        if len == 0 || len > MAX_RECORD {
            return None;
        }
        let mut record = header.to_vec();
        record.resize((HEADER + len) as usize, 0);
        file.read_exact(&mut record[HEADER as usize..]).ok()?;
        match scan(&record) {
            Scanned::Record(doc, len) => Some((doc, len)),
            _ => None,
        }
    }

    /// Marks records as answered by the server; deletes segments that no
    /// longer hold anything unanswered.
    pub(crate) fn ack(&self, tickets: &[Ticket], metrics: &SinkMetrics) {
        if tickets.is_empty() {
            return;
        }
        let mut state = self.lock();
        for ticket in tickets {
            self.ack_locked(&mut state, *ticket);
        }
        if self.config.fsync == FsyncPolicy::Always {
            for segment in state.segments.values() {
                if let Some(acks) = &segment.acks {
                    let _ = acks.sync_data();
                }
            }
        }
        self.publish(&state, metrics);
        drop(state);
        self.space.notify_waiters();
    }

    fn ack_locked(&self, state: &mut State, ticket: Ticket) {
        let Some(segment) = state.segments.get_mut(&ticket.segment) else {
            return;
        };
        segment.unacked = segment.unacked.saturating_sub(1);
        segment.unacked_bytes = segment.unacked_bytes.saturating_sub(ticket.len);
        let finished = segment.sealed && segment.unacked == 0;
        if !finished {
            // A segment about to be deleted needs no acks file.
            if segment.acks.is_none() {
                let path = acks_path(&self.config.path, ticket.segment);
                match crate::owner_only::open_options()
                    .create(true)
                    .append(true)
                    .open(&path)
                {
                    Ok(file) => segment.acks = Some(file),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "disk buffer: acknowledgement not written; the record will be sent again after a restart");
                    }
                }
            }
            if let Some(acks) = segment.acks.as_mut()
                && let Err(e) = acks.write_all(&encode_ack(ticket.offset))
            {
                tracing::warn!(error = %e, "disk buffer: acknowledgement not written; the record will be sent again after a restart");
            }
        }
        self.delete_if_done(state, ticket.segment);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn folder(purpose: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gomon-sink-unit-{purpose}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn config(dir: &Path) -> DiskBufferConfig {
        DiskBufferConfig {
            path: dir.to_owned(),
            max_bytes: 1 << 20,
            segment_bytes: 4096,
            fsync: FsyncPolicy::Never,
        }
    }

    fn doc(i: usize) -> Document {
        Document::create("idx", format!("{{\"n\":{i}}}").into_bytes()).with_id(format!("id-{i}"))
    }

    fn ids(records: &[(Document, Ticket)]) -> Vec<String> {
        records
            .iter()
            .map(|(d, _)| d.id.clone().unwrap_or_default())
            .collect()
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "segment"))
            .collect();
        files.sort();
        files
    }

    proptest! {
        #[test]
        fn a_record_decodes_to_the_document_it_was_made_from(
            index in "[a-z0-9-]{1,40}",
            id in proptest::option::of("[A-Za-z0-9_-]{0,40}"),
            source in proptest::collection::vec(any::<u8>(), 0..300),
            index_op in any::<bool>(),
        ) {
            let mut doc = Document::create(index, source);
            doc.id = id;
            if index_op {
                doc = doc.with_op(Op::Index);
            }
            let record = encode_record(&doc);
            prop_assert_eq!(scan(&record), Scanned::Record(doc, record.len() as u64));
        }

        #[test]
        fn a_record_cut_anywhere_is_torn_and_a_flipped_bit_is_corrupt(
            source in proptest::collection::vec(any::<u8>(), 1..200),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
        ) {
            let record = encode_record(&Document::create("i", source).with_id("x"));
            let cut = cut.index(record.len());
            prop_assert_eq!(scan(&record[..cut]), Scanned::Torn);
            // Flip a bit of the payload or of the CRC: the length still fits.
            let at = 4 + flip.index(record.len() - 4);
            let mut damaged = record.clone();
            damaged[at] ^= 0x10;
            prop_assert_eq!(scan(&damaged), Scanned::Corrupt(record.len() as u64));
        }
    }

    #[test]
    fn ack_entries_with_a_bad_checksum_or_torn_are_ignored() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&encode_ack(7));
        let mut bad = encode_ack(99);
        bad[0] ^= 1;
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(&encode_ack(123));
        bytes.extend_from_slice(&encode_ack(5)[..7]);
        let acked = decode_acks(&bytes);
        assert_eq!(acked, HashSet::from([7, 123]));
    }

    #[test]
    fn a_restart_replays_exactly_the_records_not_acknowledged() {
        let dir = folder("replay");
        let metrics = SinkMetrics::default();
        let buffer = DiskBuffer::open(config(&dir), &metrics).unwrap();
        for i in 0..10 {
            assert_eq!(buffer.append(&doc(i), &metrics).unwrap(), Appended::Written);
        }
        let read = buffer.read(100, &metrics);
        assert_eq!(read.len(), 10);
        let acked: Vec<Ticket> = read
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 == 0)
            .map(|(_, (_, t))| *t)
            .collect();
        buffer.ack(&acked, &metrics);
        assert_eq!(metrics.disk_records.load(Ordering::Relaxed), 6);
        drop(buffer);

        let metrics = SinkMetrics::default();
        let buffer = DiskBuffer::open(config(&dir), &metrics).unwrap();
        assert_eq!(metrics.disk_records.load(Ordering::Relaxed), 6);
        let replayed = buffer.read(100, &metrics);
        assert_eq!(
            ids(&replayed),
            ["id-1", "id-2", "id-4", "id-5", "id-7", "id-8"]
        );
        assert_eq!(metrics.events_replayed.load(Ordering::Relaxed), 6);
        // New records come after the replayed ones.
        buffer.append(&doc(10), &metrics).unwrap();
        assert_eq!(ids(&buffer.read(100, &metrics)), ["id-10"]);
        let tickets: Vec<Ticket> = replayed.iter().map(|(_, t)| *t).collect();
        buffer.ack(&tickets, &metrics);
        // The old segment is fully answered: deleted with its acks.
        assert_eq!(segment_files(&dir).len(), 1);
        assert!(!acks_path(&dir, 1).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_tail_and_a_bad_crc_are_skipped_and_counted_and_the_rest_is_replayed() {
        let dir = folder("corrupt");
        let metrics = SinkMetrics::default();
        let buffer = DiskBuffer::open(config(&dir), &metrics).unwrap();
        for i in 0..5 {
            buffer.append(&doc(i), &metrics).unwrap();
        }
        drop(buffer);
        let path = segment_path(&dir, 1);
        let mut bytes = std::fs::read(&path).unwrap();
        let len = encode_record(&doc(0)).len();
        // Damage the source of the second record, and tear a sixth record.
        bytes[len + len - 2] ^= 0xff;
        let sixth = encode_record(&doc(5));
        bytes.extend_from_slice(&sixth[..sixth.len() / 2]);
        std::fs::write(&path, &bytes).unwrap();
        // A later segment that is entirely garbage does not block anything.
        std::fs::write(segment_path(&dir, 2), b"\x05\x00\x00\x00garbage-garbage").unwrap();

        let metrics = SinkMetrics::default();
        let buffer = DiskBuffer::open(config(&dir), &metrics).unwrap();
        // Segment 1: the bad CRC and the torn tail; segment 2: a record with
        // a bad CRC, then a torn one.
        assert_eq!(metrics.disk_records_corrupt.load(Ordering::Relaxed), 4);
        assert_eq!(
            ids(&buffer.read(100, &metrics)),
            ["id-0", "id-2", "id-3", "id-4"]
        );
        assert!(
            !segment_path(&dir, 2).exists(),
            "a segment with nothing readable is deleted"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn segments_rotate_at_their_size_and_are_deleted_once_fully_acknowledged() {
        let dir = folder("rotate");
        let metrics = SinkMetrics::default();
        let buffer = DiskBuffer::open(config(&dir), &metrics).unwrap();
        let per_record = encode_record(&doc(100)).len();
        let n = 3 * 4096 / per_record;
        for i in 100..100 + n {
            buffer.append(&doc(i), &metrics).unwrap();
        }
        let files = segment_files(&dir);
        assert!(files.len() >= 3, "{files:?}");
        for file in &files {
            assert!(std::fs::metadata(file).unwrap().len() <= 4096);
        }
        let read = buffer.read(usize::MAX, &metrics);
        assert_eq!(read.len(), n);
        // Acknowledge out of order, all but the last record.
        let mut tickets: Vec<Ticket> = read.iter().map(|(_, t)| *t).collect();
        let last = tickets.pop().unwrap();
        tickets.reverse();
        buffer.ack(&tickets, &metrics);
        // Only the active segment (holding the last record) remains.
        assert_eq!(segment_files(&dir).len(), 1);
        buffer.ack(&[last], &metrics);
        assert_eq!(metrics.disk_records.load(Ordering::Relaxed), 0);
        assert_eq!(metrics.disk_bytes.load(Ordering::Relaxed), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_buffer_refuses_appends_until_acknowledgements_free_a_segment() {
        let dir = folder("full");
        let metrics = SinkMetrics::default();
        let mut cfg = config(&dir);
        cfg.max_bytes = 8192;
        cfg.segment_bytes = 2048;
        let buffer = DiskBuffer::open(cfg, &metrics).unwrap();
        let mut written = 0;
        for i in 0..10_000 {
            match buffer.append(&doc(i), &metrics).unwrap() {
                Appended::Written => written += 1,
                Appended::Full => break,
            }
        }
        let per_record = encode_record(&doc(5000)).len();
        assert!(
            written > 0 && written <= 8192 / (per_record - 4),
            "{written}"
        );
        let total: u64 = segment_files(&dir)
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        assert!(total <= 8192, "{total}");
        assert_eq!(buffer.append(&doc(1), &metrics).unwrap(), Appended::Full);
        // Answering the oldest records frees their segment: room again.
        let read = buffer.read(usize::MAX, &metrics);
        let first: Vec<Ticket> = read.iter().take(written / 2).map(|(_, t)| *t).collect();
        buffer.ack(&first, &metrics);
        assert_eq!(buffer.append(&doc(1), &metrics).unwrap(), Appended::Written);
        buffer.close();
        assert!(matches!(
            buffer.append(&doc(2), &metrics),
            Err(SinkError::Closed)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
