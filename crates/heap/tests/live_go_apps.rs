//! Cross-check against live example Go apps: the documents of real processes
//! keep the invariants the Go runtime promises, and intervals add up.

use std::time::{Duration, Instant};

use gomon_expvar::{ClientConfig, ExpvarClient, Target};
use gomon_heap::{HeapState, MemStats};
use gomon_testrig::{AppKind, GoApp};
use serde_json::Value;

#[tokio::test]
async fn documents_of_live_apps_are_consistent_and_intervals_add_up() {
    let client = ExpvarClient::new(ClientConfig::default());
    for kind in AppKind::ALL {
        let app = GoApp::start(kind, &[]);
        let target = Target::parse(app.addr()).unwrap();
        let mut state = HeapState::new();
        let mut previous_num_gc = None;
        for round in 0..4 {
            let snapshot = client.fetch(&target).await.unwrap();
            let m =
                MemStats::from_json(&Value::Object(snapshot.memstats().unwrap().clone())).unwrap();
            let doc = state.observe(&m, &snapshot.cmdline().unwrap(), Instant::now());
            let a = doc.allocations;
            assert_eq!(
                doc.system.obtained,
                a.idle + a.active,
                "{kind}: HeapSys = HeapIdle + HeapInuse"
            );
            assert!(a.allocated <= a.active, "{kind}: HeapAlloc <= HeapInuse");
            assert!(
                a.allocated <= doc.system.obtained,
                "{kind}: allocated <= obtained"
            );
            assert_eq!(
                a.objects,
                a.mallocs - a.frees,
                "{kind}: HeapObjects = Mallocs - Frees"
            );
            assert!(
                doc.system.obtained <= doc.system.total,
                "{kind}: HeapSys <= Sys"
            );
            assert!(
                doc.system.released <= a.idle,
                "{kind}: HeapReleased <= HeapIdle"
            );
            assert!(!doc.restarted, "{kind}: one process, no restart");
            match previous_num_gc {
                None => assert!(doc.gc.pause.is_none(), "{kind}: first snapshot"),
                Some(before) => {
                    let pause = doc.gc.pause.unwrap();
                    assert_eq!(
                        pause.count + pause.missed,
                        u64::from(m.num_gc - before),
                        "{kind} round {round}"
                    );
                    assert!(pause.max.ns <= m.pause_total_ns);
                    assert!(
                        doc.rate.unwrap().allocated_bytes_per_sec > 0.0,
                        "{kind} allocates all the time"
                    );
                }
            }
            previous_num_gc = Some(m.num_gc);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if kind == AppKind::GcHeavy {
            assert!(state.restarts() == 0);
        }
    }
}
