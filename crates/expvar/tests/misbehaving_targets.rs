//! Every kind of failure, produced by a real server that misbehaves in that
//! one way, and the client's limits (pool, concurrency, timeouts, caps).

mod support;

use std::sync::Arc;
use std::time::Duration;

use gomon_expvar::{ClientConfig, DecodeError, ExpvarClient, FetchError, Target, TimeoutPhase};
use support::{Reply, SMALL_EXPVAR, TestServer, chunked_response, gzip, json_response, response};
use tokio::time::Instant;

fn target(server: &TestServer) -> Target {
    Target::parse(&server.addr()).unwrap()
}

fn client_with(config: ClientConfig) -> ExpvarClient {
    ExpvarClient::new(config)
}

async fn fetch_error(server: &TestServer, config: ClientConfig) -> FetchError {
    client_with(config)
        .fetch(&target(server))
        .await
        .expect_err("the fetch should fail")
}

fn decode_error(error: FetchError) -> DecodeError {
    match error {
        FetchError::Decode { source, .. } => source,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_well_formed_response_is_decoded_with_exact_integers_and_its_size() {
    let server = TestServer::start(|_| Reply::KeepAlive(json_response(SMALL_EXPVAR))).await;
    let snapshot = client_with(ClientConfig::default())
        .fetch(&target(&server))
        .await
        .unwrap();
    assert_eq!(
        snapshot.vars()["big_counter"].as_u64(),
        Some(9_007_199_254_740_993)
    );
    assert_eq!(snapshot.cmdline(), Some(vec!["./app", "-addr", ":6060"]));
    assert_eq!(snapshot.memstats().unwrap()["NumGC"], 7);
    assert_eq!(snapshot.body_bytes(), SMALL_EXPVAR.len());
    assert_eq!(snapshot.wire_bytes(), SMALL_EXPVAR.len());
    assert!(snapshot.duration() > Duration::ZERO);
    let request = &server.requests()[0];
    assert_eq!(request.request_line, "GET /debug/vars HTTP/1.1");
    assert_eq!(
        request.header("accept-encoding"),
        None,
        "gzip is off by default"
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable_and_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let target = Target::parse(&addr).unwrap();
    let err = client_with(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
    assert_eq!(err.target(), format!("http://{addr}/debug/vars"));
    assert!(err.to_string().contains("refused"), "{err}");
}

#[tokio::test]
async fn an_unknown_host_is_unreachable() {
    // `.invalid` never resolves (RFC 2606), so no network is needed.
    let target = Target::parse("no-such-host.invalid:6060").unwrap();
    let err = client_with(ClientConfig::default())
        .fetch(&target)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_server_that_accepts_but_never_answers_times_out() {
    let server = TestServer::start(|_| Reply::Hang(Duration::from_secs(30))).await;
    let started = Instant::now();
    let err = fetch_error(
        &server,
        ClientConfig {
            request_timeout: Duration::from_millis(500),
            ..ClientConfig::default()
        },
    )
    .await;
    assert!(
        matches!(
            err,
            FetchError::Timeout {
                phase: TimeoutPhase::Request,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.to_string()
            .contains("no complete response within 500ms"),
        "{err}"
    );
}

#[tokio::test]
async fn a_body_that_trickles_past_the_request_timeout_times_out() {
    let server = TestServer::start(|_| Reply::Stream {
        head: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            .to_vec(),
        chunk: b" ".to_vec(),
        count: 100,
        pause: Duration::from_millis(100),
    })
    .await;
    let err = fetch_error(
        &server,
        ClientConfig {
            request_timeout: Duration::from_millis(800),
            ..ClientConfig::default()
        },
    )
    .await;
    assert!(
        matches!(
            err,
            FetchError::Timeout {
                phase: TimeoutPhase::Request,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_body_within_the_timeout_is_fine() {
    let server = TestServer::start(|_| Reply::Stream {
        head: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
            .to_vec(),
        chunk: b"{\"a\": 1}    ".to_vec(),
        count: 1,
        pause: Duration::from_millis(200),
    })
    .await;
    let snapshot = client_with(ClientConfig::default())
        .fetch(&target(&server))
        .await
        .unwrap();
    assert_eq!(snapshot.vars()["a"], 1);
    assert!(snapshot.duration() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_target_whose_accept_queue_is_full_hits_the_connect_timeout() {
    // A listener that never accepts, with its queue filled: the kernel drops
    // further SYNs, so the next connect hangs as it would to a black hole.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(Ok(stream)) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(stream);
        }
    }
    let target = Target::parse(&addr.to_string()).unwrap();
    let err = client_with(ClientConfig {
        connect_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_secs(5),
        ..ClientConfig::default()
    })
    .fetch(&target)
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Timeout {
                phase: TimeoutPhase::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("connection not established within 300ms"),
        "{err}"
    );
}

#[tokio::test]
async fn a_hung_target_does_not_delay_a_healthy_one_on_the_same_client() {
    let hung = TestServer::start(|_| Reply::Hang(Duration::from_secs(30))).await;
    let healthy = TestServer::start(|_| Reply::KeepAlive(json_response(SMALL_EXPVAR))).await;
    let request_timeout = Duration::from_secs(3);
    let client = client_with(ClientConfig {
        request_timeout,
        ..ClientConfig::default()
    });
    let started = Instant::now();
    let (hung_outcome, healthy_outcome) = tokio::join!(
        async {
            let result = client.fetch(&target(&hung)).await;
            (result, started.elapsed())
        },
        async {
            let result = client.fetch(&target(&healthy)).await;
            (result, started.elapsed())
        },
    );
    let (healthy_result, healthy_after) = healthy_outcome;
    let (hung_result, hung_after) = hung_outcome;
    assert!(healthy_result.is_ok(), "{healthy_result:?}");
    assert!(
        matches!(hung_result, Err(FetchError::Timeout { .. })),
        "{hung_result:?}"
    );
    assert!(
        healthy_after < request_timeout,
        "the healthy target took {healthy_after:?}"
    );
    assert!(hung_after >= request_timeout, "{hung_after:?}");
}

#[tokio::test]
async fn fetches_in_flight_never_exceed_the_configured_maximum() {
    // Each request takes at least 300 ms to answer. With at most two in
    // flight, a third request can only start once one of the two before it
    // has finished, so any three consecutive arrivals span at least 300 ms.
    let answer_time = Duration::from_millis(300);
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let server = {
        let arrivals = arrivals.clone();
        TestServer::start(move |_| {
            arrivals.lock().unwrap().push(Instant::now());
            Reply::Stream {
                head: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec(),
                chunk: b"{\"a\": 1}".to_vec(),
                count: 1,
                pause: answer_time,
            }
        })
        .await
    };
    let client = client_with(ClientConfig {
        max_in_flight: 2,
        ..ClientConfig::default()
    });
    let target = target(&server);
    let mut fetches = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (client, target) = (client.clone(), target.clone());
        fetches.spawn(async move { client.fetch(&target).await });
    }
    while let Some(result) = fetches.join_next().await {
        result.unwrap().unwrap();
    }
    let mut arrivals = arrivals.lock().unwrap().clone();
    arrivals.sort();
    assert_eq!(arrivals.len(), 6);
    for window in arrivals.windows(3) {
        let span = window[2] - window[0];
        assert!(span >= answer_time, "three requests within {span:?}");
    }
}

#[tokio::test]
async fn clients_made_with_other_tls_share_the_limit_of_fetches_in_flight() {
    // One slot in all: a client with another trust (its own pool) must wait
    // for the first client's fetch, so no two requests overlap.
    let answer_time = Duration::from_millis(300);
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let server = {
        let arrivals = arrivals.clone();
        TestServer::start(move |_| {
            arrivals.lock().unwrap().push(Instant::now());
            Reply::Stream {
                head: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec(),
                chunk: b"{\"a\": 1}".to_vec(),
                count: 1,
                pause: answer_time,
            }
        })
        .await
    };
    let first = client_with(ClientConfig {
        max_in_flight: 1,
        ..ClientConfig::default()
    });
    let second = first.with_tls(gomon_expvar::TlsVerification::DangerAcceptInvalidCertificates);
    assert_eq!(second.config().max_in_flight, 1);
    let target = target(&server);
    let mut fetches = tokio::task::JoinSet::new();
    for client in [first.clone(), second.clone(), first, second] {
        let target = target.clone();
        fetches.spawn(async move { client.fetch(&target).await });
    }
    while let Some(result) = fetches.join_next().await {
        result.unwrap().unwrap();
    }
    let mut arrivals = arrivals.lock().unwrap().clone();
    arrivals.sort();
    assert_eq!(arrivals.len(), 4);
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= answer_time, "two requests within {gap:?}");
    }
}

#[tokio::test]
async fn a_fetch_with_its_own_timeout_gives_up_at_that_timeout() {
    let server = TestServer::start(|_| Reply::Hang(Duration::from_secs(30))).await;
    let client = client_with(ClientConfig::default());
    let own = Duration::from_millis(300);
    let started = Instant::now();
    let error = client
        .fetch_within(&target(&server), own)
        .await
        .expect_err("the server never answers");
    let took = started.elapsed();
    assert!(
        matches!(
            error,
            FetchError::Timeout {
                phase: TimeoutPhase::Request,
                after,
                ..
            } if after == own
        ),
        "{error:?}"
    );
    assert!(took >= own && took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn one_client_reuses_its_connection_while_the_server_keeps_it_open() {
    // The second server answers in HTTP/1.1 without `Connection: close`,
    // then hangs up: the next fetch sees the closed socket and opens another.
    for (keeps_it_open, connections) in [(true, 1), (false, 3)] {
        let server = TestServer::start(move |_| {
            let reply = json_response(SMALL_EXPVAR);
            if keeps_it_open {
                Reply::KeepAlive(reply)
            } else {
                Reply::Close(reply)
            }
        })
        .await;
        let client = client_with(ClientConfig::default());
        let target = target(&server);
        for _ in 0..3 {
            client.fetch(&target).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(server.requests().len(), 3);
        assert_eq!(server.connections(), connections, "{keeps_it_open}");
    }
}

#[tokio::test]
async fn a_chunked_body_arriving_a_few_bytes_at_a_time_is_decoded_and_its_connection_kept() {
    // Every boundary lands somewhere: inside chunk-size lines, extensions,
    // data, the CRLF after data, the last chunk and the trailer.
    let whole = chunked_response(SMALL_EXPVAR.as_bytes(), 16);
    let server = TestServer::start(move |_| Reply::Pieces {
        pieces: whole.chunks(3).map(<[u8]>::to_vec).collect(),
        pause: Duration::from_millis(1),
    })
    .await;
    let client = client_with(ClientConfig::default());
    let target = target(&server);
    for _ in 0..2 {
        let snapshot = client.fetch(&target).await.unwrap();
        assert_eq!(
            snapshot.vars()["big_counter"].as_u64(),
            Some(9_007_199_254_740_993)
        );
        assert_eq!(snapshot.memstats().unwrap()["NumGC"], 7);
        assert_eq!(snapshot.wire_bytes(), SMALL_EXPVAR.len());
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_chunked_body_past_the_cap_is_cut_at_the_cap() {
    let body = format!("{{\"pad\": \"{}\"}}", "x".repeat(40 * 1024));
    let whole = chunked_response(body.as_bytes(), 1000);
    let server = TestServer::start(move |_| Reply::KeepAlive(whole.clone())).await;
    let err = fetch_error(
        &server,
        ClientConfig {
            max_body_bytes: 32 * 1024,
            ..ClientConfig::default()
        },
    )
    .await;
    assert!(
        matches!(
            err,
            FetchError::BodyTooLarge {
                limit: 32_768,
                decompressed: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_chunked_framing_is_a_read_error_naming_it() {
    for (body, says) in [
        (&b"zz\r\n{}\r\n0\r\n\r\n"[..], "chunk-size"),
        (&b"2\r\n{}}\r\n0\r\n\r\n"[..], "longer than its size"),
        (&b"2\r\n{}\r\n"[..], "middle of a chunked body"),
    ] {
        let mut reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        reply.extend_from_slice(body);
        let server = TestServer::start(move |_| Reply::Close(reply.clone())).await;
        let err = fetch_error(&server, ClientConfig::default()).await;
        assert!(
            matches!(&err, FetchError::Read { reason, .. } if reason.contains(says)),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn an_endless_response_head_is_refused_at_its_cap() {
    let server = TestServer::start(|_| Reply::Stream {
        head: b"HTTP/1.1 200 OK\r\n".to_vec(),
        chunk: format!("X-Pad: {}\r\n", "a".repeat(8000)).into_bytes(),
        // Up to 1 GB of headers.
        count: 125_000,
        pause: Duration::ZERO,
    })
    .await;
    let err = fetch_error(&server, ClientConfig::default()).await;
    assert!(
        matches!(&err, FetchError::Unreachable { reason, .. } if reason.contains("response head is larger than 65536 bytes")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_closed_by_the_server_is_replaced_once_without_an_error() {
    // Every second request on the server finds its connection closed
    // without an answer, as when a server's idle timeout races a request.
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server = TestServer::start({
        let seen = seen.clone();
        move |_| {
            if seen
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                .is_multiple_of(2)
            {
                Reply::KeepAlive(json_response(SMALL_EXPVAR))
            } else {
                Reply::Close(Vec::new())
            }
        }
    })
    .await;
    let client = client_with(ClientConfig::default());
    let target = target(&server);
    client.fetch(&target).await.unwrap();
    client.fetch(&target).await.unwrap();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_new_connection_closed_without_an_answer_is_not_retried() {
    let server = TestServer::start(|_| Reply::Close(Vec::new())).await;
    let err = fetch_error(&server, ClientConfig::default()).await;
    assert!(
        matches!(&err, FetchError::Unreachable { reason, .. } if reason.contains("closed before a response")),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_non_2xx_status_is_reported_with_its_code() {
    let server = TestServer::start(|_| {
        Reply::KeepAlive(response(
            "503 Service Unavailable",
            &[("Content-Type", "text/plain")],
            b"overloaded",
        ))
    })
    .await;
    let err = fetch_error(&server, ClientConfig::default()).await;
    assert!(
        matches!(err, FetchError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("HTTP status 503 (Service Unavailable)"),
        "{err}"
    );
}

#[tokio::test]
async fn an_html_page_is_not_json_with_its_content_type_and_first_bytes() {
    let page = "<!DOCTYPE html>\n<html><body>Bad gateway</body></html>";
    let server = TestServer::start(move |_| {
        Reply::KeepAlive(response(
            "200 OK",
            &[("Content-Type", "text/html; charset=utf-8")],
            page.as_bytes(),
        ))
    })
    .await;
    let err = fetch_error(&server, ClientConfig::default()).await;
    let message = err.to_string();
    match decode_error(err) {
        DecodeError::NotJson {
            content_type,
            first_bytes,
        } => {
            assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
            assert!(
                first_bytes.starts_with(r"<!DOCTYPE html>\n<html>"),
                "{first_bytes}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(message.contains("content type text/html"), "{message}");
}

#[tokio::test]
async fn a_body_cut_off_by_a_closed_connection_is_truncated_json_with_its_position() {
    let server = TestServer::start(|_| {
        Reply::Close(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"a\": {\"b\": 1".to_vec())
    })
    .await;
    let err = decode_error(fetch_error(&server, ClientConfig::default()).await);
    assert!(
        matches!(
            err,
            DecodeError::Truncated {
                line: 1,
                column: 13
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_read_error() {
    let server = TestServer::start(|_| {
        Reply::Close(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"a\": 1".to_vec())
    })
    .await;
    let err = fetch_error(&server, ClientConfig::default()).await;
    assert!(matches!(err, FetchError::Read { .. }), "{err:?}");
}

#[tokio::test]
async fn malformed_json_is_invalid_with_line_and_column() {
    let server =
        TestServer::start(|_| Reply::KeepAlive(json_response("{\"a\": 1,\n\"b\": tru}"))).await;
    let err = decode_error(fetch_error(&server, ClientConfig::default()).await);
    assert!(
        matches!(err, DecodeError::InvalidJson { line: 2, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_top_level_array_is_not_an_object() {
    let server = TestServer::start(|_| Reply::KeepAlive(json_response("[1, 2, 3]"))).await;
    let err = decode_error(fetch_error(&server, ClientConfig::default()).await);
    assert!(
        matches!(err, DecodeError::NotAnObject { found: "an array" }),
        "{err:?}"
    );
}

#[tokio::test]
async fn nesting_deeper_than_the_limit_is_refused_without_exhausting_the_stack() {
    let deep = format!("{{\"a\": {}0{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let server = TestServer::start(move |_| Reply::KeepAlive(json_response(&deep))).await;
    let err = decode_error(fetch_error(&server, ClientConfig::default()).await);
    assert!(
        matches!(err, DecodeError::TooDeep { limit: 64, .. }),
        "{err:?}"
    );

    let server = TestServer::start(|_| Reply::KeepAlive(json_response(SMALL_EXPVAR))).await;
    let err = decode_error(
        fetch_error(
            &server,
            ClientConfig {
                max_depth: 1,
                ..ClientConfig::default()
            },
        )
        .await,
    );
    assert!(
        matches!(err, DecodeError::TooDeep { limit: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_content_length_over_the_cap_is_refused_before_reading() {
    // Announces 1 GiB, sends nothing: only the header can trigger the error.
    let server = TestServer::start(|_| Reply::Stream {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n".to_vec(),
        chunk: Vec::new(),
        count: 1,
        pause: Duration::from_secs(30),
    })
    .await;
    let err = fetch_error(&server, ClientConfig::default()).await;
    assert!(
        matches!(
            err,
            FetchError::BodyTooLarge {
                limit: 16_777_216,
                decompressed: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_cap_while_reading() {
    let chunk = format!("\"{}\",", "x".repeat(64 * 1024 - 3)).into_bytes();
    let server = TestServer::start(move |_| Reply::Stream {
        head: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"pad\": ["
            .to_vec(),
        chunk: chunk.clone(),
        // Up to 4 GiB, far more than anyone should buffer.
        count: 65_536,
        pause: Duration::ZERO,
    })
    .await;
    let started = Instant::now();
    let err = fetch_error(
        &server,
        ClientConfig {
            max_body_bytes: 1 << 20,
            ..ClientConfig::default()
        },
    )
    .await;
    assert!(
        matches!(
            err,
            FetchError::BodyTooLarge {
                limit: 1_048_576,
                decompressed: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

fn gzip_server(body: Vec<u8>) -> impl Fn(&support::RequestHead) -> Reply {
    move |request| {
        if request.header("accept-encoding") == Some("gzip") {
            Reply::KeepAlive(response(
                "200 OK",
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Encoding", "gzip"),
                ],
                &body,
            ))
        } else {
            Reply::KeepAlive(response("406 Not Acceptable", &[], b""))
        }
    }
}

#[tokio::test]
async fn with_gzip_on_the_client_asks_for_it_and_decodes_it() {
    // Repetitive enough that gzip shrinks it.
    let plain = format!("{{\"pad\": \"{}\", {}", "a".repeat(500), &SMALL_EXPVAR[1..]);
    let server = TestServer::start(gzip_server(gzip(plain.as_bytes()))).await;
    let gzip_config = ClientConfig {
        gzip: true,
        ..ClientConfig::default()
    };
    let snapshot = client_with(gzip_config)
        .fetch(&target(&server))
        .await
        .unwrap();
    assert_eq!(
        snapshot.vars()["big_counter"].as_u64(),
        Some(9_007_199_254_740_993)
    );
    assert_eq!(snapshot.body_bytes(), plain.len());
    assert!(
        snapshot.wire_bytes() < snapshot.body_bytes(),
        "{snapshot:?}"
    );

    // Without the option the client does not ask, and this server refuses.
    let err = fetch_error(&server, ClientConfig::default()).await;
    assert!(
        matches!(err, FetchError::Status { status: 406, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_gzip_bomb_is_stopped_at_the_cap_on_the_decompressed_size() {
    let mut plain = b"{\"pad\": \"".to_vec();
    plain.resize(plain.len() + (8 << 20), b' ');
    plain.extend_from_slice(b"\"}");
    let bomb = gzip(&plain);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let server = TestServer::start(gzip_server(bomb)).await;
    let err = fetch_error(
        &server,
        ClientConfig {
            gzip: true,
            max_body_bytes: 1 << 20,
            ..ClientConfig::default()
        },
    )
    .await;
    assert!(
        matches!(
            err,
            FetchError::BodyTooLarge {
                decompressed: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("once decompressed"), "{err}");
}

#[tokio::test]
async fn a_corrupt_gzip_body_is_a_read_error() {
    let mut broken = gzip(SMALL_EXPVAR.as_bytes());
    broken.truncate(broken.len() / 2);
    let server = TestServer::start(gzip_server(broken)).await;
    let err = fetch_error(
        &server,
        ClientConfig {
            gzip: true,
            ..ClientConfig::default()
        },
    )
    .await;
    assert!(matches!(err, FetchError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("gzip"), "{err}");
}

#[tokio::test]
async fn an_encoding_the_client_cannot_decode_is_named() {
    let server = TestServer::start(|_| {
        Reply::KeepAlive(response(
            "200 OK",
            &[("Content-Encoding", "br")],
            b"\x0b\x02",
        ))
    })
    .await;
    let err = fetch_error(&server, ClientConfig::default()).await;
    assert!(
        matches!(&err, FetchError::UnsupportedEncoding { encoding, .. } if encoding == "br"),
        "{err:?}"
    );
}
