//! Kibana 8.6+ saved objects: a data view, Lens visualizations with
//! `formBased` layers, an options-list control and the dashboard.
//!
//! Only what Kibana's basic licence offers is used (Lens, controls,
//! `last_value`, `differences`).

use serde_json::{Map, Value, json};

use crate::source::{Chart, Format, Op, PanelSource, Series, Source};
use crate::{Reference, SavedObject};

/// The oldest Kibana the objects are for: Lens layers named `formBased`
/// and the `migrationVersion`s below appeared in 8.6.
pub const MIN_VERSION: (u64, u64) = (8, 6);

/// The format version written in `migrationVersion` (Kibana migrates forward from it).
const FORMAT: &str = "8.6.0";
const LAYER: &str = "layer1";
const X: &str = "x";
const SPLIT: &str = "split";

/// Every saved object: the data view, one Lens per panel, the dashboard.
pub(crate) fn objects(source: &Source) -> Vec<SavedObject> {
    let ip = &source.index_pattern;
    let mut objects = vec![SavedObject {
        id: ip.id.clone(),
        kind: "index-pattern".into(),
        attributes: json!({"title": ip.title, "name": ip.name, "timeFieldName": ip.time_field}),
        references: vec![],
        migration_version: "8.0.0".into(),
    }];
    let panels = source.all_panels();
    for panel in &panels {
        objects.push(lens(source, panel));
    }
    objects.push(dashboard(source, &panels));
    objects
}

fn format(format: Format) -> Value {
    match format {
        Format::Bytes => json!({"id": "bytes", "params": {"decimals": 1}}),
        Format::Percent => json!({"id": "percent", "params": {"decimals": 2}}),
        Format::Number => json!({"id": "number", "params": {"decimals": 2}}),
    }
}

/// The metric column(s) of one series: its own id, and for
/// [`Op::Differences`] the hidden max column it refers to.
fn metric_columns(id: &str, series: &Series, time_field: &str) -> Vec<(String, Value)> {
    let field = series.field.clone().unwrap_or_default();
    let plain = |operation: &str| {
        json!({
            "label": series.label, "customLabel": true, "dataType": "number",
            "operationType": operation, "sourceField": field, "isBucketed": false,
            "scale": "ratio", "params": {"emptyAsNull": true, "format": format(series.format)},
        })
    };
    match series.op {
        Op::Max => vec![(id.into(), plain("max"))],
        Op::Avg => vec![(id.into(), plain("average"))],
        Op::Sum => vec![(id.into(), plain("sum"))],
        Op::Last => vec![(
            id.into(),
            json!({
                "label": series.label, "customLabel": true, "dataType": "number",
                "operationType": "last_value", "sourceField": field, "isBucketed": false,
                "scale": "ratio", "filter": {"query": format!("\"{field}\": *"), "language": "kuery"},
                "params": {"sortField": time_field, "showArrayValues": false, "format": format(series.format)},
            }),
        )],
        Op::Count => vec![(
            id.into(),
            json!({
                "label": series.label, "customLabel": true, "dataType": "number",
                "operationType": "count", "sourceField": "___records___", "isBucketed": false,
                "scale": "ratio", "params": {"emptyAsNull": false, "format": format(series.format)},
            }),
        )],
        Op::Differences => {
            let inner = format!("{id}X0");
            vec![
                (
                    inner.clone(),
                    json!({
                        "label": format!("Maximum of {field}"), "dataType": "number",
                        "operationType": "max", "sourceField": field, "isBucketed": false,
                        "scale": "ratio", "params": {"emptyAsNull": true},
                    }),
                ),
                (
                    id.into(),
                    json!({
                        "label": series.label, "customLabel": true, "dataType": "number",
                        "operationType": "differences", "isBucketed": false, "scale": "ratio",
                        "references": [inner], "params": {"format": format(series.format)},
                    }),
                ),
            ]
        }
    }
}

