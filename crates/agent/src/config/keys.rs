//! The keys gomon reads, the Metricbeat keys it knows and leaves alone, and
//! the check that tells a typo (`perod`) from a setting gomon does not
//! implement (`processors`).

use serde_json::{Map, Value};

/// What may sit under a key.
#[derive(Clone, Copy)]
enum Node {
    /// A value gomon reads (its type is checked when deserialised).
    Value,
    /// A map of any keys (`headers`).
    AnyKeys,
    /// A section with known keys.
    Section(&'static Section),
}

/// A section: the keys gomon reads, and Metricbeat's keys at this place
/// that gomon does not implement (noted as ignored, never refused).
struct Section {
    keys: &'static [(&'static str, Node)],
    beats: &'static [&'static str],
}

const SSL: Section = Section {
    keys: &[
        ("certificate_authorities", Node::Value),
        ("verification_mode", Node::Value),
    ],
    beats: &[
        "enabled",
        "certificate",
        "key",
        "key_passphrase",
        "supported_protocols",
        "cipher_suites",
        "curve_types",
        "ca_trusted_fingerprint",
        "ca_sha256",
        "renegotiation",
    ],
};

const HEAP: Section = Section {
    keys: &[("path", Node::Value)],
    beats: &[],
};

const EXPVAR: Section = Section {
    keys: &[
        ("namespace", Node::Value),
        ("path", Node::Value),
        ("mode", Node::Value),
        ("include", Node::Value),
        ("exclude", Node::Value),
        ("rates", Node::Value),
    ],
    beats: &[],
};

const PROFILE: Section = Section {
    keys: &[
        ("period", Node::Value),
        ("seconds", Node::Value),
        ("path", Node::Value),
        ("top", Node::Value),
    ],
    beats: &[],
};

/// One golang module of `modules` / `metricbeat.modules`.
const MODULE: Section = Section {
    keys: &[
        ("module", Node::Value),
        ("metricsets", Node::Value),
        ("enabled", Node::Value),
        ("period", Node::Value),
        ("hosts", Node::Value),
        ("timeout", Node::Value),
        ("heap", Node::Section(&HEAP)),
        ("expvar", Node::Section(&EXPVAR)),
        ("profile", Node::Section(&PROFILE)),
        ("username", Node::Value),
        ("password", Node::Value),
        ("bearer_token_file", Node::Value),
        ("headers", Node::AnyKeys),
        ("ssl", Node::Section(&SSL)),
    ],
    beats: &[
        "processors",
        "fields",
        "fields_under_root",
        "tags",
        "index",
        "pipeline",
        "keep_null",
        "service",
        "query",
        "connect_timeout",
        "data_stream",
    ],
};

const ELASTICSEARCH: Section = Section {
    keys: &[
        ("hosts", Node::Value),
        ("username", Node::Value),
        ("password", Node::Value),
        ("api_key", Node::Value),
        ("index", Node::Value),
        ("ssl", Node::Section(&SSL)),
        ("dead_letter_path", Node::Value),
    ],
    beats: &[
        "enabled",
        "protocol",
        "path",
        "headers",
        "parameters",
        "worker",
        "workers",
        "bulk_max_size",
        "compression_level",
        "escape_html",
        "loadbalance",
        "max_retries",
        "backoff",
        "timeout",
        "proxy_url",
        "proxy_disable",
        "proxy_headers",
        "pipeline",
        "pipelines",
        "indices",
        "allow_older_versions",
        "idle_connection_timeout",
        "preset",
        "kerberos",
        "non_indexable_policy",
    ],
};

const FILE: Section = Section {
    keys: &[
        ("path", Node::Value),
        ("filename", Node::Value),
        ("rotate_every_kb", Node::Value),
        ("number_of_files", Node::Value),
    ],
    beats: &["enabled", "codec", "permissions", "rotate_on_startup"],
};

const STORE: Section = Section {
    keys: &[("path", Node::Value), ("retention", Node::Value)],
    beats: &[],
};

const CONSOLE: Section = Section {
    keys: &[("pretty", Node::Value)],
    beats: &["enabled", "codec", "bulk_max_size"],
};

const OUTPUT: Section = Section {
    keys: &[
        ("elasticsearch", Node::Section(&ELASTICSEARCH)),
        ("store", Node::Section(&STORE)),
        ("file", Node::Section(&FILE)),
        ("console", Node::Section(&CONSOLE)),
    ],
    beats: &[],
};

const DISK: Section = Section {
    keys: &[("path", Node::Value), ("max_size", Node::Value)],
    beats: &[
        "segment_size",
        "read_ahead",
        "write_ahead",
        "retry_interval",
        "max_retry_interval",
    ],
};

const QUEUE: Section = Section {
    keys: &[("disk", Node::Section(&DISK))],
    beats: &["mem"],
};

const HTTP: Section = Section {
    keys: &[
        ("enabled", Node::Value),
        ("host", Node::Value),
        ("port", Node::Value),
    ],
    beats: &["named_pipe", "pprof", "security_descriptor"],
};

const VIEW_SSL: Section = Section {
    keys: &[("certificate", Node::Value), ("key", Node::Value)],
    beats: &[],
};

/// `view`: gomon's own (Beats has no web view).
const VIEW: Section = Section {
    keys: &[
        ("username", Node::Value),
        ("password", Node::Value),
        ("password_file", Node::Value),
        ("ssl", Node::Section(&VIEW_SSL)),
    ],
    beats: &[],
};

const TEMPLATE: Section = Section {
    keys: &[("enabled", Node::Value), ("overwrite", Node::Value)],
    beats: &[
        "name",
        "pattern",
        "fields",
        "json",
        "settings",
        "append_fields",
        "type",
        "order",
    ],
};

