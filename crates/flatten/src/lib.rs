//! Turns the custom variables of a Go program into `golang.<namespace>` documents.
//!
//! Pure code, no I/O. A Go program's `/debug/vars` holds whatever it
//! published with `expvar`: counters, gauges, strings and nested maps, often
//! with dotted names such as `output.events.acked`. A [`Flattener`] (one per
//! target) turns each snapshot of that object into the `golang.<namespace>`
//! part of a document, in one of two [`Mode`]s:
//!
//! - **flatten** (default): nested maps become dotted paths
//!   (`stats.work.items`), `cmdline` one string, `memstats` left to the heap
//!   mapper, nulls dropped, paths selected by [`PathGlob`]s, arrays kept,
//!   dropped or expanded ([`ArrayPolicy`]);
//! - **metricbeat**: the whole object as Metricbeat's `expvar` metric set
//!   writes it (dotted keys literal, `memstats` in full), `cmdline` joined,
//!   nulls dropped at every depth.
//!
//! In both, integers stay exact (`u64`/`i64`, never through `f64`), types
//! stay stable across snapshots (a value that would conflict with the
//! path's earlier type is dropped and counted, instead of making
//! Elasticsearch reject the whole document), per-second rates of chosen
//! counters are added under `_rate`, and limits on depth, field count and
//! key length bound the work; what they drop is counted under `_dropped`.
//!
//! ```
//! use std::time::Instant;
//! use gomon_flatten::{FlattenConfig, Flattener};
//! use serde_json::json;
//!
//! let config = FlattenConfig::new("myapp").unwrap().rate("output.events.acked").unwrap();
//! let mut flattener = Flattener::new(config);
//! let vars = json!({"stats": {"work": {"items": 3}}, "output.events.acked": 9007199254740993u64});
//! let doc = flattener.flatten(vars.as_object().unwrap(), Instant::now());
//! assert_eq!(doc.dataset(), "golang.myapp");
//! assert_eq!(doc.fields()["output.events.acked"], json!(9007199254740993u64));
//! assert_eq!(doc.fields()["stats.work.items"], json!(3));
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod config;
mod flattener;
mod glob;
mod memory;

pub use config::{ArrayPolicy, DeclaredType, FlattenConfig, Limits, Mode};
pub use flattener::{Dropped, ExpvarDocument, Flattener};
pub use glob::PathGlob;

/// A configuration the flattener refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlattenError {
    /// No namespace: Metricbeat requires one too (`expvar.namespace`).
    #[error(
        "expvar namespace is missing: set expvar.namespace (documents go under golang.<namespace>)"
    )]
    MissingNamespace,
    /// A namespace with characters that would break the field path.
    #[error("expvar namespace {namespace:?} has {character:?}: use letters, digits, '_' or '-'")]
    InvalidNamespace {
        /// The namespace given.
        namespace: String,
        /// The first character not allowed.
        character: char,
    },
    /// A glob that cannot be compiled.
    #[error("invalid path glob {pattern:?}: {reason}")]
    InvalidGlob {
        /// The pattern given.
        pattern: String,
        /// Why.
        reason: String,
    },
}
