//! NDJSON files (gomon's and Metricbeat's file output) into the store.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Store, StoreError};

/// Longest line read; a longer one is reported and skipped.
const MAX_LINE: u64 = 16 * 1024 * 1024;
/// Documents per transaction.
const CHUNK: usize = 2_000;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Files read, in order.
    pub files: Vec<PathBuf>,
    /// Lines read.
    pub lines: u64,
    /// Heap rows stored (error documents included).
    pub heap: u64,
    /// Expvar rows stored.
    pub expvar: u64,
    /// Lines not stored (not JSON, not a gomon document, too long).
    pub skipped: u64,
    /// The first problems, as `file:line: reason`.
    pub problems: Vec<String>,
}

impl ImportReport {
    fn problem(&mut self, file: &Path, line: u64, reason: &str) {
        self.skipped += 1;
        if self.problems.len() < 20 {
            self.problems.push(if line == 0 {
                format!("{}: {reason}", file.display())
            } else {
                format!("{}:{line}: {reason}", file.display())
            });
        }
    }
}

/// The files an import of `path` reads: the file itself, or in a folder
/// every `*.ndjson` file and its rotated copies (`x.ndjson.1` …), oldest first.
fn files_of(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found: Vec<(String, u32, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((stem, rest)) = name.split_once(".ndjson") else {
            continue;
        };
        // `gomon.ndjson` is the newest; `.1` the one before it, and so on.
        let age = match rest.strip_prefix('.') {
            None if rest.is_empty() => 0,
            Some(n) => match n.parse::<u32>() {
                Ok(n) => n,
                Err(_) => continue,
            },
            None => continue,
        };
        found.push((stem.to_owned(), age, entry.path()));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// Reads `path` (an NDJSON file, or a folder of them such as round 1's file
/// store) into `store`, in transactions of 2,000 documents. Lines that are
/// not gomon documents are counted and reported, never fatal; a file that
/// cannot be read is an error.
pub fn import_ndjson(store: &mut Store, path: &Path) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let files = files_of(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    for file in files {
        let opened = std::fs::File::open(&file).map_err(|source| ImportError::Read {
            path: file.clone(),
            source,
        })?;
        let mut reader = BufReader::new(opened);
        let mut batch = Vec::with_capacity(CHUNK);
        let mut number = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut reader)
                .take(MAX_LINE + 1)
                .read_until(b'\n', &mut line)
                .map_err(|source| ImportError::Read {
                    path: file.clone(),
                    source,
                })?;
            if read == 0 {
                break;
            }
            number += 1;
            if line.len() as u64 > MAX_LINE {
                report.problem(&file, number, "line longer than 16 MiB");
                // Skip the rest of it.
                let mut rest = Vec::new();
                let _ = reader.read_until(b'\n', &mut rest);
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(text) {
                Ok(doc) => batch.push(doc),
                Err(e) => report.problem(&file, number, &format!("not JSON ({e})")),
            }
            if batch.len() >= CHUNK {
                flush(store, &mut batch, &mut report, &file)?;
            }
        }
        flush(store, &mut batch, &mut report, &file)?;
        report.lines += number;
        report.files.push(file);
    }
    store.maintain().map_err(ImportError::Store)?;
    Ok(report)
}

fn flush(
    store: &mut Store,
    batch: &mut Vec<Value>,
    report: &mut ImportReport,
    file: &Path,
) -> Result<(), ImportError> {
    if batch.is_empty() {
        return Ok(());
    }
    let written = store.write(batch).map_err(ImportError::Store)?;
    batch.clear();
    report.heap += written.heap;
    report.expvar += written.expvar;
    for reason in &written.skipped {
        report.problem(file, 0, reason);
    }
    report.skipped += written.skipped_count - written.skipped.len() as u64;
    Ok(())
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file or folder cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The store refused the write.
    #[error(transparent)]
    Store(#[from] StoreError),
}
