//! Reads the heap history gomon stored and says what a person reading the
//! charts would say.
//!
//! The source article's method, automated: if the GC limit (`NextGC`) and the
//! allocated heap keep rising, there is a leak; a GC CPU fraction in the
//! single-digit percents is GC pressure; history compares releases. Pure code,
//! no I/O: it takes stored documents ([`serde_json::Value`]s, from the file
//! store or Elasticsearch) and returns verdicts with evidence.
//!
//! - [`lifetimes`] groups `golang.heap` documents by target and splits them
//!   where a new process starts;
//! - [`analyze`] estimates the live heap from the troughs of HeapAlloc (not
//!   raw HeapAlloc, which saw-tooths), fits a Theil–Sen trend, and gives a
//!   [`Verdict`]: `leak` (still rising at the end), `plateau` (grew, then
//!   levelled off), `gc-pressure`, `steady`, or `insufficient-data` (saying
//!   how much more is needed);
//! - [`compare`] reports per version (a label from an expvar variable such
//!   as `app.version`, or the command line) the live heap, its trend,
//!   allocation rate, GC frequency, GC CPU fraction and p99 pause, with the
//!   differences against a baseline;
//! - [`attach_profiles`] adds what `golang.profile` documents say: where a
//!   leak grows (the sites of the heap profiles), and a `goroutine-leak`
//!   verdict when the goroutine count climbs;
//! - [`fields`] names the paths of the stored documents, for this crate and
//!   for the agent that writes and queries them.
//!
//! ```
//! use gomon_analyze::{Thresholds, Verdict, analyze, lifetimes};
//! use serde_json::json;
//! // Two minutes of a heap that grows 100 KB a second.
//! let docs: Vec<_> = (0..120).map(|i| json!({
//!     "@timestamp": format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
//!     "metricset": {"name": "heap"},
//!     "service": {"address": "127.0.0.1:6060"},
//!     "golang": {"heap": {"cmdline": "./app", "allocations": {"allocated": 5_000_000 + i * 100_000},
//!                         "gc": {"next_gc_limit": 10_000_000, "total_count": i, "cpu_fraction": 0.001}}}
//! })).collect();
//! let analysis = analyze(&lifetimes(&docs)[0], &Thresholds::default());
//! assert_eq!(analysis.verdict, Verdict::Leak);
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod compare;
mod evidence;
pub mod fields;
mod profiles;
mod regression;
mod report;
mod series;
mod trend;
mod verdict;

pub use compare::{
    CompareError, Comparison, Difference, GroupSummary, compare, compare_with, expvar_labels,
    label_of,
};
pub use evidence::{Analysis, Evidence};
pub use profiles::{
    GoroutineEvidence, GrowingSite, MIN_GOROUTINE_PROFILES, ProfileEvidence, WHERE_SITES,
    profile_evidence,
};
pub use regression::{Change, MeasureChange, SAME_WITHIN, changes};
pub use report::{program_name, table, target_label};
pub use series::{
    GcCycle, LIVE_HEAP_WINDOWS, Lifetime, LiveHeap, LiveHeapSource, Sample, gc_cycles, lifetimes,
    live_heap, live_heap_points, troughs,
};
pub use trend::{MAX_POINTS, Trend, median_of, theil_sen};
pub use verdict::{
    DEFAULT_MIN_SPAN_SECS, MIN_LIVE_HEAP_POINTS, Thresholds, Verdict, analyze,
    analyze_with_profiles, attach_profiles, format_rate,
};
