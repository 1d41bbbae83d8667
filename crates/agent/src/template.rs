//! The index template for gomon's documents: Metricbeat's `golang` field
//! types, gomon's additions, and a type-stable policy for expvar variables.
//!
//! The sink installs any template; what the fields of a `golang` document
//! are is this crate's knowledge, next to the code that writes them.

use gomon_analyze::fields::{self, heap, profile};
use gomon_sink::{IndexTemplate, typed_properties};
use serde_json::json;

/// Version of [`golang_template`]; raise it when the mappings change, so
/// that `gomon setup` replaces an older installed template (and keeps a
/// newer one).
pub const TEMPLATE_VERSION: u64 = 3;

/// The fields of Metricbeat's `golang` module documents and their types
/// (the `golang.heap` metric set, gomon's interval fields, and the metadata
/// every document carries), as `(dotted path, type)`.
pub const GOLANG_FIELDS: &[(&str, &str)] = &[
    (fields::TIMESTAMP, "date"),
    ("event.module", "keyword"),
    (fields::EVENT_DATASET, "keyword"),
    ("event.duration", "long"),
    (fields::METRICSET_NAME, "keyword"),
    (fields::METRICSET_PERIOD, "long"),
    (fields::SERVICE_ADDRESS, "keyword"),
    ("service.type", "keyword"),
    ("host.name", "keyword"),
    ("agent.name", "keyword"),
    ("agent.type", "keyword"),
    ("agent.version", "keyword"),
    ("agent.id", "keyword"),
    ("agent.hostname", "keyword"),
    ("agent.ephemeral_id", "keyword"),
    ("ecs.version", "keyword"),
    (fields::ERROR_MESSAGE, "text"),
    (heap::CMDLINE, "keyword"),
    (heap::ALLOCATIONS_MALLOCS, "long"),
    (heap::ALLOCATIONS_FREES, "long"),
    (heap::ALLOCATIONS_OBJECTS, "long"),
    (heap::ALLOCATIONS_TOTAL, "long"),
    (heap::ALLOCATIONS_ALLOCATED, "long"),
    (heap::ALLOCATIONS_IDLE, "long"),
    (heap::ALLOCATIONS_ACTIVE, "long"),
    (heap::SYSTEM_TOTAL, "long"),
    (heap::SYSTEM_OBTAINED, "long"),
    (heap::SYSTEM_STACK, "long"),
    (heap::SYSTEM_RELEASED, "long"),
    (heap::GC_NEXT_GC_LIMIT, "long"),
    (heap::GC_TOTAL_COUNT, "long"),
    (heap::GC_CPU_FRACTION, "float"),
    (heap::GC_TOTAL_PAUSE_NS, "long"),
    (heap::GC_PAUSE_COUNT, "long"),
    (heap::GC_PAUSE_SUM_NS, "long"),
    (heap::GC_PAUSE_AVG_NS, "long"),
    (heap::GC_PAUSE_MAX_NS, "long"),
    (heap::GC_PAUSE_P50_NS, "long"),
    (heap::GC_PAUSE_P95_NS, "long"),
    (heap::GC_PAUSE_P99_NS, "long"),
    (heap::GC_PAUSE_MISSED, "long"),
    (heap::GC_FORCED_TOTAL_COUNT, "long"),
    (heap::GC_FORCED_COUNT, "long"),
    (heap::RESTARTED, "boolean"),
    (heap::RATE_ALLOCATED_BYTES_PER_SEC, "double"),
    (heap::RATE_MALLOCS_PER_SEC, "double"),
    (heap::RATE_FREES_PER_SEC, "double"),
    (heap::RATE_GC_CYCLES_PER_SEC, "double"),
    (heap::RATE_GC_PAUSE_NS_PER_SEC, "double"),
];

