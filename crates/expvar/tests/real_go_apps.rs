//! The client against the real example Go programs of `examples/go`.

use gomon_expvar::{ClientConfig, ExpvarClient, FetchError, Target};
use gomon_testrig::{AppKind, GoApp};

#[tokio::test]
async fn every_example_app_is_fetched_with_memstats_cmdline_and_exact_integers() {
    let client = ExpvarClient::new(ClientConfig::default());
    for kind in AppKind::ALL {
        let app = GoApp::start(kind, &["-version", "2.3.4"]);
        let target = Target::parse(app.addr()).unwrap();
        let snapshot = client.fetch(&target).await.unwrap();

        let memstats = snapshot.memstats().expect("memstats published");
        assert!(memstats["HeapAlloc"].as_u64().unwrap() > 0, "{kind}");
        assert_eq!(memstats["PauseNs"].as_array().unwrap().len(), 256, "{kind}");
        let cmdline = snapshot.cmdline().expect("cmdline published");
        assert!(cmdline[0].ends_with(kind.name()), "{kind}: {cmdline:?}");
        assert!(cmdline.contains(&"2.3.4"), "{kind}: {cmdline:?}");
        // 2^53 + 1: a float64 decoder would answer ...992.
        assert_eq!(
            snapshot.vars()["big_counter"].as_u64(),
            Some(9_007_199_254_740_993)
        );
        assert_eq!(snapshot.vars()["app.version"], "2.3.4");
        assert!(snapshot.vars()["output.events.acked"].is_u64());
        assert!(snapshot.body_bytes() > 1000);
    }
}

#[tokio::test]
async fn a_stopped_app_is_reported_unreachable_with_its_address() {
    let app = GoApp::start(AppKind::Steady, &[]);
    let target = Target::parse(app.addr()).unwrap();
    drop(app);
    let err = ExpvarClient::new(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&target.address()), "{err}");
}

#[tokio::test]
async fn a_path_that_is_not_expvar_is_an_http_status_error() {
    let app = GoApp::start(AppKind::Steady, &[]);
    let target = Target::parse(app.addr())
        .unwrap()
        .with_path("/nothing")
        .unwrap();
    let err = ExpvarClient::new(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err:?}"
    );
}
