//! The configuration: gomon's own format and Metricbeat's `metricbeat.yml`.
//!
//! A file (YAML or TOML, read with the `config` crate) plus environment
//! overrides (`GOMON_OUTPUT__ELASTICSEARCH__HOSTS=http://a:9200,http://b:9200`:
//! prefix `GOMON_`, `__` between levels). Dotted keys (`heap.path`,
//! `output.elasticsearch`) mean the same as nested ones, as in Beats.
//! Metricbeat's `metricbeat.modules` and gomon's `modules` are the same list.
//!
//! Reading is bounded ([`MAX_FILE_BYTES`], [`MAX_DEPTH`], [`MAX_NODES`],
//! [`MAX_TARGETS`]) and every key is checked: a key gomon does not know is
//! reported with the nearest known one, Metricbeat settings gomon does not
//! implement and modules other than `golang` are noted as ignored
//! ([`Findings`]).

mod keys;
mod limits;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use limits::{MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, MAX_TARGETS};

pub use ::config::FileFormat;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A configuration that cannot be used; the message names the file or key
/// and the bad value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is larger, deeper or expands to more nodes than gomon reads
    /// (the message names the limit, and where it can, line and column).
    #[error("{path}: {reason}")]
    Limit {
        /// The file.
        path: String,
        /// Which limit, and where.
        reason: String,
    },
    /// The file is not valid YAML/TOML (the message has line and column).
    #[error("{path}: {reason}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        reason: String,
    },
    /// A key has a value of the wrong kind or out of range.
    #[error("{path}{key}: {reason}")]
    Invalid {
        /// The file, followed by ": " (empty for built-in defaults).
        path: String,
        /// The key path, e.g. `modules[0].period`.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
}

/// Which of the golang module's metric sets a module runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricSet {
    /// `runtime.MemStats` → `golang.heap`.
    Heap,
    /// Custom variables → `golang.<namespace>`.
    Expvar,
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

fn default_enabled() -> bool {
    true
}

fn default_period() -> Duration {
    Duration::from_secs(10)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
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
    /// `heap` and/or `expvar`; default `heap`, plus `expvar` when
    /// `expvar.namespace` is set.
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
    /// Whole-request timeout per fetch (default: the period, at most 10s).
    #[serde(default, deserialize_with = "optional_duration")]
    pub timeout: Option<Duration>,
    /// Heap metric set settings.
    #[serde(default)]
    pub heap: HeapSection,
    /// Expvar metric set settings.
    #[serde(default)]
    pub expvar: ExpvarSection,
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

/// Credentials that were given in a URL's user-info
/// (`http://user:password@host`), percent-escapes decoded. The
/// configuration keeps them here, never in the URL, so nothing that prints
/// a host can print them; `Debug` shows the user name only.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlCredentials {
    /// The user name (may be empty: `http://:password@host`).
    pub username: String,
    /// The password; `None` for `http://user@host`.
    pub password: Option<String>,
}

