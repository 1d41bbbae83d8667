//! The `golang.heap` document: Metricbeat's fields, then gomon's additions.

use serde::{Deserialize, Serialize};

use crate::{MemStats, PauseStats};

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

/// `golang.heap.gc.forced` (gomon): forced collections (`runtime.GC()`, `debug.FreeOSMemory()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forced {
    /// `NumForcedGC`: forced cycles since the program started.
    pub total_count: u32,
    /// Forced cycles in this interval; absent on a process's first snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
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
    /// Pauses of the cycles completed since the previous snapshot. Absent on
    /// the first snapshot gomon takes of a process, whose history is of
    /// unknown length (see `docs/fields.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<PauseStats>,
    /// Forced cycles (gomon).
    pub forced: Forced,
}

/// `golang.heap.rate` (gomon): per-second rates of the cumulative counters
/// over the interval since the previous snapshot. Absent on the first
/// snapshot of a process and on the snapshot that detects a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Bytes allocated per second (`TotalAlloc`).
    pub allocated_bytes_per_sec: f64,
    /// Heap objects allocated per second (`Mallocs`).
    pub mallocs_per_sec: f64,
    /// Heap objects freed per second (`Frees`).
    pub frees_per_sec: f64,
    /// GC cycles completed per second (`NumGC`).
    pub gc_cycles_per_sec: f64,
    /// Stop-the-world pause time per second of wall time, in ns (`PauseTotalNs`).
    pub gc_pause_ns_per_sec: f64,
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
    /// True when this snapshot is of a new process: a cumulative counter went
    /// down or the command line changed since the previous snapshot (gomon).
    pub restarted: bool,
    /// Per-second rates (gomon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rates>,
}

impl HeapMetrics {
    /// Maps one `MemStats` and the program's `cmdline`, without the interval
    /// fields (`gc.pause`, `gc.forced.count`, `rate`) that need the previous
    /// snapshot: [`crate::HeapState`] adds those.
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
                pause: None,
                forced: Forced {
                    total_count: m.num_forced_gc,
                    count: None,
                },
            },
            restarted: false,
            rate: None,
        }
    }
}
