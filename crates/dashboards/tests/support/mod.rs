//! Reading saved objects back the way Kibana and OpenSearch Dashboards do,
//! independent of the generator: every field a panel uses, with the kind of
//! field it needs.

use std::collections::BTreeMap;

use serde_json::Value;

/// What a panel needs of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Need {
    /// Aggregated as a number (max, avg, sum, last value, differences).
    Number,
    /// Bucketed by term or offered by a control.
    Keyword,
    /// The time axis.
    Date,
    /// Matched against `true` / `false`.
    Boolean,
}

/// Every saved object of an NDJSON file, with the string-stored attributes parsed.
pub(crate) fn parse_ndjson(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Parses a string attribute that must hold JSON.
pub(crate) fn json_string(object: &Value, pointer: &str) -> Value {
    let text = object
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{} has no {pointer}", object["id"]))
        .as_str()
        .unwrap_or_else(|| panic!("{} {pointer} is not a string", object["id"]));
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{} {pointer} does not parse: {e}", object["id"]))
}

/// The field of a KQL `field : value` query, and what it needs.
fn query_field(query: &str, out: &mut BTreeMap<String, Need>) {
    if let Some((field, value)) = query.split_once(" : ") {
        let need = if value == "true" || value == "false" {
            Need::Boolean
        } else {
            Need::Keyword
        };
        out.insert(field.trim().to_owned(), need);
    }
}

/// Every field the objects use and what each needs: Lens columns and
/// queries, control groups, classic visualizations' aggregations, controls
/// and search sources.
pub(crate) fn fields_used(objects: &[Value]) -> BTreeMap<String, Need> {
    let mut out = BTreeMap::new();
    for object in objects {
        match object["type"].as_str().unwrap() {
            "lens" => {
                let state = &object["attributes"]["state"];
                let layers = state["datasourceStates"]["formBased"]["layers"]
                    .as_object()
                    .unwrap();
                for layer in layers.values() {
                    for column in layer["columns"].as_object().unwrap().values() {
                        let Some(field) = column["sourceField"].as_str() else {
                            continue;
                        };
                        if field == "___records___" {
                            continue;
                        }
                        let need = match column["operationType"].as_str().unwrap() {
                            "date_histogram" => Need::Date,
                            "terms" => Need::Keyword,
                            _ => Need::Number,
                        };
                        out.insert(field.to_owned(), need);
                        if let Some(sort) = column["params"]["sortField"].as_str() {
                            out.insert(sort.to_owned(), Need::Date);
                        }
                    }
                }
                query_field(state["query"]["query"].as_str().unwrap(), &mut out);
            }
            "visualization" => {
                let vis = json_string(object, "/attributes/visState");
                for agg in vis["aggs"].as_array().unwrap() {
                    let need = match agg["type"].as_str().unwrap() {
                        "date_histogram" => Need::Date,
                        "terms" => Need::Keyword,
                        _ => Need::Number,
                    };
                    for field in [
                        &agg["params"]["field"],
                        &agg["params"]["customMetric"]["params"]["field"],
                    ] {
                        if let Some(field) = field.as_str() {
                            out.insert(field.to_owned(), need);
                        }
                    }
                    if let Some(sort) = agg["params"]["sortField"].as_str() {
                        out.insert(sort.to_owned(), Need::Date);
                    }
                }
                for control in vis["params"]["controls"].as_array().into_iter().flatten() {
                    out.insert(
                        control["fieldName"].as_str().unwrap().to_owned(),
                        Need::Keyword,
                    );
                }
                let search =
                    json_string(object, "/attributes/kibanaSavedObjectMeta/searchSourceJSON");
                query_field(
                    search["query"]["query"].as_str().unwrap_or_default(),
                    &mut out,
                );
            }
            "dashboard" => {
                if object["attributes"]["controlGroupInput"].is_object() {
                    let controls = json_string(object, "/attributes/controlGroupInput/panelsJSON");
                    for control in controls.as_object().unwrap().values() {
                        let field = control["explicitInput"]["fieldName"].as_str().unwrap();
                        out.insert(field.to_owned(), Need::Keyword);
                    }
                }
            }
            "index-pattern" => {
                let field = object["attributes"]["timeFieldName"].as_str().unwrap();
                out.insert(field.to_owned(), Need::Date);
            }
            other => panic!("unexpected type {other}"),
        }
    }
    out
}

/// Whether a mapping type serves what a panel needs.
pub(crate) fn serves(mapping_type: &str, need: Need) -> bool {
    match need {
        Need::Number => matches!(
            mapping_type,
            "long"
                | "integer"
                | "short"
                | "byte"
                | "double"
                | "float"
                | "half_float"
                | "scaled_float"
                | "unsigned_long"
        ),
        Need::Keyword => mapping_type == "keyword",
        Need::Date => matches!(mapping_type, "date" | "date_nanos"),
        Need::Boolean => mapping_type == "boolean",
    }
}
