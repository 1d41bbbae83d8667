//! The sections of a configuration as they are read (`modules[]`,
//! `output.*`, `http`, `setup.template`, `queue.disk`), their defaults, and
//! the value parsers they use (durations, sizes, one path or a list).
//!
//! Over 500 lines (no tests here; they are in `config.rs` and
//! `crates/agent/tests`): one documented type per section with its serde
//! defaults, which read best side by side.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::UrlCredentials;

/// Which of the golang module's metric sets a module runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricSet {
    /// `runtime.MemStats` → `golang.heap`.
    Heap,
    /// Custom variables → `golang.<namespace>`.
    Expvar,
    /// Heap and goroutine profiles (`net/http/pprof`) → `golang.profile`.
    Profile,
}

impl MetricSet {
    /// Its name in `metricsets`.
    pub fn name(self) -> &'static str {
        match self {
            MetricSet::Heap => "heap",
            MetricSet::Expvar => "expvar",
            MetricSet::Profile => "profile",
        }
    }
}

/// `heap:` of a module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HeapSection {
    /// Path of the expvar endpoint for the heap metric set (default `/debug/vars`).
    pub path: Option<String>,
}

/// `expvar:` of a module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ExpvarSection {
    /// Required for the expvar metric set: documents go under `golang.<namespace>`.
    pub namespace: Option<String>,
    /// Path of the expvar endpoint for the expvar metric set (default `/debug/vars`).
    pub path: Option<String>,
    /// `flatten` (default) or `metricbeat`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Globs of dotted paths to keep (default: all).
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs of dotted paths to drop.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Globs of counters whose per-second rate is added under `_rate`.
    #[serde(default)]
    pub rates: Vec<String>,
}

/// `profile:` of a module: the `profile` metric set's own schedule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProfileSection {
    /// How often both profiles are fetched (default [`DEFAULT_PROFILE_PERIOD`]).
    #[serde(default = "default_profile_period", deserialize_with = "duration")]
    pub period: Duration,
    /// When set, Go computes the heap delta itself over this many seconds
    /// (`/debug/pprof/heap?seconds=N`); by default gomon compares each heap
    /// profile with the previous one, a period apart.
    #[serde(default)]
    pub seconds: Option<u64>,
    /// Path prefix of `net/http/pprof`'s handlers (default `/debug/pprof`).
    pub path: Option<String>,
    /// Sites and stacks listed per ranking (default 20, at most 100).
    pub top: Option<usize>,
}

impl Default for ProfileSection {
    fn default() -> Self {
        ProfileSection {
            period: DEFAULT_PROFILE_PERIOD,
            seconds: None,
            path: None,
            top: None,
        }
    }
}

/// How often profiles are fetched when `profile.period` is not set: 1 min.
pub const DEFAULT_PROFILE_PERIOD: Duration = Duration::from_secs(60);

/// The largest `profile.top`.
pub const MAX_PROFILE_TOP: usize = 100;

/// Where `net/http/pprof` serves its profiles when `profile.path` is not set.
pub const DEFAULT_PROFILE_PATH: &str = "/debug/pprof";

fn default_profile_period() -> Duration {
    DEFAULT_PROFILE_PERIOD
}

pub(super) fn default_enabled() -> bool {
    true
}

pub(super) fn default_period() -> Duration {
    Duration::from_secs(10)
}

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

pub(super) fn optional_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

pub(super) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    let wrong = || serde::de::Error::custom("expected a file path or a list of file paths");
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::String(path) => Ok(vec![PathBuf::from(path)]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(path) => Ok(PathBuf::from(path)),
                _ => Err(wrong()),
            })
            .collect(),
        _ => Err(wrong()),
    }
}

/// The shortest `period` and `timeout` of a module: 100 ms.
pub const MIN_PERIOD: Duration = Duration::from_millis(100);

