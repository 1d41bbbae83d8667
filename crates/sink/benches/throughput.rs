//! End-to-end throughput: documents per second through `BulkSink` next to a
//! raw bulk loader (pre-built NDJSON bodies, the same batch size and the
//! same number of requests in flight) against the same real server, in the
//! same run.
//!
//! ```sh
//! set -a; . /tmp/rig/env; set +a   # GOMON_TEST_ELASTICSEARCH_URL / _OPENSEARCH_URL
//! CARGO_TARGET_DIR=/tmp/target-sink cargo bench -p gomon-sink --bench throughput
//! ```
//! `SINK_BENCH_DOCS` (default 100000), `SINK_BENCH_BATCH` (1000) and
//! `SINK_BENCH_IN_FLIGHT` (2), `SINK_BENCH_ROUNDS` (2) change the run. Without a server URL it says
//! so and exits.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gomon_sink::{BatchLimits, BulkBatch, BulkSink, Cluster, Compression, Document, SinkConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Heap-shaped documents of about 700 bytes.
fn documents(index: &str, n: usize) -> Vec<Document> {
    (0..n)
        .map(|i| {
            let source = serde_json::to_vec(&json!({
                "@timestamp": format!("2026-01-01T00:{:02}:{:02}.{:03}Z", (i / 60_000) % 60, (i / 1000) % 60, i % 1000),
                "event": {"module": "golang", "dataset": "golang.heap", "duration": 1_200_000 + i},
                "metricset": {"name": "heap", "period": 10000},
                "service": {"address": format!("10.0.{}.{}:6060", i % 7, i % 251), "type": "golang"},
                "golang": {"heap": {
                    "allocations": {"mallocs": i * 31, "frees": i * 29, "objects": i % 9973,
                        "total": i * 4096, "allocated": i * 2048, "idle": 1 << 20, "active": 3 << 20},
                    "system": {"total": 9 << 20, "obtained": 8 << 20, "stack": 1 << 19, "released": 1 << 18},
                    "gc": {"next_gc_limit": 4 << 20, "total_count": i / 10, "cpu_fraction": 0.0012,
                        "total_pause": {"ns": i * 1000},
                        "pause": {"count": 3, "sum": {"ns": 90_000}, "avg": {"ns": 30_000}, "max": {"ns": 41_000}}},
                    "rate": {"allocated_bytes_per_sec": 123_456.5, "mallocs_per_sec": 1000.25}
                }}
            }))
            .unwrap();
            Document::create(index, source).with_content_id()
        })
        .collect()
}

async fn delete_index(cluster: &Cluster, index: &str) {
    let _ = gomon_testrig::es_client(cluster.url())
        .indices()
        .delete(elasticsearch::indices::IndicesDeleteParts::Index(&[index]))
        .send()
        .await;
}

/// The raw loader: bodies built before the clock starts, sent `in_flight`
/// at a time, only the HTTP status checked (and `errors:false`).
async fn raw_loader(url: &str, bodies: Vec<Bytes>, in_flight: usize) -> Duration {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let uri = format!("{url}/_bulk?filter_path=errors");
    let queue = Arc::new(tokio::sync::Mutex::new(bodies.into_iter()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let (client, uri, queue) = (client.clone(), uri.clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(body) = queue.lock().await.next() else {
                    return;
                };
                let request = hyper::Request::post(&uri)
                    .header("content-type", "application/x-ndjson")
                    .body(Full::new(body))
                    .unwrap();
                let response = client.request(request).await.unwrap();
                assert!(response.status().is_success());
                let answer = response.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(&answer[..], br#"{"errors":false}"#);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    started.elapsed()
}

async fn through_sink(
    url: &str,
    docs: Vec<Document>,
    batch: usize,
    in_flight: usize,
    compression: Compression,
) -> (Duration, gomon_sink::SinkMetricsSnapshot) {
    let mut config = SinkConfig::new([url]);
    config.batch = BatchLimits {
        max_bytes: 64 * 1024 * 1024,
        max_documents: batch,
        max_age: Duration::from_secs(1),
    };
    config.max_in_flight = in_flight;
    config.compression = compression;
    config.queue_capacity = batch * 4;
    let n = docs.len() as u64;
    let sink = BulkSink::start(config).unwrap();
    let started = Instant::now();
    for doc in docs {
        sink.send(doc).await.unwrap();
    }
    let report = sink.shutdown(Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    assert_eq!(report.metrics.events_acked, n, "{report:?}");
    (elapsed, report.metrics)
}

#[tokio::main]
async fn main() {
    let n = env_usize("SINK_BENCH_DOCS", 100_000);
    let batch = env_usize("SINK_BENCH_BATCH", 1000);
    let in_flight = env_usize("SINK_BENCH_IN_FLIGHT", 2);
    let rounds = env_usize("SINK_BENCH_ROUNDS", 2);
    let servers: Vec<(&str, String)> = [
        ("Elasticsearch", "GOMON_TEST_ELASTICSEARCH_URL"),
        ("OpenSearch", "GOMON_TEST_OPENSEARCH_URL"),
    ]
    .into_iter()
    .filter_map(|(name, var)| std::env::var(var).ok().map(|url| (name, url)))
    .collect();
    if servers.is_empty() {
        println!(
            "no server: start the rig (tests/rig/rig.sh) and export GOMON_TEST_ELASTICSEARCH_URL"
        );
        return;
    }
    println!("{n} documents, batches of {batch}, {in_flight} requests in flight");
    for (name, url) in servers {
        let url = url.trim_end_matches('/').to_owned();
        let cluster = Cluster::new(&url).unwrap();
        let base = format!("gomon-sink-bench-{}", std::process::id());
        // Warm-up (JIT, connections), not measured.
        let warm = format!("{base}-warm");
        through_sink(
            &url,
            documents(&warm, 5000),
            batch,
            in_flight,
            Compression::None,
        )
        .await;
        delete_index(&cluster, &warm).await;

        let mut lines = Vec::new();
        // Rounds alternate the three runs, so that a server warming up
        // (JIT, segment merges) does not favour whichever runs last.
        for round in 1..=rounds {
            let raw_index = format!("{base}-raw-{round}");
            let docs = documents(&raw_index, n);
            let mut bodies = Vec::new();
            for chunk in docs.chunks(batch) {
                let mut body = BulkBatch::default();
                for doc in chunk {
                    body.push_document(doc).unwrap();
                }
                bodies.push(Bytes::from(body.into_body()));
            }
            let raw_bytes: usize = bodies.iter().map(Bytes::len).sum();
            let raw = raw_loader(&url, bodies, in_flight).await;
            delete_index(&cluster, &raw_index).await;
            lines.push(format!(
                "{name:<13} round {round} raw loader (pre-built NDJSON, plain)  {:>7.0} docs/s  ({:.1} MB)",
                n as f64 / raw.as_secs_f64(),
                raw_bytes as f64 / 1e6
            ));
            for (label, compression) in
                [("plain", Compression::None), ("gzip-1", Compression::Gzip)]
            {
                let index = format!("{base}-sink-{label}-{round}");
                let (elapsed, m) =
                    through_sink(&url, documents(&index, n), batch, in_flight, compression).await;
                delete_index(&cluster, &index).await;
                lines.push(format!(
                    "{name:<13} round {round} BulkSink ({label:<6})                   {:>7.0} docs/s  ({:.1} MB on the wire, {} requests)",
                    n as f64 / elapsed.as_secs_f64(),
                    m.bytes_compressed as f64 / 1e6,
                    m.batches
                ));
            }
        }
        for line in lines {
            println!("{line}");
        }
    }
}
