//! `gomon`: monitors Go programs through their expvar endpoint.
//!
//! This binary is wiring only: it parses the command line, sets up logging
//! and signals, and calls the library crates under `crates/`.

#![allow(clippy::print_stdout)] // A command-line tool prints its results.

mod analyze;
mod demo;
mod explain;
mod view;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use gomon_agent::collect::CollectError;
use gomon_agent::config::Config;
use gomon_agent::control::ControlError;
use gomon_agent::document::Origin;
use gomon_agent::selfmon::Served;
use gomon_agent::{Agent, default_data_dir};
use tokio::sync::watch;

/// Monitors Go programs through their expvar endpoint (/debug/vars) and ships
/// heap, GC and custom metrics to Elasticsearch, or to an embedded store.
#[derive(Debug, Parser)]
#[command(name = "gomon", version, about, long_about = None)]
struct Cli {
    /// More log output: -v info, -vv debug, -vvv trace (default: warnings).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent: fetch every configured Go program on its period and
    /// write the documents to the configured output.
    ///
    /// Without -c: fetch localhost:6060/debug/vars every 10 s into the embedded
    /// store, gomon.db (see --data).
    ///
    /// Examples:
    ///   gomon run
    ///   gomon run -c metricbeat.yml
    ///   GOMON_OUTPUT__ELASTICSEARCH__HOSTS=http://127.0.0.1:9200 gomon run -c gomon.yml
    #[command(verbatim_doc_comment)]
    Run {
        /// Configuration file (YAML or TOML; a metricbeat.yml works).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Folder of the embedded store (gomon.db) when no output is configured.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Stop after this long (e.g. 30s, 5m); default: until Ctrl-C.
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        #[command(flatten)]
        view: view::RunView,
    },
    /// Fetch one Go program once and print its documents as NDJSON on stdout.
    ///
    /// Examples:
    ///   gomon once localhost:6060
    ///   gomon once http://127.0.0.1:5066/debug/vars --namespace gomon
    #[command(verbatim_doc_comment)]
    Once {
        /// host:port or http:// URL of the expvar endpoint (path /debug/vars by default).
        target: String,
        /// Also print the golang.<NAMESPACE> document of the custom variables.
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Read the stored heap history and give a verdict per target and process:
    /// leak, plateau, gc-pressure, steady or insufficient-data, with evidence.
    ///
    /// Examples:
    ///   gomon analyze                              (the default embedded store)
    ///   gomon analyze -c gomon.yml --since 1h --fail-on leak
    ///   gomon analyze --data DIR --compare-by expvar:app.version --json
    #[command(verbatim_doc_comment)]
    Analyze(analyze::Request),
    /// Say where a Go program's heap grows now: two heap and goroutine
    /// profiles (net/http/pprof) a window apart, printed like
    /// `go tool pprof -top -base`, with the sites that grew, the goroutines
    /// that piled up, and the verdict of the stored history.
    ///
    /// Examples:
    ///   gomon explain localhost:6060
    ///   gomon explain http://10.0.0.7:8080 --window 2m --data /var/lib/gomon
    #[command(verbatim_doc_comment)]
    Explain(explain::Request),
    /// Install the index template on the configured Elasticsearch/OpenSearch
    /// (idempotent; a newer or foreign template is kept unless --overwrite),
    /// or with --dashboards the dashboards into Kibana 8.6+/9.x or OpenSearch
    /// Dashboards 2.x (setup.kibana.*; importing again overwrites them).
    ///
    /// Examples:
    ///   gomon setup -c gomon.yml
    ///   gomon setup -c gomon.yml --dashboards
    ///   gomon setup -c gomon.yml --dashboards --expvar app:requests,output.events.acked
    ///   gomon setup --dashboards-dir ./dashboards     (NDJSON files to import by hand)
    #[command(verbatim_doc_comment)]
    Setup {
        /// Configuration file with output.elasticsearch (or setup.kibana for --dashboards).
        #[arg(short, long, required_unless_present = "dashboards_dir")]
        config: Option<PathBuf>,
        /// Replace the installed template even if it is newer or not gomon's.
        #[arg(long)]
        overwrite: bool,
        /// Import the dashboards into setup.kibana.host instead of installing the template.
        #[arg(long)]
        dashboards: bool,
        /// Write the dashboards' NDJSON under DIR (kibana/, opensearch/) instead of importing them.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["dashboards", "overwrite"])]
        dashboards_dir: Option<PathBuf>,
        /// The expvar panel's variables, NAMESPACE:NAME[,NAME...] (default: the
        /// article's metricbeat:output.elasticsearch.events.acked,...not_acked).
        #[arg(long, value_name = "NS:NAMES")]
        expvar: Option<String>,
    },
    /// Check a configuration, or reach the configured output.
    #[command(subcommand)]
    Test(TestCommand),
    /// Serve the web view of the embedded store, or of the Elasticsearch/
    /// OpenSearch output of -c FILE: heap, GC and expvar charts with the leak
    /// verdicts, on http://127.0.0.1:5067/ by default. Beyond loopback it
    /// needs TLS and a login (view.ssl.*, view.username/password, or flags).
    ///
    /// Examples:
    ///   gomon view
    ///   gomon view --data DIR --listen 127.0.0.1:8080
    ///   gomon view -c gomon.yml                 (its store or its Elasticsearch)
    ///   gomon view --listen 0.0.0.0:5067 --certificate view.crt --key view.key \
    ///     --username ops --password-file view-password
    #[command(verbatim_doc_comment)]
    View(view::Request),
    /// Load NDJSON files (output.file, the file store of earlier versions,
    /// Metricbeat's file output) into the embedded store. Importing twice
    /// stores each document once.
    ///
    /// Examples:
    ///   gomon import ~/.local/share/gomon            (every *.ndjson* file there)
    ///   gomon import --data DIR metricbeat.ndjson
    #[command(verbatim_doc_comment)]
    Import {
        /// NDJSON files, or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Configuration file whose output.store to fill.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Folder of the store (default: the data folder).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Build the example Go apps, monitor them for a while into the
    /// embedded store, and report what was seen. Needs `go` on PATH; leaves nothing running.
    ///
    /// Examples:
    ///   gomon demo
    ///   gomon demo --duration 20s
    #[command(verbatim_doc_comment)]
    Demo {
        /// How long to monitor (default: 2 minutes, enough data for every app's verdict).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Fetch period.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        period: Duration,
        /// Folder of the demo's store (default: <data dir>/demo).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The examples/go folder (default: found from the current folder or the build).
        #[arg(long)]
        examples: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TestCommand {
    /// Read and check a configuration; print it with secrets redacted.
    ///
    /// Example: gomon test config -c metricbeat.yml
    Config {
        /// Configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Connect to the configured output and report what it is.
    ///
    /// Example: gomon test output -c gomon.yml
    Output {
        /// Configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    gomon_agent::config::parse_duration(text)
}

fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOMON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gomon: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run {
                config,
                data,
                duration,
                view,
            } => run(config.as_deref(), data, duration, view).await,
            Command::Once { target, namespace } => once(&target, namespace.as_deref()).await,
            Command::Analyze(request) => analyze::run(request).await,
            Command::Explain(request) => explain::run(request).await,
            Command::View(request) => view::run(request, shutdown_signal()).await,
            Command::Setup {
                config,
                overwrite,
                dashboards,
                dashboards_dir,
                expvar,
            } => match (config, dashboards || dashboards_dir.is_some()) {
                (config, true) => {
                    setup_dashboards(config.as_deref(), dashboards_dir, expvar.as_deref()).await
                }
                (_, false) if expvar.is_some() => {
                    Err("--expvar goes with --dashboards or --dashboards-dir".to_owned())
                }
                (Some(config), false) => setup(&config, overwrite).await,
                (None, false) => Err("setup needs -c CONFIG".to_owned()),
            },
            Command::Test(TestCommand::Config { config }) => test_config(&config),
            Command::Test(TestCommand::Output { config }) => test_output(&config).await,
            Command::Import {
                paths,
                config,
                data,
            } => import(&paths, config.as_deref(), data),
            Command::Demo {
                duration,
                period,
                data,
                examples,
            } => {
                let duration = duration.unwrap_or_else(gomon_agent::demo::default_duration);
                demo::run(duration, period, data, examples).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gomon: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves when Ctrl-C or SIGTERM arrives.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run(
    config_path: Option<&Path>,
    data: Option<PathBuf>,
    duration: Option<Duration>,
    view: view::RunView,
) -> Result<(), String> {
    let data = data.unwrap_or_else(default_data_dir);
    let config = match config_path {
        Some(path) => Config::load(path),
        None => Config::embedded(&data),
    }
    .map_err(|e| e.to_string())?;
    print_findings(&config.findings, "warning");
    let agent = Agent::new(config.clone(), &data)
        .await
        .map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let served =
        gomon_agent::selfmon::serve_configured(&config.http, agent.registry(), stop_rx.clone())
            .await
            .map_err(|e| e.to_string())?;
    if let Some(Served {
        addr,
        instead_of: Some(taken),
    }) = served
    {
        eprintln!(
            "gomon: port {} is taken; own metrics on http://{addr}/debug/vars instead (set http.port to choose)",
            taken.port()
        );
    }
    let self_addr = served.map(|s| s.addr);
    let targets: Vec<&String> = config
        .modules
        .iter()
        .filter(|m| m.enabled)
        .flat_map(|m| &m.hosts)
        .collect();
    open_files_for(targets.len());
    let listed = targets_line(&targets);
    tracing::info!(targets = targets.len(), listed = %listed, output = %agent.output_description(), self_monitoring = ?self_addr, "gomon running");
    eprintln!(
        "gomon: monitoring {listed} → {}{}",
        agent.output_description(),
        self_addr
            .map(|a| format!(" (own metrics at http://{a}/debug/vars)"))
            .unwrap_or_default()
    );
    let running = tokio::spawn(agent.run(stop_rx.clone()));
    let view = match view::beside_agent(&view, &config, &data, stop_rx).await {
        Ok(view) => view,
        Err(e) => {
            let _ = stop_tx.send(true);
            let _ = running.await;
            return Err(e);
        }
    };
    match duration {
        Some(d) => tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = shutdown_signal() => {}
        },
        None => shutdown_signal().await,
    }
    let _ = stop_tx.send(true);
    let summary = running
        .await
        .map_err(|e| format!("agent stopped unexpectedly: {e}"))?;
    eprintln!("gomon: stopped: {summary}");
    if let Some(view) = view {
        let _ = view.await;
    }
    if summary.left_undelivered > 0 {
        return Err(format!(
            "{} documents could not be delivered before the drain deadline",
            summary.left_undelivered
        ));
    }
    Ok(())
}

/// Raises the open-file limit to the hard limit, as Go programs do, and
/// warns when the targets still do not fit under it (each keeps a
/// connection open).
fn open_files_for(targets: usize) {
    use gomon_agent::limits;
    match limits::raise_open_files() {
        Ok(limit) => {
            if limit.now > limit.before {
                tracing::debug!(
                    from = limit.before,
                    to = limit.now,
                    "open-file limit raised"
                );
            }
            if !limit.fits(targets) {
                eprintln!(
                    "gomon: warning: {targets} targets need about {} open files, but this process may open {} \
                     (hard limit {}); raise it (`ulimit -n`, LimitNOFILE= in a systemd unit) or split the targets \
                     over more gomon processes",
                    limits::needed(targets),
                    limit.now,
                    limit
                        .hard
                        .map_or_else(|| "unlimited".to_owned(), |h| h.to_string()),
                );
            }
        }
        Err(e) => tracing::debug!(error = %e, "open-file limit not read"),
    }
}

async fn once(target: &str, namespace: Option<&str>) -> Result<(), String> {
    let events = gomon_agent::collect::once(target, namespace)
        .await
        .map_err(|e| match e {
            CollectError::NoMemstats { target } => format!(
                "{target}: no memstats variable (is expvar imported?); use --namespace to read its other variables"
            ),
            other => other.to_string(),
        })?;
    let origin = Origin::detect();
    let mut out = std::io::stdout().lock();
    for event in events {
        writeln!(out, "{}", event.to_value(&origin))
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    Ok(())
}

fn import(paths: &[PathBuf], config: Option<&Path>, data: Option<PathBuf>) -> Result<(), String> {
    let config = config
        .map(Config::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    let data = data.unwrap_or_else(default_data_dir);
    let store = gomon_agent::import::store_file(config.as_ref(), &data);
    let reports = gomon_agent::import::import_paths(&store, paths).map_err(|e| e.to_string())?;
    for report in &reports {
        for problem in &report.problems {
            eprintln!("gomon: skipped {problem}");
        }
        println!(
            "imported {} heap and {} expvar documents from {} file(s), {} lines skipped",
            report.heap,
            report.expvar,
            report.files.len(),
            report.skipped
        );
    }
    println!("store: {}", store.display());
    Ok(())
}

fn test_config(path: &Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let pretty = serde_json::to_string_pretty(&config.redacted()).map_err(|e| e.to_string())?;
    println!("{pretty}");
    print_findings(&config.findings, "error");
    let unknown = config.findings.unknown_keys.len();
    if unknown > 0 {
        return Err(format!(
            "{}: {unknown} unknown key{} (gomon run would warn and ignore {})",
            path.display(),
            if unknown == 1 { "" } else { "s" },
            if unknown == 1 { "it" } else { "them" }
        ));
    }
    eprintln!("gomon: {}: config OK", path.display());
    Ok(())
}

/// Unknown keys (as `severity`), then one note for the ignored Metricbeat
/// settings and one for the skipped modules, on stderr.
fn print_findings(findings: &gomon_agent::config::Findings, severity: &str) {
    for key in &findings.unknown_keys {
        eprintln!("gomon: {severity}: {key}");
    }
    if !findings.ignored.is_empty() {
        eprintln!(
            "gomon: note: ignored (Metricbeat settings gomon does not implement): {}",
            findings.ignored.join(", ")
        );
    }
    if !findings.skipped_modules.is_empty() {
        eprintln!(
            "gomon: note: skipped (gomon runs the golang module only): {}",
            findings.skipped_modules.join(", ")
        );
    }
}

async fn test_output(path: &Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let Some(check) = gomon_agent::control::check_output(&config)
        .await
        .map_err(|e| e.to_string())?
    else {
        let agent = Agent::new(config.clone(), &default_data_dir())
            .await
            .map_err(|e| e.to_string())?;
        println!("output: {} (writable)", agent.output_description());
        return Ok(());
    };
    let server = &check.server;
    println!("{}: {:?} {}", server.url, server.kind, server.version);
    println!(
        "  documents go to {}",
        if check.data_streams {
            format!("the data stream {}", server.index)
        } else {
            format!(
                "dated indices {}-YYYY.MM.DD (no data streams here)",
                server.index
            )
        }
    );
    Ok(())
}

async fn setup(path: &Path, overwrite: bool) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let report = gomon_agent::control::install_template(&config, overwrite)
        .await
        .map_err(|e| match e {
            ControlError::NoElasticsearch => format!("{}: {e}", path.display()),
            other => other.to_string(),
        })?;
    let server = &report.server;
    println!("{}: {:?} {}", server.url, server.kind, server.version);
    println!(
        "  index template {:?} (version {}): {:?}",
        report.template_name, report.template_version, report.outcome
    );
    println!(
        "  documents go to {:?} {}{}",
        report.naming,
        server.index,
        if report.dated_indices() {
            "-YYYY.MM.DD"
        } else {
            ""
        }
    );
    Ok(())
}

/// `gomon setup --dashboards` (import into `setup.kibana`) or
/// `--dashboards-dir DIR` (write the NDJSON files there).
async fn setup_dashboards(
    config: Option<&Path>,
    dir: Option<PathBuf>,
    expvar: Option<&str>,
) -> Result<(), String> {
    use gomon_dashboards::install::{self, Auth, Connection};
    let mut source = gomon_dashboards::Source::builtin();
    if let Some(expvar) = expvar {
        let (namespace, names) = expvar
            .split_once(':')
            .filter(|(ns, names)| !ns.is_empty() && !names.is_empty())
            .ok_or_else(|| format!("--expvar {expvar:?}: expected NAMESPACE:NAME[,NAME...]"))?;
        let names: Vec<&str> = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        source = source.with_expvar(namespace, &names);
    }
    if let Some(dir) = dir {
        for path in install::write_ndjson(&dir, &source).map_err(|e| e.to_string())? {
            println!("wrote {}", path.display());
        }
        println!("import: Stack Management > Saved objects > Import, or see docs/dashboards.md");
        return Ok(());
    }
    let path = config.ok_or("--dashboards needs -c CONFIG with setup.kibana")?;
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let kibana = &config.setup.kibana;
    if kibana
        .ssl
        .verification_mode
        .as_deref()
        .is_some_and(|m| m != "full")
    {
        return Err("setup.kibana.ssl.verification_mode: only `full` is supported".to_owned());
    }
    let (host, in_url) = gomon_agent::config::split_url_credentials(kibana.host());
    let mut connection = Connection::new(&host);
    connection.space = kibana.space.id.clone();
    let username = kibana
        .username
        .clone()
        .or_else(|| in_url.as_ref().map(|c| c.username.clone()));
    let password = kibana
        .password
        .clone()
        .or_else(|| in_url.and_then(|c| c.password));
    connection.auth = match (&kibana.api_key, username) {
        (Some(key), _) => Auth::ApiKey(key.clone()),
        (None, Some(username)) => Auth::Basic {
            username,
            password: password.unwrap_or_default(),
        },
        (None, None) => Auth::None,
    };
    if !kibana.ssl.certificate_authorities.is_empty() {
        connection
            .trust_ca_files(&kibana.ssl.certificate_authorities)
            .map_err(|e| e.to_string())?;
    }
    let report = install::install(&connection, &source)
        .await
        .map_err(|e| e.to_string())?;
    let server = &report.server;
    println!(
        "{}: {} {}",
        server.url,
        server.flavor.name(),
        server.version
    );
    for object in &report.imported {
        let verb = if object.overwritten {
            "replaced"
        } else {
            "created"
        };
        println!("  {verb} {} {} ({})", object.kind, object.id, object.title);
    }
    let space = match connection.space.as_deref() {
        Some(id) if !id.is_empty() && id != "default" => format!("/s/{id}"),
        _ => String::new(),
    };
    println!(
        "  open: {}{space}/app/dashboards#/view/{}",
        server.url, source.dashboard.id
    );
    Ok(())
}

/// The targets for the start-up line: all of a few, the first five of a
/// fleet with how many more ("… and 9995 more (10000 targets)"), each as
/// written but without credentials.
fn targets_line(hosts: &[&String]) -> String {
    const LISTED: usize = 5;
    // "and 1 more" would take as much room as the host itself.
    let count = if hosts.len() > LISTED + 1 {
        LISTED
    } else {
        hosts.len()
    };
    let shown: Vec<String> = hosts[..count]
        .iter()
        .map(|h| gomon_agent::collect::redact_host(h))
        .collect();
    let mut line = shown.join(", ");
    if shown.len() < hosts.len() {
        line.push_str(&format!(
            " and {} more ({} targets)",
            hosts.len() - shown.len(),
            hosts.len()
        ));
    }
    line
}
