//! The client against the real example Go programs of `examples/go`.

use std::time::Duration;

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

#[tokio::test]
async fn all_apps_are_fetched_at_once_through_one_pool_with_exact_memstats() {
    let apps: Vec<GoApp> = AppKind::ALL
        .into_iter()
        .map(|kind| GoApp::start(kind, &[]))
        .collect();
    let client = ExpvarClient::new(ClientConfig::default());
    let targets: Vec<Target> = apps
        .iter()
        .map(|a| Target::parse(a.addr()).unwrap())
        .collect();
    let mut fetches = tokio::task::JoinSet::new();
    for target in targets {
        let client = client.clone();
        fetches.spawn(async move { (target.address(), client.fetch(&target).await) });
    }
    let mut fetched = 0;
    while let Some(joined) = fetches.join_next().await {
        let (address, result) = joined.unwrap();
        let snapshot = result.unwrap_or_else(|e| panic!("{address}: {e}"));
        let memstats = snapshot.memstats().unwrap();
        // Every runtime.MemStats counter is an integer and must decode as
        // one; only GCCPUFraction is a float (which Go writes as `0` when
        // it is zero, so it may arrive as an integer).
        for (name, value) in memstats {
            match name.as_str() {
                "GCCPUFraction" => assert!(value.is_number(), "{address} {name}: {value}"),
                "EnableGC" | "DebugGC" => assert!(value.is_boolean(), "{address} {name}"),
                "BySize" => assert!(value.is_array(), "{address} {name}"),
                "PauseNs" | "PauseEnd" => {
                    let ring = value.as_array().unwrap();
                    assert_eq!(ring.len(), 256, "{address} {name}");
                    assert!(ring.iter().all(|v| v.is_u64()), "{address} {name}");
                }
                _ => assert!(value.is_u64(), "{address} {name}: {value}"),
            }
        }
        assert!(snapshot.duration() < Duration::from_secs(10));
        fetched += 1;
    }
    assert_eq!(fetched, AppKind::ALL.len());
}

#[tokio::test]
async fn asking_a_go_app_for_gzip_is_harmless_when_it_answers_plain() {
    let app = GoApp::start(AppKind::Leaking, &[]);
    let client = ExpvarClient::new(ClientConfig {
        gzip: true,
        ..ClientConfig::default()
    });
    let snapshot = client
        .fetch(&Target::parse(app.addr()).unwrap())
        .await
        .unwrap();
    // Go's expvar handler does not compress.
    assert_eq!(snapshot.wire_bytes(), snapshot.body_bytes());
    assert_eq!(
        snapshot.vars()["big_counter"].as_u64(),
        Some(9_007_199_254_740_993)
    );
    let custom: Vec<&str> = snapshot.custom_vars().map(|(name, _)| name).collect();
    assert!(custom.contains(&"output.events.acked"), "{custom:?}");
    assert!(!custom.contains(&"memstats") && !custom.contains(&"cmdline"));
}