/// The path fetched when neither the host URL nor `heap.path`/`expvar.path` gives one.
pub const DEFAULT_PATH: &str = "/debug/vars";

/// The fetch timeout when `timeout` is not set: 10 s, as Metricbeat.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses `10s`, `500ms`, `1m30s`, `2h`: Go/Beats-style durations.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (expected e.g. 10s, 500ms, 1m30s)");
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    let d = humantime::parse_duration(trimmed).map_err(|_| bad())?;
    if d.is_zero() {
        return Err(format!("{text:?} is zero: a period must be positive"));
    }
    Ok(d)
}

/// One entry of `metricbeat.modules` / `modules`. `Debug` never shows the
/// password or header values.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ModuleConfig {
    /// Must be `golang`.
    pub module: String,
    /// `heap`, `expvar` and/or `profile`; default `heap`, plus `expvar`
    /// when `expvar.namespace` is set (`profile` only when listed).
    #[serde(default)]
    pub metricsets: Option<Vec<MetricSet>>,
    /// A disabled module is skipped.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// How often each host is fetched (default 10s).
    #[serde(default = "default_period", deserialize_with = "duration")]
    pub period: Duration,
    /// `host:port` or URLs of the Go programs.
    pub hosts: Vec<String>,
    /// Whole-request timeout per fetch (default 10s, whatever the period).
    #[serde(default, deserialize_with = "optional_duration")]
    pub timeout: Option<Duration>,
    /// Heap metric set settings.
    #[serde(default)]
    pub heap: HeapSection,
    /// Expvar metric set settings.
    #[serde(default)]
    pub expvar: ExpvarSection,
    /// Profile metric set settings.
    #[serde(default)]
    pub profile: ProfileSection,
    /// Basic auth user for the targets (as Metricbeat's HTTP modules take it).
    pub username: Option<String>,
    /// Basic auth password (never printed).
    pub password: Option<String>,
    /// File holding a bearer token, read on every fetch (rotated tokens work).
    pub bearer_token_file: Option<PathBuf>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// TLS settings for `https://` targets.
    #[serde(default)]
    pub ssl: SslConfig,
    /// Basic auth taken out of `hosts` entries (`http://user:pass@host`)
    /// when the configuration is read, keyed by the entry as it now stands
    /// in `hosts` (without the credentials).
    #[serde(skip)]
    pub url_credentials: std::collections::BTreeMap<String, UrlCredentials>,
}

impl ModuleConfig {
    /// The expvar target for one of `hosts`, with this module's credentials
    /// and headers.
    ///
    /// Credentials that were in the host's URL win over the module's
    /// `username`/`password`, field by field, as in Metricbeat: a URL with
    /// `user@` only takes the module's password.
    pub fn target(&self, host: &str) -> Result<gomon_expvar::Target, String> {
        let mut target = gomon_expvar::Target::parse(host).map_err(|e| e.to_string())?;
        let (username, password) = match self.url_credentials.get(host) {
            Some(url) => (
                Some(url.username.clone())
                    .filter(|u| !u.is_empty())
                    .or_else(|| self.username.clone()),
                url.password
                    .clone()
                    .or_else(|| self.password.clone())
                    .or_else(|| Some(String::new())),
            ),
            None => (self.username.clone(), self.password.clone()),
        };
        match (&username, &password) {
            (Some(user), Some(password)) => {
                target = target
                    .with_basic_auth(user, password)
                    .map_err(|e| e.to_string())?;
            }
            (Some(_), None) => return Err("username is set but password is not".to_owned()),
            (None, Some(_)) => return Err("password is set but username is not".to_owned()),
            (None, None) => {}
        }
        if let Some(file) = &self.bearer_token_file {
            target = target.with_bearer_token_file(file.clone());
        }
        for (name, value) in &self.headers {
            target = target.with_header(name, value).map_err(|e| e.to_string())?;
        }
        Ok(target)
    }