/// The fields of `golang.profile` (the `profile` metric set) and their
/// types, sites and stacks included (arrays of objects, typed as objects).
pub fn profile_fields() -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = [
        (profile::HEAP_BASIS, "keyword"),
        (profile::HEAP_WINDOW_SEC, "double"),
        (profile::HEAP_INUSE_BYTES, "long"),
        (profile::HEAP_INUSE_OBJECTS, "long"),
        (profile::HEAP_GROWTH_BYTES, "long"),
        (profile::HEAP_GROWTH_OBJECTS, "long"),
        (profile::HEAP_ALLOCATED_BYTES, "long"),
        (profile::HEAP_ALLOCATED_OBJECTS, "long"),
        (profile::HEAP_TOP_SITE, "keyword"),
        (profile::HEAP_TOP_GROWTH_BYTES, "long"),
        (profile::HEAP_TOP_GROWTH_OBJECTS, "long"),
        (profile::HEAP_TOP_SHARE_PCT, "double"),
        (profile::GOROUTINES_COUNT, "long"),
        (profile::GOROUTINES_GROWTH, "long"),
        (profile::GOROUTINES_WINDOW_SEC, "double"),
    ]
    .iter()
    .map(|(path, kind)| ((*path).to_owned(), *kind))
    .collect();
    let kind_of = |field: &str| match field {
        "function" | "file" | "stack" => "keyword",
        "share.pct" => "double",
        _ => "long",
    };
    for array in [profile::HEAP_SITES, profile::HEAP_OBJECT_SITES] {
        for field in profile::SITE_FIELDS {
            out.push((format!("{array}.{field}"), kind_of(field)));
        }
    }
    for array in [profile::GOROUTINES_TOP, profile::GOROUTINES_GROWING] {
        for field in profile::STACK_FIELDS {
            out.push((format!("{array}.{field}"), kind_of(field)));
        }
    }
    out
}

/// The index template for Metricbeat-compatible `golang` documents, applied
/// to `index_patterns`:
///
/// - explicit types for every `golang.heap` and `golang.profile` field and the metadata
///   (`long` for counters and bytes, `float` for `gc.cpu_fraction`,
///   `double` for rates, `boolean` for `restarted`, `keyword` for names);
/// - dynamic templates for everything else under `golang.*` (the expvar
///   metric set): numbers are `double` whether a value arrives as `1` or
///   `1.5`, so a counter never conflicts between `long` and `float`; the
///   `_dropped` counts are `long`; strings are `keyword`;
/// - no date detection (an expvar string that looks like a date stays a
///   string), and `index.mapping.total_fields.limit` at 10000.
pub fn golang_template(name: &str, index_patterns: &[&str], version: u64) -> IndexTemplate {
    let profile = profile_fields();
    let all: Vec<(&str, &str)> = GOLANG_FIELDS
        .iter()
        .copied()
        .chain(profile.iter().map(|(path, kind)| (path.as_str(), *kind)))
        .collect();
    let properties = typed_properties(&all);
    let number_as_double = |mapping_type: &str| {
        json!({
            "path_match": format!("{}.*", fields::GOLANG),
            "path_unmatch": format!("{}.*", heap::OBJECT),
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
                    "path_match": format!("{}.*._dropped.*", fields::GOLANG),
                    "match_mapping_type": "long",
                    "mapping": {"type": "long"},
                }},
                {"golang_integers_as_double": number_as_double("long")},
                {"golang_floats_as_double": number_as_double("double")},
                {"golang_strings_as_keyword": {
                    "path_match": format!("{}.*", fields::GOLANG),
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

    /// The mapping of a dotted path in the template's `properties`.
    fn mapping<'a>(template: &'a IndexTemplate, path: &str) -> &'a serde_json::Value {
        path.split('.')
            .fold(&template.mappings, |node, key| &node["properties"][key])
    }

    #[test]
    fn every_field_path_the_code_reads_is_typed_in_the_mappings() {
        let template = golang_template("gomon", &["gomon-*"], 3);
        let metadata = [
            fields::TIMESTAMP,
            fields::SERVICE_ADDRESS,
            fields::METRICSET_NAME,
            fields::METRICSET_PERIOD,
            fields::EVENT_DATASET,
            fields::ERROR_MESSAGE,
        ];
        assert_eq!(heap::ALL.len(), 32, "every leaf of golang.heap");
        for path in heap::ALL.iter().chain(&metadata) {
            let (_, expected) = GOLANG_FIELDS
                .iter()
                .find(|(field, _)| field == path)
                .unwrap_or_else(|| panic!("{path} is not in GOLANG_FIELDS"));
            assert_eq!(
                mapping(&template, path)["type"],
                *expected,
                "{path} is not typed in the template's mappings"
            );
        }
        assert_eq!(mapping(&template, heap::GC_PAUSE_P99_NS)["type"], "long");
        assert_eq!(mapping(&template, heap::RESTARTED)["type"], "boolean");
        assert_eq!(mapping(&template, fields::TIMESTAMP)["type"], "date");
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
        .to_value(&crate::document::Origin::detect());
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
