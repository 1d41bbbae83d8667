//! Request building: documents, deterministic ids, and one contiguous
//! NDJSON body per bulk request.

use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::SinkError;

/// One document to write: where, under which id, and its JSON source.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    /// `create` (the default: a replay with the same id is recognised as a
    /// duplicate, and data streams accept only this) or `index`.
    pub op: Op,
    /// The target index or data stream.
    pub index: String,
    /// The document id; `None` lets the server choose one (then a retried
    /// document can be indexed twice; see [`Document::with_content_id`]).
    pub id: Option<String>,
    /// The JSON object, on one line (what `serde_json::to_vec` produces).
    pub source: Bytes,
}

impl Document {
    /// A `create` of `source` into `index`, without an id.
    pub fn create(index: impl Into<String>, source: impl Into<Bytes>) -> Document {
        Document {
            op: Op::Create,
            index: index.into(),
            id: None,
            source: source.into(),
        }
    }

    /// The same document with this id.
    pub fn with_id(mut self, id: impl Into<String>) -> Document {
        self.id = Some(id.into());
        self
    }

    /// The same document with the id [`content_id`] derives from its index
    /// and source: a document sent twice (retried after a lost answer,
    /// replayed after a crash) is written once and the second `create` is
    /// answered 409, which the sink counts as a duplicate.
    pub fn with_content_id(mut self) -> Document {
        self.id = Some(content_id(&self.index, &self.source));
        self
    }

    /// The same document with another action.
    pub fn with_op(mut self, op: Op) -> Document {
        self.op = op;
        self
    }

    /// Bytes the document takes in a bulk body (action line and source).
    pub(crate) fn encoded_len(&self) -> usize {
        // `{"create":{"_index":"","_id":""}}\n` + source + `\n`, escapes aside.
        34 + self.index.len() + self.id.as_ref().map_or(0, String::len) + self.source.len() + 1
    }
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The source can be large: show its size, not its bytes.
        f.debug_struct("Document")
            .field("op", &self.op)
            .field("index", &self.index)
            .field("id", &self.id)
            .field("source_bytes", &self.source.len())
            .finish()
    }
}

/// A deterministic document id: the first 128 bits of SHA-256 over the index
/// name and the source bytes, in URL-safe base64 (22 characters).
///
/// The same index and the same bytes always give the same id, on every
/// machine and every Rust release (std's hashers promise neither), so a
/// replayed document collides with itself and nothing else. Two different
/// documents share an id with probability about n²/2¹²⁹ for n documents
/// (below 10⁻¹⁴ for a trillion documents). Documents that are byte-for-byte
/// equal in the same index get the same id by design: the second is counted
/// as a duplicate. Keep a timestamp and the source's identity in the
/// document if equal measurements must be stored twice. Field order and
/// whitespace matter: serialise the same way every time.
pub fn content_id(index: &str, source: &[u8]) -> String {
    let mut hasher = Sha256::new();
    // Length-prefix the index so ("ab", "c…") and ("a", "bc…") differ.
    hasher.update((index.len() as u64).to_be_bytes());
    hasher.update(index.as_bytes());
    hasher.update(source);
    let digest = hasher.finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Why `doc` cannot be one line of an NDJSON body, if it cannot.
pub(crate) fn single_line_object_problem(doc: &[u8]) -> Option<&'static str> {
    if doc.contains(&b'\n') || doc.contains(&b'\r') {
        return Some("contains a line break");
    }
    if doc.first() != Some(&b'{') || doc.last() != Some(&b'}') {
        return Some("does not start with '{' and end with '}'");
    }
    None
}

