//! A document as rows, and rows back as documents.

use gomon_analyze::fields::{self, heap};
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value, json};

use crate::schema::heap_columns;

/// What one document becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    /// A `golang.heap` document (or a heap error document).
    Heap(HeapRow),
    /// A `golang.<namespace>` document.
    Expvar(ExpvarRow),
    /// An expvar error document: it only updates the target's status.
    ExpvarError {
        address: String,
        ts: i64,
        error: String,
    },
    /// A `golang.profile` document, or a profile error document.
    Profile(ProfileRow),
}

/// One profile document: its `golang.profile` object as JSON text, or its
/// error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProfileRow {
    pub(crate) address: String,
    pub(crate) ts: i64,
    /// `golang.profile` as JSON text (absent for an error document).
    pub(crate) doc: Option<String>,
    pub(crate) error: Option<String>,
}

/// One heap document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeapRow {
    pub(crate) address: String,
    pub(crate) ts: i64,
    pub(crate) cmdline: Option<String>,
    pub(crate) error: Option<String>,
    /// In the order of [`heap_columns`].
    pub(crate) values: Vec<Sql>,
}

impl HeapRow {
    /// HeapAlloc, NumGC.
    pub(crate) fn allocated_and_count(&self) -> (Option<f64>, Option<i64>) {
        let at = |path: &str| {
            heap_columns()
                .iter()
                .position(|c| c.path == path)
                .and_then(|i| self.values.get(i))
        };
        let allocated = match at(heap::ALLOCATIONS_ALLOCATED) {
            Some(Sql::Integer(n)) => Some(*n as f64),
            Some(Sql::Real(x)) => Some(*x),
            _ => None,
        };
        let count = match at(heap::GC_TOTAL_COUNT) {
            Some(Sql::Integer(n)) => Some(*n),
            _ => None,
        };
        (allocated, count)
    }
}

/// One expvar document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExpvarRow {
    pub(crate) address: String,
    pub(crate) ts: i64,
    pub(crate) namespace: String,
    /// The `golang.<namespace>` object, as JSON text.
    pub(crate) doc: String,
}

/// Why a document is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unusable(pub(crate) String);

/// `@timestamp` in Unix milliseconds.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    let at = humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .ok()
        .or_else(|| humantime::parse_rfc3339(text).ok())?;
    let since = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// `ts` as `@timestamp`.
pub(crate) fn format_timestamp(ts: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ts).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

fn number(value: &Value) -> Sql {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Sql::Integer(i)
            } else {
                n.as_f64().map_or(Sql::Null, Sql::Real)
            }
        }
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        _ => Sql::Null,
    }
}

/// Reads a Metricbeat-shaped `golang` document.
pub(crate) fn parse(doc: &Value) -> Result<Parsed, Unusable> {
    let text = |path: &str| fields::get(doc, path).as_str();
    let address = text(fields::SERVICE_ADDRESS)
        .ok_or_else(|| Unusable("no service.address".to_owned()))?
        .to_owned();
    let stamp = text(fields::TIMESTAMP).ok_or_else(|| Unusable("no @timestamp".to_owned()))?;
    let ts = parse_timestamp(stamp)
        .ok_or_else(|| Unusable(format!("@timestamp {stamp:?} is not RFC 3339")))?;
    let error = text(fields::ERROR_MESSAGE).map(str::to_owned);
    match text(fields::METRICSET_NAME) {
        Some("heap") => Ok(Parsed::Heap(HeapRow {
            address,
            ts,
            cmdline: text(heap::CMDLINE).map(str::to_owned),
            values: heap_columns()
                .iter()
                .map(|c| number(fields::get(doc, c.path)))
                .collect(),
            error,
        })),
        Some("expvar") => {
            if let Some(error) = error {
                return Ok(Parsed::ExpvarError { address, ts, error });
            }
            let golang = fields::get(doc, fields::GOLANG)
                .as_object()
                .ok_or_else(|| Unusable("an expvar document without golang".to_owned()))?;
            let (namespace, body) = golang
                .iter()
                .find(|(k, _)| k.as_str() != "heap")
                .ok_or_else(|| {
                    Unusable("an expvar document without golang.<namespace>".to_owned())
                })?;
            Ok(Parsed::Expvar(ExpvarRow {
                address,
                ts,
                namespace: namespace.clone(),
                doc: body.to_string(),
            }))
        }
        Some("profile") => Ok(Parsed::Profile(ProfileRow {
            address,
            ts,
            doc: fields::get(doc, "golang.profile")
                .as_object()
                .map(|body| Value::Object(body.clone()).to_string()),
            error,
        })),
        other => Err(Unusable(format!(
            "metricset.name {other:?} is not heap, expvar or profile"
        ))),
    }
}

