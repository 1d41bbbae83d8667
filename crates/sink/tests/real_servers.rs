//! The sink against the real Elasticsearch and OpenSearch started by the rig.

use gomon_sink::{BulkBatch, Cluster, Op, ServerKind};
use gomon_testrig::{EngineKind, engines};

fn expected(kind: EngineKind) -> ServerKind {
    match kind {
        EngineKind::Elasticsearch => ServerKind::Elasticsearch,
        EngineKind::OpenSearch => ServerKind::OpenSearch,
    }
}

async fn count(cluster: &Cluster, index: &str) -> u64 {
    let client = gomon_testrig::es_client(cluster.url());
    client
        .indices()
        .refresh(elasticsearch::indices::IndicesRefreshParts::Index(&[index]))
        .send()
        .await
        .unwrap();
    let response = client
        .count(elasticsearch::CountParts::Index(&[index]))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    body["count"].as_u64().unwrap()
}

#[tokio::test]
async fn server_kind_and_version_are_detected_on_both_engines() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let info = cluster.server_info().await.unwrap();
        assert_eq!(info.kind, expected(engine.kind), "{engine:?}");
        assert!(info.major() >= 2, "{info:?}");
        engine.record(
            "sink::server_kind_and_version",
            &format!("{:?} {}", info.kind, info.version),
        );
    }
}

#[tokio::test]
async fn create_with_ids_delivers_once_then_counts_duplicates_and_reports_bad_documents() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = format!("gomon-sink-test-{}", std::process::id());
        let mut batch = BulkBatch::default();
        for i in 0..3u64 {
            let doc = serde_json::json!({"n": i, "big": 9_007_199_254_740_993u64});
            let id = format!("doc-{i}");
            batch
                .push(
                    Op::Create,
                    &index,
                    Some(&id),
                    &serde_json::to_vec(&doc).unwrap(),
                )
                .unwrap();
        }
        let first = cluster.bulk(&batch).await.unwrap();
        assert_eq!(
            (first.delivered, first.duplicates, first.failed.len()),
            (3, 0, 0),
            "{engine:?}"
        );

        // Replaying the same batch writes nothing twice.
        let replay = cluster.bulk(&batch).await.unwrap();
        assert_eq!((replay.delivered, replay.duplicates), (0, 3), "{engine:?}");
        assert_eq!(count(&cluster, &index).await, 3, "{engine:?}");

        // `n` is mapped as long now: an object there is refused, alone.
        let mut bad = BulkBatch::default();
        bad.push(Op::Create, &index, None, br#"{"n":4}"#).unwrap();
        bad.push(Op::Create, &index, None, br#"{"n":{"nested":true}}"#)
            .unwrap();
        let outcome = cluster.bulk(&bad).await.unwrap();
        assert_eq!(outcome.delivered, 1, "{engine:?}");
        assert_eq!(outcome.failed.len(), 1, "{engine:?}");
        assert_eq!(
            (outcome.failed[0].position, outcome.failed[0].status),
            (1, 400)
        );
        assert!(
            outcome.failed[0].reason.contains("pars"),
            "{:?}",
            outcome.failed[0]
        );

        gomon_testrig::es_client(cluster.url())
            .indices()
            .delete(elasticsearch::indices::IndicesDeleteParts::Index(&[&index]))
            .send()
            .await
            .unwrap();
        engine.record(
            "sink::create_with_ids",
            "3 delivered, 3 duplicates on replay, 1 mapping error isolated",
        );
    }
}
