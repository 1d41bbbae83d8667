//! Structural checks of the generated saved objects, against the rules
//! Kibana and OpenSearch Dashboards enforce on import, and of every field
//! they use against gomon's index template and docs/fields.md.
//!
//! Kibana and OpenSearch Dashboards cannot be installed on the machines
//! these tests run on, so nothing here renders a dashboard: what is checked
//! is what the import API and the panels require of the objects, read back
//! from the NDJSON without the generator's help (tests/support).

mod support;

use std::collections::{BTreeSet, HashSet};

use gomon_agent::template::{GOLANG_FIELDS, golang_template};
use gomon_dashboards::{Flavor, Source, to_ndjson};
use serde_json::Value;
use support::{Need, fields_used, json_string, parse_ndjson, serves};

const FLAVORS: [Flavor; 2] = [Flavor::Kibana, Flavor::OpenSearchDashboards];

fn objects(flavor: Flavor) -> Vec<Value> {
    parse_ndjson(&to_ndjson(&Source::builtin().objects(flavor)))
}

fn repo_file(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

#[test]
fn every_object_has_the_attributes_the_import_api_requires_and_strings_that_parse() {
    for flavor in FLAVORS {
        let objects = objects(flavor);
        for object in &objects {
            let id = object["id"].as_str().expect("id");
            let kind = object["type"].as_str().expect("type");
            let attributes = object["attributes"].as_object().expect("attributes");
            assert!(
                attributes["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{flavor:?} {kind} {id}: title is required"
            );
            assert!(
                object["migrationVersion"][kind].is_string(),
                "{id}: migrationVersion"
            );
            match kind {
                "index-pattern" => {
                    assert_eq!(attributes["title"], "gomon-golang*");
                    assert_eq!(attributes["timeFieldName"], "@timestamp");
                }
                "dashboard" => {
                    let panels = json_string(object, "/attributes/panelsJSON");
                    assert!(panels.as_array().unwrap().len() >= 11, "{id}: panels");
                    for panel in panels.as_array().unwrap() {
                        assert!(
                            panel["panelRefName"].is_string() && panel["gridData"]["w"].is_u64()
                        );
                    }
                    json_string(object, "/attributes/optionsJSON");
                    json_string(object, "/attributes/kibanaSavedObjectMeta/searchSourceJSON");
                    if flavor == Flavor::Kibana {
                        json_string(object, "/attributes/controlGroupInput/panelsJSON");
                        json_string(
                            object,
                            "/attributes/controlGroupInput/ignoreParentSettingsJSON",
                        );
                    }
                }
                "lens" => {
                    assert_eq!(flavor, Flavor::Kibana);
                    let state = &object["attributes"]["state"];
                    assert!(state.is_object(), "{id}: Lens keeps its state as an object");
                    let layers = state["datasourceStates"]["formBased"]["layers"].as_object();
                    assert!(
                        layers.is_some_and(|l| !l.is_empty()),
                        "{id}: formBased layers (Kibana 8.6+)"
                    );
                    for layer in layers.unwrap().values() {
                        let columns = layer["columns"].as_object().unwrap();
                        let order: Vec<&str> = layer["columnOrder"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|c| c.as_str().unwrap())
                            .collect();
                        assert_eq!(
                            order.len(),
                            columns.len(),
                            "{id}: columnOrder lists every column"
                        );
                        for column in columns.values() {
                            for referenced in column["references"].as_array().into_iter().flatten()
                            {
                                assert!(
                                    columns.contains_key(referenced.as_str().unwrap()),
                                    "{id}: column reference"
                                );
                            }
                        }
                        // Every accessor the visualization draws is a column.
                        let vis = &state["visualization"];
                        let accessors: Vec<&Value> =
                            match object["attributes"]["visualizationType"].as_str().unwrap() {
                                "lnsXY" => vis["layers"][0]["accessors"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .chain([&vis["layers"][0]["xAccessor"]])
                                    .collect(),
                                "lnsDatatable" => vis["columns"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|c| &c["columnId"])
                                    .collect(),
                                other => panic!("{id}: unexpected visualization {other}"),
                            };
                        for accessor in accessors {
                            assert!(
                                columns.contains_key(accessor.as_str().unwrap()),
                                "{id}: accessor {accessor}"
                            );
                        }
                    }
                }
                "visualization" => {
                    assert_eq!(flavor, Flavor::OpenSearchDashboards);
                    let vis = json_string(object, "/attributes/visState");
                    assert!(
                        ["line", "histogram", "table", "input_control_vis"]
                            .contains(&vis["type"].as_str().unwrap())
                    );
                    json_string(object, "/attributes/uiStateJSON");
                    json_string(object, "/attributes/kibanaSavedObjectMeta/searchSourceJSON");
                }
                other => panic!("unexpected type {other}"),
            }
        }
    }
}

#[test]
fn every_reference_resolves_to_an_object_in_the_set_and_every_ref_name_is_referenced() {
    for flavor in FLAVORS {
        let objects = objects(flavor);
        let present: HashSet<(String, String)> = objects
            .iter()
            .map(|o| {
                (
                    o["type"].as_str().unwrap().to_owned(),
                    o["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for object in &objects {
            let names: HashSet<&str> = object["references"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let key = (
                        r["type"].as_str().unwrap().to_owned(),
                        r["id"].as_str().unwrap().to_owned(),
                    );
                    assert!(
                        present.contains(&key),
                        "{flavor:?} {}: reference {key:?} is not in the set",
                        object["id"]
                    );
                    r["name"].as_str().unwrap()
                })
                .collect();
            // The names the attributes point through exist in references.
            let mut wanted = Vec::new();
            if object["type"] == "dashboard" {
                for panel in json_string(object, "/attributes/panelsJSON")
                    .as_array()
                    .unwrap()
                {
                    let name = panel["panelRefName"].as_str().unwrap().to_owned();
                    wanted.push(if flavor == Flavor::Kibana {
                        format!("{}:{name}", panel["panelIndex"].as_str().unwrap())
                    } else {
                        name
                    });
                }
            }
            if object["type"] == "visualization" {
                let search =
                    json_string(object, "/attributes/kibanaSavedObjectMeta/searchSourceJSON");
                if let Some(name) = search["indexRefName"].as_str() {
                    wanted.push(name.to_owned());
                }
                let vis = json_string(object, "/attributes/visState");
                for control in vis["params"]["controls"].as_array().into_iter().flatten() {
                    wanted.push(control["indexPatternRefName"].as_str().unwrap().to_owned());
                }
            }
            if object["type"] == "lens" {
                for layer in
                    object["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
                        .as_object()
                        .unwrap()
                        .keys()
                {
                    wanted.push(format!("indexpattern-datasource-layer-{layer}"));
                }
            }
            for name in wanted {
                assert!(
                    names.contains(name.as_str()),
                    "{flavor:?} {}: no reference named {name}",
                    object["id"]
                );
            }
        }
    }
}

#[test]
fn ids_are_stable_unique_and_the_same_on_every_generation_so_a_reimport_overwrites() {
    for flavor in FLAVORS {
        let first = to_ndjson(&Source::builtin().objects(flavor));
        let second = to_ndjson(&Source::builtin().objects(flavor));
        assert_eq!(first, second, "generation is deterministic");
        let objects = parse_ndjson(&first);
        let ids: BTreeSet<(String, String)> = objects
            .iter()
            .map(|o| {
                (
                    o["type"].as_str().unwrap().into(),
                    o["id"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            ids.len(),
            objects.len(),
            "{flavor:?}: (type, id) pairs are unique"
        );
        for (_, id) in &ids {
            assert!(
                id.starts_with("gomon-golang"),
                "{id}: ids are gomon's, fixed"
            );
        }
    }
}

#[test]
fn the_committed_ndjson_files_are_what_the_generator_writes() {
    for flavor in FLAVORS {
        let path = repo_file(&format!(
            "dashboards/{}/{}",
            flavor.folder(),
            flavor.file_name()
        ));
        let generated = to_ndjson(&Source::builtin().objects(flavor));
        if gomon_testrig::bless_goldens() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (GOMON_BLESS=1 writes it)", path.display()));
        assert_eq!(
            committed,
            generated,
            "{} is stale: GOMON_BLESS=1 cargo test -p gomon-dashboards rewrites it",
            path.display()
        );
    }
}

#[test]
fn both_flavors_chart_the_same_fields_the_six_metricbeat_panels_and_more() {
    let kibana = fields_used(&objects(Flavor::Kibana));
    let osd = fields_used(&objects(Flavor::OpenSearchDashboards));
    assert_eq!(
        kibana, osd,
        "Kibana and OpenSearch Dashboards chart the same fields"
    );
    for field in [
        "golang.heap.allocations.total",
        "golang.heap.allocations.active",
        "golang.heap.allocations.allocated",
        "golang.heap.allocations.idle",
        "golang.heap.system.total",
        "golang.heap.system.obtained",
        "golang.heap.system.stack",
        "golang.heap.system.released",
        "golang.heap.allocations.objects",
        "golang.heap.gc.cpu_fraction",
        "golang.heap.gc.pause.sum.ns",
        "golang.heap.gc.pause.max.ns",
        "golang.heap.gc.pause.avg.ns",
        "golang.heap.gc.pause.p50.ns",
        "golang.heap.gc.pause.p95.ns",
        "golang.heap.gc.pause.p99.ns",
        "golang.heap.rate.allocated_bytes_per_sec",
        "golang.heap.restarted",
        "service.address",
        "golang.metricbeat.output.elasticsearch.events.acked",
    ] {
        assert!(kibana.contains_key(field), "no panel uses {field}");
    }
}

/// The type docs/fields.md gives a field (the third column of its row).
fn documented_type(fields_md: &str, field: &str) -> Option<String> {
    fields_md.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        (cells.len() > 3 && cells[1] == format!("`{field}`")).then(|| cells[3].to_owned())
    })
}

#[test]
fn every_field_a_panel_uses_is_in_the_template_and_docs_with_the_type_the_panel_needs() {
    let fields_md = std::fs::read_to_string(repo_file("docs/fields.md")).unwrap();
    let template = golang_template("gomon", &["gomon-*"], 1);
    let dynamic = template.mappings["dynamic_templates"].to_string();
    let profile = gomon_agent::template::profile_fields();
    let typed: Vec<(&str, &str)> = GOLANG_FIELDS
        .iter()
        .copied()
        .chain(profile.iter().map(|(f, t)| (f.as_str(), *t)))
        .collect();
    let mut checked = 0;
    for flavor in FLAVORS {
        for (field, need) in fields_used(&objects(flavor)) {
            if let Some((_, mapped)) = typed.iter().find(|(f, _)| *f == field) {
                assert!(
                    serves(mapped, need),
                    "{field}: the template maps it {mapped}, the panel needs {need:?}"
                );
                let documented = documented_type(&fields_md, &field)
                    .unwrap_or_else(|| panic!("{field} is not in docs/fields.md"));
                assert!(
                    serves(&documented, need),
                    "{field}: docs/fields.md says {documented}, the panel needs {need:?}"
                );
            } else {
                // An expvar variable: golang.<namespace>.*, mapped by the
                // template's dynamic templates, numbers as double.
                assert!(
                    field.starts_with("golang.")
                        && !field.starts_with("golang.heap.")
                        && !field.starts_with("golang.profile."),
                    "{field} has no type in the template"
                );
                assert_eq!(need, Need::Number, "{field}");
                assert!(
                    dynamic.contains("golang_integers_as_double")
                        && dynamic.contains(r#""type":"double""#),
                    "expvar numbers are double"
                );
                assert!(
                    fields_md.contains("## `golang.<namespace>`") && fields_md.contains("`double`"),
                    "docs/fields.md documents expvar numbers"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 50, "{checked} fields checked");
}

#[test]
fn a_type_mismatch_would_be_caught() {
    // The checks above can fail: a keyword is no number, a long no keyword.
    assert!(!serves("keyword", Need::Number));
    assert!(!serves("long", Need::Keyword));
    assert!(!serves("text", Need::Keyword));
    let fields_md = std::fs::read_to_string(repo_file("docs/fields.md")).unwrap();
    assert_eq!(
        documented_type(&fields_md, "golang.heap.restarted").as_deref(),
        Some("boolean")
    );
    assert_eq!(
        documented_type(&fields_md, "service.address").as_deref(),
        Some("keyword")
    );
}
