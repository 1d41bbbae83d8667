//! `gomon view` and `gomon run --view`: the web view of the embedded store,
//! or of the Elasticsearch/OpenSearch output when the configuration has one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gomon_agent::config::Config;
use gomon_store::{Reader, StoreError};
use gomon_view::Source;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What `gomon view` was asked (its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Request {
    /// Configuration file of the agent whose data is shown (its embedded
    /// store, or its Elasticsearch/OpenSearch output).
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
    /// Also serve the web view of what the agent writes (the store, or the
    /// Elasticsearch/OpenSearch output).
    #[arg(long)]
    view: bool,
    /// Address of the web view (with --view).
    #[arg(long, requires = "view", default_value = gomon_view::DEFAULT_LISTEN)]
    listen: SocketAddr,
}

/// The source `config`'s output names: the cluster of
/// `output.elasticsearch`, built with its credentials and TLS settings.
fn cluster_source(config: &Config) -> Result<Option<Source>, String> {
    let Some(es) = config.output.elasticsearch.as_ref() else {
        return Ok(None);
    };
    let (cluster, index) = gomon_agent::output::control_plane(es, &gomon_agent::default_data_dir())
        .map_err(|e| e.to_string())?;
    Ok(Some(Source::cluster(cluster, &index)))
}

/// What `gomon view` reads: the config's Elasticsearch/OpenSearch output,
/// else its `output.store`, else `gomon.db` in the data folder, as `gomon
/// run` writes it.
fn source_of(config: Option<&Path>, data: Option<PathBuf>) -> Result<Source, String> {
    let config = match config {
        Some(path) => {
            let config = Config::load(path).map_err(|e| e.to_string())?;
            if let Some(source) = cluster_source(&config)? {
                return Ok(source);
            }
            Some(config)
        }
        None => None,
    };
    let data = data.unwrap_or_else(gomon_agent::default_data_dir);
    let path = gomon_agent::import::store_file(config.as_ref(), &data);
    let reader = Reader::open(&path).map_err(|e| e.to_string())?;
    Ok(Source::store(reader))
}

async fn start(
    listen: SocketAddr,
    source: Source,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<Result<(), gomon_view::ViewError>>, String> {
    let from = source.describe();
    let (addr, server) = gomon_view::serve(listen, source, stop)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("gomon: view on http://{addr}/ ({from})");
    Ok(server)
}

/// `gomon view`: serves until `until` resolves (Ctrl-C or SIGTERM).
pub(crate) async fn run(
    request: Request,
    until: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let source = source_of(request.config.as_deref(), request.data)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut server = start(request.listen, source, stop_rx).await?;
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

/// `gomon run --view`: serves what the agent writes (`config`'s
/// Elasticsearch/OpenSearch output, its `output.store`, or the store in
/// `data`) until `stop`. The agent creates the store as it starts; it is
/// waited for a few seconds.
pub(crate) async fn beside_agent(
    options: &RunView,
    config: &Config,
    data: &Path,
    stop: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<Result<(), gomon_view::ViewError>>>, String> {
    if !options.view {
        return Ok(None);
    }
    if let Some(source) = cluster_source(config).map_err(|e| format!("--view: {e}"))? {
        return start(options.listen, source, stop).await.map(Some);
    }
    let output = &config.output;
    if output.console.is_some() || output.file.is_some() {
        return Err(
            "--view shows the embedded store or Elasticsearch/OpenSearch, and this configuration's output is another one (console or output.file)"
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
    start(options.listen, Source::store(reader), stop)
        .await
        .map(Some)
}