    /// How `https://` targets are verified: `ssl.certificate_authorities`
    /// (one PEM file) replaces the public roots; `ssl.verification_mode: none`
    /// turns verification off (logged loudly by the client).
    pub fn tls(&self) -> Result<gomon_expvar::TlsVerification, String> {
        match (
            self.ssl.verification_mode.as_deref(),
            self.ssl.certificate_authorities.as_slice(),
        ) {
            (Some("none"), _) => Ok(gomon_expvar::TlsVerification::DangerAcceptInvalidCertificates),
            (Some(mode), _) if mode != "full" => {
                Err(format!("verification_mode {mode:?}: use full or none"))
            }
            (_, []) => Ok(gomon_expvar::TlsVerification::PublicRoots),
            (_, [ca]) => gomon_expvar::CaCertificates::from_pem_file(ca)
                .map(gomon_expvar::TlsVerification::CustomCa)
                .map_err(|e| e.to_string()),
            (_, _) => Err(
                "certificate_authorities: give one PEM file (it may hold several certificates)"
                    .to_owned(),
            ),
        }
    }

    /// The whole-request timeout of one fetch: `timeout`, else
    /// [`DEFAULT_TIMEOUT`] (10 s, Metricbeat's), whatever the period: a
    /// target slower than its period answers late with a valid document
    /// while its missed ticks are counted as skipped, instead of producing
    /// an error document on every tick.
    pub fn request_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    /// The path a metric set fetches: its own `path`, else the path of the
    /// host URLs (`/debug/vars` when they give none); `"(each host's own
    /// path)"` when the hosts differ.
    pub(super) fn effective_path(&self, own: &Option<String>) -> String {
        if let Some(path) = own {
            return path.clone();
        }
        let mut paths = self.hosts.iter().map(|h| {
            gomon_expvar::Target::parse(h)
                .map(|t| t.uri().path().to_owned())
                .unwrap_or_else(|_| DEFAULT_PATH.to_owned())
        });
        let first = paths.next().unwrap_or_else(|| DEFAULT_PATH.to_owned());
        if paths.all(|p| p == first) {
            first
        } else {
            "(each host's own path)".to_owned()
        }
    }

    /// Sites and stacks listed per ranking in profile documents:
    /// `profile.top`, else 20.
    pub fn profile_top(&self) -> usize {
        self.profile.top.unwrap_or(gomon_pprof::report::DEFAULT_TOP)
    }

    /// The metric sets this module runs.
    pub fn metric_sets(&self) -> Vec<MetricSet> {
        match &self.metricsets {
            Some(sets) => sets.clone(),
            None if self.expvar.namespace.is_some() => vec![MetricSet::Heap, MetricSet::Expvar],
            None => vec![MetricSet::Heap],
        }
    }
}

/// `ssl:` of a module or of the Elasticsearch output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SslConfig {
    /// PEM files of CAs to trust: one path or a list, as in Beats.
    #[serde(default, deserialize_with = "one_or_many")]
    pub certificate_authorities: Vec<PathBuf>,
    /// `full` (default) or `none` (no verification: insecure).
    pub verification_mode: Option<String>,
}

/// `output.elasticsearch`. `Debug` never shows the password or API key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ElasticsearchOutput {
    /// Node URLs or `host:port` (http assumed).
    pub hosts: Vec<String>,
    /// Basic auth user.
    pub username: Option<String>,
    /// Basic auth password (never printed).
    pub password: Option<String>,
    /// API key `id:key` (never printed).
    pub api_key: Option<String>,
    /// Index (or data stream) name; default `gomon-golang`: a data stream
    /// of that name where the server has them, else dated indices
    /// `gomon-golang-YYYY.MM.DD`.
    pub index: Option<String>,
    /// TLS settings.
    #[serde(default)]
    pub ssl: SslConfig,
    /// NDJSON file for documents the server refuses (mapping errors);
    /// default `<data dir>/dead-letters.ndjson`.
    pub dead_letter_path: Option<PathBuf>,
}

