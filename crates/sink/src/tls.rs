//! Which server certificates `https` hosts may present: rustls on the
//! `ring` provider, verification always on.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::SinkError;

/// Trust for `https` hosts. The default trusts Mozilla's root store (the
/// `webpki-roots` crate, the same on every machine); [`TlsSettings::custom_ca`]
/// trusts only the given CAs (a self-managed cluster's CA). Certificates are
/// always verified, host name included: the sink has no switch to turn that
/// off.
#[derive(Clone, Default)]
pub struct TlsSettings {
    custom: Option<(Arc<RootCertStore>, String)>,
    /// The PEM the custom CAs came from (the control-plane client loads it).
    custom_pem: Option<Arc<[u8]>>,
}

impl TlsSettings {
    /// Trust only the CA certificates of this PEM file.
    pub fn custom_ca_file(path: impl AsRef<Path>) -> Result<TlsSettings, SinkError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| SinkError::Tls {
            reason: format!("CA file {path:?} cannot be read: {e}"),
        })?;
        TlsSettings::parse(&pem, format!("{path:?}"))
    }

    /// Trust only the CA certificates of this PEM text.
    pub fn custom_ca(pem: &[u8]) -> Result<TlsSettings, SinkError> {
        TlsSettings::parse(pem, "PEM text".to_owned())
    }

    fn parse(pem: &[u8], source: String) -> Result<TlsSettings, SinkError> {
        let invalid = |reason: String| SinkError::Tls {
            reason: format!("CA certificates from {source}: {reason}"),
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
        Ok(TlsSettings {
            custom: Some((Arc::new(roots), source)),
            custom_pem: Some(Arc::from(pem)),
        })
    }

    /// The custom CA PEM, if any.
    pub(crate) fn custom_ca_pem(&self) -> Option<&[u8]> {
        self.custom_pem.as_deref()
    }

    /// The rustls client configuration.
    pub(crate) fn client_config(&self) -> Result<rustls::ClientConfig, SinkError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SinkError::Tls {
                reason: format!("protocol versions: {e}"),
            })?;
        let roots = match &self.custom {
            Some((roots, _)) => roots.clone(),
            None => Arc::new(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
        };
        Ok(builder.with_root_certificates(roots).with_no_client_auth())
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.custom {
            None => f.write_str("TlsSettings(Mozilla roots)"),
            Some((roots, source)) => write!(
                f,
                "TlsSettings(custom CA from {source}, {} certificates)",
                roots.len()
            ),
        }
    }
}
