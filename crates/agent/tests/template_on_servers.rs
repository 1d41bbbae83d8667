//! Index templates on the real Elasticsearch and OpenSearch: installed
//! idempotently, newer ones kept, and the mapping types of a heap-shaped
//! document checked after indexing it.

use std::time::{Duration, SystemTime};

use gomon_agent::template::golang_template;
use gomon_sink::{
    BulkSink, Cluster, Document, SinkConfig, TargetNaming, TemplateOutcome, dated_index,
};
use gomon_testrig::engines;
use serde_json::{Value, json};

async fn delete_index(cluster: &Cluster, index: &str) {
    let _ = gomon_testrig::es_client(cluster.url())
        .indices()
        .delete(elasticsearch::indices::IndicesDeleteParts::Index(&[index]))
        .send()
        .await;
}

/// A unique name for this test process and purpose.
fn unique(purpose: &str) -> String {
    format!("gomon-agent-{purpose}-{}", std::process::id())
}

/// A document shaped like gomon's `golang.heap` and `golang.<ns>` output.
fn heap_document() -> Value {
    json!({
        "@timestamp": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "event": {"module": "golang", "dataset": "golang.heap", "duration": 1234567},
        "metricset": {"name": "heap", "period": 10000},
        "service": {"address": "127.0.0.1:6060", "type": "golang"},
        "golang": {
            "heap": {
                "cmdline": "/usr/bin/app -addr :6060",
                "allocations": {"mallocs": 12, "frees": 3, "objects": 9, "total": 4096,
                    "allocated": 2048, "idle": 1024, "active": 3072},
                "system": {"total": 9_007_199_254_740_993u64, "obtained": 1, "stack": 2, "released": 3},
                "gc": {"next_gc_limit": 4_194_304, "total_count": 7,
                    // An integral value first: without the template it would map as long.
                    "cpu_fraction": 0,
                    "total_pause": {"ns": 100},
                    "pause": {"count": 2, "sum": {"ns": 50}, "avg": {"ns": 25}, "max": {"ns": 30},
                        "p50": {"ns": 20}, "p95": {"ns": 30}, "p99": {"ns": 30}, "missed": 0},
                    "forced": {"total_count": 1, "count": 0}},
                "restarted": false,
                "rate": {"allocated_bytes_per_sec": 10, "mallocs_per_sec": 1.5,
                    "frees_per_sec": 0, "gc_cycles_per_sec": 0.25, "gc_pause_ns_per_sec": 3}
            },
            "example": {"requests": 5, "latency_ms": 1.25, "name": "svc",
                "_dropped": {"depth": 2}, "_rate": {"requests": 4}}
        }
    })
}

fn field_type(mapping: &Value, path: &str) -> String {
    let mut node = mapping;
    for part in path.split('.') {
        node = &node["properties"][part];
    }
    node["type"].as_str().unwrap_or("(absent)").to_owned()
}

#[tokio::test]
async fn the_golang_template_is_installed_once_and_types_a_heap_document_on_both_engines() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let info = cluster.server_info().await.unwrap();
        info.check_supported(&engine.url).unwrap();
        let name = unique("template");
        let pattern = format!("{name}-*");
        let template = golang_template(&name, &[&pattern], 5);

        let (naming, outcome) = cluster.set_up(&template, false).await.unwrap();
        assert_eq!(outcome, TemplateOutcome::Installed, "{engine:?}");
        // Idempotent: the same version is not written again.
        let (_, again) = cluster.set_up(&template, false).await.unwrap();
        assert_eq!(again, TemplateOutcome::AlreadyCurrent);
        // An older release does not overwrite a newer template...
        let older = golang_template(&name, &[&pattern], 4);
        assert_eq!(
            cluster
                .install_template(&older, naming, false)
                .await
                .unwrap(),
            TemplateOutcome::KeptExisting { installed: Some(5) }
        );
        // ...unless told to.
        assert_eq!(
            cluster
                .install_template(&older, naming, true)
                .await
                .unwrap(),
            TemplateOutcome::Updated { previous: Some(5) }
        );
        assert_eq!(
            cluster
                .install_template(&template, naming, false)
                .await
                .unwrap(),
            TemplateOutcome::Updated { previous: Some(4) }
        );

        let target = match naming {
            TargetNaming::DataStream => format!("{name}-default"),
            TargetNaming::DatedIndices => dated_index(&name, SystemTime::now()),
        };
        let sink = BulkSink::start(SinkConfig::new([engine.url.clone()])).unwrap();
        let source = serde_json::to_vec(&heap_document()).unwrap();
        sink.send(Document::create(&target, source).with_content_id())
            .await
            .unwrap();
        let report = sink.shutdown(Duration::from_secs(30)).await;
        assert_eq!(report.metrics.events_acked, 1, "{report:?}");

        let response = gomon_testrig::es_client(cluster.url())
            .indices()
            .get_mapping(elasticsearch::indices::IndicesGetMappingParts::Index(&[
                &target,
            ]))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        // Keyed by the concrete index (a data stream's backing index).
        let mapping = &body.as_object().unwrap().values().next().unwrap()["mappings"];
        let expect = [
            ("@timestamp", "date"),
            ("golang.heap.cmdline", "keyword"),
            ("golang.heap.allocations.allocated", "long"),
            ("golang.heap.system.total", "long"),
            ("golang.heap.gc.cpu_fraction", "float"),
            ("golang.heap.gc.pause.sum.ns", "long"),
            ("golang.heap.gc.pause.p99.ns", "long"),
            ("golang.heap.restarted", "boolean"),
            ("golang.heap.rate.allocated_bytes_per_sec", "double"),
            ("golang.heap.rate.frees_per_sec", "double"),
            ("event.duration", "long"),
            ("service.address", "keyword"),
            // The dynamic templates: expvar numbers are double even when integral.
            ("golang.example.requests", "double"),
            ("golang.example.latency_ms", "double"),
            ("golang.example._rate.requests", "double"),
            ("golang.example._dropped.depth", "long"),
            ("golang.example.name", "keyword"),
        ];
        for (path, kind) in expect {
            assert_eq!(
                field_type(mapping, path),
                kind,
                "{path} on {engine:?}: {mapping}"
            );
        }

        // Clean up: the data stream (or index), then the template.
        match naming {
            TargetNaming::DataStream => {
                let _ = gomon_testrig::es_client(cluster.url())
                    .send(
                        elasticsearch::http::Method::Delete,
                        &format!("/_data_stream/{target}"),
                        elasticsearch::http::headers::HeaderMap::new(),
                        None::<&()>,
                        None::<&[u8]>,
                        None,
                    )
                    .await;
            }
            TargetNaming::DatedIndices => delete_index(&cluster, &target).await,
        }
        let _ = gomon_testrig::es_client(cluster.url())
            .indices()
            .delete_index_template(
                elasticsearch::indices::IndicesDeleteIndexTemplateParts::Name(&name),
            )
            .send()
            .await;
        engine.record(
            "agent::golang_template",
            &format!(
                "{:?} {}: template installed once, newer kept, {naming:?}, {} field types checked",
                info.kind,
                info.version,
                expect.len()
            ),
        );
    }
}
