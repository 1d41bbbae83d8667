//! The Elasticsearch/OpenSearch output: the settings of an
//! `output.elasticsearch` section turned into a [`SinkConfig`] (checked once,
//! without touching the disk, so `gomon test config` refuses what `gomon run`
//! would), the index template, and the writer on [`BulkSink`].

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use gomon_analyze::fields;
use gomon_sink::{
    BulkSink, Cluster, Credentials, DiskBufferConfig, Document, SinkConfig, SinkMetricsSnapshot,
    TargetNaming, TlsSettings,
};
use serde_json::Value;

use super::{Closed, OutputError};
use crate::config::{ElasticsearchOutput, QueueConfig, SetupConfig};
use crate::document::{Event, Origin};
use crate::selfmon::Registry;
use crate::template::{TEMPLATE_VERSION, golang_template};

/// The Elasticsearch output on [`BulkSink`]: per-item retries, dead
/// letters, several hosts, a bounded queue; documents go with `create` and a
/// deterministic id (so a retried batch never indexes a document twice) to a
/// data stream `<index>` where the server has them, else to dated indices
/// `<index>-YYYY.MM.DD`.
#[derive(Debug)]
pub struct ElasticsearchSink {
    sink: BulkSink,
    index: String,
    naming: TargetNaming,
    hosts: Vec<String>,
    dead_letters: PathBuf,
    carried_over: u64,
}

/// Longest a document waits in the sink for its bulk request to fill.
pub const SINK_BATCH_AGE: Duration = Duration::from_millis(200);

/// The default index (or data stream) name.
pub const DEFAULT_INDEX: &str = "gomon-golang";

/// Builds the sink configuration of an `output.elasticsearch` section
/// without touching the disk: every check of these settings is here (and
/// in [`disk_buffer_settings`]), and [`Config::load`] runs them, so
/// `gomon test config` refuses what `gomon run` would.
pub fn sink_settings(
    config: &ElasticsearchOutput,
    data_dir: &Path,
) -> Result<SinkConfig, OutputError> {
    let hosts: Vec<String> = config
        .hosts
        .iter()
        .map(|h| {
            if h.contains("://") {
                h.clone()
            } else {
                format!("http://{h}")
            }
        })
        .collect();
    let mut sink = SinkConfig::new(hosts);
    // A bulk request goes out at most this long after its first document
    // (or sooner, when full): documents are searchable within about a
    // second of their fetch, and at high rates batches fill by size first.
    sink.batch.max_age = SINK_BATCH_AGE;
    let es = |e: gomon_sink::SinkError| OutputError::Elasticsearch(redact(&e.to_string(), config));
    sink.credentials = match (&config.api_key, &config.username, &config.password) {
        (Some(key), _, _) => Some(Credentials::api_key(key).map_err(|_| {
            OutputError::Elasticsearch(
                "api_key: give it as id:key (both parts non-empty), as Metricbeat takes it"
                    .to_owned(),
            )
        })?),
        (None, Some(username), Some(password)) => Some(Credentials::Basic {
            username: username.clone(),
            password: password.clone(),
        }),
        (None, Some(_), None) => {
            return Err(OutputError::Elasticsearch(
                "username is set but password is not".to_owned(),
            ));
        }
        (None, None, Some(_)) => {
            return Err(OutputError::Elasticsearch(
                "password is set but username is not".to_owned(),
            ));
        }
        (None, None, None) => None,
    };
    if config
        .ssl
        .verification_mode
        .as_deref()
        .is_some_and(|m| m != "full")
    {
        return Err(OutputError::Elasticsearch(
            "ssl.verification_mode other than full is not supported: give the server's CA in ssl.certificate_authorities".to_owned(),
        ));
    }
    match config.ssl.certificate_authorities.as_slice() {
        [] => {}
        [ca] => {
            sink.tls = TlsSettings::custom_ca_file(ca).map_err(|e| {
                OutputError::Elasticsearch(format!("ssl.certificate_authorities: {e}"))
            })?
        }
        _ => {
            return Err(OutputError::Elasticsearch(
                "ssl.certificate_authorities: give one PEM file (it may hold several certificates)"
                    .to_owned(),
            ));
        }
    }
    sink.dead_letter_path = Some(
        config
            .dead_letter_path
            .clone()
            .unwrap_or_else(|| data_dir.join(DEAD_LETTER_FILE)),
    );
    sink.validate().map_err(es)?;
    Ok(sink)
}

/// The disk buffer of `queue.disk`, checked without touching the disk; an
/// error is about `queue.disk.max_size`.
pub fn disk_buffer_settings(queue: &QueueConfig) -> Result<Option<DiskBufferConfig>, String> {
    let Some(disk) = &queue.disk else {
        return Ok(None);
    };
    let mut buffer = DiskBufferConfig::new(&disk.path);
    if let Some(size) = &disk.max_size {
        let bytes = crate::config::parse_size(size)?;
        if bytes < MIN_DISK_QUEUE_BYTES {
            return Err(format!("{size:?} is too small: give at least 1MiB"));
        }
        buffer.max_bytes = bytes;
        buffer.segment_bytes = buffer.segment_bytes.min(buffer.max_bytes / 2).max(1);
    }
    Ok(Some(buffer))
}

