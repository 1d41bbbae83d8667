//! The file store: rotating NDJSON files, one document per line.
//!
//! It is the embedded default output (no server needed), and what
//! `gomon analyze` and the web view read. Files: `<filename>.ndjson` is
//! written; when it reaches the size limit it becomes `<filename>.ndjson.1`,
//! the previous `.1` becomes `.2`, and so on up to `number_of_files - 1`;
//! older ones are deleted.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Writes documents to rotating NDJSON files.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    filename: String,
    rotate_bytes: u64,
    files: usize,
    current: BufWriter<File>,
    size: u64,
}

fn current_path(dir: &Path, filename: &str) -> PathBuf {
    dir.join(format!("{filename}.ndjson"))
}

fn rotated_path(dir: &Path, filename: &str, n: usize) -> PathBuf {
    dir.join(format!("{filename}.ndjson.{n}"))
}

impl FileStore {
    /// Opens (creating the folder and appending to the current file).
    pub fn open(
        dir: &Path,
        filename: &str,
        rotate_bytes: u64,
        files: usize,
    ) -> std::io::Result<FileStore> {
        gomon_net::files::create_dir_all(dir)?;
        let path = current_path(dir, filename);
        let file = gomon_net::files::open_options()
            .create(true)
            .append(true)
            .open(&path)?;
        let size = file.metadata()?.len();
        Ok(FileStore {
            dir: dir.to_path_buf(),
            filename: filename.to_owned(),
            rotate_bytes: rotate_bytes.max(1024),
            files: files.max(1),
            current: BufWriter::new(file),
            size,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file being written.
    pub fn current_file(&self) -> PathBuf {
        current_path(&self.dir, &self.filename)
    }

    /// Appends documents, one line each; returns the bytes written.
    pub fn append(&mut self, docs: &[Value]) -> std::io::Result<u64> {
        let lines = docs
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()?;
        self.append_lines(&lines)
    }

    /// Appends documents already serialised (one JSON document each, without
    /// a newline); returns the bytes written, newlines included.
    pub fn append_lines(&mut self, lines: &[Vec<u8>]) -> std::io::Result<u64> {
        let mut written = 0;
        for line in lines {
            let length = line.len() as u64 + 1;
            if self.size > 0 && self.size + length > self.rotate_bytes {
                self.rotate()?;
            }
            self.current.write_all(line)?;
            self.current.write_all(b"\n")?;
            self.size += length;
            written += length;
        }
        self.current.flush()?;
        Ok(written)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.current.flush()?;
        let keep = self.files - 1;
        if keep == 0 {
            std::fs::remove_file(current_path(&self.dir, &self.filename))?;
        } else {
            let _ = std::fs::remove_file(rotated_path(&self.dir, &self.filename, keep));
            for n in (1..keep).rev() {
                let from = rotated_path(&self.dir, &self.filename, n);
                if from.exists() {
                    std::fs::rename(&from, rotated_path(&self.dir, &self.filename, n + 1))?;
                }
            }
            std::fs::rename(
                current_path(&self.dir, &self.filename),
                rotated_path(&self.dir, &self.filename, 1),
            )?;
        }
        let file = gomon_net::files::open_options()
            .create(true)
            .append(true)
            .open(current_path(&self.dir, &self.filename))?;
        self.current = BufWriter::new(file);
        self.size = 0;
        Ok(())
    }
}

/// One line of a store file that is not a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file.
    pub file: PathBuf,
    /// Line number, from 1.
    pub line: usize,
    /// The parser's message.
    pub reason: String,
}

/// Reads every document of a store, oldest file first. Lines that are not
/// JSON (a torn last line after a crash) are skipped and reported.
pub fn read_store(dir: &Path, filename: &str) -> std::io::Result<(Vec<Value>, Vec<BadLine>)> {
    let mut files = Vec::new();
    let mut n = 1;
    while rotated_path(dir, filename, n).exists() {
        files.push(rotated_path(dir, filename, n));
        n += 1;
    }
    files.reverse();
    let current = current_path(dir, filename);
    if current.exists() {
        files.push(current);
    }
    let mut docs = Vec::new();
    let mut bad = Vec::new();
    for file in files {
        let reader = BufReader::new(File::open(&file)?);
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(doc) => docs.push(doc),
                Err(e) => bad.push(BadLine {
                    file: file.clone(),
                    line: i + 1,
                    reason: e.to_string(),
                }),
            }
        }
    }
    Ok((docs, bad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gomon-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn documents_come_back_in_order_across_rotations_and_old_files_go() {
        let dir = temp_dir("rotate");
        let mut store = FileStore::open(&dir, "gomon", 1024, 3).unwrap();
        let docs: Vec<Value> = (0..100)
            .map(|i| json!({"n": i, "pad": "x".repeat(40)}))
            .collect();
        for chunk in docs.chunks(7) {
            store.append(chunk).unwrap();
        }
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 3, "current + 2 rotated");
        let (read, bad) = read_store(&dir, "gomon").unwrap();
        assert!(bad.is_empty());
        let numbers: Vec<i64> = read.iter().map(|d| d["n"].as_i64().unwrap()).collect();
        assert_eq!(*numbers.last().unwrap(), 99);
        assert!(
            numbers.windows(2).all(|w| w[1] == w[0] + 1),
            "contiguous, oldest dropped whole"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_line_is_reported_not_fatal() {
        let dir = temp_dir("torn");
        let mut store = FileStore::open(&dir, "g", 1 << 20, 2).unwrap();
        store.append(&[json!({"a": 1})]).unwrap();
        drop(store);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("g.ndjson"))
            .unwrap();
        f.write_all(b"{\"b\": ").unwrap();
        let (docs, bad) = read_store(&dir, "g").unwrap();
        assert_eq!(docs, vec![json!({"a": 1})]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
