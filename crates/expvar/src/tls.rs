//! How HTTPS targets are trusted: rustls on the `ring` provider, configured
//! by `gomon-net`; this file says which trust the expvar client offers.

pub use gomon_net::NetError as TlsConfigError;
pub use gomon_net::ca::CaCertificates;
use gomon_net::ca::ServerTrust;

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

/// The rustls configuration for one client.
pub(crate) fn client_config(verification: &TlsVerification) -> rustls::ClientConfig {
    let trust = match verification {
        TlsVerification::PublicRoots => ServerTrust::MozillaRoots,
        TlsVerification::CustomCa(ca) => ServerTrust::CustomCa(ca.clone()),
        TlsVerification::DangerAcceptInvalidCertificates => {
            tracing::warn!(
                "TLS certificate verification is DISABLED for this expvar client: \
                 any server can pose as an https target; use a custom CA instead"
            );
            ServerTrust::DangerAcceptAnyCertificate
        }
    };
    trust.client_config()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verification_mode_builds_a_config() {
        for mode in [
            TlsVerification::PublicRoots,
            TlsVerification::DangerAcceptInvalidCertificates,
        ] {
            let config = client_config(&mode);
            // The transport sets ALPN itself (http/1.1).
            assert!(config.alpn_protocols.is_empty());
        }
    }
}
