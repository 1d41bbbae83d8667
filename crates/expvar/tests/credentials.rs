//! Basic auth, bearer tokens and extra headers reach the server; the
//! secrets never show in `Debug`, `Display`, errors or logs.

mod support;

use gomon_expvar::{ClientConfig, ExpvarClient, FetchError, Target};
use support::{CapturedLogs, Reply, SMALL_EXPVAR, TempFile, TestServer, json_response, response};

/// Answers 200 when the request's `authorization` header is `expected`,
/// else 401, as a Go program behind an auth middleware would.
async fn server_requiring(expected: &'static str) -> TestServer {
    TestServer::start(move |request| {
        if request.header("authorization") == Some(expected) {
            Reply::KeepAlive(json_response(SMALL_EXPVAR))
        } else {
            Reply::KeepAlive(response("401 Unauthorized", &[], b""))
        }
    })
    .await
}

#[tokio::test]
async fn user_info_in_the_url_is_sent_as_basic_auth() {
    // base64("alice:s3cr@t")
    let server = server_requiring("Basic YWxpY2U6czNjckB0").await;
    let target = Target::parse(&format!("http://alice:s3cr%40t@{}", server.addr())).unwrap();
    ExpvarClient::new(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.request_line, "GET /debug/vars HTTP/1.1");
    assert!(
        !request.header("host").unwrap().contains('@'),
        "credentials must not leak into Host"
    );
}

#[tokio::test]
async fn basic_auth_set_in_code_is_sent() {
    // base64("metricbeat:changeme")
    let server = server_requiring("Basic bWV0cmljYmVhdDpjaGFuZ2VtZQ==").await;
    let target = Target::parse(&server.addr())
        .unwrap()
        .with_basic_auth("metricbeat", "changeme")
        .unwrap();
    ExpvarClient::new(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_inline_bearer_token_is_sent() {
    let server = server_requiring("Bearer tok-inline-42").await;
    let target = Target::parse(&server.addr())
        .unwrap()
        .with_bearer_token("tok-inline-42")
        .unwrap();
    ExpvarClient::new(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bearer_token_file_is_read_on_every_fetch_so_rotation_works() {
    let server = TestServer::start(|_| Reply::KeepAlive(json_response(SMALL_EXPVAR))).await;
    let token_file = TempFile::new("token", b"first-token\n");
    let target = Target::parse(&server.addr())
        .unwrap()
        .with_bearer_token_file(&token_file.path);
    let client = ExpvarClient::new(ClientConfig::default());
    client.fetch(&target).await.unwrap();
    std::fs::write(&token_file.path, "second-token").unwrap();
    client.fetch(&target).await.unwrap();
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(sent, ["Bearer first-token", "Bearer second-token"]);
}

#[tokio::test]
async fn a_missing_token_file_fails_the_fetch_naming_the_file() {
    let server = TestServer::start(|_| Reply::KeepAlive(json_response(SMALL_EXPVAR))).await;
    let path = std::env::temp_dir().join("gomon-expvar-no-such-token-file");
    let target = Target::parse(&server.addr())
        .unwrap()
        .with_bearer_token_file(&path);
    let err = ExpvarClient::new(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Credentials { .. }), "{err:?}");
    assert!(
        err.to_string().contains("gomon-expvar-no-such-token-file"),
        "{err}"
    );
    assert!(
        server.requests().is_empty(),
        "nothing may be sent without the token"
    );
}

#[tokio::test]
async fn extra_headers_are_sent_alongside_authorization() {
    let server = TestServer::start(|_| Reply::KeepAlive(json_response(SMALL_EXPVAR))).await;
    let target = Target::parse(&server.addr())
        .unwrap()
        .with_header("X-Api-Key", "key-1")
        .unwrap()
        .with_header("X-Team", "payments")
        .unwrap()
        .with_header("X-Api-Key", "key-2")
        .unwrap()
        // Explicit authorization wins over one given as a plain header.
        .with_header("Authorization", "Bearer from-header")
        .unwrap()
        .with_bearer_token("from-setting")
        .unwrap();
    ExpvarClient::new(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.header("x-api-key"), Some("key-2"));
    assert_eq!(request.header("x-team"), Some("payments"));
    assert_eq!(request.header("authorization"), Some("Bearer from-setting"));
    let authorizations = request
        .headers
        .iter()
        .filter(|(name, _)| name == "authorization")
        .count();
    assert_eq!(authorizations, 1);
}

#[tokio::test]
async fn secrets_stay_out_of_debug_display_errors_and_logs() {
    let secrets = ["hunter2", "tok-sekret", "key-sekret", "YWxpY2U6aHVudGVyMg"];
    let server = server_requiring("Basic nobody-has-this").await;
    let logs = CapturedLogs::start();
    let client = ExpvarClient::new(ClientConfig::default());

    let basic = Target::parse(&format!("http://alice:hunter2@{}", server.addr()))
        .unwrap()
        .with_header("X-Api-Key", "key-sekret")
        .unwrap();
    let bearer = Target::parse(&server.addr())
        .unwrap()
        .with_bearer_token("tok-sekret")
        .unwrap();
    let mut shown = Vec::new();
    for target in [&basic, &bearer] {
        let err = client.fetch(target).await.unwrap_err();
        assert!(
            matches!(err, FetchError::Status { status: 401, .. }),
            "{err:?}"
        );
        shown.push(format!("{target}"));
        shown.push(format!("{target:?}"));
        shown.push(format!("{err}"));
        shown.push(format!("{err:?}"));
    }
    // A failing parse of a URL with a password, and the client itself.
    shown.push(
        Target::parse("gopher://alice:hunter2@h:1")
            .unwrap_err()
            .to_string(),
    );
    shown.push(format!("{client:?}"));
    shown.push(logs.text());

    assert!(
        logs.text().contains("expvar fetch failed"),
        "logs were captured"
    );
    assert!(
        format!("{basic:?}").contains("alice"),
        "the user name is not secret"
    );
    for text in &shown {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} shown in: {text}");
        }
    }
    // The server did receive them.
    let requests = server.requests();
    assert_eq!(requests[0].header("x-api-key"), Some("key-sekret"));
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer tok-sekret")
    );
}
