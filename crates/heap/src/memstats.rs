//! The typed form of the `memstats` expvar variable.

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
