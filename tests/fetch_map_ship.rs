//! End to end on real components: fetch a real Go program's `/debug/vars`,
//! map it to Metricbeat's `golang.heap` and `golang.<namespace>` documents,
//! ship them to a real Elasticsearch and a real OpenSearch, and query them
//! back by the field names existing dashboards use.

use std::time::SystemTime;

use gomon_expvar::{ClientConfig, ExpvarClient, Target};
use gomon_flatten::{ExpvarDocument, FlattenConfig, Flattener};
use gomon_heap::{HeapMetrics, MemStats};
use gomon_sink::{BulkBatch, Cluster, Op};
use gomon_testrig::{AppKind, GoApp, engines};
use serde_json::{Value, json};

fn documents(app: &GoApp, heap: &HeapMetrics, custom: ExpvarDocument) -> (Value, Value) {
    let now = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let meta = |dataset: &str, name: &str| {
        json!({
            "@timestamp": now,
            "event": {"module": "golang", "dataset": dataset},
            "metricset": {"name": name, "period": 10000},
            "service": {"address": app.addr(), "type": "golang"},
        })
    };
    let mut heap_doc = meta("golang.heap", "heap");
    heap_doc["golang"] = json!({ "heap": heap });
    let mut expvar_doc = meta(&custom.dataset(), "expvar");
    expvar_doc["golang"] = custom.into_golang_value();
    (heap_doc, expvar_doc)
}

#[tokio::test]
async fn heap_and_custom_metrics_of_real_go_apps_are_queryable_in_both_engines() {
    let engines = engines();
    let client = ExpvarClient::new(ClientConfig::default());
    let apps: Vec<GoApp> = AppKind::ALL.iter().map(|k| GoApp::start(*k, &[])).collect();
    let mut batch = BulkBatch::default();
    let index = format!("gomon-e2e-{}", std::process::id());
    let mut expected_allocated = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let target = Target::parse(app.addr()).unwrap();
        // A fresh app has done no work yet: wait (bounded) for its first unit.
        let mut snapshot = client.fetch(&target).await.unwrap();
        for _ in 0..100 {
            if snapshot.vars()["output.events.acked"].as_u64() > Some(0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            snapshot = client.fetch(&target).await.unwrap();
        }
        let memstats =
            MemStats::from_json(&Value::Object(snapshot.memstats().unwrap().clone())).unwrap();
        let heap = HeapMetrics::from_memstats(&memstats, &snapshot.cmdline().unwrap());
        expected_allocated.push((app.kind(), heap.allocations.allocated));
        let custom = Flattener::new(FlattenConfig::new("example").unwrap())
            .flatten(snapshot.vars(), std::time::Instant::now());
        let (heap_doc, expvar_doc) = documents(app, &heap, custom);
        batch
            .push(
                Op::Create,
                &index,
                Some(&format!("heap-{i}")),
                &serde_json::to_vec(&heap_doc).unwrap(),
            )
            .unwrap();
        batch
            .push(
                Op::Create,
                &index,
                Some(&format!("expvar-{i}")),
                &serde_json::to_vec(&expvar_doc).unwrap(),
            )
            .unwrap();
    }

    for engine in engines {
        let cluster = Cluster::new(&engine.url).unwrap();
        let outcome = cluster.bulk(&batch).await.unwrap();
        assert_eq!(
            outcome.delivered,
            2 * AppKind::ALL.len(),
            "{engine:?}: {outcome:?}"
        );
        let es = gomon_testrig::es_client(cluster.url());
        es.indices()
            .refresh(elasticsearch::indices::IndicesRefreshParts::Index(&[
                &index,
            ]))
            .send()
            .await
            .unwrap();

        // The heap document of each app, found by Metricbeat's field names.
        for (kind, allocated) in &expected_allocated {
            let body: Value = es
                .search(elasticsearch::SearchParts::Index(&[&index]))
                .body(json!({
                    "query": {"bool": {"filter": [
                        {"term": {"metricset.name": "heap"}},
                        {"match_phrase": {"golang.heap.cmdline": kind.name()}}
                    ]}}
                }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let hits = body["hits"]["hits"].as_array().unwrap();
            assert_eq!(hits.len(), 1, "{engine:?} {kind}: {body}");
            assert_eq!(
                hits[0]["_source"]["golang"]["heap"]["allocations"]["allocated"],
                json!(allocated)
            );
        }

        // The source article's Timelion metric: max of a dotted expvar name.
        let body: Value = es
            .search(elasticsearch::SearchParts::Index(&[&index]))
            .body(json!({
                "size": 0,
                "aggs": {"acked": {"max": {"field": "golang.example.output.events.acked"}}}
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            body["aggregations"]["acked"]["value"].as_f64().unwrap() > 0.0,
            "{engine:?}: {body}"
        );

        // Field types as Metricbeat's template has them (here from dynamic mapping).
        let mapping: Value = es
            .indices()
            .get_field_mapping(
                elasticsearch::indices::IndicesGetFieldMappingParts::IndexFields(
                    &[&index],
                    &[
                        "golang.heap.allocations.allocated",
                        "golang.heap.gc.cpu_fraction",
                    ],
                ),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let fields = &mapping[&index]["mappings"];
        assert_eq!(
            fields["golang.heap.allocations.allocated"]["mapping"]["allocated"]["type"], "long",
            "{mapping}"
        );
        assert_eq!(
            fields["golang.heap.gc.cpu_fraction"]["mapping"]["cpu_fraction"]["type"], "float",
            "{mapping}"
        );

        if std::env::var_os("GOMON_KEEP_TEST_INDEX").is_none() {
            es.indices()
                .delete(elasticsearch::indices::IndicesDeleteParts::Index(&[&index]))
                .send()
                .await
                .unwrap();
        }
        engine.record(
            "e2e::fetch_map_ship",
            &format!(
                "{} Go apps, {} documents, queried back by Metricbeat field names",
                AppKind::ALL.len(),
                2 * AppKind::ALL.len()
            ),
        );
    }
}
