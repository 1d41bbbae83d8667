//! The dotted field paths of the documents gomon stores, in one place.
//!
//! The analysis reads these paths out of stored documents; the agent builds
//! its Elasticsearch queries and aggregations on them, turns aggregation
//! buckets back into documents with them, and types them in its index
//! template. `gomon-heap` writes the `golang.heap` object with serde (its
//! struct fields are these names), and a test there checks that every path
//! of [`heap::ALL`] is in a serialised `HeapMetrics` and that a serialised
//! `HeapMetrics` has no field missing from it.
//!
//! They live here, in the pure crate that reads stored documents, because
//! the analysis may depend on none of the building blocks (`gomon-heap`
//! among them), while the agent above may depend on it.
//!
//! ```
//! use gomon_analyze::fields::{self, heap};
//! use serde_json::json;
//!
//! let mut doc = json!({});
//! fields::set(&mut doc, heap::ALLOCATIONS_ALLOCATED, json!(5_000_000));
//! assert_eq!(doc, json!({"golang": {"heap": {"allocations": {"allocated": 5_000_000}}}}));
//! assert_eq!(fields::get(&doc, heap::ALLOCATIONS_ALLOCATED).as_u64(), Some(5_000_000));
//! assert!(fields::get(&doc, heap::GC_PAUSE_P99_NS).is_null());
//! ```

use serde_json::Value;

/// When the metrics were taken (RFC 3339).
pub const TIMESTAMP: &str = "@timestamp";
/// The target: the URL fetched (`host:port` in documents of earlier versions).
pub const SERVICE_ADDRESS: &str = "service.address";
/// The metric set: `heap`, `expvar` or `profile`.
pub const METRICSET_NAME: &str = "metricset.name";
/// The collection period, milliseconds.
pub const METRICSET_PERIOD: &str = "metricset.period";
/// `golang.heap` or `golang.<namespace>`.
pub const EVENT_DATASET: &str = "event.dataset";
/// Present (an object) on error documents only.
pub const ERROR: &str = "error";
/// What went wrong, on error documents.
pub const ERROR_MESSAGE: &str = "error.message";
/// The object holding the metric sets: `golang.heap`, `golang.<namespace>`.
pub const GOLANG: &str = "golang";

/// The paths of the `golang.heap` object (Metricbeat's fields and gomon's
/// interval fields), each a leaf of a serialised `gomon_heap::HeapMetrics`.
pub mod heap {
    /// The `golang.heap` object itself.
    pub const OBJECT: &str = "golang.heap";
    /// The program's command line, joined with spaces.
    pub const CMDLINE: &str = "golang.heap.cmdline";
    /// Mallocs.
    pub const ALLOCATIONS_MALLOCS: &str = "golang.heap.allocations.mallocs";
    /// Frees.
    pub const ALLOCATIONS_FREES: &str = "golang.heap.allocations.frees";
    /// HeapObjects.
    pub const ALLOCATIONS_OBJECTS: &str = "golang.heap.allocations.objects";
    /// TotalAlloc, bytes.
    pub const ALLOCATIONS_TOTAL: &str = "golang.heap.allocations.total";
    /// HeapAlloc, bytes.
    pub const ALLOCATIONS_ALLOCATED: &str = "golang.heap.allocations.allocated";
    /// HeapIdle, bytes.
    pub const ALLOCATIONS_IDLE: &str = "golang.heap.allocations.idle";
    /// HeapInuse, bytes.
    pub const ALLOCATIONS_ACTIVE: &str = "golang.heap.allocations.active";
    /// Sys, bytes.
    pub const SYSTEM_TOTAL: &str = "golang.heap.system.total";
    /// HeapSys, bytes.
    pub const SYSTEM_OBTAINED: &str = "golang.heap.system.obtained";
    /// StackSys, bytes.
    pub const SYSTEM_STACK: &str = "golang.heap.system.stack";
    /// HeapReleased, bytes.
    pub const SYSTEM_RELEASED: &str = "golang.heap.system.released";
    /// NextGC, bytes.
    pub const GC_NEXT_GC_LIMIT: &str = "golang.heap.gc.next_gc_limit";
    /// NumGC.
    pub const GC_TOTAL_COUNT: &str = "golang.heap.gc.total_count";
    /// GCCPUFraction since the program started.
    pub const GC_CPU_FRACTION: &str = "golang.heap.gc.cpu_fraction";
    /// PauseTotalNs.
    pub const GC_TOTAL_PAUSE_NS: &str = "golang.heap.gc.total_pause.ns";
    /// GC cycles in the interval (gomon).
    pub const GC_PAUSE_COUNT: &str = "golang.heap.gc.pause.count";
    /// Sum of the interval's pauses (gomon).
    pub const GC_PAUSE_SUM_NS: &str = "golang.heap.gc.pause.sum.ns";
    /// Mean pause of the interval (gomon).
    pub const GC_PAUSE_AVG_NS: &str = "golang.heap.gc.pause.avg.ns";
    /// Longest pause of the interval (gomon).
    pub const GC_PAUSE_MAX_NS: &str = "golang.heap.gc.pause.max.ns";
    /// Median pause of the interval (gomon).
    pub const GC_PAUSE_P50_NS: &str = "golang.heap.gc.pause.p50.ns";
    /// 95th percentile pause of the interval (gomon).
    pub const GC_PAUSE_P95_NS: &str = "golang.heap.gc.pause.p95.ns";
    /// 99th percentile pause of the interval (gomon).
    pub const GC_PAUSE_P99_NS: &str = "golang.heap.gc.pause.p99.ns";
    /// Cycles of the interval no longer in Go's pause ring (gomon).
    pub const GC_PAUSE_MISSED: &str = "golang.heap.gc.pause.missed";
    /// NumForcedGC.
    pub const GC_FORCED_TOTAL_COUNT: &str = "golang.heap.gc.forced.total_count";
    /// Forced cycles in the interval (gomon).
    pub const GC_FORCED_COUNT: &str = "golang.heap.gc.forced.count";
    /// A new process was seen at this snapshot (gomon).
    pub const RESTARTED: &str = "golang.heap.restarted";
    /// Bytes allocated per second over the interval (gomon).
    pub const RATE_ALLOCATED_BYTES_PER_SEC: &str = "golang.heap.rate.allocated_bytes_per_sec";
    /// Mallocs per second (gomon).
    pub const RATE_MALLOCS_PER_SEC: &str = "golang.heap.rate.mallocs_per_sec";
    /// Frees per second (gomon).
    pub const RATE_FREES_PER_SEC: &str = "golang.heap.rate.frees_per_sec";
    /// GC cycles per second (gomon).
    pub const RATE_GC_CYCLES_PER_SEC: &str = "golang.heap.rate.gc_cycles_per_sec";
    /// Pause nanoseconds per second (gomon).
    pub const RATE_GC_PAUSE_NS_PER_SEC: &str = "golang.heap.rate.gc_pause_ns_per_sec";