const SPACE: Section = Section {
    keys: &[("id", Node::Value)],
    beats: &[],
};

/// `setup.kibana`: where `gomon setup --dashboards` imports (Beats' keys).
const KIBANA: Section = Section {
    keys: &[
        ("host", Node::Value),
        ("username", Node::Value),
        ("password", Node::Value),
        ("api_key", Node::Value),
        ("ssl", Node::Section(&SSL)),
        ("space", Node::Section(&SPACE)),
    ],
    beats: &["protocol", "path", "headers"],
};

const SETUP: Section = Section {
    keys: &[
        ("template", Node::Section(&TEMPLATE)),
        ("kibana", Node::Section(&KIBANA)),
    ],
    beats: &["dashboards", "ilm", "enabled"],
};

/// The module lists are read entry by entry; here only their names.
const METRICBEAT: Section = Section {
    keys: &[("modules", Node::Value)],
    beats: &[
        "config",
        "autodiscover",
        "max_start_delay",
        "registry",
        "shutdown_timeout",
    ],
};

const TOP: Section = Section {
    keys: &[
        ("metricbeat", Node::Section(&METRICBEAT)),
        ("modules", Node::Value),
        ("output", Node::Section(&OUTPUT)),
        ("queue", Node::Section(&QUEUE)),
        ("http", Node::Section(&HTTP)),
        ("setup", Node::Section(&SETUP)),
        ("view", Node::Section(&VIEW)),
    ],
    beats: &[
        "name",
        "tags",
        "fields",
        "fields_under_root",
        "processors",
        "max_procs",
        "timestamp",
        "path",
        "logging",
        "monitoring",
        "xpack",
        "instrumentation",
        "seccomp",
        "cloud",
        "keystore",
        "migration",
        "features",
        "gc_percent",
    ],
};

/// What the key check found.
#[derive(Debug, Default)]
pub(crate) struct KeyReport {
    /// `modules[0].perod: unknown key; did you mean period?`
    pub(crate) unknown: Vec<String>,
    /// Metricbeat keys gomon does not implement, by path.
    pub(crate) ignored: Vec<String>,
}

/// Checks the top level and every section but the module lists;
/// `skip_top` are top-level keys that came from the environment only
/// without naming a section (`GOMON_LOG`, `GOMON_DATA_DIR`: gomon's own
/// variables, not settings).
pub(crate) fn check_top(value: &Value, skip_top: &[String], report: &mut KeyReport) {
    let Value::Object(map) = value else { return };
    let top: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !skip_top.contains(k) || TOP.keys.iter().any(|(known, _)| known == k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    check_section(&top, &TOP, "", report);
}

/// Checks one golang module at `path` (`modules[0]`).
pub(crate) fn check_module(value: &Value, path: &str, report: &mut KeyReport) {
    if let Value::Object(map) = value {
        check_section(map, &MODULE, &format!("{path}."), report);
    }
}

fn check_section(
    map: &Map<String, Value>,
    section: &Section,
    prefix: &str,
    report: &mut KeyReport,
) {
    for (key, value) in map {
        let path = format!("{prefix}{key}");
        match section.keys.iter().find(|(known, _)| known == key) {
            Some((_, Node::Section(inner))) => {
                if let Value::Object(inner_map) = value {
                    check_section(inner_map, inner, &format!("{path}."), report);
                }
            }
            Some((_, Node::Value | Node::AnyKeys)) => {}
            None if section.beats.contains(&key.as_str()) => report.ignored.push(path),
            None => report.unknown.push(unknown(&path, key, section)),
        }
    }
}

fn unknown(path: &str, key: &str, section: &Section) -> String {
    let known = section.keys.iter().map(|(k, _)| *k);
    // A key cut short (`verification` for `verification_mode`) is near too.
    let nearest = known
        .clone()
        .map(|k| {
            let cut_short = key.len() >= 4 && k.starts_with(key);
            (if cut_short { 1 } else { distance(key, k) }, k)
        })
        .filter(|(d, k)| *d <= allowed_distance(k))
        .min();
    match nearest {
        Some((_, k)) => format!("{path}: unknown key; did you mean {k}?"),
        None => format!(
            "{path}: unknown key (gomon reads {} here)",
            known.collect::<Vec<_>>().join(", ")
        ),
    }
}

/// How far a typo may be from a key: one edit in short keys, two in
/// longer ones, three in long ones.
fn allowed_distance(known: &str) -> usize {
    match known.len() {
        0..=4 => 1,
        5..=10 => 2,
        _ => 3,
    }
}

/// Edit distance counting insertions, deletions, substitutions and swaps
/// of two neighbours (`outptu` is one edit from `output`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_a_small_distance_from_the_key() {
        assert_eq!(distance("perod", "period"), 1);
        assert_eq!(distance("outptu", "output"), 1);
        assert_eq!(distance("hots", "hosts"), 1);
        assert_eq!(distance("period", "period"), 0);
        assert!(distance("logstash", "console") > allowed_distance("console"));
    }

    #[test]
    fn a_typo_gets_a_suggestion_and_a_stranger_the_list() {
        let value = serde_json::json!({"outptu": {}, "output": {"logstash": {}}, "processors": [],
            "setup": {"dashboards": {}, "template": {"enabld": true}}, "log": "debug"});
        let mut report = KeyReport::default();
        check_top(&value, &["log".to_owned()], &mut report);
        assert_eq!(
            report.unknown,
            vec![
                "outptu: unknown key; did you mean output?",
                "output.logstash: unknown key (gomon reads elasticsearch, store, file, console here)",
                "setup.template.enabld: unknown key; did you mean enabled?",
            ]
        );
        assert_eq!(report.ignored, vec!["processors", "setup.dashboards"]);
    }
}
