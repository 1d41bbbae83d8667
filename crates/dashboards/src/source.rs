//! The readable source of the dashboards: panels as fields, aggregations
//! and formats, the same for Kibana and OpenSearch Dashboards.

use serde::Deserialize;

use crate::{Flavor, SavedObject, kibana, opensearch};

/// The whole source (`dashboards/gomon-golang.json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Source {
    /// The data view / index pattern every panel reads.
    pub index_pattern: IndexPatternSource,
    /// The dashboard.
    pub dashboard: DashboardSource,
    /// The control that picks Go programs.
    pub control: ControlSource,
    /// The heap and GC panels, in dashboard order.
    pub panels: Vec<PanelSource>,
    /// The panel of the program's own expvar variables.
    pub expvar: ExpvarSource,
}

/// The data view (Kibana) or index pattern (OpenSearch Dashboards).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexPatternSource {
    /// Saved object id.
    pub id: String,
    /// The index pattern, `gomon-golang*` (gomon's default index and its dated indices).
    pub title: String,
    /// Display name (Kibana data views).
    pub name: String,
    /// The time field.
    pub time_field: String,
}

/// The dashboard's own attributes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DashboardSource {
    /// Saved object id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Time range start stored with the dashboard (`now-1h`).
    pub time_from: String,
    /// Time range end (`now`).
    pub time_to: String,
}

/// The control that filters every panel to the chosen Go programs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ControlSource {
    /// Id of the control (and of the OpenSearch Dashboards control visualization).
    pub id: String,
    /// Label.
    pub title: String,
    /// The keyword field offered (`service.address`).
    pub field: String,
}

/// How a panel draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chart {
    /// One row per value of `split_by`, one column per series.
    Table,
    /// Lines over time.
    Line,
    /// Bars over time.
    Bar,
}

/// How a series aggregates its field within a time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Largest value.
    Max,
    /// Mean.
    Avg,
    /// Sum.
    Sum,
    /// Value of the newest document.
    Last,
    /// Number of documents (no field).
    Count,
    /// Change of the bucket's max from the previous bucket (Timelion's `derivative()`).
    Differences,
}

impl Op {
    /// Whether the op reads a numeric field.
    pub fn needs_number(self) -> bool {
        !matches!(self, Op::Count)
    }
}

/// How values are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Plain number.
    Number,
    /// Bytes (KB, MB, ...).
    Bytes,
    /// A fraction shown as a percentage.
    Percent,
}

/// One series of a panel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// The field; none for [`Op::Count`].
    #[serde(default)]
    pub field: Option<String>,
    /// Aggregation.
    pub op: Op,
    /// Display format.
    pub format: Format,
}

/// A filter of a whole panel: documents where `field` equals `value`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Where {
    /// Field.
    pub field: String,
    /// Value (a boolean, number or string).
    pub value: serde_json::Value,
}

impl Where {
    /// The KQL / Lucene query (`golang.heap.restarted : true`).
    pub fn query(&self) -> String {
        match &self.value {
            serde_json::Value::String(s) => format!("{} : \"{}\"", self.field, s),
            other => format!("{} : {}", self.field, other),
        }
    }
}

/// One panel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PanelSource {
    /// Saved object id of its visualization.
    pub id: String,
    /// Title.
    pub title: String,
    /// What it shows.
    pub description: String,
    /// Chart type.
    pub chart: Chart,
    /// Series, in legend order.
    pub series: Vec<Series>,
    /// A keyword field to split by (the table's rows).
    #[serde(default)]
    pub split_by: Option<String>,
    /// Only documents matching this.
    #[serde(default)]
    pub only_where: Option<Where>,
}

/// The expvar panel: one series per variable, the change per time bucket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExpvarSource {
    /// Saved object id.
    pub id: String,
    /// Title.
    pub title: String,
    /// What it shows.
    pub description: String,
    /// The expvar namespace (`golang.<namespace>`).
    pub namespace: String,
    /// The variables, by their published name.
    pub variables: Vec<ExpvarVariable>,
}

/// One expvar variable of the expvar panel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExpvarVariable {
    /// The name the program publishes (`output.elasticsearch.events.acked`).
    pub name: String,
    /// Legend label.
    pub label: String,
}

impl ExpvarSource {
    /// The field of a variable: `golang.<namespace>.<name>`.
    pub fn field(&self, variable: &ExpvarVariable) -> String {
        format!("golang.{}.{}", self.namespace, variable.name)
    }

    /// The expvar panel as a line panel of differences.
    pub fn panel(&self) -> PanelSource {
        PanelSource {
            id: self.id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            chart: Chart::Line,
            series: self
                .variables
                .iter()
                .map(|v| Series {
                    label: v.label.clone(),
                    field: Some(self.field(v)),
                    op: Op::Differences,
                    format: Format::Number,
                })
                .collect(),
            split_by: None,
            only_where: None,
        }
    }
}

impl Source {
    /// The source shipped with gomon; its expvar panel charts the source
    /// article's `golang.metricbeat.output.elasticsearch.events.acked` and
    /// `not_acked`.
    pub fn builtin() -> Source {
        // The file is part of this crate's build and checked by its tests.
        serde_json::from_str(crate::SOURCE).expect("dashboards/gomon-golang.json is valid")
    }

    /// The same source with the expvar panel charting other variables
    /// (`namespace` as in `expvar.namespace`, each variable by its
    /// published name; the label is the name).
    pub fn with_expvar(mut self, namespace: &str, variables: &[&str]) -> Source {
        self.expvar.namespace = namespace.to_owned();
        self.expvar.variables = variables
            .iter()
            .map(|name| ExpvarVariable {
                name: (*name).to_owned(),
                label: (*name).to_owned(),
            })
            .collect();
        self
    }

    /// Every panel in dashboard order, the expvar panel last.
    pub fn all_panels(&self) -> Vec<PanelSource> {
        let mut panels = self.panels.clone();
        panels.push(self.expvar.panel());
        panels
    }

    /// The saved objects for `flavor`: the data view first, the dashboard last.
    pub fn objects(&self, flavor: Flavor) -> Vec<SavedObject> {
        match flavor {
            Flavor::Kibana => kibana::objects(self),
            Flavor::OpenSearchDashboards => opensearch::objects(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_source_parses_and_charts_the_articles_variables() {
        let source = Source::builtin();
        assert!(source.panels.len() >= 10);
        let fields: Vec<String> = source
            .expvar
            .variables
            .iter()
            .map(|v| source.expvar.field(v))
            .collect();
        assert_eq!(
            fields,
            [
                "golang.metricbeat.output.elasticsearch.events.acked",
                "golang.metricbeat.output.elasticsearch.events.not_acked"
            ]
        );
    }

    #[test]
    fn with_expvar_replaces_the_variables() {
        let source = Source::builtin().with_expvar("app", &["requests"]);
        assert_eq!(
            source.expvar.panel().series[0].field.as_deref(),
            Some("golang.app.requests")
        );
        assert_eq!(source.expvar.panel().series.len(), 1);
    }
}
