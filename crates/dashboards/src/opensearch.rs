//! OpenSearch Dashboards 2.x saved objects: an index pattern, classic
//! visualizations (`line`, `histogram`, `table`; no Lens there), an
//! `input_control_vis` on `service.address` and the dashboard.

use serde_json::{Value, json};

use crate::source::{Chart, Op, PanelSource, Series, Source};
use crate::{Reference, SavedObject};

const SEARCH_INDEX: &str = "kibanaSavedObjectMeta.searchSourceJSON.index";

/// Every saved object: the index pattern, the control, one visualization
/// per panel, the dashboard.
pub(crate) fn objects(source: &Source) -> Vec<SavedObject> {
    let ip = &source.index_pattern;
    let mut objects = vec![SavedObject {
        id: ip.id.clone(),
        kind: "index-pattern".into(),
        attributes: json!({"title": ip.title, "timeFieldName": ip.time_field}),
        references: vec![],
        migration_version: "7.6.0".into(),
    }];
    objects.push(control(source));
    let panels = source.all_panels();
    for panel in &panels {
        objects.push(visualization(source, panel));
    }
    objects.push(dashboard(source, &panels));
    objects
}

fn search_source(query: &str) -> Value {
    json!({"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": SEARCH_INDEX})
}

fn index_reference(source: &Source) -> Reference {
    Reference {
        name: SEARCH_INDEX.into(),
        kind: "index-pattern".into(),
        id: source.index_pattern.id.clone(),
    }
}

/// The list control on `service.address`.
fn control(source: &Source) -> SavedObject {
    let c = &source.control;
    let vis_state = json!({
        "title": c.title, "type": "input_control_vis", "aggs": [],
        "params": {
            "controls": [{"id": "1", "fieldName": c.field, "label": c.title, "type": "list",
                          "options": {"type": "terms", "multiselect": true, "dynamicOptions": true,
                                      "size": 50, "order": "desc"},
                          "parent": "", "indexPatternRefName": "control_0_index_pattern"}],
            "updateFiltersOnChange": true, "useTimeFilter": true, "pinFilters": false,
        },
    });
    SavedObject {
        id: c.id.clone(),
        kind: "visualization".into(),
        attributes: json!({
            "title": c.title, "description": "", "version": 1,
            "visState": vis_state, "uiStateJSON": {},
            "kibanaSavedObjectMeta": {"searchSourceJSON": {"query": {"query": "", "language": "kuery"}, "filter": []}},
        }),
        references: vec![Reference {
            name: "control_0_index_pattern".into(),
            kind: "index-pattern".into(),
            id: source.index_pattern.id.clone(),
        }],
        migration_version: "7.10.0".into(),
    }
}

/// The metric aggregation of one series.
fn metric_agg(id: &str, series: &Series, time_field: &str) -> Value {
    let field = series.field.clone().unwrap_or_default();
    let label = &series.label;
    let simple = |agg: &str| {
        json!({"id": id, "enabled": true, "type": agg, "schema": "metric",
               "params": {"field": field, "customLabel": label}})
    };
    match series.op {
        Op::Max => simple("max"),
        Op::Avg => simple("avg"),
        Op::Sum => simple("sum"),
        Op::Last => json!({"id": id, "enabled": true, "type": "top_hits", "schema": "metric",
                           "params": {"field": field, "aggregate": "concat", "size": 1,
                                      "sortField": time_field, "sortOrder": "desc",
                                      "customLabel": label}}),
        Op::Count => json!({"id": id, "enabled": true, "type": "count", "schema": "metric",
                            "params": {"customLabel": label}}),
        Op::Differences => {
            json!({"id": id, "enabled": true, "type": "derivative", "schema": "metric",
                                  "params": {"metricAgg": "custom", "customLabel": label,
                                             "customMetric": {"id": format!("{id}-metric"), "enabled": true,
                                                              "type": "max", "schema": "orderAgg",
                                                              "params": {"field": field}}}})
        }
    }
}

