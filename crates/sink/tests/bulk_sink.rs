//! The running sink against the real Elasticsearch and OpenSearch started by
//! the rig, directly and through a fault-injecting proxy.

mod support;

use std::time::Duration;

use gomon_sink::{
    BulkSink, Cluster, Credentials, DeadLetterStore, Document, RetryPolicy, SinkError, TlsSettings,
};
use gomon_testrig::engines;
use serde_json::json;
use support::{
    Fault, FaultProxy, delete_index, ids_in, private_ca_and_acceptor, scratch_dir, test_config,
    unique,
};

fn documents(index: &str, n: usize) -> Vec<Document> {
    (0..n)
        .map(|i| {
            let source = serde_json::to_vec(&json!({
                "@timestamp": "2026-01-01T00:00:00Z",
                "seq": i,
                "big": 9_007_199_254_740_993u64,
            }))
            .unwrap();
            Document::create(index, source).with_content_id()
        })
        .collect()
}

fn sorted_ids(docs: &[Document]) -> Vec<String> {
    let mut ids: Vec<String> = docs.iter().map(|d| d.id.clone().unwrap()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn every_document_sent_through_the_sink_arrives_once_counted_by_id() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique("delivery");
        delete_index(&cluster, &index).await;
        let docs = documents(&index, 1500);
        let expected = sorted_ids(&docs);
        let sink = BulkSink::start(test_config(vec![engine.url.clone()])).unwrap();
        for doc in docs {
            sink.send(doc).await.unwrap();
        }
        let report = sink.shutdown(Duration::from_secs(60)).await;
        assert_eq!(report.lost, 0, "{report:?}");
        let m = &report.metrics;
        assert_eq!((m.events_accepted, m.events_acked), (1500, 1500), "{m:?}");
        assert_eq!(m.events_failed, 0, "{m:?}");
        assert!(m.batches >= 15, "batches of at most 100: {m:?}");
        assert!(
            m.bytes_compressed < m.bytes_uncompressed,
            "gzip is on by default: {m:?}"
        );
        assert_eq!(
            (m.in_flight_requests, m.pending_events, m.queue_depth),
            (0, 0, 0)
        );
        assert_eq!(ids_in(&cluster, &index).await, expected, "{engine:?}");
        delete_index(&cluster, &index).await;
        engine.record(
            "sink::every_document_arrives_once",
            "1500 docs via BulkSink, ids all present once, gzip on",
        );
    }
}

#[tokio::test]
async fn item_rejections_413_resets_and_slow_answers_lose_and_duplicate_nothing() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique("faults");
        delete_index(&cluster, &index).await;
        let script = vec![
            Fault::RejectItems(vec![0, 3, 7, 20], 429),
            Fault::FailItemsAfterWrite(vec![1, 2], 500),
            Fault::RejectItems(vec![5], 503),
            Fault::ResetAfterForward,
            Fault::ResetBeforeForward,
            Fault::Delay(Duration::from_millis(300)),
            // Longer than the request timeout (3 s): written, answer lost.
            Fault::Delay(Duration::from_secs(4)),
            Fault::Status(503),
            Fault::Status(429),
            Fault::RejectItems(vec![0], 429),
        ];
        let proxy = FaultProxy::start(&engine.url, script, 60).await;
        let docs = documents(&index, 1000);
        let expected = sorted_ids(&docs);
        let sink = BulkSink::start(test_config(vec![proxy.url.clone()])).unwrap();
        for doc in docs {
            sink.send(doc).await.unwrap();
        }
        let report = sink.shutdown(Duration::from_secs(90)).await;
        let m = &report.metrics;
        assert_eq!(report.lost, 0, "{report:?}");
        assert_eq!(proxy.script_left(), 0, "every fault was applied");
        assert_eq!(m.events_dead_lettered, 0, "{m:?}");
        assert_eq!(
            m.events_acked + m.events_duplicates,
            1000,
            "each document is delivered or recognised as already there: {m:?}"
        );
        // Written-then-failed items (2), and the batches whose answers were
        // lost (reset after forward, timeout) come back as 409s.
        assert!(m.events_duplicates >= 2, "{m:?}");
        assert!(m.events_retried >= 5, "{m:?}");
        assert!(
            m.batch_splits >= 1,
            "100-document batches above 60 were split: {m:?}"
        );
        assert!(m.requests_failed >= 4, "{m:?}");
        assert!(m.last_error.is_some());
        assert_eq!(ids_in(&cluster, &index).await, expected, "{engine:?}");
        let applied = proxy.log(|l| l.applied.len());
        delete_index(&cluster, &index).await;
        engine.record(
            "sink::faults_lose_and_duplicate_nothing",
            &format!(
                "1000 docs through proxy: {applied} faults (429/500/503 items, 413, resets, slow, timeout); \
                 all ids once; {} duplicates recognised",
                m.events_duplicates
            ),
        );
    }
}

