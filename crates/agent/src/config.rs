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

mod check;
mod credentials;
mod effective;
mod keys;
mod limits;
mod sections;

use std::path::{Path, PathBuf};

pub use credentials::{UrlCredentials, split_url_credentials};
use credentials::{move_url_credentials, redact_urls};
pub use limits::{MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, MAX_TARGETS};
pub use sections::*;

pub use ::config::FileFormat;
use serde::Deserialize;
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
    view: ViewConfig,
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
    /// `setup.dashboards`, ...), by path: noted, never refused.
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
    /// `setup.template.*` and `setup.kibana.*`.
    pub setup: SetupConfig,
    /// `queue.disk`.
    pub queue: QueueConfig,
    /// `view`: TLS and basic auth of the web view.
    pub view: ViewConfig,
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
    /// `localhost:6060/debug/vars` every 10 s into the embedded store at `data_dir`.
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
                profile: ProfileSection::default(),
                username: None,
                password: None,
                bearer_token_file: None,
                headers: Default::default(),
                ssl: SslConfig::default(),
                url_credentials: Default::default(),
            }],
            output: OutputsConfig {
                store: Some(StoreOutput::in_folder(data_dir)),
                ..OutputsConfig::default()
            },
            http: HttpConfig::default(),
            setup: SetupConfig::default(),
            queue: QueueConfig::default(),
            view: ViewConfig::default(),
            name: None,
            source: None,
            findings: Findings::default(),
        }
    }

    /// The configuration of `gomon run` without a file, with `GOMON_`
    /// environment overrides applied (`GOMON_HTTP__PORT=0`,
    /// `GOMON_OUTPUT__ELASTICSEARCH__HOSTS=...`) and checked as a file would
    /// be; documents go to the embedded store at `data_dir` unless the
    /// environment names an output.
    pub fn embedded(data_dir: &Path) -> Result<Config, ConfigError> {
        const EMBEDDED: &str = "modules:\n- module: golang\n  hosts: [\"localhost:6060\"]\n";
        let mut config = Config::parse(
            EMBEDDED,
            config::FileFormat::Yaml,
            "embedded default + GOMON_ environment",
        )?;
        let output = &mut config.output;
        if output.elasticsearch.is_none()
            && output.store.is_none()
            && output.file.is_none()
            && output.console.is_none()
        {
            output.store = Some(StoreOutput::in_folder(data_dir));
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
                kibana: raw.setup.kibana,
            },
            queue: raw.queue,
            view: raw.view,
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
}
