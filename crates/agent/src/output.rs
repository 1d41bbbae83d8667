//! Where documents go: the file store, stdout, or Elasticsearch/OpenSearch.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gomon_sink::{BulkBatch, Cluster, Op};
use serde_json::Value;

use crate::config::{Config, ConsoleOutput, ElasticsearchOutput, FileOutput};
use crate::selfmon::Registry;
use crate::store::FileStore;

/// An output that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The file store folder cannot be created or written.
    #[error("file output {path}: {reason}")]
    File {
        /// The folder.
        path: String,
        /// Why.
        reason: String,
    },
    /// The Elasticsearch output is misconfigured.
    #[error("elasticsearch output: {0}")]
    Elasticsearch(String),
}

/// The configured output.
#[derive(Debug)]
pub enum Output {
    /// Rotating NDJSON files.
    File(Option<FileStore>),
    /// NDJSON (or indented JSON) on stdout.
    Console(ConsoleOutput),
    /// Bulk requests to Elasticsearch/OpenSearch.
    Elasticsearch(ElasticsearchSink),
}

/// The Elasticsearch output: dated indices, `create` with deterministic ids
/// (so a retried batch never indexes a document twice), item-level retries.
#[derive(Debug)]
pub struct ElasticsearchSink {
    clusters: Vec<Cluster>,
    index: String,
    next: usize,
}

/// How many times a batch is tried before its documents count as failed.
const ATTEMPTS: u32 = 5;

impl ElasticsearchSink {
    fn new(config: &ElasticsearchOutput) -> Result<ElasticsearchSink, OutputError> {
        let mut clusters = Vec::new();
        for host in &config.hosts {
            let url = if host.contains("://") {
                host.clone()
            } else {
                format!("http://{host}")
            };
            let url = match (&config.username, &config.password) {
                (Some(user), Some(password)) => {
                    url.replacen("://", &format!("://{user}:{password}@"), 1)
                }
                _ => url,
            };
            clusters.push(
                Cluster::new(&url)
                    .map_err(|e| OutputError::Elasticsearch(redact(&e.to_string(), config)))?,
            );
        }
        if config.api_key.is_some() || !config.ssl.certificate_authorities.is_empty() {
            return Err(OutputError::Elasticsearch(
                "api_key and ssl.certificate_authorities are not supported by this output yet; use username/password over http"
                    .to_owned(),
            ));
        }
        Ok(ElasticsearchSink {
            clusters,
            index: config
                .index
                .clone()
                .unwrap_or_else(|| "gomon-golang".to_owned()),
            next: 0,
        })
    }

    /// The index a document goes to: `<index>-YYYY.MM.DD` from its `@timestamp`.
    fn index_for(&self, doc: &Value) -> String {
        let day = doc["@timestamp"]
            .as_str()
            .and_then(|t| t.get(..10))
            .unwrap_or("1970-01-01");
        format!("{}-{}", self.index, day.replace('-', "."))
    }

