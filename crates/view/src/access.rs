//! Who may see the view: TLS and HTTP basic auth, as Beats' HTTP endpoint
//! offers them, and the rule that the view never listens beyond loopback
//! open to anyone unless told to.
//!
//! - [`Login`]: one user name and password; every request (page and API)
//!   must carry them (`Authorization: Basic ...`), else a 401 with
//!   `WWW-Authenticate`. Both are compared in constant time (SHA-256 of
//!   each side, then every byte), so timing tells nothing about them.
//! - [`TlsFiles`]: a PEM certificate chain and private key; the view then
//!   speaks HTTPS only (rustls on `ring`). Handshakes run off the accept
//!   loop, at most [`HANDSHAKES_IN_FLIGHT`] at once, each within
//!   [`HANDSHAKE_TIMEOUT`], so a client that never finishes one holds
//!   nobody else up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::ViewError;

/// Most TLS handshakes under way at once.
pub const HANDSHAKES_IN_FLIGHT: usize = 64;
/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the view is reached: over TLS or not, behind a login or not.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// HTTPS with this certificate and key; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Basic auth with this user name and password; open when `None`.
    pub login: Option<Login>,
    /// Serve beyond loopback without TLS and a login all the same
    /// (`--insecure-listen`); without it, that is refused.
    pub insecure_listen: bool,
}

impl Access {
    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The rule: on a loopback address anything goes; beyond it, TLS and a
    /// login, unless [`Access::insecure_listen`]. [`serve`](crate::serve)
    /// applies it; callers may ask first, before opening anything.
    pub fn check(&self, listen: SocketAddr) -> Result<(), ViewError> {
        if listen.ip().is_loopback()
            || self.insecure_listen
            || (self.tls.is_some() && self.login.is_some())
        {
            return Ok(());
        }
        let mut missing = Vec::new();
        if self.tls.is_none() {
            missing.push("TLS (view.ssl.certificate and view.ssl.key, or --certificate and --key)");
        }
        if self.login.is_none() {
            missing.push("a login (view.username with view.password or view.password_file, or --username and --password-file)");
        }
        Err(ViewError::Exposed {
            addr: listen,
            missing: missing.join(" and "),
        })
    }
}

/// A PEM certificate chain (the server's first) and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `view.ssl.certificate`.
    pub certificate: PathBuf,
    /// `view.ssl.key`.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The rustls server settings of these files, or an error naming the
    /// file at fault.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, ViewError> {
        let bad = |file: &PathBuf, reason: String| ViewError::Tls {
            file: file.clone(),
            reason,
        };
        let pem =
            std::fs::read(&self.certificate).map_err(|e| bad(&self.certificate, e.to_string()))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&self.certificate, format!("not a PEM certificate: {e}")))?;
        if chain.is_empty() {
            return Err(bad(
                &self.certificate,
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
            ));
        }
        let pem = std::fs::read(&self.key).map_err(|e| bad(&self.key, e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(&pem)
            .map_err(|e| bad(&self.key, format!("no PEM private key: {e}")))?;
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| {
            bad(
                &self.certificate,
                format!(
                    "the certificate and {} do not make a TLS identity: {e}",
                    self.key.display()
                ),
            )
        })
    }
}

/// The one user name and password of basic auth. Its `Debug` shows no
/// password.
#[derive(Clone)]
pub struct Login {
    username: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Login {
    /// A login; the password must not be empty.
    pub fn new(username: &str, password: &str) -> Result<Login, ViewError> {
        if password.is_empty() {
            return Err(ViewError::Login(format!(
                "the password of view user {username:?} is empty"
            )));
        }
        Ok(Login {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }

    /// Whether `headers` carry this user name and password.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some((scheme, token)) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
        else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        // Both compared, whatever the first gave: `&`, not `&&`.
        same(user, self.username.as_bytes()) & same(password, self.password.as_bytes())
    }
}

/// Equality in constant time: the SHA-256 digests of both sides (so the
/// lengths do not show), compared byte by byte without an early exit.
fn same(given: &[u8], expected: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The middleware in front of every route when there is a [`Login`].
pub(crate) async fn require_login(
    State(login): State<Arc<Login>>,
    request: Request,
    next: Next,
) -> Response {
    if login.accepts(request.headers()) {
        return next.run(request).await;
    }
    tracing::debug!(path = %request.uri().path(), "view request without the right login");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({"error": "this view needs a login (HTTP basic auth: view.username and view.password)"})),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"gomon view\", charset=\"UTF-8\""),
    );
    response
}

/// A TCP listener whose connections come out after their TLS handshake.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(
        listener: TcpListener,
        config: rustls::ServerConfig,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let tls = TlsAcceptor::from(Arc::new(config));
        let (tx, ready) = mpsc::channel(HANDSHAKES_IN_FLIGHT);
        let permits = Arc::new(Semaphore::new(HANDSHAKES_IN_FLIGHT));
        let acceptor = tokio::spawn(async move {
            loop {
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, retry.
                        tracing::warn!(error = %e, "view: accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "view: TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "view: TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends when dropped with us.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(credentials: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(credentials);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).expect("a header"),
        );
        headers
    }

    #[test]
    fn only_the_right_user_and_password_are_let_in() {
        let login = Login::new("ops", "s3cret:with-colon").expect("a login");
        assert!(login.accepts(&basic("ops:s3cret:with-colon")));
        assert!(!login.accepts(&basic("ops:s3cret")));
        assert!(!login.accepts(&basic("dev:s3cret:with-colon")));
        assert!(!login.accepts(&basic("ops")));
        assert!(!login.accepts(&HeaderMap::new()));
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(!login.accepts(&bearer));
        assert!(Login::new("ops", "").is_err(), "an empty password");
        assert!(!format!("{login:?}").contains("s3cret"));
    }

    #[test]
    fn beyond_loopback_the_view_needs_tls_and_a_login_or_an_explicit_opt_out() {
        let open: SocketAddr = "0.0.0.0:5067".parse().expect("an address");
        let local: SocketAddr = "127.0.0.1:5067".parse().expect("an address");
        let tls = TlsFiles {
            certificate: "c.pem".into(),
            key: "k.pem".into(),
        };
        let login = Login::new("ops", "pw").expect("a login");
        assert!(Access::default().check(local).is_ok());
        let refused = Access::default()
            .check(open)
            .expect_err("open beyond loopback");
        let message = refused.to_string();
        for key in [
            "view.ssl.certificate",
            "view.username",
            "--insecure-listen",
            "0.0.0.0:5067",
        ] {
            assert!(message.contains(key), "{message}");
        }
        let only_tls = Access {
            tls: Some(tls.clone()),
            ..Access::default()
        };
        let message = only_tls.check(open).expect_err("no login").to_string();
        assert!(
            message.contains("view.password") && !message.contains("view.ssl.key"),
            "{message}"
        );
        let both = Access {
            tls: Some(tls),
            login: Some(login),
            insecure_listen: false,
        };
        assert!(both.check(open).is_ok());
        let opted_out = Access {
            insecure_listen: true,
            ..Access::default()
        };
        assert!(opted_out.check(open).is_ok());
    }

    #[test]
    fn a_certificate_file_without_a_certificate_is_named() {
        let dir = std::env::temp_dir().join(format!("gomon-view-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder");
        let cert = dir.join("cert.pem");
        std::fs::write(&cert, "not a certificate").expect("write");
        let files = TlsFiles {
            certificate: cert.clone(),
            key: dir.join("missing-key.pem"),
        };
        let message = files
            .server_config()
            .expect_err("no certificate")
            .to_string();
        assert!(message.contains(&cert.display().to_string()), "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