/// One Lens visualization.
fn lens(source: &Source, panel: &PanelSource) -> SavedObject {
    let time_field = &source.index_pattern.time_field;
    let mut columns = Map::new();
    let mut order = Vec::new();
    match panel.chart {
        Chart::Table => {
            let split = panel
                .split_by
                .clone()
                .unwrap_or_else(|| source.control.field.clone());
            columns.insert(SPLIT.into(), json!({
                "label": source.control.title, "customLabel": true, "dataType": "string",
                "operationType": "terms", "sourceField": split, "isBucketed": true, "scale": "ordinal",
                "params": {"size": 50, "orderBy": {"type": "alphabetical", "fallback": false},
                           "orderDirection": "asc", "otherBucket": false, "missingBucket": false},
            }));
            order.push(SPLIT.to_owned());
        }
        Chart::Line | Chart::Bar => {
            columns.insert(
                X.into(),
                json!({
                    "label": time_field, "dataType": "date", "operationType": "date_histogram",
                    "sourceField": time_field, "isBucketed": true, "scale": "interval",
                    "params": {"interval": "auto", "includeEmptyRows": true, "dropPartials": false},
                }),
            );
            order.push(X.to_owned());
        }
    }
    let mut accessors = Vec::new();
    for (i, series) in panel.series.iter().enumerate() {
        let id = format!("s{i}");
        for (column_id, column) in metric_columns(&id, series, time_field) {
            columns.insert(column_id.clone(), column);
            order.push(column_id);
        }
        accessors.push(id);
    }
    let (visualization_type, visualization) = match panel.chart {
        Chart::Table => {
            let mut table_columns = vec![json!({"columnId": SPLIT})];
            table_columns.extend(accessors.iter().map(|a| json!({"columnId": a})));
            (
                "lnsDatatable",
                json!({"layerId": LAYER, "layerType": "data", "columns": table_columns}),
            )
        }
        Chart::Line | Chart::Bar => {
            let series_type = if panel.chart == Chart::Line {
                "line"
            } else {
                "bar_stacked"
            };
            (
                "lnsXY",
                json!({
                    "legend": {"isVisible": true, "position": "bottom"},
                    "valueLabels": "hide",
                    "fittingFunction": "None",
                    "preferredSeriesType": series_type,
                    "axisTitlesVisibilitySettings": {"x": false, "yLeft": false, "yRight": false},
                    "layers": [{"layerId": LAYER, "layerType": "data", "seriesType": series_type,
                                "xAccessor": X, "accessors": accessors}],
                }),
            )
        }
    };
    let query = panel
        .only_where
        .as_ref()
        .map(|w| w.query())
        .unwrap_or_default();
    SavedObject {
        id: panel.id.clone(),
        kind: "lens".into(),
        attributes: json!({
            "title": panel.title,
            "description": panel.description,
            "visualizationType": visualization_type,
            "state": {
                "visualization": visualization,
                "query": {"query": query, "language": "kuery"},
                "filters": [],
                "datasourceStates": {"formBased": {"layers": {LAYER: {
                    "columns": columns, "columnOrder": order, "incompleteColumns": {},
                }}}},
                "internalReferences": [],
                "adHocDataViews": {},
            },
        }),
        references: vec![Reference {
            name: format!("indexpattern-datasource-layer-{LAYER}"),
            kind: "index-pattern".into(),
            id: source.index_pattern.id.clone(),
        }],
        migration_version: FORMAT.into(),
    }
}

/// The dashboard: two panels a row, the control above them.
fn dashboard(source: &Source, panels: &[PanelSource]) -> SavedObject {
    let mut panels_json = Vec::new();
    let mut references = Vec::new();
    for (i, panel) in panels.iter().enumerate() {
        let index = format!("p{}", i + 1);
        panels_json.push(json!({
            "version": FORMAT,
            "type": "lens",
            "gridData": {"x": (i % 2) * 24, "y": (i / 2) * 12, "w": 24, "h": 12, "i": index},
            "panelIndex": index,
            "embeddableConfig": {"enhancements": {}},
            "panelRefName": format!("panel_{index}"),
        }));
        references.push(Reference {
            name: format!("{index}:panel_{index}"),
            kind: "lens".into(),
            id: panel.id.clone(),
        });
    }
    let control = &source.control;
    references.push(Reference {
        name: format!("controlGroup_{}:optionsListDataView", control.id),
        kind: "index-pattern".into(),
        id: source.index_pattern.id.clone(),
    });
    let d = &source.dashboard;
    SavedObject {
        id: d.id.clone(),
        kind: "dashboard".into(),
        attributes: json!({
            "title": d.title,
            "description": d.description,
            "timeRestore": true,
            "timeFrom": d.time_from,
            "timeTo": d.time_to,
            "refreshInterval": {"pause": false, "value": 30000},
            "panelsJSON": panels_json,
            "optionsJSON": {"useMargins": true, "syncColors": false, "syncCursor": true,
                            "syncTooltips": false, "hidePanelTitles": false},
            "kibanaSavedObjectMeta": {"searchSourceJSON": {
                "query": {"query": "", "language": "kuery"}, "filter": [],
            }},
            "controlGroupInput": {
                "controlStyle": "oneLine",
                "chainingSystem": "HIERARCHICAL",
                "panelsJSON": {control.id.clone(): {
                    "order": 0, "width": "medium", "grow": true, "type": "optionsListControl",
                    "explicitInput": {"id": control.id, "fieldName": control.field,
                                      "title": control.title, "singleSelect": false,
                                      "enhancements": {}},
                }},
                "ignoreParentSettingsJSON": {"ignoreFilters": false, "ignoreQuery": false,
                                             "ignoreTimerange": false, "ignoreValidations": false},
            },
        }),
        references,
        migration_version: FORMAT.into(),
    }
}
