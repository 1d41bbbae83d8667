//! The sink's disk buffer against the real Elasticsearch and OpenSearch:
//! an outage (the server unreachable while documents keep coming), a drain
//! that leaves documents on disk for the next sink, and a writer killed with
//! SIGKILL whose accepted documents are delivered by the next process.

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use gomon_sink::{BulkSink, Cluster, DiskBufferConfig, Document, FsyncPolicy, SinkConfig};
use gomon_testrig::engines;
use serde_json::json;
use support::{FaultProxy, delete_index, ids_in, scratch_dir, test_config, unique};

/// Set in the child process of the kill test: the buffer folder.
const CHILD_DIR: &str = "GOMON_SINK_CHILD_DIR";
/// Set in the child process of the kill test: the index to write.
const CHILD_INDEX: &str = "GOMON_SINK_CHILD_INDEX";
/// Documents the child writes.
const CHILD_DOCUMENTS: usize = 1000;

/// Small batches, fast retries, a disk buffer in `dir`.
fn buffered_config(hosts: Vec<String>, dir: &Path) -> SinkConfig {
    let mut config = test_config(hosts);
    config.queue_capacity = 50;
    let mut disk = DiskBufferConfig::new(dir);
    disk.max_bytes = 8 << 20;
    disk.segment_bytes = 64 << 10;
    disk.fsync = FsyncPolicy::Interval(Duration::from_millis(100));
    config.disk_buffer = Some(disk);
    config
}

