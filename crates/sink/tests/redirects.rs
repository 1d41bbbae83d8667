//! A server that answers with a redirect to another host: neither the
//! control plane nor the bulk path follows it, and the error names where it
//! pointed. Fault injection: a local server that answers only 302, in front
//! of another local server that counts every request it gets.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gomon_sink::{
    BulkBatch, BulkSink, Cluster, Credentials, Document, IndexTemplate, SinkError, TargetNaming,
};
use http_body_util::Full;
use hyper::Response;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

/// Serves `answer` to every request on a loopback port; returns the port
/// and the count of requests served.
async fn serve(
    answer: impl Fn() -> Response<Full<Bytes>> + Send + Sync + 'static,
) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let answer = Arc::new(answer);
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    count.fetch_add(1, Ordering::SeqCst);
                    let reply = answer();
                    async move { Ok::<_, std::convert::Infallible>(reply) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (port, served)
}

/// The other host, which must never be contacted, and a server that
/// redirects every request there with `status`.
async fn redirect_pair(status: u16) -> (String, u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (other, other_served) = serve(|| {
        Response::new(Full::new(Bytes::from_static(
            br#"{"version":{"number":"9.0.0"},"index_templates":[],"items":[]}"#,
        )))
    })
    .await;
    let location = format!("http://127.0.0.1:{other}/stolen?token=abc");
    let (redirector, redirector_served) = serve(move || {
        Response::builder()
            .status(status)
            .header("location", location.as_str())
            .body(Full::new(Bytes::new()))
            .unwrap()
    })
    .await;
    (
        format!("http://127.0.0.1:{redirector}"),
        other,
        redirector_served,
        other_served,
    )
}

fn assert_redirect_error(result: Result<impl std::fmt::Debug, SinkError>, other: u16, what: &str) {
    let err = result.expect_err(what);
    assert!(matches!(err, SinkError::Redirect { .. }), "{what}: {err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("redirecting to http://127.0.0.1:{other}")),
        "{what}: {text}"
    );
    assert!(
        !text.contains("token=abc"),
        "{what}: the Location's query is not shown: {text}"
    );
}

#[tokio::test]
async fn the_control_plane_never_follows_a_redirect_to_another_host() {
    for status in [301, 302, 307, 308] {
        let (url, other, redirector_served, other_served) = redirect_pair(status).await;
        let mut config = support::test_config(vec![url.clone()]);
        config.credentials = Some(Credentials::Basic {
            username: "elastic".to_owned(),
            password: "redirect-secret".to_owned(),
        });
        for cluster in [
            Cluster::with_config(&config).unwrap(),
            Cluster::new(&url).unwrap(),
        ] {
            assert_redirect_error(cluster.server_info().await, other, "server info");
            assert_redirect_error(
                cluster.supports_data_streams().await,
                other,
                "data-stream check",
            );
            let template = IndexTemplate {
                name: "gomon-redirect".to_owned(),
                index_patterns: vec!["gomon-redirect*".to_owned()],
                version: 1,
                priority: 200,
                settings: json!({}),
                mappings: json!({}),
            };
            assert_redirect_error(
                cluster
                    .install_template(&template, TargetNaming::DatedIndices, true)
                    .await,
                other,
                "template",
            );
            assert_redirect_error(cluster.set_up(&template, true).await, other, "set up");
            assert_redirect_error(
                cluster.search("gomon-redirect*", &json!({"size": 0})).await,
                other,
                "search",
            );
            let mut batch = BulkBatch::default();
            batch
                .push_document(&Document::create("gomon-redirect", br#"{"a":1}"#.to_vec()))
                .unwrap();
            assert_redirect_error(cluster.bulk(&batch).await, other, "one-shot bulk");
        }
        assert!(
            redirector_served.load(Ordering::SeqCst) >= 12,
            "{status}: the redirector answered"
        );
        assert_eq!(
            other_served.load(Ordering::SeqCst),
            0,
            "HTTP {status}: the other host was contacted"
        );
        // The check can fail: a client that follows redirects (the
        // `elasticsearch` crate's) does reach the other host here.
        let _ = gomon_testrig::es_client(&url)
            .send(
                elasticsearch::http::Method::Get,
                "/",
                elasticsearch::http::headers::HeaderMap::new(),
                None::<&()>,
                None::<&[u8]>,
                None,
            )
            .await;
        assert!(
            other_served.load(Ordering::SeqCst) > 0,
            "HTTP {status}: the fault injector did not redirect"
        );
    }
}

#[tokio::test]
async fn the_bulk_path_never_follows_a_redirect_and_says_where_it_pointed() {
    let (url, other, redirector_served, other_served) = redirect_pair(307).await;
    let dir = support::scratch_dir("redirect-bulk");
    let mut config = support::test_config(vec![url]);
    config.dead_letter_path = Some(dir.join("dead-letters.ndjson"));
    let sink = BulkSink::start(config).unwrap();
    sink.send(Document::create("gomon-redirect", br#"{"a":1}"#.to_vec()))
        .await
        .unwrap();
    let report = sink.shutdown(Duration::from_secs(2)).await;
    assert!(redirector_served.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        other_served.load(Ordering::SeqCst),
        0,
        "the other host was contacted"
    );
    assert_eq!(report.metrics.events_acked, 0);
    let last = report
        .metrics
        .last_error
        .expect("the redirect is reported")
        .message;
    assert!(
        last.contains(&format!("redirecting to http://127.0.0.1:{other}")),
        "{last}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
