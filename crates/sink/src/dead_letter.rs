//! Documents the server refused for good, kept in an NDJSON file with why.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::batch::{Document, Op};
use crate::error::SinkError;

/// One refused document, as a line of the dead-letter file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// When it was refused (RFC 3339, UTC).
    pub time: String,
    /// The item's HTTP status (400 for a mapping error; 413 for a document
    /// too large on its own; 429/5xx when item retries ran out).
    pub status: u16,
    /// The server's error type and reason.
    pub reason: String,
    /// `create` or `index`.
    pub op: String,
    /// The target index or data stream.
    pub index: String,
    /// The document id, if it had one.
    pub id: Option<String>,
    /// The document as sent, when it is valid JSON.
    pub document: Option<Value>,
    /// The document as text, when it is not valid JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_text: Option<String>,
}

impl DeadLetter {
    pub(crate) fn new(doc: &Document, status: u16, reason: String) -> DeadLetter {
        let (document, document_text) = match serde_json::from_slice::<Value>(&doc.source) {
            Ok(value) => (Some(value), None),
            Err(_) => (
                None,
                Some(String::from_utf8_lossy(&doc.source).into_owned()),
            ),
        };
        DeadLetter {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            status,
            reason,
            op: match doc.op {
                Op::Create => "create",
                Op::Index => "index",
            }
            .to_owned(),
            index: doc.index.clone(),
            id: doc.id.clone(),
            document,
            document_text,
        }
    }
}

/// An append-only NDJSON file of [`DeadLetter`]s. Every line is written with
/// one `write` call and flushed, so a crash loses at most the line being
/// written. Cheap to clone; clones share the file.
#[derive(Debug, Clone)]
pub struct DeadLetterStore {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl DeadLetterStore {
    /// Opens (creating if needed) the file for appending.
    pub fn open(path: impl Into<PathBuf>) -> Result<DeadLetterStore, SinkError> {
        let path = path.into();
        let file = gomon_net::files::open_options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SinkError::DeadLetter {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(DeadLetterStore {
            path,
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends letters (blocking file I/O: call it off the async workers).
    pub fn append(&self, letters: &[DeadLetter]) -> Result<(), SinkError> {
        let failed = |e: std::io::Error| SinkError::DeadLetter {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for letter in letters {
            let mut line =
                serde_json::to_vec(letter).map_err(|e| failed(std::io::Error::other(e)))?;
            line.push(b'\n');
            file.write_all(&line).map_err(failed)?;
        }
        file.flush().map_err(failed)
    }

    /// Reads every letter of a dead-letter file (for tools and tests); a
    /// line that does not parse is an error naming its line number.
    pub fn read_all(path: impl AsRef<Path>) -> Result<Vec<DeadLetter>, SinkError> {
        let path = path.as_ref();
        let failed = |reason: String| SinkError::DeadLetter {
            path: path.to_owned(),
            reason,
        };
        let file = File::open(path).map_err(|e| failed(e.to_string()))?;
        let mut letters = Vec::new();
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| failed(e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            letters.push(
                serde_json::from_str(&line)
                    .map_err(|e| failed(format!("line {}: {e}", number + 1)))?,
            );
        }
        Ok(letters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_round_trip_with_the_document_kept_as_json_or_as_text() {
        let dir = std::env::temp_dir().join(format!("gomon-sink-dl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dead.ndjson");
        let _ = std::fs::remove_file(&path);
        let store = DeadLetterStore::open(&path).unwrap();
        let good = Document::create("idx", br#"{"n":"abc"}"#.to_vec()).with_id("a");
        let broken = Document::create("idx", br#"{"n":}"#.to_vec());
        store
            .append(&[
                DeadLetter::new(&good, 400, "document_parsing_exception: n".into()),
                DeadLetter::new(&broken, 400, "x_content_parse_exception".into()),
            ])
            .unwrap();
        let letters = DeadLetterStore::read_all(&path).unwrap();
        assert_eq!(letters.len(), 2);
        assert_eq!(letters[0].document, Some(serde_json::json!({"n": "abc"})));
        assert_eq!(letters[0].id.as_deref(), Some("a"));
        assert_eq!(letters[0].op, "create");
        assert_eq!(letters[1].document, None);
        assert_eq!(letters[1].document_text.as_deref(), Some(r#"{"n":}"#));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_the_file() {
        let err = DeadLetterStore::open("/nonexistent-dir/dead.ndjson").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir/dead.ndjson"),
            "{err}"
        );
    }
}
