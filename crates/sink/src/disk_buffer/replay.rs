//! Opening the buffer: the segments an earlier process left are scanned,
//! torn and corrupt records skipped and counted, and every record without
//! an acknowledgement queued for replay before anything new.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::Notify;

use super::record::{Scanned, decode_acks, scan};
use super::{
    DiskBuffer, DiskBufferConfig, Segment, State, acks_path, io_error, remove_segment, segment_path,
};
use crate::error::SinkError;
use crate::metrics::{SinkMetrics, add};

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
        gomon_net::files::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::super::record::encode_record;
    use super::super::test_support::{config, doc, folder, ids, segment_files};
    use super::super::*;

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

    /// Acknowledgements are written wherever records remain to be
    /// answered: in the segment being written (all of it acknowledged, not
    /// sealed yet) and in a sealed segment of an earlier run (partly
    /// acknowledged), so a restart replays exactly what is unanswered.
    #[test]
    fn acknowledgements_in_the_active_and_in_a_sealed_segment_survive_a_restart() {
        let dir = folder("ack-active-sealed");
        let metrics = SinkMetrics::default();
        let buffer = DiskBuffer::open(config(&dir), &metrics).unwrap();
        for i in 0..5 {
            buffer.append(&doc(i), &metrics).unwrap();
        }
        let tickets: Vec<Ticket> = buffer.read(100, &metrics).iter().map(|(_, t)| *t).collect();
        buffer.ack(&tickets, &metrics);
        for i in 5..9 {
            buffer.append(&doc(i), &metrics).unwrap();
        }
        drop(buffer);

        // Run 2: only the four unanswered records come back; answer two.
        let metrics = SinkMetrics::default();
        let buffer = DiskBuffer::open(config(&dir), &metrics).unwrap();
        let replayed = buffer.read(100, &metrics);
        assert_eq!(ids(&replayed), ["id-5", "id-6", "id-7", "id-8"]);
        let two: Vec<Ticket> = replayed.iter().take(2).map(|(_, t)| *t).collect();
        buffer.ack(&two, &metrics);
        drop(buffer);

        // Run 3: the two acknowledged in the sealed segment stay answered.
        let metrics = SinkMetrics::default();
        let buffer = DiskBuffer::open(config(&dir), &metrics).unwrap();
        assert_eq!(ids(&buffer.read(100, &metrics)), ["id-7", "id-8"]);
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
}
