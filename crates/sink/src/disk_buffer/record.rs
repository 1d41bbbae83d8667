//! The bytes on disk: a record (one document) and an acknowledgement
//! entry, how they are written and how they are read back, with every way
//! they can be damaged detected.
//!
//! - A record is `[payload length: u32 LE][CRC32 of the payload: u32 LE]
//!   [payload]`; the payload is the document (`[op: u8][index length: u32
//!   LE][index][has id: u8][id length: u32 LE][id][source]`).
//! - An acknowledgement entry is 12 bytes: `[record offset: u64 LE][CRC32 of
//!   those 8 bytes: u32 LE]`.

use std::collections::HashSet;

use bytes::Bytes;

use crate::batch::{Document, Op};

/// Bytes before each record's payload: its length and its CRC32.
pub(super) const HEADER: u64 = 8;
/// Bytes of one acknowledgement entry.
pub(super) const ACK_ENTRY: usize = 12;
/// A record longer than this is treated as a corrupt length field.
pub(super) const MAX_RECORD: u64 = 1 << 30;

/// The record of `doc`: header and payload.
pub(super) fn encode_record(doc: &Document) -> Vec<u8> {
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
pub(super) enum Scanned {
    /// A record: the document and the record's length (header included).
    Record(Document, u64),
    /// A record whose CRC or content is wrong; the next starts after it.
    Corrupt(u64),
    /// The rest cannot be read: a torn write, or a length that cannot be.
    Torn,
}

/// Reads the record at the start of `bytes`.
pub(super) fn scan(bytes: &[u8]) -> Scanned {
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

pub(super) fn encode_ack(offset: u64) -> [u8; ACK_ENTRY] {
    let mut entry = [0; ACK_ENTRY];
    entry[..8].copy_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&entry[..8]);
    entry[8..].copy_from_slice(&crc.to_le_bytes());
    entry
}

/// The offsets acknowledged in an acks file's bytes; bad entries ignored.
pub(super) fn decode_acks(bytes: &[u8]) -> HashSet<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
}
