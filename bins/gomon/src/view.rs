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
    /// Address to serve the page on. Beyond loopback (0.0.0.0, a LAN
    /// address) the view needs TLS and a login, or --insecure-listen.
    #[arg(long, default_value = gomon_view::DEFAULT_LISTEN)]
    listen: SocketAddr,
    #[command(flatten)]
    access: AccessFlags,
}

/// TLS and basic auth of the view, over the configuration's `view.*`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AccessFlags {
    /// PEM certificate chain: serve the view over HTTPS (view.ssl.certificate).
    #[arg(long, value_name = "FILE", requires = "key")]
    certificate: Option<PathBuf>,
    /// The certificate's PEM private key (view.ssl.key).
    #[arg(long, value_name = "FILE", requires = "certificate")]
    key: Option<PathBuf>,
    /// Basic-auth user of the view (view.username).
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
    /// File whose first line is the view's password (view.password_file).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Serve beyond loopback without TLS and a login all the same.
    #[arg(long)]
    insecure_listen: bool,
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
    #[command(flatten)]
    access: AccessFlags,
}

/// The password in `path`: its first line.
fn password_in(path: &Path, key: &str) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{key} {}: {e}", path.display()))?;
    let password = text.lines().next().unwrap_or_default().to_owned();
    if password.is_empty() {
        return Err(format!("{key} {}: the first line is empty", path.display()));
    }
    Ok(password)
}

/// The view's TLS and login: each flag over its `view.*` key.
fn access_of(flags: &AccessFlags, config: Option<&Config>) -> Result<gomon_view::Access, String> {
    let view = config.map(|c| c.view.clone()).unwrap_or_default();
    let tls = match (&flags.certificate, &flags.key) {
        (Some(certificate), Some(key)) => Some((certificate.clone(), key.clone())),
        _ => view.ssl.certificate.clone().zip(view.ssl.key.clone()),
    }
    .map(|(certificate, key)| gomon_view::TlsFiles { certificate, key });
    let username = flags.username.clone().or(view.username);
    let password = match (&flags.password_file, &view.password_file, view.password) {
        (Some(file), _, _) => Some(password_in(file, "--password-file")?),
        (None, Some(file), _) => Some(password_in(file, "view.password_file")?),
        (None, None, password) => password,
    };
    let login = match (username, password) {
        (Some(user), Some(password)) => {
            Some(gomon_view::Login::new(&user, &password).map_err(|e| e.to_string())?)
        }
        (Some(_), None) => {
            return Err(
                "a view user without a password: give --password-file (or view.password / view.password_file)"
                    .to_owned(),
            );
        }
        (None, Some(_)) => {
            return Err(
                "a view password without a user: give --username (or view.username)".to_owned(),
            );
        }
        (None, None) => None,
    };
    Ok(gomon_view::Access {
        tls,
        login,
        insecure_listen: flags.insecure_listen,
    })
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
fn source_of(config: Option<&Config>, data: Option<PathBuf>) -> Result<Source, String> {
    if let Some(source) = config.map(cluster_source).transpose()?.flatten() {
        return Ok(source);
    }
    let data = data.unwrap_or_else(gomon_agent::default_data_dir);
    let path = gomon_agent::import::store_file(config, &data);
    let reader = Reader::open(&path).map_err(|e| e.to_string())?;
    Ok(Source::store(reader))
}

async fn start(
    listen: SocketAddr,
    source: Source,
    access: gomon_view::Access,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<Result<(), gomon_view::ViewError>>, String> {
    let from = source.describe();
    let scheme = access.scheme();
    let login = access.login.is_some();
    let (addr, server) = gomon_view::serve(listen, source, access, stop)
        .await
        .map_err(|e| e.to_string())?;
    let login = if login { ", basic auth" } else { "" };
    eprintln!("gomon: view on {scheme}://{addr}/ ({from}{login})");
    Ok(server)
}

/// The demo's view of its store while it runs, on loopback: the default
/// address, or a free port when that one is taken. Returns the page's URL.
pub(crate) async fn for_demo(
    store: &Path,
    stop: watch::Receiver<bool>,
) -> Result<(String, JoinHandle<Result<(), gomon_view::ViewError>>), String> {
    let path = store.join(gomon_store::DEFAULT_FILE);
    let first = store_once_created(&path).await.map_err(|e| e.to_string())?;
    let open = || {
        Reader::open(&path)
            .map(Source::store)
            .map_err(|e| e.to_string())
    };
    let default: SocketAddr = gomon_view::DEFAULT_LISTEN
        .parse()
        .map_err(|e| format!("{}: {e}", gomon_view::DEFAULT_LISTEN))?;
    let served = match gomon_view::serve(
        default,
        Source::store(first),
        Default::default(),
        stop.clone(),
    )
    .await
    {
        Ok(served) => served,
        // Taken (another view, another demo): any free loopback port.
        Err(_) => gomon_view::serve(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            open()?,
            Default::default(),
            stop,
        )
        .await
        .map_err(|e| e.to_string())?,
    };
    Ok((format!("http://{}/", served.0), served.1))
}

/// `gomon view`: serves until `until` resolves (Ctrl-C or SIGTERM).
pub(crate) async fn run(
    request: Request,
    until: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let config = request
        .config
        .as_deref()
        .map(Config::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    let access = access_of(&request.access, config.as_ref())?;
    access.check(request.listen).map_err(|e| e.to_string())?;
    let source = source_of(config.as_ref(), request.data)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut server = start(request.listen, source, access, stop_rx).await?;
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
    let access = access_of(&options.access, Some(config)).map_err(|e| format!("--view: {e}"))?;
    if let Some(source) = cluster_source(config).map_err(|e| format!("--view: {e}"))? {
        return start(options.listen, source, access, stop).await.map(Some);
    }
    let output = &config.output;
    if output.console.is_some() || output.file.is_some() {
        return Err(
            "--view shows the embedded store or Elasticsearch/OpenSearch, and this configuration's output is another one (console or output.file)"
                .to_owned(),
        );
    }
    let path = gomon_agent::import::store_file(Some(config), data);
    let reader = store_once_created(&path)
        .await
        .map_err(|e| format!("--view: {e}"))?;
    start(options.listen, Source::store(reader), access, stop)
        .await
        .map(Some)
}

/// The store at `path`, waiting up to 10 s for the agent beside to create it.
async fn store_once_created(path: &Path) -> Result<Reader, StoreError> {
    let mut waited = Duration::ZERO;
    loop {
        match Reader::open(path) {
            Err(StoreError::Missing(_)) if waited < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                waited += Duration::from_millis(100);
            }
            other => return other,
        }
    }
}
