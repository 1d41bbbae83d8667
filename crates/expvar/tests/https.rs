//! HTTPS targets against a real TLS server whose certificates are made at
//! test time: a private CA and a server certificate it signs.

mod support;

use std::sync::Arc;

use gomon_expvar::{
    CaCertificates, ClientConfig, ExpvarClient, FetchError, Target, TlsVerification,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use support::{CapturedLogs, Reply, SMALL_EXPVAR, TempFile, TestServer, json_response};

/// A CA (its PEM) and a TLS acceptor whose certificate it signed for `names`.
fn private_pki(names: &[&str]) -> (String, tokio_rustls::TlsAcceptor) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "gomon test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let server_params = CertificateParams::new(names).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![server_cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    )
    .unwrap();
    (
        ca_cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    )
}

async fn expvar_over_tls(names: &[&str]) -> (String, TestServer) {
    let (ca_pem, acceptor) = private_pki(names);
    let server =
        TestServer::start_tls(acceptor, |_| Reply::KeepAlive(json_response(SMALL_EXPVAR))).await;
    (ca_pem, server)
}

fn https_target(server: &TestServer) -> Target {
    Target::parse(&format!("https://{}", server.addr())).unwrap()
}

#[tokio::test]
async fn a_private_certificate_is_refused_by_default_with_a_clear_error() {
    let (_, server) = expvar_over_tls(&["127.0.0.1"]).await;
    let err = ExpvarClient::new(ClientConfig::default())
        .fetch(&https_target(&server))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("https://{}", server.addr())),
        "{message}"
    );
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(message.contains("ssl.certificate_authorities"), "{message}");
    assert!(server.requests().is_empty(), "no request may be sent");
}

#[tokio::test]
async fn the_private_ca_from_a_pem_file_makes_it_trusted() {
    let (ca_pem, server) = expvar_over_tls(&["127.0.0.1", "localhost"]).await;
    let ca_file = TempFile::new("ca.pem", ca_pem.as_bytes());
    let ca = CaCertificates::from_pem_file(&ca_file.path).unwrap();
    assert_eq!(ca.len(), 1);
    let client = ExpvarClient::new(ClientConfig {
        tls: TlsVerification::CustomCa(ca),
        ..ClientConfig::default()
    });
    let snapshot = client.fetch(&https_target(&server)).await.unwrap();
    assert_eq!(
        snapshot.vars()["big_counter"].as_u64(),
        Some(9_007_199_254_740_993)
    );
    // The pool keeps TLS connections alive too.
    client.fetch(&https_target(&server)).await.unwrap();
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn the_private_ca_does_not_excuse_a_certificate_for_another_name() {
    let (ca_pem, server) = expvar_over_tls(&["expvar.example"]).await;
    let client = ExpvarClient::new(ClientConfig {
        tls: TlsVerification::CustomCa(CaCertificates::from_pem(ca_pem.as_bytes()).unwrap()),
        ..ClientConfig::default()
    });
    let err = client.fetch(&https_target(&server)).await.unwrap_err();
    assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    assert!(
        err.to_string().contains("by a name its certificate holds"),
        "{err}"
    );
}

#[tokio::test]
async fn the_explicit_opt_out_accepts_anything_and_says_so_loudly() {
    let (_, server) = expvar_over_tls(&["expvar.example"]).await;
    let logs = CapturedLogs::start();
    let client = ExpvarClient::new(ClientConfig {
        tls: TlsVerification::DangerAcceptInvalidCertificates,
        ..ClientConfig::default()
    });
    let warning = logs.text();
    assert!(
        warning.contains("WARN") && warning.contains("verification is DISABLED"),
        "{warning}"
    );
    let snapshot = client.fetch(&https_target(&server)).await.unwrap();
    assert_eq!(snapshot.memstats().unwrap()["NumGC"], 7);
}

#[tokio::test]
async fn an_https_target_served_plain_http_is_a_tls_error() {
    let server = TestServer::start(|_| Reply::KeepAlive(json_response(SMALL_EXPVAR))).await;
    let err = ExpvarClient::new(ClientConfig::default())
        .fetch(&https_target(&server))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
}