impl std::fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlCredentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Splits `http://user:password@host:port/path` (or `user:password@host:port`)
/// into the URL without its user-info and the credentials it carried.
pub fn split_url_credentials(url: &str) -> (String, Option<UrlCredentials>) {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_owned(), None);
    };
    let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
    let (username, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(percent_decode(password))),
        None => (userinfo, None),
    };
    let credentials = UrlCredentials {
        username: percent_decode(username),
        password,
    };
    let bare = match scheme {
        Some(scheme) => format!("{scheme}://{host}"),
        None => host.to_owned(),
    };
    (bare, Some(credentials))
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match byte {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replaces the user-info of every URL in `text` by `<redacted>`: for
/// parser messages that may quote a value from the file.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '/' | '?' | '#' | ','))
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("<redacted>");
                out.push_str(&tail[at..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Moves credentials out of the URLs of `modules[].hosts` (into each
/// module's `url_credentials`) and of `output.elasticsearch.hosts` (into its
/// `username`/`password`), so that no later code path can print them.
fn move_url_credentials(
    modules: &mut [ModuleConfig],
    labels: &[String],
    output: &mut OutputsConfig,
    prefix: &str,
) -> Result<(), ConfigError> {
    let invalid = |key: String, reason: &str| ConfigError::Invalid {
        path: prefix.to_owned(),
        key,
        reason: reason.to_owned(),
    };
    for (module, label) in modules.iter_mut().zip(labels) {
        for (j, host) in module.hosts.iter_mut().enumerate() {
            let (bare, Some(credentials)) = split_url_credentials(host) else {
                continue;
            };
            if let Some(other) = module.url_credentials.get(&bare)
                && *other != credentials
            {
                return Err(invalid(
                    format!("{label}.hosts[{j}]"),
                    "the same host is listed twice with different credentials",
                ));
            }
            module.url_credentials.insert(bare.clone(), credentials);
            *host = bare;
        }
    }
    if let Some(es) = &mut output.elasticsearch {
        for (j, host) in es.hosts.iter_mut().enumerate() {
            let (bare, Some(credentials)) = split_url_credentials(host) else {
                continue;
            };
            let key = format!("output.elasticsearch.hosts[{j}]");
            if es
                .username
                .as_ref()
                .is_some_and(|u| *u != credentials.username)
            {
                return Err(invalid(
                    key,
                    "the user name in this URL differs from output.elasticsearch.username \
                     (or from another host's URL): give the credentials once, in username and password",
                ));
            }
            if let Some(password) = credentials.password {
                if es.password.as_ref().is_some_and(|p| *p != password) {
                    return Err(invalid(
                        key,
                        "the password in this URL differs from output.elasticsearch.password \
                         (or from another host's URL): give the credentials once, in username and password",
                    ));
                }
                es.password = Some(password);
            }
            es.username = Some(credentials.username);
            *host = bare;
        }
    }
    Ok(())
}

/// Stands in for a secret in `Debug` output.
fn redacted_option(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

impl std::fmt::Debug for ModuleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleConfig")
            .field("module", &self.module)
            .field("metricsets", &self.metricsets)
            .field("enabled", &self.enabled)
            .field("period", &self.period)
            .field("hosts", &self.hosts)
            .field("timeout", &self.timeout)
            .field("heap", &self.heap)
            .field("expvar", &self.expvar)
            .field("username", &self.username)
            .field("password", &redacted_option(&self.password))
            .field("bearer_token_file", &self.bearer_token_file)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("ssl", &self.ssl)
            .field("url_credentials", &self.url_credentials)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ElasticsearchOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticsearchOutput")
            .field("hosts", &self.hosts)
            .field("username", &self.username)
            .field("password", &redacted_option(&self.password))
            .field("api_key", &redacted_option(&self.api_key))
            .field("index", &self.index)
            .field("ssl", &self.ssl)
            .field("dead_letter_path", &self.dead_letter_path)
            .finish_non_exhaustive()
    }
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

    /// The whole-request timeout of one fetch: `timeout`, else the period,
    /// at most 10 s.
    pub fn request_timeout(&self) -> Duration {
        self.timeout
            .unwrap_or(self.period.min(Duration::from_secs(10)))
    }

    /// The path a metric set fetches: its own `path`, else the path of the
    /// host URLs (`/debug/vars` when they give none); `"(each host's own
    /// path)"` when the hosts differ.
    fn effective_path(&self, own: &Option<String>) -> String {
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

fn default_filename() -> String {
    "gomon".to_owned()
}

fn default_rotate_kb() -> u64 {
    10 * 1024
}

fn default_files() -> usize {
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
    /// Write rotating NDJSON files (the embedded default).
    pub file: Option<FileOutput>,
    /// Print to stdout.
    pub console: Option<ConsoleOutput>,
}

fn default_http_host() -> String {
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

#[derive(Debug, Default, Deserialize)]
struct SetupSection {
    #[serde(default)]
    template: TemplateSetup,
}

/// What to set up on the Elasticsearch output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupConfig {
    /// `setup.template.enabled`.
    pub template_enabled: bool,
    /// `setup.template.overwrite`.
    pub template_overwrite: bool,
}

impl Default for SetupConfig {
    fn default() -> Self {
        SetupConfig {
            template_enabled: true,
            template_overwrite: false,
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

#[derive(Debug, Default, Deserialize)]
struct MetricbeatSection {
    // Read entry by entry: a module other than golang never meets the
    // golang module's types.
    #[serde(default)]
    modules: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    #[serde(default)]
    metricbeat: MetricbeatSection,
    #[serde(default)]
    modules: Vec<Value>,
    #[serde(default)]
    output: OutputsConfig,
    #[serde(default)]
    http: HttpConfig,
    #[serde(default)]
    setup: SetupSection,
    #[serde(default)]
    queue: QueueConfig,
    #[serde(default)]
    name: Option<String>,
}

/// What reading a configuration found that does not stop gomon from running.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Keys gomon does not know, each with its path and the nearest known
    /// key (`modules[0].perod: unknown key; did you mean period?`):
    /// `gomon test config` fails on them, `gomon run` warns and goes on.
    pub unknown_keys: Vec<String>,
    /// Metricbeat settings gomon does not implement (`processors`,
    /// `setup.kibana`, ...), by path: noted, never refused.
    pub ignored: Vec<String>,
    /// Modules other than golang (`metricbeat.modules[1] (system)`): skipped.
    pub skipped_modules: Vec<String>,
}

/// A complete, checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Every golang module, from `metricbeat.modules` then `modules`.
    pub modules: Vec<ModuleConfig>,
    /// Where documents go; none configured means the file store.
    pub output: OutputsConfig,
    /// gomon's own `/debug/vars`.
    pub http: HttpConfig,
    /// `setup.template.*`.
    pub setup: SetupConfig,
    /// `queue.disk`.
    pub queue: QueueConfig,
    /// `name` (Beats' key): `agent.name` of every document; the host name
    /// when unset.
    pub name: Option<String>,
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    /// Unknown keys and ignored settings, for `gomon test config` and the
    /// warnings of `gomon run`.
    pub findings: Findings,
}

/// Top-level keys that only the environment gives and that name no
/// section (`GOMON_LOG`, `GOMON_DATA_DIR`: gomon's own variables, not
/// settings); the key check leaves them alone.
fn environment_only_keys() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(key, _)| {
            let key = key.to_str()?.strip_prefix("GOMON_")?;
            Some(key.split("__").next()?.to_lowercase())
        })
        .collect()
}

fn output_reason(error: crate::output::OutputError) -> String {
    match error {
        crate::output::OutputError::Elasticsearch(reason) => reason,
        other => other.to_string(),
    }
}

/// Nests dotted keys (`heap.path: x` → `heap: {path: x}`), merging objects,
/// at every level, as Beats reads its settings.
pub fn expand_dotted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child) in map {
                let child = expand_dotted_keys(child);
                let mut segments = key.split('.').rev();
                let last = segments.next().unwrap_or_default().to_owned();
                let mut nested = Map::new();
                nested.insert(last, child);
                let mut node = Value::Object(nested);
                for segment in segments {
                    let mut wrap = Map::new();
                    wrap.insert(segment.to_owned(), node);
                    node = Value::Object(wrap);
                }
                if let Value::Object(node) = node {
                    merge(&mut out, node);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(expand_dotted_keys).collect()),
        other => other,
    }
}

fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(more)) => merge(existing, more),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

impl Config {
    /// The configuration of `gomon run` without a file: scrape
    /// `localhost:6060/debug/vars` every 10 s into the file store at `data_dir`.
    pub fn embedded_default(data_dir: &Path) -> Config {
        Config {
            modules: vec![ModuleConfig {
                module: "golang".to_owned(),
                metricsets: None,
                enabled: true,
                period: default_period(),
                hosts: vec!["localhost:6060".to_owned()],
                timeout: None,
                heap: HeapSection::default(),
                expvar: ExpvarSection::default(),
                username: None,
                password: None,
                bearer_token_file: None,
                headers: Default::default(),
                ssl: SslConfig::default(),
                url_credentials: Default::default(),
            }],
            output: OutputsConfig {
                file: Some(FileOutput {
                    path: data_dir.to_path_buf(),
                    filename: default_filename(),
                    rotate_every_kb: default_rotate_kb(),
                    number_of_files: default_files(),
                }),
                ..OutputsConfig::default()
            },
            http: HttpConfig::default(),
            setup: SetupConfig::default(),
            queue: QueueConfig::default(),
            name: None,
            source: None,
            findings: Findings::default(),
        }
    }

    /// The configuration of `gomon run` without a file, with `GOMON_`
    /// environment overrides applied (`GOMON_HTTP__PORT=0`,
    /// `GOMON_OUTPUT__ELASTICSEARCH__HOSTS=...`) and checked as a file would
    /// be; documents go to the file store at `data_dir` unless the
    /// environment names an output.
    pub fn embedded(data_dir: &Path) -> Result<Config, ConfigError> {
        const EMBEDDED: &str = "modules:\n- module: golang\n  hosts: [\"localhost:6060\"]\n";
        let mut config = Config::parse(
            EMBEDDED,
            config::FileFormat::Yaml,
            "embedded default + GOMON_ environment",
        )?;
        let output = &mut config.output;
        if output.elasticsearch.is_none() && output.file.is_none() && output.console.is_none() {
            output.file = Some(FileOutput {
                path: data_dir.to_path_buf(),
                filename: default_filename(),
                rotate_every_kb: default_rotate_kb(),
                number_of_files: default_files(),
            });
        }
        Ok(config)
    }

    /// Reads `path` (YAML, or TOML for `.toml`; at most [`MAX_FILE_BYTES`]),
    /// applies `GOMON_` environment overrides and checks the result.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = limits::read_bounded(path).map_err(|reason| ConfigError::Read {
            path: path.display().to_string(),
            reason,
        })?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => config::FileFormat::Toml,
            _ => config::FileFormat::Yaml,
        };
        let mut config = Config::parse(&text, format, &path.display().to_string())?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses configuration text; `origin` names it in errors.
    pub fn parse(
        text: &str,
        format: config::FileFormat,
        origin: &str,
    ) -> Result<Config, ConfigError> {
        let limit = |reason| ConfigError::Limit {
            path: origin.to_owned(),
            reason,
        };
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(limit(format!(
                "{} bytes of configuration; gomon reads at most {MAX_FILE_BYTES} bytes (4 MiB)",
                text.len()
            )));
        }
        if matches!(format, config::FileFormat::Yaml) {
            limits::check_yaml(text).map_err(limit)?;
        }
        let built = config::Config::builder()
            .add_source(config::File::from_str(text, format))
            .add_source(
                config::Environment::with_prefix("GOMON")
                    .prefix_separator("_")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("output.elasticsearch.hosts")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| ConfigError::Syntax {
                path: origin.to_owned(),
                reason: e.to_string(),
            })?;
        let value: Value = built.try_deserialize().map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            reason: e.to_string(),
        })?;
        Config::from_value(expand_dotted_keys(value), origin)
    }

    fn from_value(value: Value, origin: &str) -> Result<Config, ConfigError> {
        let prefix = if origin.is_empty() {
            String::new()
        } else {
            format!("{origin}: ")
        };
        let invalid = |key: String, reason: String| ConfigError::Invalid {
            path: prefix.clone(),
            key,
            reason,
        };
        let mut report = keys::KeyReport::default();
        keys::check_top(&value, &environment_only_keys(), &mut report);
        let raw: RawConfig =
            serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Invalid {
                path: prefix.clone(),
                key: e.path().to_string(),
                reason: redact_urls(&e.inner().to_string()),
            })?;
        let lists = [
            ("metricbeat.modules", raw.metricbeat.modules),
            ("modules", raw.modules),
        ];
        let targets: usize = lists
            .iter()
            .flat_map(|(_, list)| list)
            .filter(|m| m["module"] == "golang")
            .map(|m| m["hosts"].as_array().map_or(0, Vec::len))
            .sum();
        if targets > MAX_TARGETS {
            return Err(ConfigError::Limit {
                path: origin.to_owned(),
                reason: format!(
                    "{targets} targets (hosts over all golang modules); gomon monitors at most {MAX_TARGETS}"
                ),
            });
        }
        let mut modules = Vec::new();
        let mut labels = Vec::new();
        let mut skipped = Vec::new();
        for (list, entries) in lists {
            for (i, entry) in entries.into_iter().enumerate() {
                let label = format!("{list}[{i}]");
                match entry.get("module") {
                    Some(Value::String(name)) if name == "golang" => {}
                    Some(Value::String(name)) => {
                        skipped.push(format!("{label} (module: {name})"));
                        continue;
                    }
                    _ => {
                        return Err(invalid(
                            format!("{label}.module"),
                            "missing: each module needs `module:` (gomon runs `module: golang`)"
                                .to_owned(),
                        ));
                    }
                }
                keys::check_module(&entry, &label, &mut report);
                let module: ModuleConfig =
                    serde_path_to_error::deserialize(entry).map_err(|e| {
                        let inner = e.path().to_string();
                        let key = if inner == "." {
                            label.clone()
                        } else {
                            format!("{label}.{inner}")
                        };
                        invalid(key, e.inner().to_string())
                    })?;
                modules.push(module);
                labels.push(label);
            }
        }
        let mut output = raw.output;
        move_url_credentials(&mut modules, &labels, &mut output, &prefix)?;
        let mut config = Config {
            modules,
            output,
            http: raw.http,
            setup: SetupConfig {
                template_enabled: raw.setup.template.enabled,
                template_overwrite: raw.setup.template.overwrite,
            },
            queue: raw.queue,
            name: raw.name,
            source: None,
            findings: Findings {
                unknown_keys: report.unknown,
                ignored: report.ignored,
                skipped_modules: skipped,
            },
        };
        if config.queue.disk.is_some() && config.output.elasticsearch.is_none() {
            config
                .findings
                .ignored
                .push("queue.disk (only the elasticsearch output uses it)".to_owned());
        }
        config.check(&prefix, &labels)?;
        Ok(config)
    }

    fn check(&self, prefix: &str, labels: &[String]) -> Result<(), ConfigError> {
        let invalid = |key: String, reason: String| ConfigError::Invalid {
            path: prefix.to_owned(),
            key,
            reason,
        };
        if self.modules.is_empty() {
            let skipped = if self.findings.skipped_modules.is_empty() {
                String::new()
            } else {
                format!(
                    " (skipped: {}; gomon runs the golang module)",
                    self.findings.skipped_modules.join(", ")
                )
            };
            return Err(invalid(
                "modules".to_owned(),
                format!(
                    "no golang module configured{skipped}: add `modules:` (or `metricbeat.modules:`) with `module: golang` and `hosts`"
                ),
            ));
        }
        for (m, label) in self.modules.iter().zip(labels) {
            let key = |k: &str| format!("{label}.{k}");
            if m.enabled && m.hosts.is_empty() {
                return Err(invalid(
                    key("hosts"),
                    "empty: list at least one host:port".to_owned(),
                ));
            }
            for (j, host) in m.hosts.iter().enumerate() {
                m.target(host)
                    .map_err(|e| invalid(format!("{label}.hosts[{j}]"), e))?;
            }
            for (name, value) in [("period", Some(m.period)), ("timeout", m.timeout)] {
                if let Some(value) = value.filter(|v| *v < MIN_PERIOD) {
                    return Err(invalid(
                        key(name),
                        format!(
                            "{} is below the minimum of 100ms",
                            humantime::format_duration(value)
                        ),
                    ));
                }
            }
            m.tls().map_err(|e| invalid(key("ssl"), e))?;
            if m.metric_sets().contains(&MetricSet::Expvar) {
                let ns = m.expvar.namespace.as_deref().unwrap_or_default();
                gomon_flatten::FlattenConfig::new(ns)
                    .map_err(|e| invalid(key("expvar.namespace"), e.to_string()))?;
            }
            if let Some(mode) = &m.expvar.mode
                && mode != "flatten"
                && mode != "metricbeat"
            {
                return Err(invalid(
                    key("expvar.mode"),
                    format!("{mode:?} is not a mode: use flatten or metricbeat"),
                ));
            }
        }
        let outputs = [
            self.output.elasticsearch.is_some(),
            self.output.file.is_some(),
            self.output.console.is_some(),
        ];
        if outputs.iter().filter(|o| **o).count() > 1 {
            return Err(invalid(
                "output".to_owned(),
                "more than one output configured: choose one of elasticsearch, file, console"
                    .to_owned(),
            ));
        }
        if self.http.enabled && self.http.ip().is_none() {
            return Err(invalid(
                "http.host".to_owned(),
                format!(
                    "{:?} is not an IP address or localhost (e.g. 127.0.0.1, 0.0.0.0, ::1)",
                    self.http.host
                ),
            ));
        }
        if let Some(file) = &self.output.file {
            if file.filename.is_empty() || file.filename.contains(['/', '\\']) {
                return Err(invalid(
                    "output.file.filename".to_owned(),
                    format!("{:?}: give a file name without a folder", file.filename),
                ));
            }
            if file.rotate_every_kb == 0 {
                return Err(invalid(
                    "output.file.rotate_every_kb".to_owned(),
                    "0: give at least 1".to_owned(),
                ));
            }
            if file.number_of_files == 0 {
                return Err(invalid(
                    "output.file.number_of_files".to_owned(),
                    "0: give at least 1 (the current file)".to_owned(),
                ));
            }
        }
        if let Some(es) = &self.output.elasticsearch {
            if es.hosts.is_empty() {
                return Err(invalid(
                    "output.elasticsearch.hosts".to_owned(),
                    "empty: list at least one node".to_owned(),
                ));
            }
            // The checks `gomon run` makes when it opens the output, without
            // touching the disk.
            let mut sink = crate::output::sink_settings(es, Path::new("."))
                .map_err(|e| invalid("output.elasticsearch".to_owned(), output_reason(e)))?;
            sink.disk_buffer = crate::output::disk_buffer_settings(&self.queue)
                .map_err(|e| invalid("queue.disk.max_size".to_owned(), e))?;
            sink.validate()
                .map_err(|e| invalid("queue.disk".to_owned(), e.to_string()))?;
        } else {
            crate::output::disk_buffer_settings(&self.queue)
                .map_err(|e| invalid("queue.disk.max_size".to_owned(), e))?;
        }
        Ok(())
    }
    /// The configuration as JSON with secrets replaced by `[redacted]`, for
    /// `gomon test config`: effective values, defaults filled in (those that
    /// depend on the data folder use [`default_data_dir`](crate::default_data_dir),
    /// as `gomon run` does without `--data`).
    pub fn redacted(&self) -> Value {
        let data_dir = crate::default_data_dir();
        let ssl = |ssl: &SslConfig| {
            serde_json::json!({
                "certificate_authorities": ssl.certificate_authorities,
                "verification_mode": ssl.verification_mode.as_deref().unwrap_or("full"),
            })
        };
        let modules: Vec<Value> = self
            .modules
            .iter()
            .map(|m| {
                serde_json::json!({
                    "module": m.module,
                    "enabled": m.enabled,
                    "metricsets": m.metric_sets().iter().map(|s| match s { MetricSet::Heap => "heap", MetricSet::Expvar => "expvar" }).collect::<Vec<_>>(),
                    "period": humantime::format_duration(m.period).to_string(),
                    "timeout": humantime::format_duration(m.request_timeout()).to_string(),
                    "hosts": m.hosts,
                    "heap": {"path": m.effective_path(&m.heap.path)},
                    "username": m.username,
                    "password": m.password.as_ref().map(|_| "[redacted]"),
                    "bearer_token_file": m.bearer_token_file,
                    "headers": m.headers.keys().collect::<Vec<_>>(),
                    "ssl": ssl(&m.ssl),
                    "expvar": {"namespace": m.expvar.namespace, "path": m.effective_path(&m.expvar.path),
                               "mode": m.expvar.mode.as_deref().unwrap_or("flatten"),
                               "include": m.expvar.include, "exclude": m.expvar.exclude, "rates": m.expvar.rates},
                })
            })
            .collect();
        let redact = |s: &Option<String>| s.as_ref().map(|_| "[redacted]");
        let file = |f: &FileOutput| serde_json::json!({"file": {"path": f.path, "filename": f.filename, "rotate_every_kb": f.rotate_every_kb, "number_of_files": f.number_of_files}});
        let output = if let Some(es) = &self.output.elasticsearch {
            serde_json::json!({"elasticsearch": {
                "hosts": es.hosts, "username": es.username, "password": redact(&es.password),
                "api_key": redact(&es.api_key), "index": crate::output::index_of(es),
                "ssl": ssl(&es.ssl),
                "dead_letter_path": es.dead_letter_path.clone()
                    .unwrap_or_else(|| data_dir.join(crate::output::DEAD_LETTER_FILE)),
            }})
        } else if let Some(f) = &self.output.file {
            file(f)
        } else if let Some(c) = &self.output.console {
            serde_json::json!({"console": {"pretty": c.pretty}})
        } else {
            file(&FileOutput {
                path: data_dir.clone(),
                filename: default_filename(),
                rotate_every_kb: default_rotate_kb(),
                number_of_files: default_files(),
            })
        };
        let disk = crate::output::disk_buffer_settings(&self.queue)
            .ok()
            .flatten()
            .map(|d| serde_json::json!({"path": d.path, "max_size": format_size(d.max_bytes)}));
        serde_json::json!({
            "modules": modules,
            "output": output,
            "queue": {"disk": disk},
            "http": {"enabled": self.http.enabled, "host": self.http.host, "port": self.http.port.unwrap_or(DEFAULT_HTTP_PORT)},
            "setup": {"template": {"enabled": self.setup.template_enabled, "overwrite": self.setup.template_overwrite}},
        })
    }
}

/// `1GiB`, `512MiB`, or bytes.
fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit && bytes.is_multiple_of(*unit))
        .map_or_else(
            || bytes.to_string(),
            |(unit, name)| format!("{}{name}", bytes / unit),
        )
}