#[tokio::test]
async fn a_document_with_a_mapping_error_is_dead_lettered_with_its_reason_and_the_others_arrive() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique("deadletter");
        delete_index(&cluster, &index).await;
        let (status, _) = (
            gomon_testrig::es_client(cluster.url())
                .indices()
                .create(elasticsearch::indices::IndicesCreateParts::Index(&index))
                .body(json!({"mappings": {"properties": {"n": {"type": "long"}}}}))
                .send()
                .await
                .unwrap()
                .status_code(),
            (),
        );
        assert!(status.is_success(), "{status}");
        let dir = scratch_dir("deadletter");
        let path = dir.join("dead.ndjson");
        let mut config = test_config(vec![engine.url.clone()]);
        config.dead_letter_path = Some(path.clone());
        let sink = BulkSink::start(config).unwrap();
        for i in 0..20 {
            let n = if i == 7 {
                json!("not-a-number")
            } else {
                json!(i)
            };
            let source = serde_json::to_vec(&json!({"n": n})).unwrap();
            sink.send(Document::create(&index, source).with_id(format!("d{i}")))
                .await
                .unwrap();
        }
        let report = sink.shutdown(Duration::from_secs(30)).await;
        let m = &report.metrics;
        assert_eq!((m.events_acked, m.events_dead_lettered), (19, 1), "{m:?}");
        assert_eq!(report.lost, 0);
        let letters = DeadLetterStore::read_all(&path).unwrap();
        assert_eq!(letters.len(), 1, "{letters:?}");
        let letter = &letters[0];
        assert_eq!(letter.status, 400);
        assert_eq!(letter.id.as_deref(), Some("d7"));
        assert_eq!(letter.index, index);
        assert_eq!(letter.document, Some(json!({"n": "not-a-number"})));
        assert!(
            letter.reason.contains("pars") && letter.reason.contains("[n]"),
            "{}",
            letter.reason
        );
        let ids = ids_in(&cluster, &index).await;
        assert_eq!(ids.len(), 19);
        assert!(!ids.contains(&"d7".to_owned()));
        delete_index(&cluster, &index).await;
        std::fs::remove_dir_all(&dir).unwrap();
        engine.record(
            "sink::mapping_error_dead_lettered",
            &format!("19 delivered, 1 in dead-letter file: {}", letter.reason),
        );
    }
}

#[tokio::test]
async fn the_drain_sends_a_partial_batch_at_once_instead_of_waiting_for_its_age() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique("drain");
        delete_index(&cluster, &index).await;
        let mut config = test_config(vec![engine.url.clone()]);
        config.batch.max_age = Duration::from_secs(3600);
        config.batch.max_documents = 10_000;
        let sink = BulkSink::start(config).unwrap();
        let docs = documents(&index, 250);
        let expected = sorted_ids(&docs);
        for doc in docs {
            sink.send(doc).await.unwrap();
        }
        let started = std::time::Instant::now();
        let report = sink.shutdown(Duration::from_secs(30)).await;
        assert_eq!(report.lost, 0, "{report:?}");
        assert!(started.elapsed() < Duration::from_secs(25));
        assert_eq!(report.metrics.batches, 1);
        assert_eq!(ids_in(&cluster, &index).await, expected);
        delete_index(&cluster, &index).await;
        engine.record(
            "sink::drain_sends_partial_batch",
            "250 docs in a 1-hour batch delivered by shutdown",
        );
    }
}

#[tokio::test]
async fn a_dead_host_is_skipped_and_every_document_arrives_through_the_live_one() {
    // A port that was free a moment ago: connections are refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique("failover");
        delete_index(&cluster, &index).await;
        let mut config = test_config(vec![closed.clone(), engine.url.clone()]);
        config.node_revival = RetryPolicy {
            initial: Duration::from_secs(60),
            max: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let sink = BulkSink::start(config).unwrap();
        let docs = documents(&index, 600);
        let expected = sorted_ids(&docs);
        for doc in docs {
            sink.send(doc).await.unwrap();
        }
        let report = sink.shutdown(Duration::from_secs(60)).await;
        assert_eq!(report.lost, 0, "{report:?}");
        assert_eq!(report.metrics.alive_nodes, 1, "{:?}", report.metrics);
        assert_eq!(
            report.metrics.requests_failed, 0,
            "the failed node's request went to the other node at once"
        );
        assert_eq!(ids_in(&cluster, &index).await, expected);
        delete_index(&cluster, &index).await;
        engine.record(
            "sink::dead_host_skipped",
            "2 hosts, one refusing: 600 docs delivered via the live one, no request failed",
        );
    }
}

