//! Turns Go's `runtime.MemStats` into `golang.heap` documents.
//!
//! Pure code, no I/O. [`MemStats`] is the typed form of the `memstats`
//! variable every Go program with `expvar` publishes; [`HeapMetrics`] is the
//! `golang.heap` object of Metricbeat's golang module, field for field, so
//! Kibana dashboards built on Metricbeat's data read gomon's unchanged.
//!
//! ```
//! use gomon_heap::{HeapMetrics, MemStats};
//! let memstats: MemStats = serde_json::from_str(r#"{"HeapAlloc": 1024, "HeapSys": 4096}"#).unwrap();
//! let heap = HeapMetrics::from_memstats(&memstats, &["./app", "-addr", ":6060"]);
//! assert_eq!(heap.allocations.allocated, 1024);
//! assert_eq!(heap.cmdline, "./app -addr :6060");
//! ```
//!
//! Not yet here: the per-interval GC pause statistics (`gc.pause.*`), which
//! need state across snapshots of one process.

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

use serde::{Deserialize, Serialize};

/// Go's `runtime.MemStats` as `expvar` publishes it (field names as in Go).
///
/// Fields missing from the JSON (older Go versions) read as zero; fields this
/// struct does not know (newer Go versions) are kept in [`MemStats::other`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)] // Each field is documented by Go's runtime.MemStats.
pub struct MemStats {
    pub alloc: u64,
    pub total_alloc: u64,
    pub sys: u64,
    pub lookups: u64,
    pub mallocs: u64,
    pub frees: u64,
    pub heap_alloc: u64,
    pub heap_sys: u64,
    pub heap_idle: u64,
    pub heap_inuse: u64,
    pub heap_released: u64,
    pub heap_objects: u64,
    pub stack_inuse: u64,
    pub stack_sys: u64,
    #[serde(rename = "MSpanInuse")]
    pub mspan_inuse: u64,
    #[serde(rename = "MSpanSys")]
    pub mspan_sys: u64,
    #[serde(rename = "MCacheInuse")]
    pub mcache_inuse: u64,
    #[serde(rename = "MCacheSys")]
    pub mcache_sys: u64,
    pub buck_hash_sys: u64,
    #[serde(rename = "GCSys")]
    pub gc_sys: u64,
    pub other_sys: u64,
    #[serde(rename = "NextGC")]
    pub next_gc: u64,
    #[serde(rename = "LastGC")]
    pub last_gc: u64,
    pub pause_total_ns: u64,
    /// Ring of the last 256 GC pauses: cycle n sits at `pause_ns[(n-1) % 256]`.
    pub pause_ns: Vec<u64>,
    /// Ring of the end times (Unix ns) of the last 256 GC pauses.
    pub pause_end: Vec<u64>,
    #[serde(rename = "NumGC")]
    pub num_gc: u32,
    #[serde(rename = "NumForcedGC")]
    pub num_forced_gc: u32,
    #[serde(rename = "GCCPUFraction")]
    pub gc_cpu_fraction: f64,
    #[serde(rename = "EnableGC")]
    pub enable_gc: bool,
    #[serde(rename = "DebugGC")]
    pub debug_gc: bool,
    /// Fields of newer Go versions, kept verbatim (`BySize` too).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// `golang.heap.allocations`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocations {
    /// `Mallocs`: cumulative count of heap objects allocated.
    pub mallocs: u64,
    /// `Frees`: cumulative count of heap objects freed.
    pub frees: u64,
    /// `HeapObjects`: live heap objects.
    pub objects: u64,
    /// `TotalAlloc`: cumulative bytes allocated.
    pub total: u64,
    /// `HeapAlloc`: bytes of allocated heap objects.
    pub allocated: u64,
    /// `HeapIdle`: bytes in idle spans.
    pub idle: u64,
    /// `HeapInuse`: bytes in in-use spans.
    pub active: u64,
}

/// `golang.heap.system`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    /// `Sys`: bytes obtained from the OS in total.
    pub total: u64,
    /// `HeapSys`: heap bytes obtained from the OS.
    pub obtained: u64,
    /// `StackSys`: stack bytes obtained from the OS.
    pub stack: u64,
    /// `HeapReleased`: heap bytes returned to the OS.
    pub released: u64,
}

/// A duration in nanoseconds, as Metricbeat nests it (`{"ns": n}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nanos {
    /// Nanoseconds.
    pub ns: u64,
}

/// `golang.heap.gc`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Gc {
    /// `NextGC`: heap size at which the next cycle starts.
    pub next_gc_limit: u64,
    /// `NumGC`: completed cycles.
    pub total_count: u32,
    /// `GCCPUFraction`: share of CPU time spent in GC since the program started.
    pub cpu_fraction: f64,
    /// `PauseTotalNs`: cumulative stop-the-world pause time.
    pub total_pause: Nanos,
}

/// The `golang.heap` object of one document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeapMetrics {
    /// `cmdline` joined with spaces.
    pub cmdline: String,
    /// Allocation counters and heap sizes.
    pub allocations: Allocations,
    /// Memory obtained from the operating system.
    pub system: System,
    /// Garbage collector state.
    pub gc: Gc,
}

impl HeapMetrics {
    /// Maps one `MemStats` and the program's `cmdline` to Metricbeat's fields.
    pub fn from_memstats<S: AsRef<str>>(m: &MemStats, cmdline: &[S]) -> HeapMetrics {
        HeapMetrics {
            cmdline: cmdline
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(" "),
            allocations: Allocations {
                mallocs: m.mallocs,
                frees: m.frees,
                objects: m.heap_objects,
                total: m.total_alloc,
                allocated: m.heap_alloc,
                idle: m.heap_idle,
                active: m.heap_inuse,
            },
            system: System {
                total: m.sys,
                obtained: m.heap_sys,
                stack: m.stack_sys,
                released: m.heap_released,
            },
            gc: Gc {
                next_gc_limit: m.next_gc,
                total_count: m.num_gc,
                cpu_fraction: m.gc_cpu_fraction,
                total_pause: Nanos {
                    ns: m.pause_total_ns,
                },
            },
        }
    }
}

/// A `memstats` value that is not a `runtime.MemStats` object.
#[derive(Debug, thiserror::Error)]
#[error("memstats is not a runtime.MemStats object: {0}")]
pub struct MemStatsError(#[from] serde_json::Error);

impl MemStats {
    /// Reads the `memstats` variable of an expvar object.
    pub fn from_json(value: &serde_json::Value) -> Result<MemStats, MemStatsError> {
        Ok(MemStats::deserialize(value)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_memstats_fields_are_kept_and_missing_ones_read_as_zero() {
        let m = MemStats::from_json(&serde_json::json!({"HeapAlloc": 7, "NewInGo2": 1})).unwrap();
        assert_eq!(m.heap_alloc, 7);
        assert_eq!(m.num_gc, 0);
        assert_eq!(m.other["NewInGo2"], 1);
    }

    #[test]
    fn a_string_where_a_counter_belongs_is_an_error_naming_the_problem() {
        let err = MemStats::from_json(&serde_json::json!({"NumGC": "many"})).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}
