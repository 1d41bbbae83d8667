//! Acknowledgements: a record the server answered is marked in its
//! segment's acks file, and a segment no longer written to is deleted once
//! every record in it is answered.

use std::io::Write as _;

use super::record::encode_ack;
use super::{DiskBuffer, FsyncPolicy, State, Ticket, acks_path};
use crate::metrics::SinkMetrics;

impl DiskBuffer {
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

    pub(super) fn ack_locked(&self, state: &mut State, ticket: Ticket) {
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
                match gomon_net::files::open_options()
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