/// One classic visualization.
fn visualization(source: &Source, panel: &PanelSource) -> SavedObject {
    let time_field = &source.index_pattern.time_field;
    let mut aggs: Vec<Value> = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| metric_agg(&(i + 1).to_string(), s, time_field))
        .collect();
    let bucket_id = (panel.series.len() + 1).to_string();
    let vis_type = match panel.chart {
        Chart::Table => "table",
        Chart::Line => "line",
        Chart::Bar => "histogram",
    };
    let params = match panel.chart {
        Chart::Table => {
            let split = panel
                .split_by
                .clone()
                .unwrap_or_else(|| source.control.field.clone());
            aggs.push(json!({"id": bucket_id, "enabled": true, "type": "terms", "schema": "bucket",
                             "params": {"field": split, "size": 50, "order": "asc", "orderBy": "_key",
                                        "customLabel": source.control.title}}));
            json!({"perPage": 10, "showPartialRows": false, "showMetricsAtAllLevels": false,
                   "showTotal": false, "totalFunc": "sum", "percentageCol": ""})
        }
        Chart::Line | Chart::Bar => {
            aggs.push(json!({"id": bucket_id, "enabled": true, "type": "date_histogram", "schema": "segment",
                             "params": {"field": time_field, "interval": "auto", "min_doc_count": 1,
                                        "extended_bounds": {}}}));
            let mode = if panel.chart == Chart::Line {
                "normal"
            } else {
                "stacked"
            };
            let series_type = if panel.chart == Chart::Line {
                "line"
            } else {
                "histogram"
            };
            let series_params: Vec<Value> = panel
                .series
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    json!({
                        "show": true, "type": series_type, "mode": mode,
                        "data": {"label": s.label, "id": (i + 1).to_string()},
                        "valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": true,
                        "showCircles": true, "lineWidth": 2, "interpolate": "linear",
                    })
                })
                .collect();
            json!({
                "type": series_type, "grid": {"categoryLines": false},
                "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "bottom",
                                  "show": true, "scale": {"type": "linear"},
                                  "labels": {"show": true, "truncate": 100}, "title": {}}],
                "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value",
                               "position": "left", "show": true,
                               "scale": {"type": "linear", "mode": "normal"},
                               "labels": {"show": true, "rotate": 0, "filter": false, "truncate": 100},
                               "title": {"text": ""}}],
                "seriesParams": series_params,
                "addTooltip": true, "addLegend": true, "legendPosition": "bottom",
                "times": [], "addTimeMarker": false, "labels": {},
                "thresholdLine": {"show": false, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
            })
        }
    };
    let query = panel
        .only_where
        .as_ref()
        .map(|w| w.query())
        .unwrap_or_default();
    SavedObject {
        id: panel.id.clone(),
        kind: "visualization".into(),
        attributes: json!({
            "title": panel.title,
            "description": panel.description,
            "version": 1,
            "visState": {"title": panel.title, "type": vis_type, "aggs": aggs, "params": params},
            "uiStateJSON": {},
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source(&query)},
        }),
        references: vec![index_reference(source)],
        migration_version: "7.10.0".into(),
    }
}

/// The dashboard: the control on top, then two panels a row.
fn dashboard(source: &Source, panels: &[PanelSource]) -> SavedObject {
    let mut ids = vec![source.control.id.clone()];
    ids.extend(panels.iter().map(|p| p.id.clone()));
    let mut panels_json = Vec::new();
    let mut references = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (x, y, w, h) = if i == 0 {
            (0, 0, 48, 5)
        } else {
            (((i - 1) % 2) * 24, 5 + ((i - 1) / 2) * 12, 24, 12)
        };
        let index = (i + 1).to_string();
        panels_json.push(json!({
            "version": "2.19.0",
            "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
            "panelIndex": index,
            "embeddableConfig": {},
            "panelRefName": format!("panel_{i}"),
        }));
        references.push(Reference {
            name: format!("panel_{i}"),
            kind: "visualization".into(),
            id: id.clone(),
        });
    }
    let d = &source.dashboard;
    SavedObject {
        id: d.id.clone(),
        kind: "dashboard".into(),
        attributes: json!({
            "title": d.title,
            "description": d.description,
            "hits": 0,
            "version": 1,
            "timeRestore": true,
            "timeFrom": d.time_from,
            "timeTo": d.time_to,
            "refreshInterval": {"pause": false, "value": 30000},
            "panelsJSON": panels_json,
            "optionsJSON": {"useMargins": true, "hidePanelTitles": false},
            "kibanaSavedObjectMeta": {"searchSourceJSON": {"query": {"query": "", "language": "kuery"}, "filter": []}},
        }),
        references,
        migration_version: "7.9.3".into(),
    }
}