pub(super) fn default_filename() -> String {
    "gomon".to_owned()
}

pub(super) fn default_rotate_kb() -> u64 {
    10 * 1024
}

pub(super) fn default_files() -> usize {
    7
}

/// `output.file`: rotating NDJSON files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileOutput {
    /// Folder of the files.
    pub path: PathBuf,
    /// File name stem: `<filename>.ndjson`, rotated to `<filename>.ndjson.1`, ...
    #[serde(default = "default_filename")]
    pub filename: String,
    /// Rotate when the current file reaches this size (KiB, default 10240).
    #[serde(default = "default_rotate_kb")]
    pub rotate_every_kb: u64,
    /// How many files to keep, the current one included (default 7).
    #[serde(default = "default_files")]
    pub number_of_files: usize,
}

fn default_retention() -> Duration {
    Duration::from_secs(7 * 86_400)
}

/// `output.store`: the embedded SQLite store (the default output).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoreOutput {
    /// Folder of the store file `gomon.db` (default: the data folder).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// How long rows are kept (default 7d); per-minute rollups stay 90
    /// days and per-hour rollups 2 years, so long charts still draw.
    #[serde(default = "default_retention", deserialize_with = "duration")]
    pub retention: Duration,
}

impl StoreOutput {
    /// The store in `data_dir` with the default retention.
    pub fn in_folder(data_dir: &Path) -> StoreOutput {
        StoreOutput {
            path: Some(data_dir.to_path_buf()),
            retention: default_retention(),
        }
    }

    /// The store file: `<path or data_dir>/gomon.db`.
    pub fn file(&self, data_dir: &Path) -> PathBuf {
        self.path
            .as_deref()
            .unwrap_or(data_dir)
            .join(gomon_store::DEFAULT_FILE)
    }
}

/// `output.console`: NDJSON on stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ConsoleOutput {
    /// Indented JSON instead of one line per document.
    #[serde(default)]
    pub pretty: bool,
}

/// `output`: exactly one of these is used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OutputsConfig {
    /// Ship to Elasticsearch / OpenSearch.
    pub elasticsearch: Option<ElasticsearchOutput>,
    /// The embedded store (the default when no output is configured).
    pub store: Option<StoreOutput>,
    /// Write rotating NDJSON files, as Beats' file output.
    pub file: Option<FileOutput>,
    /// Print to stdout.
    pub console: Option<ConsoleOutput>,
}

pub(super) fn default_http_host() -> String {
    "127.0.0.1".to_owned()
}

/// The port of gomon's own `/debug/vars` when `http.port` is not set (as Beats).
pub const DEFAULT_HTTP_PORT: u16 = 5066;

/// `http`: gomon's own `/debug/vars` endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HttpConfig {
    /// Serve it (default true).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Listen address (default 127.0.0.1).
    #[serde(default = "default_http_host")]
    pub host: String,
    /// Port; 0 picks a free one. When not set, 5066 (as Beats) if it is
    /// free, else a free port (printed at start): a port that is set and
    /// taken is an error.
    #[serde(default)]
    pub port: Option<u16>,
}

impl HttpConfig {
    /// The address to listen on: `http.host` as an IP address, with
    /// `localhost` (Beats' default) read as 127.0.0.1.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        if self.host.eq_ignore_ascii_case("localhost") {
            return Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        }
        self.host.parse().ok()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            host: default_http_host(),
            port: None,
        }
    }
}

/// `view`: who may see `gomon view` and `gomon run --view`, as Beats' HTTP
/// endpoint offers it: TLS and basic auth. Beyond loopback the view needs
/// both (or `--insecure-listen`). `Debug` never shows the password.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ViewConfig {
    /// Basic auth user.
    pub username: Option<String>,
    /// Basic auth password (never printed).
    pub password: Option<String>,
    /// A file holding the password (its first line), instead of `password`.
    pub password_file: Option<PathBuf>,
    /// `view.ssl`: HTTPS.
    #[serde(default)]
    pub ssl: ViewSsl,
}

