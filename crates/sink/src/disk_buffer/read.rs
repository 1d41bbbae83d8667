//! Handing records out to the sink, oldest first (replays before new
//! records), each with the ticket that acknowledges it later.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};

use super::record::{HEADER, MAX_RECORD, Scanned, scan};
use super::{DiskBuffer, State, Ticket, segment_path};
use crate::batch::Document;
use crate::metrics::{SinkMetrics, add};

impl DiskBuffer {
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
}