fn json_of(value: &Sql) -> Value {
    match value {
        Sql::Integer(n) => json!(n),
        Sql::Real(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        _ => Value::Null,
    }
}

fn skeleton(address: &str, ts: i64, metricset: &str, dataset: &str) -> Value {
    json!({
        "@timestamp": format_timestamp(ts),
        "event": {"module": "golang", "dataset": dataset},
        "metricset": {"name": metricset},
        "service": {"address": address, "type": "golang"},
    })
}

/// A heap row as the document it came from (the fields gomon stores; not
/// the agent and host metadata).
pub(crate) fn heap_document(
    address: &str,
    ts: i64,
    cmdline: Option<&str>,
    error: Option<&str>,
    values: &[Sql],
) -> Value {
    let mut doc = skeleton(address, ts, "heap", "golang.heap");
    if let Some(message) = error {
        doc["error"] = json!({ "message": message });
        return doc;
    }
    if let Some(cmdline) = cmdline {
        fields::set(&mut doc, heap::CMDLINE, json!(cmdline));
    }
    for (column, value) in heap_columns().iter().zip(values) {
        if matches!(value, Sql::Null) {
            continue;
        }
        let value = if column.path == heap::RESTARTED {
            json!(matches!(value, Sql::Integer(n) if *n != 0))
        } else {
            json_of(value)
        };
        fields::set(&mut doc, column.path, value);
    }
    doc
}

/// An expvar row as its document.
pub(crate) fn expvar_document(address: &str, ts: i64, namespace: &str, body: &str) -> Value {
    let mut doc = skeleton(address, ts, "expvar", &format!("golang.{namespace}"));
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Object(Map::new()));
    let mut golang = Map::new();
    golang.insert(namespace.to_owned(), body);
    doc["golang"] = Value::Object(golang);
    doc
}

/// A profile row as its document.
pub(crate) fn profile_document(
    address: &str,
    ts: i64,
    body: Option<&str>,
    error: Option<&str>,
) -> Value {
    let mut doc = skeleton(address, ts, "profile", "golang.profile");
    if let Some(message) = error {
        doc["error"] = json!({ "message": message });
    }
    if let Some(body) = body.and_then(|b| serde_json::from_str::<Value>(b).ok()) {
        doc["golang"] = json!({ "profile": body });
    }
    doc
}

/// The numeric leaves of an expvar object, as `<namespace>.<path>`
/// (`_rate` and `_dropped` left out).
pub(crate) fn numeric_leaves(namespace: &str, body: &Value, out: &mut Vec<String>) {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Number(_) => out.push(prefix.to_owned()),
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "_rate" || k == "_dropped" {
                        continue;
                    }
                    walk(&format!("{prefix}.{k}"), v, out);
                }
            }
            _ => {}
        }
    }
    walk(namespace, body, out);
}

/// The value at `path` (below the namespace) of an expvar object: a dotted
/// key of flatten mode, or a nested path of Metricbeat mode.
pub(crate) fn expvar_value(body: &Value, path: &str) -> Option<f64> {
    if let Some(v) = body.get(path) {
        return v.as_f64();
    }
    // Nested, possibly with dotted keys part of the way.
    let mut node = body;
    let mut rest = path;
    'outer: while !rest.is_empty() {
        let map = node.as_object()?;
        // The longest key that is a prefix of what is left.
        let mut cut = rest.len();
        loop {
            let key = &rest[..cut];
            if let Some(next) = map.get(key) {
                node = next;
                rest = rest.get(cut + 1..).unwrap_or("");
                continue 'outer;
            }
            cut = rest[..cut].rfind('.')?;
        }
    }
    node.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heap_document_survives_the_round_trip_through_a_row() {
        let doc = json!({
            "@timestamp": "2026-01-02T03:04:05.678Z",
            "metricset": {"name": "heap"},
            "service": {"address": "http://h:1/debug/vars"},
            "golang": {"heap": {
                "cmdline": "/bin/app -v 2",
                "allocations": {"allocated": 5_000_000u64, "objects": 7},
                "gc": {"total_count": 3, "cpu_fraction": 0.25, "pause": {"p99": {"ns": 900}}},
                "restarted": true,
            }},
        });
        let Ok(Parsed::Heap(row)) = parse(&doc) else {
            panic!("not a heap row")
        };
        assert_eq!(row.ts, 1_767_323_045_678);
        let back = heap_document(
            &row.address,
            row.ts,
            row.cmdline.as_deref(),
            None,
            &row.values,
        );
        assert_eq!(back["@timestamp"], doc["@timestamp"]);
        assert_eq!(back["golang"], doc["golang"]);
        assert_eq!(back["metricset"]["name"], "heap");
    }

    #[test]
    fn expvar_values_are_found_in_either_mode() {
        let flat = json!({"output.events.acked": 5, "requests": 2});
        let nested = json!({"output": {"events": {"acked": 5}}, "a.b": {"c": 1}});
        assert_eq!(expvar_value(&flat, "output.events.acked"), Some(5.0));
        assert_eq!(expvar_value(&nested, "output.events.acked"), Some(5.0));
        assert_eq!(expvar_value(&nested, "a.b.c"), Some(1.0));
        assert_eq!(expvar_value(&nested, "output.missing"), None);
        let mut leaves = Vec::new();
        numeric_leaves("app", &nested, &mut leaves);
        assert_eq!(leaves, ["app.a.b.c", "app.output.events.acked"]);
    }

    #[test]
    fn documents_that_cannot_be_stored_say_why() {
        let no_time = json!({"metricset": {"name": "heap"}, "service": {"address": "a"}});
        assert_eq!(parse(&no_time), Err(Unusable("no @timestamp".to_owned())));
        let bad_time = json!({"@timestamp": "yesterday", "metricset": {"name": "heap"}, "service": {"address": "a"}});
        assert!(matches!(parse(&bad_time), Err(Unusable(m)) if m.contains("yesterday")));
    }
}
