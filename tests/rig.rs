//! The test rig itself: real servers are up, real Go programs start and stop.

use gomon_sink::{Cluster, ServerKind};
use gomon_testrig::{AppKind, EngineKind, GoApp, engines, under_ci};

#[tokio::test]
async fn the_rig_serves_a_real_elasticsearch_and_a_real_opensearch() {
    let engines = engines();
    if under_ci() {
        assert_eq!(engines.len(), 2, "both engines are required under CI");
    }
    for engine in engines {
        let info = Cluster::new(&engine.url)
            .unwrap()
            .server_info()
            .await
            .unwrap();
        let kind = match engine.kind {
            EngineKind::Elasticsearch => ServerKind::Elasticsearch,
            EngineKind::OpenSearch => ServerKind::OpenSearch,
        };
        assert_eq!(info.kind, kind);
        engine.record(
            "rig::real_servers",
            &format!("{:?} {}", info.kind, info.version),
        );
    }
}

#[test]
fn a_dropped_go_app_leaves_no_process_behind() {
    for kind in AppKind::ALL {
        let app = GoApp::start(kind, &[]);
        let proc_dir = format!("/proc/{}", app.pid());
        assert!(std::path::Path::new(&proc_dir).exists(), "{kind} runs");
        drop(app);
        assert!(
            !std::path::Path::new(&proc_dir).exists(),
            "{kind} was stopped and reaped"
        );
    }
}