    async fn write(&mut self, docs: &[Value], registry: &Registry) {
        let mut pending: Vec<&Value> = docs.iter().collect();
        for attempt in 1..=ATTEMPTS {
            let mut batch = BulkBatch::default();
            let mut in_batch = Vec::new();
            for doc in &pending {
                let Ok(bytes) = serde_json::to_vec(doc) else {
                    registry.output.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let id = document_id(doc);
                if batch
                    .push(Op::Create, &self.index_for(doc), Some(&id), &bytes)
                    .is_ok()
                {
                    in_batch.push(*doc);
                } else {
                    registry.output.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            if batch.is_empty() {
                return;
            }
            let cluster = &self.clusters[self.next % self.clusters.len()];
            self.next += 1;
            match cluster.bulk(&batch).await {
                Ok(outcome) => {
                    registry
                        .output
                        .acked
                        .fetch_add(outcome.delivered as u64, Ordering::Relaxed);
                    registry
                        .output
                        .duplicates
                        .fetch_add(outcome.duplicates as u64, Ordering::Relaxed);
                    registry
                        .output
                        .write_bytes
                        .fetch_add(batch.body().len() as u64, Ordering::Relaxed);
                    let mut retry = Vec::new();
                    for failure in outcome.failed {
                        if failure.status == 429 || failure.status >= 500 {
                            retry.push(in_batch[failure.position]);
                        } else {
                            tracing::warn!(server = %cluster.url(), status = failure.status, reason = %failure.reason, "document refused");
                            registry.output.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if retry.is_empty() {
                        return;
                    }
                    pending = retry;
                }
                Err(e) => {
                    tracing::warn!(server = %cluster.url(), attempt, error = %e, "bulk request failed");
                    pending = in_batch;
                }
            }
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        registry
            .output
            .failed
            .fetch_add(pending.len() as u64, Ordering::Relaxed);
        tracing::error!(
            documents = pending.len(),
            "documents not delivered after {ATTEMPTS} attempts"
        );
    }
}

fn redact(text: &str, config: &ElasticsearchOutput) -> String {
    let mut text = text.to_owned();
    for secret in [&config.password, &config.api_key].into_iter().flatten() {
        if !secret.is_empty() {
            text = text.replace(secret.as_str(), "[redacted]");
        }
    }
    text
}

/// `<service.address>/<metricset>/<@timestamp>`: one document per target,
/// metric set and fetch, the same on every retry.
pub fn document_id(doc: &Value) -> String {
    format!(
        "{}/{}/{}",
        doc["service"]["address"].as_str().unwrap_or_default(),
        doc["metricset"]["name"].as_str().unwrap_or_default(),
        doc["@timestamp"].as_str().unwrap_or_default()
    )
}

impl Output {
    /// Opens the output `config` selects; the file store at `default_dir`
    /// when none is configured.
    pub fn open(config: &Config, default_dir: &std::path::Path) -> Result<Output, OutputError> {
        if let Some(es) = &config.output.elasticsearch {
            return Ok(Output::Elasticsearch(ElasticsearchSink::new(es)?));
        }
        if let Some(console) = &config.output.console {
            return Ok(Output::Console(console.clone()));
        }
        let file = config.output.file.clone().unwrap_or_else(|| FileOutput {
            path: default_dir.to_path_buf(),
            filename: "gomon".to_owned(),
            rotate_every_kb: 10 * 1024,
            number_of_files: 7,
        });
        let store = FileStore::open(
            &file.path,
            &file.filename,
            file.rotate_every_kb * 1024,
            file.number_of_files,
        )
        .map_err(|e| OutputError::File {
            path: file.path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Output::File(Some(store)))
    }

    /// Where the documents end up, for people.
    pub fn describe(&self) -> String {
        match self {
            Output::File(Some(store)) => format!("file store {}", store.current_file().display()),
            Output::File(None) => "file store (closed)".to_owned(),
            Output::Console(_) => "stdout".to_owned(),
            Output::Elasticsearch(es) => format!(
                "elasticsearch {} (index {}-YYYY.MM.DD)",
                es.clusters
                    .iter()
                    .map(Cluster::url)
                    .collect::<Vec<_>>()
                    .join(", "),
                es.index
            ),
        }
    }

    /// Writes one batch, counting the outcome in `registry`.
    pub async fn write(&mut self, docs: Vec<Value>, registry: &Registry) {
        match self {
            Output::File(slot) => {
                let Some(mut store) = slot.take() else { return };
                let count = docs.len() as u64;
                // File I/O runs off the async workers.
                let joined = tokio::task::spawn_blocking(move || {
                    let result = store.append(&docs);
                    (store, result)
                })
                .await;
                let Ok((store, result)) = joined else {
                    tracing::error!(
                        "file store writer stopped unexpectedly; later documents are lost"
                    );
                    registry.output.failed.fetch_add(count, Ordering::Relaxed);
                    return;
                };
                match result {
                    Ok(bytes) => {
                        registry.output.acked.fetch_add(count, Ordering::Relaxed);
                        registry
                            .output
                            .write_bytes
                            .fetch_add(bytes, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::error!(path = %store.dir().display(), error = %e, "file store write failed");
                        registry.output.failed.fetch_add(count, Ordering::Relaxed);
                    }
                }
                *slot = Some(store);
            }
            Output::Console(console) => {
                let mut out = std::io::stdout().lock();
                for doc in &docs {
                    let text = if console.pretty {
                        serde_json::to_string_pretty(doc)
                    } else {
                        serde_json::to_string(doc)
                    };
                    let ok = text.map(|t| writeln!(out, "{t}").is_ok()).unwrap_or(false);
                    let counter = if ok {
                        &registry.output.acked
                    } else {
                        &registry.output.failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                let _ = out.flush();
            }
            Output::Elasticsearch(es) => es.write(&docs, registry).await,
        }
    }
}
