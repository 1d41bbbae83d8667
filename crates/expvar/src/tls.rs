//! How HTTPS targets are trusted: rustls on the `ring` provider.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Which server certificates an [`ExpvarClient`](crate::ExpvarClient)
/// accepts on `https` targets.
#[derive(Debug, Clone, Default)]
pub enum TlsVerification {
    /// Certificates must chain to Mozilla's root store (the `webpki-roots`
    /// crate, so the result is the same on every machine) and name the host.
    #[default]
    PublicRoots,
    /// Certificates must chain to one of these CAs, and only these (as
    /// Metricbeat's `ssl.certificate_authorities` does), and name the host.
    CustomCa(CaCertificates),
    /// No verification at all: any certificate, any host name. The
    /// connection is encrypted but anyone in between can read it. The client
    /// logs a warning when it is built with this. For test set-ups only.
    DangerAcceptInvalidCertificates,
}

/// CA certificates loaded from PEM, ready to verify servers with.
#[derive(Clone)]
pub struct CaCertificates {
    roots: Arc<RootCertStore>,
    source: String,
}

/// A CA file or PEM text that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The file could not be read.
    #[error("CA file {path:?} cannot be read: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The PEM holds no `CERTIFICATE` block, or a malformed one.
    #[error("CA certificates from {source_name}: {reason}")]
    InvalidPem {
        /// The file name, or `PEM text`.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
}

impl CaCertificates {
    /// Loads every `CERTIFICATE` block of a PEM file (Metricbeat's
    /// `ssl.certificate_authorities`).
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<CaCertificates, TlsConfigError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| TlsConfigError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        CaCertificates::parse(&pem, format!("{path:?}"))
    }

    /// Loads every `CERTIFICATE` block of PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<CaCertificates, TlsConfigError> {
        CaCertificates::parse(pem, "PEM text".to_owned())
    }

    fn parse(pem: &[u8], source: String) -> Result<CaCertificates, TlsConfigError> {
        let invalid = |reason: String| TlsConfigError::InvalidPem {
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
}

impl fmt::Debug for CaCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaCertificates")
            .field("source", &self.source)
            .field("certificates", &self.roots.len())
            .finish()
    }
}

/// The rustls configuration for one client.
pub(crate) fn client_config(verification: &TlsVerification) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        // The ring provider supports TLS 1.2 and 1.3, the safe defaults.
        .expect("ring supports the default protocol versions");
    // ALPN (http/1.1 only) is set by hyper-rustls from the enabled protocols.
    match verification {
        TlsVerification::PublicRoots => {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsVerification::CustomCa(ca) => builder
            .with_root_certificates(ca.roots.clone())
            .with_no_client_auth(),
        TlsVerification::DangerAcceptInvalidCertificates => {
            tracing::warn!(
                "TLS certificate verification is DISABLED for this expvar client: \
                 any server can pose as an https target; use a custom CA instead"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCertificate { provider }))
                .with_no_client_auth()
        }
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
    fn every_verification_mode_builds_a_config() {
        for mode in [
            TlsVerification::PublicRoots,
            TlsVerification::DangerAcceptInvalidCertificates,
        ] {
            let config = client_config(&mode);
            // hyper-rustls insists on setting ALPN itself.
            assert!(config.alpn_protocols.is_empty());
        }
    }
}
