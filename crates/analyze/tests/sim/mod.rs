//! A simulation of the Go collector's pacing, for verdict tests that
//! cover more programs, windows and periods than recorded runs can.
//!
//! The model: the program allocates garbage at `churn` bytes/s (jittered)
//! on top of what its live heap grows by. A collection starts when HeapAlloc
//! reaches NextGC; after it HeapAlloc is the live heap, and NextGC becomes
//! live × (1 + GOGC/100) (at least 4 MB × GOGC/100), capped by GOMEMLIMIT;
//! with GOGC=off, NextGC is the memory limit (or never). Marking costs CPU in
//! proportion to the live heap, which gives the GC CPU fraction.
#![allow(dead_code)]

use serde_json::{Value, json};

/// A Go program's memory behaviour.
#[derive(Clone, Copy)]
pub struct Program {
    /// Live heap (bytes) at `t` seconds after the process started.
    pub live: fn(f64) -> f64,
    /// Garbage allocated per second, on average.
    pub churn: f64,
    /// GOGC; `None` for GOGC=off.
    pub gogc: Option<f64>,
    /// GOMEMLIMIT, bytes.
    pub memory_limit: Option<f64>,
}

const MIB: f64 = 1024.0 * 1024.0;
/// Heap the runtime keeps besides Go objects, under a memory limit.
const LIMIT_OVERHEAD: f64 = 8.0 * MIB;
const GOMAXPROCS: f64 = 4.0;
/// Marking speed: live bytes per CPU second.
const MARK_BYTES_PER_CPU_SEC: f64 = 1e9;

struct Rng(u64);

impl Rng {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Program {
    fn goal(&self, live: f64) -> f64 {
        let by_gogc = self
            .gogc
            .map(|g| (live * (1.0 + g / 100.0)).max(4.0 * MIB * g / 100.0));
        let by_limit = self
            .memory_limit
            .map(|m| (m - LIMIT_OVERHEAD).max(live + MIB));
        match (by_gogc, by_limit) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => f64::INFINITY,
        }
    }

    /// The `golang.heap` documents gomon would store polling this program
    /// every `period` seconds from `from` to `to` seconds after its start.
    pub fn run(&self, from: f64, to: f64, period: f64, seed: u64) -> Vec<Value> {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let step = 0.05f64.min(period);
        let mut heap = (self.live)(0.0);
        let mut next_gc = self.goal(heap);
        let mut gc_count = 0u64;
        let mut gc_cpu = 0.0;
        let mut total_alloc = heap;
        let mut docs = Vec::new();
        let mut next_sample = from;
        let mut last = (from, total_alloc, 0u64);
        let mut t = 0.0;
        while t <= to + 1e-9 {
            if t + 1e-9 >= next_sample {
                let dt = (t - last.0).max(f64::MIN_POSITIVE);
                let gcs = gc_count - last.2;
                docs.push(document(
                    t,
                    heap,
                    total_alloc,
                    next_gc,
                    gc_count,
                    gc_cpu / (t.max(1.0) * GOMAXPROCS),
                    gcs,
                    (total_alloc - last.1) / dt,
                    gcs as f64 / dt,
                    period,
                ));
                last = (t, total_alloc, gc_count);
                next_sample += period;
            }
            // One step: garbage plus what the live heap grew by.
            let grown = ((self.live)(t + step) - (self.live)(t)).max(0.0);
            let mut alloc = self.churn * step * (0.5 + rng.next()) + grown;
            total_alloc += alloc;
            while heap + alloc >= next_gc {
                let used = (next_gc - heap).max(0.0);
                alloc -= used;
                let at = t + step * (1.0 - alloc / (alloc + used).max(1.0));
                // What is in flight (requests, buffers) moves the live heap
                // by up to 1 % from one collection to the next.
                let live = (self.live)(at) * (1.0 + 0.01 * rng.next());
                gc_count += 1;
                gc_cpu += 1e-4 + live / MARK_BYTES_PER_CPU_SEC;
                heap = live;
                next_gc = self.goal(live);
                if alloc <= 0.0 {
                    break;
                }
            }
            heap += alloc.max(0.0);
            t += step;
        }
        docs
    }
}

#[allow(clippy::too_many_arguments)]
fn document(
    t: f64,
    heap: f64,
    total_alloc: f64,
    next_gc: f64,
    gc_count: u64,
    cpu_fraction: f64,
    gcs: u64,
    alloc_rate: f64,
    gc_rate: f64,
    period: f64,
) -> Value {
    let at = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(1_780_000_000)
        + std::time::Duration::from_secs_f64(t);
    let mut gc = json!({
        "next_gc_limit": if next_gc.is_finite() { next_gc as u64 } else { u64::MAX / 2 },
        "total_count": gc_count,
        "cpu_fraction": cpu_fraction,
    });
    if gcs > 0 {
        gc["pause"] = json!({"count": gcs, "p99": {"ns": 150_000}});
    }
    json!({
        "@timestamp": humantime::format_rfc3339_millis(at).to_string(),
        "metricset": {"name": "heap", "period": (period * 1000.0) as u64},
        "service": {"address": "http://sim:6060/debug/vars"},
        "golang": {"heap": {
            "cmdline": "./sim",
            "allocations": {"allocated": heap as u64, "total": total_alloc as u64},
            "gc": gc,
            "rate": {"allocated_bytes_per_sec": alloc_rate, "gc_cycles_per_sec": gc_rate},
        }}
    })
}
