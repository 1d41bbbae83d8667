//! The index template for gomon's documents: Metricbeat's `golang` field
//! types, gomon's additions, and a type-stable policy for expvar variables.
//!
//! The sink installs any template; what the fields of a `golang` document
//! are is this crate's knowledge, next to the code that writes them.

use gomon_sink::{IndexTemplate, typed_properties};
use serde_json::json;

/// Version of [`golang_template`]; raise it when the mappings change, so
/// that `gomon setup` replaces an older installed template (and keeps a
/// newer one).
pub const TEMPLATE_VERSION: u64 = 2;

/// The fields of Metricbeat's `golang` module documents and their types
/// (the `golang.heap` metric set, gomon's interval fields, and the metadata
/// every document carries), as `(dotted path, type)`.
pub const GOLANG_FIELDS: &[(&str, &str)] = &[
    ("@timestamp", "date"),
    ("event.module", "keyword"),
    ("event.dataset", "keyword"),
    ("event.duration", "long"),
    ("metricset.name", "keyword"),
    ("metricset.period", "long"),
    ("service.address", "keyword"),
    ("service.type", "keyword"),
    ("host.name", "keyword"),
    ("agent.name", "keyword"),
    ("agent.type", "keyword"),
    ("agent.version", "keyword"),
    ("agent.id", "keyword"),
    ("agent.hostname", "keyword"),
    ("agent.ephemeral_id", "keyword"),
    ("ecs.version", "keyword"),
    ("error.message", "text"),
    ("golang.heap.cmdline", "keyword"),
    ("golang.heap.allocations.mallocs", "long"),
    ("golang.heap.allocations.frees", "long"),
    ("golang.heap.allocations.objects", "long"),
    ("golang.heap.allocations.total", "long"),
    ("golang.heap.allocations.allocated", "long"),
    ("golang.heap.allocations.idle", "long"),
    ("golang.heap.allocations.active", "long"),
    ("golang.heap.system.total", "long"),
    ("golang.heap.system.obtained", "long"),
    ("golang.heap.system.stack", "long"),
    ("golang.heap.system.released", "long"),
    ("golang.heap.gc.next_gc_limit", "long"),
    ("golang.heap.gc.total_count", "long"),
    ("golang.heap.gc.cpu_fraction", "float"),
    ("golang.heap.gc.total_pause.ns", "long"),
    ("golang.heap.gc.pause.count", "long"),
    ("golang.heap.gc.pause.sum.ns", "long"),
    ("golang.heap.gc.pause.avg.ns", "long"),
    ("golang.heap.gc.pause.max.ns", "long"),
    ("golang.heap.gc.pause.p50.ns", "long"),
    ("golang.heap.gc.pause.p95.ns", "long"),
    ("golang.heap.gc.pause.p99.ns", "long"),
    ("golang.heap.gc.pause.missed", "long"),
    ("golang.heap.gc.forced.total_count", "long"),
    ("golang.heap.gc.forced.count", "long"),
    ("golang.heap.restarted", "boolean"),
    ("golang.heap.rate.allocated_bytes_per_sec", "double"),
    ("golang.heap.rate.mallocs_per_sec", "double"),
    ("golang.heap.rate.frees_per_sec", "double"),
    ("golang.heap.rate.gc_cycles_per_sec", "double"),
    ("golang.heap.rate.gc_pause_ns_per_sec", "double"),
];

/// The index template for Metricbeat-compatible `golang` documents, applied
/// to `index_patterns`:
///
/// - explicit types for every `golang.heap` field and the metadata
///   (`long` for counters and bytes, `float` for `gc.cpu_fraction`,
///   `double` for rates, `boolean` for `restarted`, `keyword` for names);
/// - dynamic templates for everything else under `golang.*` (the expvar
///   metric set): numbers are `double` whether a value arrives as `1` or
///   `1.5`, so a counter never conflicts between `long` and `float`; the
///   `_dropped` counts are `long`; strings are `keyword`;
/// - no date detection (an expvar string that looks like a date stays a
///   string), and `index.mapping.total_fields.limit` at 10000.
pub fn golang_template(name: &str, index_patterns: &[&str], version: u64) -> IndexTemplate {
    let properties = typed_properties(GOLANG_FIELDS);
    let number_as_double = |mapping_type: &str| {
        json!({
            "path_match": "golang.*",
            "path_unmatch": "golang.heap.*",
            "match_mapping_type": mapping_type,
            "mapping": {"type": "double"},
        })
    };
    IndexTemplate {
        name: name.to_owned(),
        index_patterns: index_patterns.iter().map(|p| (*p).to_owned()).collect(),
        version,
        priority: 200,
        settings: json!({"index.mapping.total_fields.limit": 10000}),
        mappings: json!({
            "date_detection": false,
            "dynamic_templates": [
                {"golang_dropped_counts": {
                    "path_match": "golang.*._dropped.*",
                    "match_mapping_type": "long",
                    "mapping": {"type": "long"},
                }},
                {"golang_integers_as_double": number_as_double("long")},
                {"golang_floats_as_double": number_as_double("double")},
                {"golang_strings_as_keyword": {
                    "path_match": "golang.*",
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword", "ignore_above": 1024},
                }},
            ],
            "properties": properties,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_heap_field_is_typed_as_metricbeat_types_it() {
        let template = golang_template("gomon", &["gomon-*"], 3);
        let props = &template.mappings["properties"];
        let heap = &props["golang"]["properties"]["heap"]["properties"];
        assert_eq!(
            heap["gc"]["properties"]["pause"]["properties"]["sum"]["properties"]["ns"]["type"],
            "long"
        );
        assert_eq!(heap["gc"]["properties"]["cpu_fraction"]["type"], "float");
        assert_eq!(
            heap["allocations"]["properties"]["allocated"]["type"],
            "long"
        );
        assert_eq!(heap["restarted"]["type"], "boolean");
        assert_eq!(props["@timestamp"]["type"], "date");
        assert_eq!(template.settings["index.mapping.total_fields.limit"], 10000);
    }

    #[test]
    fn every_documented_heap_field_has_a_type() {
        let fields_md = include_str!("../../../docs/fields.md");
        for line in fields_md
            .lines()
            .filter(|l| l.starts_with("| `golang.heap."))
        {
            let field = line.split('`').nth(1).unwrap_or_default();
            assert!(
                GOLANG_FIELDS.iter().any(|(path, _)| *path == field),
                "{field} has no type in the template"
            );
        }
    }

    #[test]
    fn every_metadata_field_of_a_document_has_a_type() {
        let doc = crate::document::Event {
            metricset: "heap",
            dataset: "golang.heap".to_owned(),
            golang: None,
            error: Some("down".to_owned()),
            address: "http://localhost:6060/debug/vars".to_owned(),
            timestamp: std::time::SystemTime::UNIX_EPOCH,
            duration: std::time::Duration::from_millis(1),
            period: std::time::Duration::from_secs(1),
        }
        .into_document(&crate::document::Origin::detect());
        fn leaves(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, child) in map {
                        let path = if prefix.is_empty() {
                            key.clone()
                        } else {
                            format!("{prefix}.{key}")
                        };
                        leaves(&path, child, out);
                    }
                }
                _ => out.push(prefix.to_owned()),
            }
        }
        let mut paths = Vec::new();
        leaves("", &doc, &mut paths);
        assert!(paths.len() >= 15, "{paths:?}");
        for path in paths {
            assert!(
                GOLANG_FIELDS.iter().any(|(field, _)| *field == path),
                "{path} has no type in the template"
            );
        }
    }
}
