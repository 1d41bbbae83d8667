//! Where documents go: the file store, stdout, or Elasticsearch/OpenSearch
//! ([`elasticsearch`]).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::config::{Config, ConsoleOutput, StoreOutput};
use crate::document::{Event, Origin};
use crate::selfmon::Registry;
use crate::store::FileStore;

pub mod elasticsearch;

pub use elasticsearch::{
    DEAD_LETTER_FILE, DEFAULT_INDEX, ElasticsearchSink, MIN_DISK_QUEUE_BYTES, SINK_BATCH_AGE,
    control_plane, disk_buffer_settings, document_id, document_id_of, index_of, sink_config,
    sink_settings, template_for,
};

/// An output that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The embedded store cannot be opened.
    #[error(transparent)]
    Store(#[from] gomon_store::StoreError),
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
    /// The embedded SQLite store (the default). `None` only while a write
    /// is in progress, or after a writer thread stopped.
    Store(Option<Box<gomon_store::Store>>),
    /// Rotating NDJSON files.
    File(Option<FileStore>),
    /// NDJSON (or indented JSON) on stdout.
    Console(ConsoleOutput),
    /// Bulk requests to Elasticsearch/OpenSearch.
    Elasticsearch(ElasticsearchSink),
}

/// What closing an output left undelivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Closed {
    /// Documents given up (in memory when the deadline passed).
    pub lost: u64,
    /// Documents kept in the disk buffer (`queue.disk`), sent at the next start.
    pub buffered: u64,
}

/// Runs `write` on the blocking pool (file and SQLite I/O stay off the
/// async workers) with the writer taken out of `slot` and put back after;
/// counts the `count` documents as taken, then acked or failed, and the
/// bytes `write` reports. A writer whose thread panicked is gone (logged
/// once, then); later batches find the slot empty and are dropped.
async fn write_off_thread<W: Send + 'static>(
    slot: &mut Option<W>,
    count: u64,
    registry: &Registry,
    write: impl FnOnce(&mut W) -> Result<u64, String> + Send + 'static,
) {
    let Some(mut writer) = slot.take() else {
        return;
    };
    let joined = tokio::task::spawn_blocking(move || {
        let result = write(&mut writer);
        (writer, result)
    })
    .await;
    let o = &registry.output;
    o.taken.fetch_add(count, Ordering::Relaxed);
    let Ok((writer, result)) = joined else {
        tracing::error!("the output's writer stopped unexpectedly; later documents are lost");
        o.failed.fetch_add(count, Ordering::Relaxed);
        return;
    };
    match result {
        Ok(bytes) => {
            o.acked.fetch_add(count, Ordering::Relaxed);
            o.write_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::error!(error = %e, "output write failed");
            o.failed.fetch_add(count, Ordering::Relaxed);
        }
    }
    *slot = Some(writer);
}

impl Output {
    /// Opens the output `config` selects; the file store at `default_dir`
    /// when none is configured. For Elasticsearch, checks the index template
    /// first (`setup.template.enabled`, on by default, as in Beats).
    pub async fn open(config: &Config, default_dir: &Path) -> Result<Output, OutputError> {
        if let Some(es) = &config.output.elasticsearch {
            return Ok(Output::Elasticsearch(
                ElasticsearchSink::open(es, default_dir, &config.setup, &config.queue).await?,
            ));
        }
        if let Some(console) = &config.output.console {
            return Ok(Output::Console(console.clone()));
        }
        let Some(file) = config.output.file.clone() else {
            let store = config
                .output
                .store
                .clone()
                .unwrap_or_else(|| StoreOutput::in_folder(default_dir));
            let settings = gomon_store::StoreSettings {
                retention: store.retention,
                ..Default::default()
            };
            let path = store.file(default_dir);
            let opened =
                tokio::task::spawn_blocking(move || gomon_store::Store::open(&path, settings))
                    .await
                    .map_err(|e| OutputError::File {
                        path: store.file(default_dir).display().to_string(),
                        reason: e.to_string(),
                    })??;
            return Ok(Output::Store(Some(Box::new(opened))));
        };
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
            Output::Store(Some(store)) => format!("store {}", store.path().display()),
            Output::Store(None) => "store (closed)".to_owned(),
            Output::File(Some(store)) => format!("file store {}", store.current_file().display()),
            Output::File(None) => "file store (closed)".to_owned(),
            Output::Console(_) => "stdout".to_owned(),
            Output::Elasticsearch(es) => es.describe(),
        }
    }

    /// Writes one batch, each document serialised once, with `origin`'s
    /// metadata; counts the outcome in `registry`.
    pub async fn write(&mut self, events: Vec<Event>, origin: &Origin, registry: &Registry) {
        match self {
            Output::Store(slot) => {
                let docs: Vec<serde_json::Value> =
                    events.iter().map(|e| e.to_value(origin)).collect();
                write_off_thread(slot, docs.len() as u64, registry, move |store| {
                    store
                        .write(&docs)
                        .map(|_| 0)
                        .map_err(|e| format!("store write failed: {e}"))
                })
                .await;
            }
            Output::File(slot) => {
                let lines: Vec<Vec<u8>> = events.iter().map(|e| e.to_json(origin)).collect();
                write_off_thread(slot, lines.len() as u64, registry, move |store| {
                    store.append_lines(&lines).map_err(|e| {
                        format!("file store write failed in {}: {e}", store.dir().display())
                    })
                })
                .await;
            }
            Output::Console(console) => {
                let mut out = std::io::stdout().lock();
                for event in &events {
                    let document = event.document(origin);
                    let text = if console.pretty {
                        serde_json::to_string_pretty(&document)
                    } else {
                        serde_json::to_string(&document)
                    };
                    let ok = text.map(|t| writeln!(out, "{t}").is_ok()).unwrap_or(false);
                    let counter = if ok {
                        &registry.output.acked
                    } else {
                        &registry.output.failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    registry.output.taken.fetch_add(1, Ordering::Relaxed);
                }
                let _ = out.flush();
            }
            Output::Elasticsearch(es) => es.write(events, origin, registry).await,
        }
    }

    /// Documents an earlier run left in the disk buffer, found when this
    /// output opened (0 without `queue.disk`).
    pub fn carried_over(&self) -> u64 {
        match self {
            Output::Elasticsearch(es) => es.carried_over(),
            Output::Store(_) | Output::File(_) | Output::Console(_) => 0,
        }
    }

    /// Flushes and closes; says what could not be delivered before
    /// `deadline` (only the Elasticsearch output queues).
    pub async fn close(self, deadline: Duration, registry: &Registry) -> Closed {
        match self {
            Output::Elasticsearch(es) => es.close(deadline, registry).await,
            Output::Store(Some(store)) => {
                // Closing brings the rollups up to date: off the async workers.
                let _ = tokio::task::spawn_blocking(move || drop(store)).await;
                Closed::default()
            }
            Output::Store(None) | Output::File(_) | Output::Console(_) => Closed::default(),
        }
    }
}
