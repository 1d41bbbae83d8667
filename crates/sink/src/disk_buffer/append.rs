//! Writing: a record appended to the active segment, a new segment at the
//! segment size, the buffer's bound on space (full: the caller waits for
//! acknowledgements), and the fsync policy.

use std::fs::File;
use std::io::Write as _;
use std::time::Instant;

use super::record::encode_record;
use super::{Appended, DiskBuffer, FsyncPolicy, io_error, segment_path};
use crate::batch::Document;
use crate::error::SinkError;
use crate::metrics::SinkMetrics;

impl DiskBuffer {
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::super::record::encode_record;
    use super::super::test_support::{config, doc, folder, segment_files};
    use super::super::*;

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
}
