//! Which server certificates a TLS client accepts: CA certificates loaded
//! from PEM, and the rustls client configuration on the `ring` provider.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::NetError;

/// CA certificates loaded from PEM, ready to verify servers with.
#[derive(Clone)]
pub struct CaCertificates {
    roots: Arc<RootCertStore>,
    source: String,
    pem: Arc<[u8]>,
}

impl CaCertificates {
    /// Loads every `CERTIFICATE` block of a PEM file (Metricbeat's
    /// `ssl.certificate_authorities`).
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<CaCertificates, NetError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| NetError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        CaCertificates::parse(&pem, format!("{path:?}"))
    }

    /// Loads every `CERTIFICATE` block of PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<CaCertificates, NetError> {
        CaCertificates::parse(pem, "PEM text".to_owned())
    }

    fn parse(pem: &[u8], source: String) -> Result<CaCertificates, NetError> {
        let invalid = |reason: String| NetError::InvalidPem {
            source_name: source.clone(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| invalid(format!("malformed PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| invalid(format!("not a usable CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(invalid("no CERTIFICATE block found".to_owned()));
        }
        Ok(CaCertificates {
            roots: Arc::new(roots),
            source,
            pem: Arc::from(pem),
        })
    }

    /// How many CA certificates were loaded.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Always false: loading refuses PEM without certificates.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Where the certificates came from: the file name (quoted), or `PEM text`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The PEM the certificates were loaded from, for a client that takes PEM.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

impl fmt::Debug for CaCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaCertificates")
            .field("source", &self.source)
            .field("certificates", &self.roots.len())
            .finish()
    }
}

/// Which server certificates a client accepts.
#[derive(Debug, Clone, Default)]
pub enum ServerTrust {
    /// Certificates must chain to Mozilla's root store (the `webpki-roots`
    /// crate, so the result is the same on every machine) and name the host.
    #[default]
    MozillaRoots,
    /// Certificates must chain to one of these CAs, and only these, and name
    /// the host.
    CustomCa(CaCertificates),
    /// No verification at all: any certificate, any host name. The
    /// connection is encrypted but anyone in between can read it. This crate
    /// does not log; a caller that offers this should warn when it is used.
    DangerAcceptAnyCertificate,
}

impl ServerTrust {
    /// The rustls client configuration: the `ring` provider, TLS 1.2 and 1.3,
    /// no client certificate, no ALPN (hyper-rustls sets ALPN itself from
    /// the HTTP versions it enables).
    pub fn client_config(&self) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            // The ring provider supports TLS 1.2 and 1.3, the safe defaults.
            .expect("ring supports the default protocol versions");
        match self {
            ServerTrust::MozillaRoots => builder
                .with_root_certificates(mozilla_roots())
                .with_no_client_auth(),
            ServerTrust::CustomCa(ca) => builder
                .with_root_certificates(ca.roots.clone())
                .with_no_client_auth(),
            ServerTrust::DangerAcceptAnyCertificate => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCertificate { provider }))
                .with_no_client_auth(),
        }
    }
}

/// Mozilla's root store, as compiled into `webpki-roots`.
fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Accepts any certificate for any name, but still checks the handshake
/// signatures, so the peer at least holds the key of what it presented.
#[derive(Debug)]
struct AcceptAnyServerCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        let err = CaCertificates::from_pem(b"hello").unwrap_err().to_string();
        assert!(err.contains("no CERTIFICATE block"), "{err}");
    }

    #[test]
    fn a_missing_ca_file_names_the_file() {
        let err = CaCertificates::from_pem_file("/nonexistent/ca.pem")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn a_garbled_certificate_block_is_refused() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(CaCertificates::from_pem(pem).is_err());
    }

    #[test]
    fn a_ca_is_loaded_with_its_pem_and_debug_shows_only_source_and_count() {
        let pem = format!("{}{}", ca_pem(), ca_pem());
        let ca = CaCertificates::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(ca.len(), 2);
        assert!(!ca.is_empty());
        assert_eq!(ca.source(), "PEM text");
        assert_eq!(ca.pem(), pem.as_bytes());
        assert_eq!(
            format!("{ca:?}"),
            r#"CaCertificates { source: "PEM text", certificates: 2 }"#
        );
    }

    #[test]
    fn every_trust_builds_a_config() {
        let ca = CaCertificates::from_pem(ca_pem().as_bytes()).unwrap();
        for trust in [
            ServerTrust::MozillaRoots,
            ServerTrust::CustomCa(ca),
            ServerTrust::DangerAcceptAnyCertificate,
        ] {
            let config = trust.client_config();
            // hyper-rustls insists on setting ALPN itself.
            assert!(config.alpn_protocols.is_empty(), "{trust:?}");
        }
    }
}