impl std::fmt::Debug for ViewConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewConfig")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("ssl", &self.ssl)
            .finish()
    }
}

/// `view.ssl`: the view's own certificate and key (PEM files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ViewSsl {
    /// The certificate chain, the server's first.
    pub certificate: Option<PathBuf>,
    /// Its private key.
    pub key: Option<PathBuf>,
}

/// `setup.template`: the index template gomon installs (Beats' keys).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TemplateSetup {
    /// Check and install the template when the Elasticsearch output starts (default true).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Replace an installed template even if it is newer or someone else's (default false).
    #[serde(default)]
    pub overwrite: bool,
}

impl Default for TemplateSetup {
    fn default() -> Self {
        TemplateSetup {
            enabled: true,
            overwrite: false,
        }
    }
}

/// `setup.kibana.space`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct KibanaSpace {
    /// `setup.kibana.space.id`: the Kibana space to import into (the
    /// default space when unset).
    pub id: Option<String>,
}

/// `setup.kibana` (Beats' keys): the Kibana or OpenSearch Dashboards that
/// `gomon setup --dashboards` imports into. `Debug` never shows the
/// password or API key.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct KibanaSetup {
    /// `http(s)://host:port[/base path]`, or `host:port` (http); default `localhost:5601`.
    pub host: Option<String>,
    /// Basic-auth user.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<String>,
    /// API key, `id:key` as in Beats.
    pub api_key: Option<String>,
    /// `ssl.certificate_authorities` (and `verification_mode`, `full` only).
    #[serde(default)]
    pub ssl: SslConfig,
    /// `space.id`.
    #[serde(default)]
    pub space: KibanaSpace,
}

impl KibanaSetup {
    /// Beats' default host.
    pub const DEFAULT_HOST: &'static str = "localhost:5601";

    /// The configured host or [`Self::DEFAULT_HOST`].
    pub fn host(&self) -> &str {
        self.host.as_deref().unwrap_or(Self::DEFAULT_HOST)
    }
}

impl std::fmt::Debug for KibanaSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| gomon_net::url::REDACTED);
        f.debug_struct("KibanaSetup")
            .field(
                "host",
                &self.host.as_deref().map(gomon_net::url::redact_userinfo),
            )
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("api_key", &redacted(&self.api_key))
            .field("ssl", &self.ssl)
            .field("space", &self.space)
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SetupSection {
    #[serde(default)]
    pub(super) template: TemplateSetup,
    #[serde(default)]
    pub(super) kibana: KibanaSetup,
}

/// What to set up on the Elasticsearch output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupConfig {
    /// `setup.template.enabled`.
    pub template_enabled: bool,
    /// `setup.template.overwrite`.
    pub template_overwrite: bool,
    /// `setup.kibana`, for `gomon setup --dashboards`.
    pub kibana: KibanaSetup,
}

impl Default for SetupConfig {
    fn default() -> Self {
        SetupConfig {
            template_enabled: true,
            template_overwrite: false,
            kibana: KibanaSetup::default(),
        }
    }
}

/// `queue.disk` (Beats' key): keep every document for Elasticsearch on
/// disk until the server has answered it, across outages and restarts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DiskQueue {
    /// Folder of the buffer (one gomon per folder).
    pub path: PathBuf,
    /// Most bytes on disk (`1GB`, `512MiB` or a number of bytes; default 1 GiB).
    pub max_size: Option<String>,
}

/// `queue`: how documents wait for the output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct QueueConfig {
    /// The disk buffer; without it documents wait in memory only.
    pub disk: Option<DiskQueue>,
}

/// Parses sizes such as `512MiB`, `1GB`, `2g`, `1048576` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 512MiB, 1GB)"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use B, KB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    Ok((number * factor) as u64)
}
