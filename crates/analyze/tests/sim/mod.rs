//! A simulation of the Go collector's pacing, for verdict tests that
//! cover more programs, windows and periods than recorded runs can.
//!
//! The model: the program allocates garbage at `churn` bytes/s (jittered)
//! on top of what its live heap grows by. A collection starts when HeapAlloc
//! reaches NextGC; after it HeapAlloc is the live heap, and NextGC becomes
//! live × (1 + GOGC/100) (at least 4 MB × GOGC/100), capped by GOMEMLIMIT;
//! with GOGC=off, NextGC is the memory limit (or never). Marking costs CPU in
//! proportion to the live heap, which gives the GC CPU fraction.
#![allow(dead_code, unreachable_pub)] // Shared by the verdict matrix and the store test of `gomon analyze`.

use gomon_analyze::Verdict::{self, InsufficientData as Unsure, Leak, Plateau, Steady};
use serde_json::{Value, json};
use std::rc::Rc;

/// A Go program's memory behaviour.
#[derive(Clone)]
pub struct Program {
    /// Live heap (bytes) at `t` seconds after the process started.
    pub live: Rc<dyn Fn(f64) -> f64>,
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

const MB: f64 = 1e6;
const GB: f64 = 1e9;
const H: f64 = 3600.0;

/// Where in a process's life the window lies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// The first two minutes.
    Early,
    /// Half an hour, from 30 min to 60 min.
    Middle,
    /// Twenty minutes from 3 h, the program's heap above 1 GB.
    Late,
    /// Three hours from 1 h, the program's heap above 1 GB (for the stores,
    /// whose time buckets then hold several samples).
    Long,
}

impl Window {
    /// Seconds after the process started: from, to.
    pub fn range(self) -> (f64, f64) {
        match self {
            Window::Early => (0.0, 120.0),
            Window::Middle => (1800.0, 3600.0),
            Window::Late => (3.0 * H, 3.0 * H + 1200.0),
            Window::Long => (H, 4.0 * H),
        }
    }
}

/// A kind of program, at two sizes, with the verdicts that are right for it.
pub struct Behaviour {
    /// What it is.
    pub name: &'static str,
    /// The program in the early and middle windows (tens of MB).
    pub small: Program,
    /// The program in the late window (above 1 GB).
    pub large: Program,
    /// Verdicts that are right, per window.
    pub right: fn(Window) -> &'static [Verdict],
}

/// A program paced by GOGC=100, without a memory limit.
pub fn program(live: impl Fn(f64) -> f64 + 'static, churn: f64) -> Program {
    Program {
        live: Rc::new(live),
        churn,
        gogc: Some(100.0),
        memory_limit: None,
    }
}

/// A program whose live heap does not grow: steady, though two minutes
/// of a program whose heap moves a lot may not be enough to say so.
fn quiet(window: Window) -> &'static [Verdict] {
    match window {
        Window::Early => &[Steady, Unsure],
        _ => &[Steady],
    }
}

/// The nine kinds of program of the verdict matrix.
pub fn behaviours() -> Vec<Behaviour> {
    vec![
        Behaviour {
            name: "fast leak",
            // 2.4 GB/h from 10 MB; late: 3.6 GB/h from 1 GB at 3 h.
            small: program(|t| 10.0 * MB + t * 2.4 * GB / H, 2.0 * MB),
            large: program(
                |t| 100.0 * MB + (t - 2.75 * H).max(0.0) * 3.6 * GB / H,
                2.0 * MB,
            ),
            right: |_| &[Leak],
        },
        Behaviour {
            name: "slow leak, heavy churn",
            // 200 MB/h under 150 MB/s of garbage; late: 300 MB/h at 1.2 GB.
            small: program(|t| 20.0 * MB + t * 200.0 * MB / H, 150.0 * MB),
            large: program(|t| 1.2 * GB + t * 300.0 * MB / H, 20.0 * MB),
            right: |w| match w {
                Window::Early => &[Leak, Unsure],
                _ => &[Leak],
            },
        },
        Behaviour {
            name: "steady",
            small: program(|_| 30.0 * MB, 5.0 * MB),
            large: program(|_| 1.5 * GB, 5.0 * MB),
            right: quiet,
        },
        Behaviour {
            name: "cache fills, then levels off",
            // 100 MB in the first minute; late: 1 GB in the first 20 minutes.
            small: program(|t| 10.0 * MB + 100.0 * MB * (t / 60.0).min(1.0), 3.0 * MB),
            large: program(|t| 200.0 * MB + GB * (t / 1200.0).min(1.0), 5.0 * MB),
            right: |w| match w {
                Window::Early => &[Plateau, Unsure],
                _ => &[Steady],
            },
        },
        Behaviour {
            name: "churn, no leak",
            small: program(|_| 50.0 * MB, 30.0 * MB),
            large: program(|_| 1.2 * GB, 50.0 * MB),
            right: quiet,
        },
        Behaviour {
            name: "GC pressure",
            small: program(|_| 5.0 * MB, 300.0 * MB),
            large: program(|_| 1.1 * GB, 400.0 * MB),
            right: quiet,
        },
        Behaviour {
            name: "saw-tooth, periodic large frees",
            // +50 MB over 30 s, then freed; late: +500 MB over 5 min.
            small: program(|t| 40.0 * MB + 50.0 * MB * (t % 30.0) / 30.0, 5.0 * MB),
            large: program(|t| GB + 500.0 * MB * (t % 300.0) / 300.0, 10.0 * MB),
            // An hour late holds four of its periods, seen at twelve
            // collections: too few to tell its swings from a trend.
            right: |w| match w {
                Window::Middle => &[Steady],
                _ => &[Steady, Unsure],
            },
        },
        Behaviour {
            name: "held at GOMEMLIMIT",
            small: Program {
                memory_limit: Some(100.0 * MB),
                ..program(|_| 80.0 * MB, 20.0 * MB)
            },
            large: Program {
                memory_limit: Some(1.4 * GB),
                ..program(|_| 1.2 * GB, 20.0 * MB)
            },
            right: quiet,
        },
        Behaviour {
            name: "GOGC=off until the limit",
            small: Program {
                gogc: None,
                memory_limit: Some(500.0 * MB),
                ..program(|_| 20.0 * MB, 10.0 * MB)
            },
            large: Program {
                gogc: None,
                memory_limit: Some(4.0 * GB),
                ..program(|_| 1.2 * GB, 10.0 * MB)
            },
            right: |w| match w {
                Window::Early => &[Unsure],
                _ => &[Steady],
            },
        },
    ]
}
