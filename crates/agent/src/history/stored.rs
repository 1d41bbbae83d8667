//! Where `gomon analyze` reads the history from: the configured output.
//! Elasticsearch/OpenSearch is asked for aggregations
//! ([`read_heap_history`](super::read_heap_history)); the file store is read
//! whole. The same target and time filter then applies to both.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use gomon_analyze::fields;
use serde_json::Value;

use super::{HistoryQuery, read_heap_history};
use crate::config::Config;
use crate::output::{OutputError, control_plane};
use crate::store::{BadLine, read_store};

/// Why the stored history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// `output.elasticsearch` cannot be used.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The embedded store cannot be read.
    #[error(transparent)]
    Embedded(#[from] gomon_store::StoreError),
    /// A search on the server failed (the message names the index pattern).
    #[error("{0}")]
    Search(String),
    /// The file store cannot be read.
    #[error("cannot read the file store in {}: {reason}", dir.display())]
    Store {
        /// The store's folder.
        dir: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

/// Where stored documents were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistorySource {
    /// An Elasticsearch/OpenSearch output: one document per time bucket.
    Cluster {
        /// The node URL asked (without credentials).
        url: String,
        /// The configured index; `<index>*` was searched.
        index: String,
    },
    /// The file store.
    FileStore {
        /// Its folder.
        dir: PathBuf,
    },
    /// The embedded store.
    Store {
        /// Its file.
        file: PathBuf,
    },
}

/// The stored documents, and what was passed over.
#[derive(Debug, Clone)]
pub struct StoredHistory {
    /// The documents (for a cluster: one heap document per target and time
    /// bucket, plus the label documents the query asked for).
    pub docs: Vec<Value>,
    /// Where they came from.
    pub source: HistorySource,
    /// File-store lines that are not JSON (a torn last line after a crash).
    pub skipped: Vec<BadLine>,
}

/// Reads what `config`'s output holds: the Elasticsearch output when there
/// is one (`progress(index, done, targets)` after each target), else the file store
/// of `output.file`, else the default store in `data` (default:
/// [`default_data_dir`](crate::default_data_dir)).
pub async fn read_stored(
    config: Option<&Config>,
    data: Option<&Path>,
    query: &HistoryQuery,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<StoredHistory, HistoryError> {
    if let Some(es) = config.and_then(|c| c.output.elasticsearch.as_ref()) {
        let (cluster, index) = control_plane(es, &crate::default_data_dir())?;
        let docs = read_heap_history(&cluster, &index, query, |done, targets| {
            progress(&index, done, targets);
        })
        .await
        .map_err(HistoryError::Search)?;
        return Ok(StoredHistory {
            docs,
            source: HistorySource::Cluster {
                url: cluster.url().to_owned(),
                index,
            },
            skipped: Vec::new(),
        });
    }
    let data = data.map_or_else(crate::default_data_dir, Path::to_owned);
    let file_output = config.and_then(|c| c.output.file.as_ref());
    let store = config
        .and_then(|c| c.output.store.clone())
        .unwrap_or_else(|| crate::config::StoreOutput::in_folder(&data));
    let store_file = store.file(&data);
    // The embedded store, unless the configuration names NDJSON files; a
    // data folder with only NDJSON files (from before the store) is still read.
    if file_output.is_none() && (store_file.is_file() || !data.join("gomon.ndjson").is_file()) {
        let file = store_file.clone();
        let docs = tokio::task::spawn_blocking(move || {
            let reader = gomon_store::Reader::open(&file)?;
            reader.documents(None, gomon_store::TimeRange::all())
        })
        .await
        .map_err(|e| HistoryError::Search(e.to_string()))??;
        return Ok(StoredHistory {
            docs,
            source: HistorySource::Store { file: store_file },
            skipped: Vec::new(),
        });
    }
    let (dir, filename) = match file_output {
        Some(file) => (file.path.clone(), file.filename.clone()),
        None => (data, "gomon".to_owned()),
    };
    let (docs, skipped) = read_store(&dir, &filename).map_err(|e| HistoryError::Store {
        dir: dir.clone(),
        reason: e.to_string(),
    })?;
    Ok(StoredHistory {
        docs,
        source: HistorySource::FileStore { dir },
        skipped,
    })
}

impl HistoryQuery {
    /// Whether a stored document passes the query's target and time filter
    /// (the label variable selects nothing).
    pub fn keeps(&self, doc: &Value) -> bool {
        let address = fields::get(doc, fields::SERVICE_ADDRESS)
            .as_str()
            .unwrap_or_default();
        let target = self.targets.is_empty() || self.targets.iter().any(|t| t.matches(address));
        target
            && self.since.is_none_or(|since| {
                fields::get(doc, fields::TIMESTAMP)
                    .as_str()
                    .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                    .is_some_and(|t: SystemTime| t >= since)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::TargetFilter;
    use serde_json::json;

    fn doc(address: &str, timestamp: &str) -> Value {
        json!({"@timestamp": timestamp, "service": {"address": address}})
    }

    #[test]
    fn a_query_keeps_documents_of_its_targets_since_its_start_only() {
        let since = humantime::parse_rfc3339("2024-05-01T10:00:00Z").expect("a time");
        let query = HistoryQuery {
            targets: vec![TargetFilter::parse("127.0.0.1:6060").expect("a filter")],
            since: Some(since),
            label_variable: None,
        };
        let url = "http://127.0.0.1:6060/debug/vars";
        assert!(query.keeps(&doc(url, "2024-05-01T10:00:00.000Z")));
        assert!(query.keeps(&doc(url, "2024-05-01T11:00:00.000Z")));
        assert!(!query.keeps(&doc(url, "2024-05-01T09:59:59.999Z")));
        assert!(!query.keeps(&doc(
            "http://127.0.0.1:6061/debug/vars",
            "2024-05-01T11:00:00Z"
        )));
        assert!(
            !query.keeps(&json!({"service": {"address": url}})),
            "no time, no match"
        );
        let everything = HistoryQuery::default();
        assert!(everything.keeps(&json!({})));
    }

    #[test]
    fn a_missing_store_is_an_error_that_names_the_file_and_what_to_run() {
        let dir = std::env::temp_dir().join(format!("gomon-stored-{}", std::process::id()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let error = runtime
            .block_on(read_stored(
                None,
                Some(&dir),
                &HistoryQuery::default(),
                |_, _, _| {},
            ))
            .expect_err("nothing to read");
        let message = error.to_string();
        assert!(
            message.contains(&dir.join("gomon.db").display().to_string()),
            "{message}"
        );
        assert!(message.contains("gomon run"), "{message}");
    }
}