#[tokio::test]
async fn credentials_are_sent_on_every_bulk_request_and_never_shown() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique("auth");
        delete_index(&cluster, &index).await;
        let proxy = FaultProxy::start(&engine.url, Vec::new(), usize::MAX).await;
        let mut config = test_config(vec![proxy.url.clone()]);
        config.credentials = Some(Credentials::api_key("key-id:s3cret-key").unwrap());
        assert!(!format!("{config:?}").contains("s3cret"));
        let sink = BulkSink::start(config).unwrap();
        for doc in documents(&index, 150) {
            sink.send(doc).await.unwrap();
        }
        let report = sink.shutdown(Duration::from_secs(30)).await;
        assert_eq!(report.lost, 0);
        let (requests, headers) = proxy.log(|l| (l.bulk_requests, l.authorizations.clone()));
        assert!(requests >= 2);
        assert_eq!(headers.len(), requests);
        // base64("key-id:s3cret-key")
        assert!(
            headers
                .iter()
                .all(|h| h == "ApiKey a2V5LWlkOnMzY3JldC1rZXk="),
            "{headers:?}"
        );
        assert_eq!(ids_in(&cluster, &index).await.len(), 150);
        delete_index(&cluster, &index).await;
        engine.record(
            "sink::credentials_sent",
            "API key header on every bulk request (server without security ignores it)",
        );
    }
}

/// Not a server test: nothing listens, so the queue fills up.
#[tokio::test]
async fn a_full_queue_pushes_back_and_an_unreachable_cluster_loses_only_what_the_drain_reports() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut config = test_config(vec![closed]);
    config.queue_capacity = 10;
    config.max_in_flight = 1;
    config.batch.max_documents = 5;
    let sink = BulkSink::start(config).unwrap();
    let mut accepted = 0u64;
    let mut refused = None;
    for doc in documents("unreachable", 100) {
        match sink.try_send(doc) {
            Ok(()) => accepted += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
        // Let the dispatcher take what it can.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        matches!(refused, Some(SinkError::QueueFull { capacity: 10 })),
        "{refused:?}"
    );
    // Queue (10) + the batch being built (5) + the one in flight (5), at most.
    assert!((10..=20).contains(&accepted), "{accepted}");
    let before = sink.metrics();
    assert!(before.requests_failed >= 1, "{before:?}");
    assert!(before.last_error.as_ref().unwrap().message.contains("bulk"));
    let report = sink.shutdown(Duration::from_millis(500)).await;
    assert_eq!(report.lost, accepted, "{report:?}");
    assert!(report.deadline_reached);
    assert_eq!(report.metrics.events_acked, 0);
}

#[tokio::test]
async fn documents_that_are_not_one_line_of_json_are_refused_before_queueing() {
    let sink = BulkSink::start(test_config(vec!["http://127.0.0.1:9".into()])).unwrap();
    let err = sink
        .send(Document::create("i", b"{\"a\":\n1}".to_vec()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line break"), "{err}");
    assert_eq!(sink.metrics().events_accepted, 0);
    let report = sink.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.lost, 0);
}

#[tokio::test]
async fn https_hosts_are_trusted_through_a_custom_ca_and_refused_without_it() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique("tls");
        delete_index(&cluster, &index).await;
        let (ca_pem, acceptor) = private_ca_and_acceptor();
        let proxy =
            FaultProxy::start_with_tls(&engine.url, Vec::new(), usize::MAX, Some(acceptor)).await;
        assert!(proxy.url.starts_with("https://127.0.0.1:"));

        // Default trust (Mozilla roots): the private CA is unknown, nothing is sent.
        let mut config = test_config(vec![proxy.url.clone()]);
        config.max_in_flight = 1;
        let sink = BulkSink::start(config).unwrap();
        for doc in documents(&index, 10) {
            sink.send(doc).await.unwrap();
        }
        let mut refused = String::new();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(e) = sink.metrics().last_error {
                refused = e.message;
                break;
            }
        }
        assert!(refused.contains("UnknownIssuer"), "{refused}");
        let report = sink.shutdown(Duration::from_millis(200)).await;
        assert_eq!(report.lost, 10);
        assert_eq!(proxy.log(|l| l.bulk_requests), 0);

        // Trusting the CA: delivered.
        let mut config = test_config(vec![proxy.url.clone()]);
        config.tls = TlsSettings::custom_ca(ca_pem.as_bytes()).unwrap();
        let sink = BulkSink::start(config).unwrap();
        let docs = documents(&index, 200);
        let expected = sorted_ids(&docs);
        for doc in docs {
            sink.send(doc).await.unwrap();
        }
        let report = sink.shutdown(Duration::from_secs(30)).await;
        assert_eq!(report.lost, 0, "{report:?}");
        assert_eq!(ids_in(&cluster, &index).await, expected);
        // The control plane goes through the same TLS settings.
        let mut with_ca = test_config(vec![proxy.url.clone()]);
        with_ca.tls = TlsSettings::custom_ca(ca_pem.as_bytes()).unwrap();
        let info = Cluster::with_config(&with_ca)
            .unwrap()
            .server_info()
            .await
            .unwrap();
        assert!(info.major() >= 2, "{info:?}");
        let refused = Cluster::with_config(&test_config(vec![proxy.url.clone()]))
            .unwrap()
            .server_info()
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("UnknownIssuer"), "{refused}");
        delete_index(&cluster, &index).await;
        engine.record(
            "sink::tls_custom_ca",
            "HTTPS proxy with a private CA: refused with default roots, 200 docs delivered with the CA",
        );
    }
}