    /// Every path above except [`OBJECT`]: every leaf a `golang.heap`
    /// document can carry.
    pub const ALL: &[&str] = &[
        CMDLINE,
        ALLOCATIONS_MALLOCS,
        ALLOCATIONS_FREES,
        ALLOCATIONS_OBJECTS,
        ALLOCATIONS_TOTAL,
        ALLOCATIONS_ALLOCATED,
        ALLOCATIONS_IDLE,
        ALLOCATIONS_ACTIVE,
        SYSTEM_TOTAL,
        SYSTEM_OBTAINED,
        SYSTEM_STACK,
        SYSTEM_RELEASED,
        GC_NEXT_GC_LIMIT,
        GC_TOTAL_COUNT,
        GC_CPU_FRACTION,
        GC_TOTAL_PAUSE_NS,
        GC_PAUSE_COUNT,
        GC_PAUSE_SUM_NS,
        GC_PAUSE_AVG_NS,
        GC_PAUSE_MAX_NS,
        GC_PAUSE_P50_NS,
        GC_PAUSE_P95_NS,
        GC_PAUSE_P99_NS,
        GC_PAUSE_MISSED,
        GC_FORCED_TOTAL_COUNT,
        GC_FORCED_COUNT,
        RESTARTED,
        RATE_ALLOCATED_BYTES_PER_SEC,
        RATE_MALLOCS_PER_SEC,
        RATE_FREES_PER_SEC,
        RATE_GC_CYCLES_PER_SEC,
        RATE_GC_PAUSE_NS_PER_SEC,
    ];
}