fn documents(index: &str, range: std::ops::Range<usize>) -> Vec<Document> {
    range
        .map(|i| {
            let source = serde_json::to_vec(&json!({
                "@timestamp": "2026-01-01T00:00:00Z",
                "seq": i,
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

/// A URL where nothing listens: connections are refused.
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test]
async fn documents_sent_while_the_server_is_down_wait_on_disk_and_arrive_once_when_it_returns() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique(&format!("outage-{}", engine.kind));
        delete_index(&cluster, &index).await;
        let dir = scratch_dir(&format!("outage-{}", engine.kind));
        let proxy = FaultProxy::start(&engine.url, Vec::new(), usize::MAX).await;

        // 1. Down, then back while the same sink runs: delivered by it.
        proxy.set_down(true);
        let first = documents(&index, 0..400);
        let sink = BulkSink::start(buffered_config(vec![proxy.url.clone()], &dir)).unwrap();
        for doc in first.clone() {
            // More than the queue (50) holds: the disk takes the rest.
            sink.send(doc).await.unwrap();
        }
        let during = sink.metrics();
        assert_eq!(during.disk_buffer_records, 400, "{during:?}");
        assert_eq!(during.events_acked, 0, "{during:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(sink.metrics().requests_failed >= 1);
        proxy.set_down(false);
        let report = sink.shutdown(Duration::from_secs(60)).await;
        assert_eq!((report.lost, report.buffered), (0, 0), "{report:?}");
        assert_eq!(report.metrics.events_acked, 400, "{report:?}");
        assert_eq!(report.metrics.disk_buffer_bytes, 0, "{report:?}");

        // 2. Down across a drain: what could not be sent stays on disk.
        proxy.set_down(true);
        let second = documents(&index, 400..700);
        let sink = BulkSink::start(buffered_config(vec![proxy.url.clone()], &dir)).unwrap();
        for doc in second.clone() {
            sink.send(doc).await.unwrap();
        }
        let report = sink.shutdown(Duration::from_millis(800)).await;
        assert_eq!(report.lost, 0, "{report:?}");
        assert_eq!(report.buffered, 300, "{report:?}");
        assert!(report.deadline_reached);

        // 3. Back up: a new sink on the same folder delivers them first.
        proxy.set_down(false);
        let sink = BulkSink::start(buffered_config(vec![proxy.url.clone()], &dir)).unwrap();
        let report = sink.shutdown(Duration::from_secs(60)).await;
        let m = &report.metrics;
        assert_eq!((report.lost, report.buffered), (0, 0), "{report:?}");
        assert_eq!(m.events_replayed, 300, "{m:?}");
        assert_eq!(m.events_acked + m.events_duplicates, 300, "{m:?}");
        assert_eq!(m.disk_records_corrupt, 0, "{m:?}");

        let mut expected = sorted_ids(&first);
        expected.extend(sorted_ids(&second));
        expected.sort();
        assert_eq!(ids_in(&cluster, &index).await, expected, "{engine:?}");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.to_string_lossy().ends_with(".segment"))
            .collect();
        assert!(left.is_empty(), "only empty segments remain: {left:?}");
        delete_index(&cluster, &index).await;
        std::fs::remove_dir_all(&dir).unwrap();
        engine.record(
            "sink::disk_buffer_outage",
            "proxy refusing every connection: 400 docs on disk delivered when it returned; \
             300 more left on disk by a 0.8 s drain (buffered=300, lost=0) and replayed by a \
             new sink; all 700 ids once",
        );
    }
}

/// The writer of the kill test, run only as its child process (ignored in a
/// normal run; the kill test starts this binary with `--ignored --exact`):
/// sends documents through a disk-buffered sink whose server is
/// unreachable and reports on stdout how many `send` calls have returned.
#[tokio::test]
#[ignore = "the child process of the kill test below, started by it"]
async fn child_writer_for_the_kill_test() {
    let (Ok(dir), Ok(index)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_INDEX)) else {
        panic!("run only by the kill test, which sets {CHILD_DIR} and {CHILD_INDEX}");
    };
    let mut config = buffered_config(vec![closed_url()], Path::new(&dir));
    config.disk_buffer.as_mut().unwrap().fsync = FsyncPolicy::Never;
    let sink = BulkSink::start(config).unwrap();
    let mut out = std::io::stdout();
    for (i, doc) in documents(&index, 0..CHILD_DOCUMENTS)
        .into_iter()
        .enumerate()
    {
        sink.send(doc).await.unwrap();
        if (i + 1) % 50 == 0 {
            writeln!(out, "accepted {}", i + 1).unwrap();
            out.flush().unwrap();
        }
    }
    writeln!(out, "all sent").unwrap();
    out.flush().unwrap();
    // Wait to be killed (bounded, in case the parent is gone).
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test]
async fn documents_accepted_by_a_writer_killed_with_sigkill_are_delivered_once_by_the_next_one() {
    for engine in engines() {
        let cluster = Cluster::new(&engine.url).unwrap();
        let index = unique(&format!("killed-{}", engine.kind));
        delete_index(&cluster, &index).await;
        let dir = scratch_dir(&format!("killed-{}", engine.kind));

        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_writer_for_the_kill_test",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, &dir)
            .env(CHILD_INDEX, &index)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill it once it has accepted at least 300 documents (or finished).
        let mut accepted = 0usize;
        while accepted < 300 {
            let line = lines_rx
                .recv_timeout(Duration::from_secs(120))
                .expect("the child writer reports progress");
            if let Some(n) = line.strip_prefix("accepted ") {
                accepted = n.parse().unwrap();
            } else if line == "all sent" {
                accepted = CHILD_DOCUMENTS;
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines printed before the kill still count as accepted.
        for line in lines_rx.try_iter() {
            if let Some(n) = line.strip_prefix("accepted ") {
                accepted = accepted.max(n.parse().unwrap());
            }
        }

        let sink = BulkSink::start(buffered_config(vec![engine.url.clone()], &dir)).unwrap();
        let report = sink.shutdown(Duration::from_secs(60)).await;
        let m = &report.metrics;
        assert_eq!((report.lost, report.buffered), (0, 0), "{report:?}");
        assert!(m.events_replayed as usize >= accepted, "{accepted}: {m:?}");
        assert_eq!(m.events_acked + m.events_duplicates, m.events_replayed);

        let all = sorted_ids(&documents(&index, 0..CHILD_DOCUMENTS));
        let found = ids_in(&cluster, &index).await;
        let must = sorted_ids(&documents(&index, 0..accepted));
        assert!(
            must.iter().all(|id| found.binary_search(id).is_ok()),
            "every accepted document arrived ({accepted} accepted, {} found)",
            found.len()
        );
        assert!(found.iter().all(|id| all.binary_search(id).is_ok()));
        assert_eq!(found.len() as u64, m.events_replayed, "each exactly once");
        delete_index(&cluster, &index).await;
        std::fs::remove_dir_all(&dir).unwrap();
        engine.record(
            "sink::disk_buffer_kill9",
            &format!(
                "writer killed with SIGKILL after {accepted} accepted sends (server unreachable); \
                 next sink replayed {} and every accepted id arrived once",
                m.events_replayed
            ),
        );
    }
}

/// Not a server test: nothing listens, so the disk buffer fills up.
#[tokio::test]
async fn a_full_disk_buffer_makes_send_wait_and_the_drain_keeps_everything_on_disk() {
    let dir = scratch_dir("full");
    let mut config = buffered_config(vec![closed_url()], &dir);
    let disk = config.disk_buffer.as_mut().unwrap();
    disk.max_bytes = 16 << 10;
    disk.segment_bytes = 4 << 10;
    let sink = BulkSink::start(config).unwrap();
    let mut accepted = 0u64;
    let mut refused = None;
    for doc in documents("unreachable", 0..10_000) {
        match sink.try_send(doc) {
            Ok(()) => accepted += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert!(
        matches!(refused, Some(gomon_sink::SinkError::QueueFull { .. })),
        "{refused:?}"
    );
    assert!(accepted > 50, "{accepted}");
    let m = sink.metrics();
    assert_eq!(m.disk_buffer_records, accepted, "{m:?}");
    assert!(m.disk_buffer_bytes <= 16 << 10, "{m:?}");
    // Nothing is answered, so nothing frees room: send waits.
    let extra = documents("unreachable", 20_000..20_001).remove(0);
    let waited = tokio::time::timeout(Duration::from_millis(500), sink.send(extra)).await;
    assert!(waited.is_err(), "send waits while the buffer is full");
    let report = sink.shutdown(Duration::from_millis(300)).await;
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.buffered, accepted, "{report:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