/// The smallest `queue.disk.max_size`: 1 MiB.
pub const MIN_DISK_QUEUE_BYTES: u64 = 1024 * 1024;

/// The dead-letter file's name in the data folder (`output.elasticsearch.dead_letter_path` default).
pub const DEAD_LETTER_FILE: &str = "dead-letters.ndjson";

/// Builds the sink configuration of an `output.elasticsearch` section and
/// creates the folder of its dead-letter file.
pub fn sink_config(
    config: &ElasticsearchOutput,
    data_dir: &Path,
) -> Result<SinkConfig, OutputError> {
    let sink = sink_settings(config, data_dir)?;
    if let Some(folder) = sink
        .dead_letter_path
        .as_deref()
        .and_then(Path::parent)
        .filter(|f| !f.as_os_str().is_empty())
    {
        gomon_net::files::create_dir_all(folder).map_err(|e| {
            OutputError::Elasticsearch(format!(
                "cannot create {} for dead letters: {e}",
                folder.display()
            ))
        })?;
    }
    Ok(sink)
}

/// The index (or data stream) name of an `output.elasticsearch` section.
pub fn index_of(config: &ElasticsearchOutput) -> String {
    config
        .index
        .clone()
        .unwrap_or_else(|| DEFAULT_INDEX.to_owned())
}

/// The control-plane client of an `output.elasticsearch` section (same
/// hosts, credentials and CA as the bulk path) and its index name, for
/// `gomon setup`, `gomon test output` and `gomon analyze`.
pub fn control_plane(
    config: &ElasticsearchOutput,
    data_dir: &Path,
) -> Result<(Cluster, String), OutputError> {
    let sink = sink_config(config, data_dir)?;
    let cluster = Cluster::with_config(&sink)
        .map_err(|e| OutputError::Elasticsearch(redact(&e.to_string(), config)))?;
    Ok((cluster, index_of(config)))
}

/// The template gomon installs for `index`, matching both the data stream
/// `<index>` and the dated indices `<index>-YYYY.MM.DD`.
pub fn template_for(index: &str) -> gomon_sink::IndexTemplate {
    golang_template(index, &[&format!("{index}*")], TEMPLATE_VERSION)
}

impl ElasticsearchSink {
    pub(super) async fn open(
        config: &ElasticsearchOutput,
        data_dir: &Path,
        setup: &SetupConfig,
        queue: &QueueConfig,
    ) -> Result<ElasticsearchSink, OutputError> {
        let mut sink_config = sink_config(config, data_dir)?;
        sink_config.disk_buffer = disk_buffer_settings(queue)
            .map_err(|e| OutputError::Elasticsearch(format!("queue.disk.max_size: {e}")))?;
        let index = index_of(config);
        let cluster = Cluster::with_config(&sink_config)
            .map_err(|e| OutputError::Elasticsearch(redact(&e.to_string(), config)))?;
        let naming = if setup.template_enabled {
            match cluster
                .set_up(&template_for(&index), setup.template_overwrite)
                .await
            {
                Ok((naming, outcome)) => {
                    tracing::info!(server = %cluster.url(), index = %index, ?naming, ?outcome, "index template checked");
                    naming
                }
                Err(e) => {
                    // The server may come up later: the sink retries, and
                    // dated indices need nothing installed to accept writes.
                    tracing::warn!(server = %cluster.url(), error = %redact(&e.to_string(), config),
                        "cannot set up the index template now; writing to dated indices (run `gomon setup` later)");
                    TargetNaming::DatedIndices
                }
            }
        } else {
            TargetNaming::DatedIndices
        };
        let dead_letters = sink_config.dead_letter_path.clone().unwrap_or_default();
        let hosts = sink_config.hosts.clone();
        let sink = BulkSink::start(sink_config)
            .map_err(|e| OutputError::Elasticsearch(redact(&e.to_string(), config)))?;
        let carried_over = sink.metrics().disk_buffer_records;
        Ok(ElasticsearchSink {
            carried_over,
            sink,
            index,
            naming,
            hosts,
            dead_letters,
        })
    }

    /// Where a document goes: the data stream, or the dated index of its
    /// `@timestamp` (`timestamp`, as the document has it).
    fn target_for(&self, timestamp: &str) -> String {
        match self.naming {
            TargetNaming::DataStream => self.index.clone(),
            TargetNaming::DatedIndices => {
                let day = timestamp.get(..10).unwrap_or("1970-01-01");
                format!("{}-{}", self.index, day.replace('-', "."))
            }
        }
    }

