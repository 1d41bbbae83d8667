//! Which server certificates `https` hosts may present: rustls on the
//! `ring` provider, configured by `gomon-net`, verification always on.

use std::fmt;
use std::path::Path;

use gomon_net::ca::{CaCertificates, ServerTrust};

use crate::error::SinkError;

/// Trust for `https` hosts. The default trusts Mozilla's root store (the
/// `webpki-roots` crate, the same on every machine); [`TlsSettings::custom_ca`]
/// trusts only the given CAs (a self-managed cluster's CA). Certificates are
/// always verified, host name included: the sink has no switch to turn that
/// off.
#[derive(Clone, Default)]
pub struct TlsSettings {
    custom: Option<CaCertificates>,
}

impl TlsSettings {
    /// Trust only the CA certificates of this PEM file.
    pub fn custom_ca_file(path: impl AsRef<Path>) -> Result<TlsSettings, SinkError> {
        TlsSettings::with_ca(CaCertificates::from_pem_file(path))
    }

    /// Trust only the CA certificates of this PEM text.
    pub fn custom_ca(pem: &[u8]) -> Result<TlsSettings, SinkError> {
        TlsSettings::with_ca(CaCertificates::from_pem(pem))
    }

    fn with_ca(
        loaded: Result<CaCertificates, gomon_net::NetError>,
    ) -> Result<TlsSettings, SinkError> {
        let ca = loaded.map_err(|e| SinkError::Tls {
            reason: e.to_string(),
        })?;
        Ok(TlsSettings { custom: Some(ca) })
    }

    /// The rustls client configuration.
    pub(crate) fn client_config(&self) -> rustls::ClientConfig {
        match &self.custom {
            Some(ca) => ServerTrust::CustomCa(ca.clone()),
            None => ServerTrust::MozillaRoots,
        }
        .client_config()
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.custom {
            None => f.write_str("TlsSettings(Mozilla roots)"),
            Some(ca) => write!(
                f,
                "TlsSettings(custom CA from {}, {} certificates)",
                ca.source(),
                ca.len()
            ),
        }
    }
}