/// The paths of the `golang.profile` object (the `profile` metric set,
/// written by `gomon_pprof::report`). Sites and stacks are arrays of
/// objects; their fields are given below the array's path.
pub mod profile {
    /// The `golang.profile` object itself.
    pub const OBJECT: &str = "golang.profile";
    /// `first`, `previous` or `delta`: what the heap growth is measured against.
    pub const HEAP_BASIS: &str = "golang.profile.heap.basis";
    /// Seconds the heap growth covers.
    pub const HEAP_WINDOW_SEC: &str = "golang.profile.heap.window.sec";
    /// In-use bytes, all sites.
    pub const HEAP_INUSE_BYTES: &str = "golang.profile.heap.inuse.bytes";
    /// In-use objects, all sites.
    pub const HEAP_INUSE_OBJECTS: &str = "golang.profile.heap.inuse.objects";
    /// Growth of in-use bytes over the window.
    pub const HEAP_GROWTH_BYTES: &str = "golang.profile.heap.growth.bytes";
    /// Growth of in-use objects over the window.
    pub const HEAP_GROWTH_OBJECTS: &str = "golang.profile.heap.growth.objects";
    /// Bytes allocated over the window.
    pub const HEAP_ALLOCATED_BYTES: &str = "golang.profile.heap.allocated.bytes";
    /// Objects allocated over the window.
    pub const HEAP_ALLOCATED_OBJECTS: &str = "golang.profile.heap.allocated.objects";
    /// The site that grew most in the profile: `function file:line`.
    pub const HEAP_TOP_SITE: &str = "golang.profile.heap.top.site";
    /// Its growth in bytes.
    pub const HEAP_TOP_GROWTH_BYTES: &str = "golang.profile.heap.top.growth.bytes";
    /// Its growth in objects.
    pub const HEAP_TOP_GROWTH_OBJECTS: &str = "golang.profile.heap.top.growth.objects";
    /// Its part of the growth of all growing sites (0–1).
    pub const HEAP_TOP_SHARE_PCT: &str = "golang.profile.heap.top.share.pct";
    /// Sites by growth of in-use bytes (an array).
    pub const HEAP_SITES: &str = "golang.profile.heap.sites";
    /// Sites by growth of in-use objects (an array).
    pub const HEAP_OBJECT_SITES: &str = "golang.profile.heap.object_sites";
    /// Goroutines in the program.
    pub const GOROUTINES_COUNT: &str = "golang.profile.goroutines.count";
    /// Change in goroutines since the previous profile.
    pub const GOROUTINES_GROWTH: &str = "golang.profile.goroutines.growth";
    /// Seconds since the previous goroutine profile.
    pub const GOROUTINES_WINDOW_SEC: &str = "golang.profile.goroutines.window.sec";
    /// Places with the most goroutines (an array).
    pub const GOROUTINES_TOP: &str = "golang.profile.goroutines.top";
    /// Places whose goroutines grew the most (an array).
    pub const GOROUTINES_GROWING: &str = "golang.profile.goroutines.growing";

    /// What the analysis reads of a profile document (the `_source` a
    /// search for them asks for), metadata included.
    pub const READ: &[&str] = &[
        super::TIMESTAMP,
        super::METRICSET_NAME,
        super::SERVICE_ADDRESS,
        HEAP_BASIS,
        HEAP_SITES,
        HEAP_GROWTH_BYTES,
        GOROUTINES_COUNT,
        GOROUTINES_GROWING,
    ];

    /// Most profile documents a reader fetches per target and question
    /// (33 hours at the default one-minute period).
    pub const MAX_READ: usize = 2_000;

    /// The fields of one heap site, below [`HEAP_SITES`] / [`HEAP_OBJECT_SITES`].
    pub const SITE_FIELDS: &[&str] = &[
        "function",
        "file",
        "line",
        "inuse.bytes",
        "inuse.objects",
        "growth.bytes",
        "growth.objects",
        "share.pct",
        "stack",
    ];
    /// The fields of one goroutine place, below [`GOROUTINES_TOP`] /
    /// [`GOROUTINES_GROWING`].
    pub const STACK_FIELDS: &[&str] = &["function", "file", "line", "count", "growth", "stack"];
}

/// The value at a dotted path, `Null` where any step is missing or not an
/// object (as `doc["a"]["b"]` would give).
pub fn get<'a>(doc: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(doc, |node, key| &node[key])
}

/// Puts `value` at a dotted path, making the objects on the way (as
/// `doc["a"]["b"] = value` would).
///
/// # Panics
///
/// When a step on the way holds something other than an object or `null`.
pub fn set(doc: &mut Value, path: &str, value: Value) {
    let mut node = doc;
    for key in path.split('.') {
        node = &mut node[key];
    }
    *node = value;
}

/// `path` below `prefix`: `below("golang.heap", "golang.heap.gc.total_count")`
/// is `Some("gc.total_count")`.
pub fn below<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    path.strip_prefix(prefix)?.strip_prefix('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_reads_what_nested_indexing_reads() {
        let doc = json!({"@timestamp": "t", "service": {"address": "a:1"}, "golang": {"heap": {"gc": {"total_count": 3}}}});
        assert_eq!(get(&doc, TIMESTAMP), &doc["@timestamp"]);
        assert_eq!(get(&doc, SERVICE_ADDRESS), "a:1");
        assert_eq!(get(&doc, heap::GC_TOTAL_COUNT), 3);
        assert!(get(&doc, heap::GC_PAUSE_P99_NS).is_null());
        assert!(get(&json!("text"), SERVICE_ADDRESS).is_null());
    }

    #[test]
    fn set_makes_the_objects_on_the_way_and_keeps_their_siblings() {
        let mut doc = json!({"golang": {"heap": {"gc": {"total_count": 3}}}});
        set(&mut doc, heap::GC_PAUSE_P99_NS, json!(7));
        set(&mut doc, METRICSET_NAME, json!("heap"));
        assert_eq!(
            doc,
            json!({"metricset": {"name": "heap"}, "golang": {"heap": {"gc": {"total_count": 3, "pause": {"p99": {"ns": 7}}}}}})
        );
    }

    #[test]
    fn every_heap_path_is_below_the_heap_object_and_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for path in heap::ALL {
            assert!(below(heap::OBJECT, path).is_some(), "{path}");
            assert!(seen.insert(*path), "{path} listed twice");
        }
        assert_eq!(below(heap::OBJECT, "golang.heapish.x"), None);
    }
}
