//! The web view of gomon's data: the charts a person reads to spot a memory
//! leak or GC pressure in a Go program, served from the binary, from the
//! embedded store or from the Elasticsearch/OpenSearch cluster the agent
//! writes to.
//!
//! [`serve`] answers on one address with
//! - the page (`/`): HTML, JavaScript, CSS and the vendored uPlot chart
//!   library, all embedded in the binary (no CDN; it works offline);
//! - a JSON API under `/api/` that the page reads: the targets with their
//!   status and last verdict, heap and expvar series downsampled by the
//!   source, the expvar fields seen, and the analysis of a time range (the
//!   verdicts of `gomon-analyze` and the live-heap trend line to draw).
//!
//! The data comes from a [`Source`]: the embedded store, or a cluster asked
//! through aggregations (date histograms, terms, the latest document per
//! target), never by downloading the documents of a chart. Both give the
//! same JSON, so the page does not know which it reads.
//!
//! The page polls the API while its range ends at "now", so it follows the
//! agent writing to the same store (from another process, or in the same one
//! with `gomon run --view`).
//!
//! **This crate only reads**: it opens the store through
//! [`gomon_store::Reader`] and searches the cluster, and never writes to
//! either. Every query parameter is checked once, in [`query`], and bad
//! input is a 4xx JSON error that names the parameter; a failing cluster is
//! a 502 naming the server (without credentials) and the question. Store
//! calls run on tokio's blocking pool, so a slow query never stalls the
//! server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let reader = gomon_store::Reader::open("gomon.db".as_ref())?;
//! let source = gomon_view::Source::store(reader);
//! let (_stop_tx, stop) = tokio::sync::watch::channel(false);
//! let access = gomon_view::Access::default(); // loopback: no TLS, no login
//! let (addr, server) = gomon_view::serve("127.0.0.1:5067".parse()?, source, access, stop).await?;
//! println!("view on http://{addr}/");
//! server.await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod access;
mod api;
mod assets;
pub mod query;
pub mod series;
pub mod source;

pub use access::{Access, Login, TlsFiles};
pub use source::{Source, SourceError};

use std::net::SocketAddr;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The address `gomon view` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5067";

/// What can stop the view from serving.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source} (choose another address with --listen)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The address is beyond loopback and the view would be open to anyone
    /// who can reach it.
    #[error(
        "refusing to serve the view on {addr} without {missing}: anyone who can reach that address would see the charts; set them, listen on 127.0.0.1, or pass --insecure-listen to serve it open all the same"
    )]
    Exposed {
        /// The address asked for.
        addr: SocketAddr,
        /// What is missing, with the keys and flags that set it.
        missing: String,
    },
    /// The TLS certificate or key cannot be used.
    #[error("view TLS: {}: {reason}", file.display())]
    Tls {
        /// The file at fault (`view.ssl.certificate` or `view.ssl.key`).
        file: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The login cannot be used.
    #[error("view login: {0}")]
    Login(String),
    /// The server stopped on an I/O error.
    #[error("the view's server failed: {0}")]
    Serve(std::io::Error),
}

/// Serves the page and its API on `listen` until `stop` turns true, over
/// TLS and behind a login as `access` says.
///
/// Refuses ([`ViewError::Exposed`]) an address beyond loopback without both
/// TLS and a login, unless `access.insecure_listen`. Returns the bound
/// address (useful with port 0) and the server's task, which ends once the
/// server has stopped.
pub async fn serve(
    listen: SocketAddr,
    source: Source,
    access: Access,
    mut stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<Result<(), ViewError>>), ViewError> {
    access.check(listen)?;
    let tls = access
        .tls
        .as_ref()
        .map(TlsFiles::server_config)
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ViewError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ViewError::Bind {
        addr: listen,
        source,
    })?;
    if !addr.ip().is_loopback() && (access.tls.is_none() || access.login.is_none()) {
        tracing::warn!(%addr, tls = access.tls.is_some(), login = access.login.is_some(), "the view listens beyond loopback without TLS and a login (--insecure-listen)");
    }
    let mut app = api::router(api::State::new(source)).merge(assets::router());
    if let Some(login) = access.login.clone() {
        app = app.layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(login),
            access::require_login,
        ));
    }
    let stopped = async move {
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                // The sender is gone: nobody can stop us any more, so
                // keep serving until the task is dropped.
                std::future::pending::<()>().await;
            }
        }
    };
    let task = match tls {
        Some(config) => {
            let listener =
                access::TlsListener::new(listener, config).map_err(|source| ViewError::Bind {
                    addr: listen,
                    source,
                })?;
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
                    .map_err(ViewError::Serve)
            })
        }
        None => tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
                .map_err(ViewError::Serve)
        }),
    };
    tracing::info!(%addr, scheme = access.scheme(), "view serving");
    Ok((addr, task))
}