/// The bulk action of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `create`: fails with 409 if the id exists (no duplicates on replay);
    /// the only action data streams accept.
    Create,
    /// `index`: creates or overwrites.
    Index,
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Action<'a> {
    Create(Meta<'a>),
    Index(Meta<'a>),
}

#[derive(Serialize)]
struct Meta<'a> {
    #[serde(rename = "_index")]
    index: &'a str,
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

/// A bulk request body under construction.
#[derive(Debug, Clone, Default)]
pub struct BulkBatch {
    body: Vec<u8>,
    docs: usize,
}

impl BulkBatch {
    /// Appends one document. `doc` must be a JSON object on a single line
    /// (what `serde_json::to_vec` produces).
    pub fn push(
        &mut self,
        op: Op,
        index: &str,
        id: Option<&str>,
        doc: &[u8],
    ) -> Result<(), SinkError> {
        let invalid = |reason: &str| SinkError::InvalidDocument {
            position: self.docs,
            reason: reason.to_owned(),
        };
        if let Some(problem) = single_line_object_problem(doc) {
            return Err(invalid(problem));
        }
        let meta = Meta { index, id };
        let action = match op {
            Op::Create => Action::Create(meta),
            Op::Index => Action::Index(meta),
        };
        // Writing to a Vec cannot fail, and nothing is written on error.
        let line = serde_json::to_vec(&action).map_err(|e| invalid(&e.to_string()))?;
        self.body.extend_from_slice(&line);
        self.body.push(b'\n');
        self.body.extend_from_slice(doc);
        self.body.push(b'\n');
        self.docs += 1;
        Ok(())
    }

    /// An empty batch whose body has room for `bytes` without growing.
    pub fn with_capacity(bytes: usize) -> BulkBatch {
        BulkBatch {
            body: Vec::with_capacity(bytes),
            docs: 0,
        }
    }

    /// An empty batch writing into `buffer` (cleared), grown to hold
    /// `capacity` bytes: lets a caller reuse one allocation across bodies.
    pub(crate) fn reusing(mut buffer: Vec<u8>, capacity: usize) -> BulkBatch {
        buffer.clear();
        buffer.reserve(capacity);
        BulkBatch {
            body: buffer,
            docs: 0,
        }
    }

    /// Appends one [`Document`].
    pub fn push_document(&mut self, doc: &Document) -> Result<(), SinkError> {
        self.push(doc.op, &doc.index, doc.id.as_deref(), &doc.source)
    }

    /// Takes the NDJSON body out, leaving the batch empty.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs
    }

    /// True when no document was pushed.
    pub fn is_empty(&self) -> bool {
        self.docs == 0
    }

    /// The NDJSON body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Empties the batch, keeping its buffer for reuse.
    pub fn clear(&mut self) {
        self.body.clear();
        self.docs = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_become_action_and_source_lines_with_escaped_names() {
        let mut batch = BulkBatch::default();
        batch
            .push(Op::Create, "metrics", Some("a\"b"), br#"{"x":1}"#)
            .unwrap();
        batch.push(Op::Index, "other", None, br#"{"y":2}"#).unwrap();
        assert_eq!(
            std::str::from_utf8(batch.body()).unwrap(),
            "{\"create\":{\"_index\":\"metrics\",\"_id\":\"a\\\"b\"}}\n{\"x\":1}\n\
             {\"index\":{\"_index\":\"other\"}}\n{\"y\":2}\n"
        );
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn a_multi_line_document_is_refused_with_its_position() {
        let mut batch = BulkBatch::default();
        batch.push(Op::Create, "m", None, b"{}").unwrap();
        let err = batch.push(Op::Create, "m", None, b"{\n}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 1 of the batch is not a single-line JSON object: contains a line break"
        );
        assert_eq!(
            batch.len(),
            1,
            "nothing of the refused document was written"
        );
    }

    #[test]
    fn content_ids_are_stable_and_depend_on_index_and_source() {
        let id = content_id("metrics", br#"{"x":1}"#);
        assert_eq!(id.len(), 22);
        assert_eq!(id, content_id("metrics", br#"{"x":1}"#));
        assert_ne!(id, content_id("metrics", br#"{"x":2}"#));
        assert_ne!(id, content_id("metric", br#"s{"x":1}"#));
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        // Pinned (checked against Python's hashlib): a change of the scheme would
        // re-index every document replayed across an upgrade.
        assert_eq!(
            content_id("gomon", b"{}"),
            "Yz3dWcgC1H4GVj4o_6oXhQ",
            "the id scheme must not change between releases"
        );
    }

    #[test]
    fn encoded_len_is_an_upper_bound_of_the_written_bytes_without_escapes() {
        let doc = Document::create("idx", br#"{"a":1}"#.to_vec()).with_id("x");
        let mut batch = BulkBatch::default();
        batch.push_document(&doc).unwrap();
        assert!(
            batch.body().len() <= doc.encoded_len() + 4,
            "{}",
            batch.body().len()
        );
        let doc = Document::create("idx", br#"{"a":1}"#.to_vec()).with_op(Op::Index);
        let mut batch = BulkBatch::default();
        batch.push_document(&doc).unwrap();
        assert!(batch.body().len() <= doc.encoded_len() + 4);
    }
}
