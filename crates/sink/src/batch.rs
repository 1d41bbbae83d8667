//! Request building: one contiguous NDJSON body per batch.

use serde::Serialize;

use crate::SinkError;

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
        if doc.contains(&b'\n') || doc.contains(&b'\r') {
            return Err(invalid("contains a line break"));
        }
        if doc.first() != Some(&b'{') || doc.last() != Some(&b'}') {
            return Err(invalid("does not start with '{' and end with '}'"));
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
}
