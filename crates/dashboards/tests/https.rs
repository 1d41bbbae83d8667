//! `setup.kibana.ssl.certificate_authorities` on a real TLS handshake: a
//! local TLS listener (a recorder answering as scripted, not a Kibana,
//! which cannot be installed here) with a certificate from a private CA.

use std::sync::{Arc, Mutex};

use gomon_dashboards::install::{Connection, DashboardError, install};
use gomon_dashboards::{Flavor, Source};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A private CA (its PEM) and a TLS acceptor with a certificate it signed for 127.0.0.1.
fn private_ca_and_acceptor() -> (String, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "gomon-dashboards test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
    .unwrap();
    (ca_pem, tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves one request per TLS connection: `/api/status` as Kibana 9.1.0,
/// anything else as a successful import; records each request line.
async fn tls_recorder(acceptor: tokio_rustls::TlsAcceptor) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), Arc::clone(&shared));
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut raw = Vec::new();
                let mut buf = [0u8; 8192];
                let head_end = loop {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                };
                let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
                let length: usize = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .unwrap_or(0);
                while raw.len() < head_end + length {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buf[..n]);
                }
                seen.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or_default().to_owned());
                let (headers, body) = if head.starts_with("GET /api/status ") {
                    (
                        "kbn-name: kibana\r\n",
                        r#"{"name":"kibana","version":{"number":"9.1.0"}}"#,
                    )
                } else {
                    (
                        "",
                        r#"{"success":true,"successCount":1,"successResults":[{"type":"dashboard","id":"gomon-golang-overview","meta":{"title":"t"}}]}"#,
                    )
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{headers}connection: close\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn a_private_ca_from_certificate_authorities_is_trusted_and_mozillas_roots_alone_refuse_it() {
    let (ca_pem, acceptor) = private_ca_and_acceptor();
    let (addr, seen) = tls_recorder(acceptor).await;
    let ca_file = std::env::temp_dir().join(format!("gomon-dash-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, &ca_pem).unwrap();

    let mut trusted = Connection::new(&format!("https://{addr}"));
    trusted
        .trust_ca_files(std::slice::from_ref(&ca_file))
        .unwrap();
    let report = install(&trusted, &Source::builtin()).await.unwrap();
    assert_eq!(report.server.flavor, Flavor::Kibana);
    assert_eq!(report.server.version, "9.1.0");
    assert_eq!(report.imported.len(), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "GET /api/status HTTP/1.1",
            "POST /api/saved_objects/_import?overwrite=true HTTP/1.1"
        ]
    );

    let untrusted = Connection::new(&format!("https://{addr}"));
    let error = install(&untrusted, &Source::builtin()).await.unwrap_err();
    assert!(
        matches!(error, DashboardError::Certificate { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("setup.kibana.ssl.certificate_authorities"),
        "{error}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "no request got through the failed handshake"
    );
    let _ = std::fs::remove_file(&ca_file);
}
