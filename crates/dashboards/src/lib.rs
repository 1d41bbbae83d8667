//! Kibana and OpenSearch Dashboards saved objects for gomon's `golang`
//! documents, and their installation.
//!
//! One readable source, `dashboards/gomon-golang.json` (embedded here as
//! [`SOURCE`]), lists the panels: which fields, which aggregation, which
//! format. From it:
//!
//! - [`kibana`] builds a data view for `gomon-golang*`, one Lens
//!   visualization per panel (Kibana 8.6+ `formBased` layers), an
//!   options-list control on `service.address` and the dashboard;
//! - [`opensearch`] builds the same content for OpenSearch Dashboards 2.x
//!   with its classic visualizations (`line`, `histogram`, `table`,
//!   `input_control_vis`), which has no Lens;
//! - [`SavedObject::to_ndjson_line`] writes what the saved objects import API
//!   takes: the attributes Kibana stores as JSON strings (`panelsJSON`,
//!   `visState`, `searchSourceJSON`, ...) are written readable in the code
//!   and serialised to strings here, once;
//! - [`install`] detects Kibana or OpenSearch Dashboards and its version
//!   and imports the objects with `overwrite=true`.
//!
//! Every id is fixed, so importing again overwrites instead of duplicating.
//!
//! ```
//! use gomon_dashboards::{Flavor, Source};
//!
//! let source = Source::builtin();
//! let objects = source.objects(Flavor::Kibana);
//! assert!(objects.iter().any(|o| o.kind == "dashboard"));
//! let ndjson = gomon_dashboards::to_ndjson(&objects);
//! assert_eq!(ndjson.lines().count(), objects.len());
//! ```

#![deny(missing_docs)]

pub mod install;
pub mod kibana;
pub mod opensearch;
mod saved;
mod source;

pub use install::{Connection, DashboardError, ImportReport, Server};
pub use saved::{Reference, SavedObject, to_ndjson};
pub use source::{
    Chart, ControlSource, DashboardSource, ExpvarSource, ExpvarVariable, Format,
    IndexPatternSource, Op, PanelSource, Series, Source, Where,
};

/// The readable source of the saved objects (`dashboards/gomon-golang.json`).
pub const SOURCE: &str = include_str!("../../../dashboards/gomon-golang.json");

/// Which application the saved objects are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Kibana 8.6 and later (8.x, 9.x).
    Kibana,
    /// OpenSearch Dashboards 2.x.
    OpenSearchDashboards,
}

impl Flavor {
    /// `Kibana` or `OpenSearch Dashboards`.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Kibana => "Kibana",
            Flavor::OpenSearchDashboards => "OpenSearch Dashboards",
        }
    }

    /// The header the saved objects API requires on writes (`kbn-xsrf` / `osd-xsrf`).
    pub fn xsrf_header(self) -> &'static str {
        match self {
            Flavor::Kibana => "kbn-xsrf",
            Flavor::OpenSearchDashboards => "osd-xsrf",
        }
    }

    /// The file name of the generated NDJSON (under `dashboards/kibana/` or
    /// `dashboards/opensearch/` in the repository).
    pub fn file_name(self) -> &'static str {
        "gomon-golang.ndjson"
    }

    /// The folder under `dashboards/` that holds the generated NDJSON.
    pub fn folder(self) -> &'static str {
        match self {
            Flavor::Kibana => "kibana",
            Flavor::OpenSearchDashboards => "opensearch",
        }
    }
}
