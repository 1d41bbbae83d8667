//! `gomon view` and `gomon run --view`: the web view of the embedded store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gomon_agent::config::Config;
use gomon_store::{Reader, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What `gomon view` was asked (its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Request {
    /// Configuration file of the agent whose store is shown.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Data folder holding the store (the same --data as `gomon run`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address to serve the page on.
    #[arg(long, default_value = gomon_view::DEFAULT_LISTEN)]
    listen: SocketAddr,
}

/// `gomon run`'s view options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunView {
    /// Also serve the web view of the store the agent writes.
    #[arg(long)]
    view: bool,
    /// Address of the web view (with --view).
    #[arg(long, requires = "view", default_value = gomon_view::DEFAULT_LISTEN)]
    listen: SocketAddr,
}

/// The store file `gomon view` reads: the config's `output.store`, else
/// `gomon.db` in the data folder, as `gomon run` writes it.
fn store_path(config: Option<&Path>, data: Option<PathBuf>) -> Result<PathBuf, String> {
    let config = match config {
        Some(path) => {
            let config = Config::load(path).map_err(|e| e.to_string())?;
            if config.output.elasticsearch.is_some() {
                return Err(format!(
                    "{}: the output is Elasticsearch; gomon view reads the embedded store (use Kibana or OpenSearch Dashboards on that server)",
                    path.display()
                ));
            }
            Some(config)
        }
        None => None,
    };
    let data = data.unwrap_or_else(gomon_agent::default_data_dir);
    Ok(gomon_agent::import::store_file(config.as_ref(), &data))
}

async fn start(
    listen: SocketAddr,
    reader: Reader,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<Result<(), gomon_view::ViewError>>, String> {
    let store = reader.path().display().to_string();
    let (addr, server) = gomon_view::serve(listen, Arc::new(reader), stop)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("gomon: view on http://{addr}/ (store {store})");
    Ok(server)
}

/// `gomon view`: serves until `until` resolves (Ctrl-C or SIGTERM).
pub(crate) async fn run(
    request: Request,
    until: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let path = store_path(request.config.as_deref(), request.data)?;
    let reader = Reader::open(&path).map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut server = start(request.listen, reader, stop_rx).await?;
    tokio::select! {
        _ = until => {}
        ended = &mut server => return ended.map_err(|e| e.to_string())?.map_err(|e| e.to_string()),
    }
    let _ = stop_tx.send(true);
    server
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// `gomon run --view`: serves the store the agent writes (`config`'s
/// `output.store`, or the one in `data`) until `stop`. The agent creates the
/// store as it starts; it is waited for a few seconds.
pub(crate) async fn beside_agent(
    options: &RunView,
    config: &Config,
    data: &Path,
    stop: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<Result<(), gomon_view::ViewError>>>, String> {
    if !options.view {
        return Ok(None);
    }
    let output = &config.output;
    if output.elasticsearch.is_some() || output.console.is_some() || output.file.is_some() {
        return Err(
            "--view shows the embedded store, and this configuration's output is another one (Elasticsearch, console or output.file)"
                .to_owned(),
        );
    }
    let path = gomon_agent::import::store_file(Some(config), data);
    let mut waited = Duration::ZERO;
    let reader = loop {
        match Reader::open(&path) {
            Err(StoreError::Missing(_)) if waited < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                waited += Duration::from_millis(100);
            }
            other => break other.map_err(|e| format!("--view: {e}"))?,
        }
    };
    start(options.listen, reader, stop).await.map(Some)
}
