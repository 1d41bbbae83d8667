//! The encoder: a batch's NDJSON bulk body, gzipped at level 1 when
//! asked. Blocking work, run on tokio's blocking threads.

use std::cell::RefCell;
use std::io::Write as _;

use bytes::Bytes;

use crate::batch::BulkBatch;
use crate::config::Compression;
use crate::deliver::Pending;

pub(crate) struct Encoded {
    pub(crate) body: Bytes,
    pub(crate) raw_len: usize,
    pub(crate) gzipped: bool,
}

thread_local! {
    /// The NDJSON buffer of this blocking thread, reused from one gzipped
    /// request to the next (only the compressed bytes leave the thread).
    static RAW_BODY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The NDJSON body of `unit`, gzipped at level 1 when asked. Blocking work.
pub(crate) fn encode(unit: &[Pending], compression: Compression) -> Encoded {
    let capacity: usize = unit.iter().map(|p| p.doc.encoded_len()).sum();
    let build = |buffer: Vec<u8>| {
        let mut batch = BulkBatch::reusing(buffer, capacity);
        for pending in unit {
            // Documents were checked when queued; `push` only re-checks.
            if let Err(e) = batch.push_document(&pending.doc) {
                tracing::error!(error = %e, index = %pending.doc.index, "document left out of the bulk body");
            }
        }
        batch.into_body()
    };
    match compression {
        Compression::None => {
            let raw = build(Vec::new());
            Encoded {
                raw_len: raw.len(),
                body: Bytes::from(raw),
                gzipped: false,
            }
        }
        Compression::Gzip => RAW_BODY.with(|cell| {
            let raw = build(std::mem::take(&mut *cell.borrow_mut()));
            let raw_len = raw.len();
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw_len / 4 + 64),
                flate2::Compression::new(1),
            );
            let compressed = encoder.write_all(&raw).and_then(|()| encoder.finish());
            let encoded = match compressed {
                Ok(body) => Encoded {
                    body: Bytes::from(body),
                    raw_len,
                    gzipped: true,
                },
                // Writing into a Vec does not fail; if it ever did, send plain.
                Err(_) => Encoded {
                    body: Bytes::copy_from_slice(&raw),
                    raw_len,
                    gzipped: false,
                },
            };
            *cell.borrow_mut() = raw;
            encoded
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Document;
    use crate::deliver::Pending;
    use std::io::Read as _;

    fn unit(n: usize) -> Vec<Pending> {
        (0..n)
            .map(|i| Pending {
                doc: Document::create("idx", format!("{{\"n\":{i}}}").into_bytes())
                    .with_id(format!("id-{i}")),
                ticket: None,
                item_retries: 0,
            })
            .collect()
    }

    #[test]
    fn gzip_bodies_decompress_to_the_plain_ndjson() {
        let docs = unit(50);
        let plain = encode(&docs, Compression::None);
        let gzipped = encode(&docs, Compression::Gzip);
        assert!(!plain.gzipped && gzipped.gzipped);
        assert_eq!(plain.raw_len, gzipped.raw_len);
        assert!(gzipped.body.len() < plain.body.len());
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&gzipped.body[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, plain.body);
        // The reused thread-local buffer does not leak into the next body.
        let again = encode(&unit(1), Compression::Gzip);
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&again.body[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(
            inflated,
            b"{\"create\":{\"_index\":\"idx\",\"_id\":\"id-0\"}}\n{\"n\":0}\n"
        );
    }
}