    /// Where the documents go, for people.
    pub(super) fn describe(&self) -> String {
        let target = match self.naming {
            TargetNaming::DataStream => format!("data stream {}", self.index),
            TargetNaming::DatedIndices => format!("dated indices {}-YYYY.MM.DD", self.index),
        };
        format!(
            "elasticsearch {} ({target}; dead letters in {})",
            self.hosts.join(", "),
            self.dead_letters.display()
        )
    }

    /// Documents an earlier run left in the disk buffer.
    pub(super) fn carried_over(&self) -> u64 {
        self.carried_over
    }

    pub(super) async fn write(&mut self, events: Vec<Event>, origin: &Origin, registry: &Registry) {
        for event in events {
            let timestamp = event.timestamp_text();
            let id = document_id_of(&event.address, event.metricset, &timestamp);
            let document =
                Document::create(self.target_for(&timestamp), event.to_json(origin)).with_id(id);
            // Waits while the sink's queue is full (or, with `queue.disk`,
            // until the record is in the buffer file): back-pressure to the
            // fetchers. From here on the sink accounts for the document.
            if let Err(e) = self.sink.send(document).await {
                tracing::error!(error = %e, "document refused by the sink");
                registry.output.failed.fetch_add(1, Ordering::Relaxed);
            }
            registry.output.taken.fetch_add(1, Ordering::Relaxed);
        }
        publish(&self.sink.metrics(), registry);
    }

    pub(super) async fn close(self, deadline: Duration, registry: &Registry) -> Closed {
        let report = self.sink.shutdown(deadline).await;
        publish(&report.metrics, registry);
        Closed {
            lost: report.lost,
            buffered: report.buffered,
        }
    }
}

/// Copies the sink's counters into gomon's own (served at `/debug/vars`).
fn publish(m: &SinkMetricsSnapshot, registry: &Registry) {
    let o = &registry.output;
    o.acked.store(m.events_acked, Ordering::Relaxed);
    o.duplicates.store(m.events_duplicates, Ordering::Relaxed);
    o.dead_lettered
        .store(m.events_dead_lettered, Ordering::Relaxed);
    o.lost.store(m.events_lost, Ordering::Relaxed);
    o.write_bytes.store(m.bytes_compressed, Ordering::Relaxed);
}

fn redact(text: &str, config: &ElasticsearchOutput) -> String {
    let mut text = text.to_owned();
    for secret in [&config.password, &config.api_key].into_iter().flatten() {
        if !secret.is_empty() {
            text = text.replace(secret.as_str(), gomon_net::url::REDACTED);
        }
    }
    text
}

/// Longest `_id` Elasticsearch accepts, in bytes.
const MAX_ID_BYTES: usize = 512;

/// `<service.address>/<metricset>/<@timestamp>`: one document per target
/// (its URL, so targets that differ only by path never share ids), metric
/// set and fetch, the same on every retry. An id that would pass
/// Elasticsearch's 512-byte limit (a very long URL) is replaced by a hash of it.
pub fn document_id(doc: &Value) -> String {
    let text = |path| fields::get(doc, path).as_str().unwrap_or_default();
    document_id_of(
        text(fields::SERVICE_ADDRESS),
        text(fields::METRICSET_NAME),
        text(fields::TIMESTAMP),
    )
}

/// [`document_id`] from the three parts.
pub fn document_id_of(address: &str, metricset: &str, timestamp: &str) -> String {
    let id = format!("{address}/{metricset}/{timestamp}");
    if id.len() <= MAX_ID_BYTES {
        id
    } else {
        gomon_sink::content_id("service.address/metricset.name/@timestamp", id.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(address: &str) -> Value {
        json!({
            "@timestamp": "2026-01-02T03:04:05.678Z",
            "metricset": {"name": "heap"},
            "service": {"address": address},
        })
    }

    #[test]
    fn targets_that_differ_only_by_path_get_different_document_ids() {
        let a = document_id(&doc("http://localhost:6060/debug/vars"));
        let b = document_id(&doc("http://localhost:6060/other/vars"));
        assert_ne!(a, b);
        assert_eq!(
            a,
            "http://localhost:6060/debug/vars/heap/2026-01-02T03:04:05.678Z"
        );
        assert_eq!(a, document_id(&doc("http://localhost:6060/debug/vars")));
    }

    #[test]
    fn an_id_past_the_servers_limit_is_hashed_and_stays_stable() {
        let long = format!("http://h:1/{}", "p".repeat(600));
        let id = document_id(&doc(&long));
        assert!(id.len() <= MAX_ID_BYTES, "{}", id.len());
        assert_eq!(id, document_id(&doc(&long)));
        let other = format!("http://h:1/{}", "q".repeat(600));
        assert_ne!(id, document_id(&doc(&other)));
    }
}
