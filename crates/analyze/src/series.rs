//! From stored documents to per-process series of heap samples.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fields::{ERROR, METRICSET_NAME, SERVICE_ADDRESS, TIMESTAMP, get, heap};
use crate::trend::theil_sen;

/// One `golang.heap` document, reduced to what the analysis reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `@timestamp`, seconds since the Unix epoch.
    pub t: f64,
    /// `allocations.allocated` (HeapAlloc), bytes.
    pub allocated: u64,
    /// `allocations.total` (TotalAlloc: bytes allocated since the start),
    /// when stored.
    pub total_alloc: Option<u64>,
    /// `gc.next_gc_limit` (NextGC), bytes.
    pub next_gc: u64,
    /// `gc.total_count` (NumGC).
    pub gc_count: u64,
    /// `gc.cpu_fraction` (since the program started).
    pub cpu_fraction: f64,
    /// `gc.pause.p99.ns` of the interval, when there was a GC in it.
    pub pause_p99_ns: Option<u64>,
    /// `rate.allocated_bytes_per_sec`.
    pub alloc_rate: Option<f64>,
    /// `rate.gc_cycles_per_sec`.
    pub gc_rate: Option<f64>,
    /// `restarted`: gomon saw a new process at this sample.
    pub restarted: bool,
    /// `cmdline`.
    pub cmdline: String,
}

fn seconds(timestamp: &str) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(timestamp).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

impl Sample {
    /// Reads a heap document; `None` for other documents and error documents.
    pub fn from_document(doc: &Value) -> Option<(String, Sample)> {
        if get(doc, METRICSET_NAME) != "heap" || !get(doc, ERROR).is_null() {
            return None;
        }
        let target = get(doc, SERVICE_ADDRESS).as_str()?.to_owned();
        let sample = Sample {
            t: seconds(get(doc, TIMESTAMP).as_str()?)?,
            allocated: get(doc, heap::ALLOCATIONS_ALLOCATED).as_u64()?,
            total_alloc: get(doc, heap::ALLOCATIONS_TOTAL).as_u64(),
            next_gc: get(doc, heap::GC_NEXT_GC_LIMIT).as_u64().unwrap_or(0),
            gc_count: get(doc, heap::GC_TOTAL_COUNT).as_u64().unwrap_or(0),
            cpu_fraction: get(doc, heap::GC_CPU_FRACTION).as_f64().unwrap_or(0.0),
            pause_p99_ns: get(doc, heap::GC_PAUSE_P99_NS).as_u64(),
            alloc_rate: get(doc, heap::RATE_ALLOCATED_BYTES_PER_SEC).as_f64(),
            gc_rate: get(doc, heap::RATE_GC_CYCLES_PER_SEC).as_f64(),
            restarted: get(doc, heap::RESTARTED).as_bool().unwrap_or(false),
            cmdline: get(doc, heap::CMDLINE)
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        };
        Some((target, sample))
    }
}

/// The samples of one process: a target between two restarts.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifetime {
    /// `service.address`.
    pub target: String,
    /// The process's command line.
    pub cmdline: String,
    /// Its samples, oldest first.
    pub samples: Vec<Sample>,
}

impl Lifetime {
    /// Seconds from the first to the last sample.
    pub fn span(&self) -> f64 {
        match (self.samples.first(), self.samples.last()) {
            (Some(a), Some(b)) => b.t - a.t,
            _ => 0.0,
        }
    }
}

/// Groups heap documents by target, orders them in time, and splits each
/// target's series where a new process starts (gomon's `restarted` flag, a
/// new command line, or the GC count going down), since one trend across two
/// processes means nothing.
pub fn lifetimes(docs: &[Value]) -> Vec<Lifetime> {
    let mut by_target: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for doc in docs {
        if let Some((target, sample)) = Sample::from_document(doc) {
            by_target.entry(target).or_default().push(sample);
        }
    }
    let mut out = Vec::new();
    for (target, mut samples) in by_target {
        samples.sort_by(|a, b| a.t.total_cmp(&b.t));
        let mut current: Vec<Sample> = Vec::new();
        for sample in samples {
            let new_process = current.last().is_some_and(|last| {
                sample.restarted
                    || sample.cmdline != last.cmdline
                    || sample.gc_count < last.gc_count
            });
            if new_process {
                out.push(Lifetime {
                    target: target.clone(),
                    cmdline: current[0].cmdline.clone(),
                    samples: std::mem::take(&mut current),
                });
            }
            current.push(sample);
        }
        if !current.is_empty() {
            out.push(Lifetime {
                target: target.clone(),
                cmdline: current[0].cmdline.clone(),
                samples: current,
            });
        }
    }
    out
}

/// The live heap estimated from the troughs of HeapAlloc: the minimum of
/// each window of `window` samples, at the time of that minimum. Right
/// after a collection HeapAlloc is close to the live heap; between
/// collections it only grows, so raw HeapAlloc saw-tooths and its maximum
/// says little, while its troughs follow what the program keeps.
pub fn troughs(samples: &[Sample], window: usize) -> Vec<(f64, f64)> {
    samples
        .chunks(window.max(1))
        .filter_map(|chunk| {
            chunk
                .iter()
                .min_by_key(|s| s.allocated)
                .map(|s| (s.t, s.allocated as f64))
        })
        .collect()
}

/// One garbage collection seen in the samples: the run of samples that
/// share a GC count, from the first sample after the count moved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GcCycle {
    /// Time of the first sample with this GC count (the closest to the
    /// collection), seconds since the Unix epoch.
    pub t: f64,
    /// The GC count (NumGC) of the run.
    pub gc_count: u64,
    /// The lowest HeapAlloc of the run: what survived the collection plus
    /// what was allocated before the first sample of the run.
    pub min_allocated: u64,
    /// NextGC after the collection: the heap goal the collector set from
    /// the live heap it had just marked.
    pub next_gc: u64,
    /// The live heap at the collection: the first HeapAlloc of the run less
    /// what was allocated between the collection and that sample. When one
    /// collection happened between two samples that both carry TotalAlloc,
    /// it started when HeapAlloc reached the previous NextGC, so the
    /// allocation after it is TotalAlloc's increase less what the previous
    /// sample still had to allocate to reach NextGC; otherwise the first
    /// HeapAlloc of the run (an upper bound).
    pub live_estimate: f64,
}

/// The GC cycles seen in `samples` (oldest first): one per run of samples
/// with the same GC count. The run the data starts in is left out: its
/// collection happened before the first sample, at an unknown time, so its
/// HeapAlloc may hold any amount of garbage allocated since.
pub fn gc_cycles(samples: &[Sample]) -> Vec<GcCycle> {
    let mut out: Vec<GcCycle> = Vec::new();
    let mut previous: Option<&Sample> = None;
    let mut in_first_run = true;
    for s in samples {
        match previous {
            Some(p) if s.gc_count == p.gc_count => {
                if !in_first_run && let Some(last) = out.last_mut() {
                    last.min_allocated = last.min_allocated.min(s.allocated);
                }
            }
            Some(p) => {
                in_first_run = false;
                let allocated = s.allocated as f64;
                let live_estimate = match (s.total_alloc, p.total_alloc) {
                    (Some(now), Some(before)) if s.gc_count == p.gc_count + 1 && now >= before => {
                        let since = (now - before) as f64;
                        let to_goal = (p.next_gc as f64 - p.allocated as f64).clamp(0.0, since);
                        (allocated - (since - to_goal)).max(0.0)
                    }
                    _ => allocated,
                };
                out.push(GcCycle {
                    t: s.t,
                    gc_count: s.gc_count,
                    min_allocated: s.allocated,
                    next_gc: s.next_gc,
                    live_estimate,
                });
            }
            None => {}
        }
        previous = Some(s);
    }
    out
}

/// Time windows the span is cut into when collections are frequent.
pub const LIVE_HEAP_WINDOWS: usize = 40;

/// Where the live-heap estimate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveHeapSource {
    /// HeapAlloc just after each collection: the live heap plus what was
    /// allocated between the collection and the sample.
    AfterGc,
    /// NextGC divided by its ratio to the live heap (1 + GOGC/100, measured
    /// from the data): exact while the collector paces by GOGC, and free of
    /// the noise that allocation between collection and sample adds.
    GcGoal,
}

/// The live heap of one process over time, as the verdicts read it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveHeap {
    /// Where the points come from.
    pub source: LiveHeapSource,
    /// `(t, bytes)`, oldest first, at most one per time window.
    pub points: Vec<(f64, f64)>,
    /// NextGC over the live heap (1 + GOGC/100 when paced by GOGC), as
    /// measured: the highest ratio of NextGC to HeapAlloc after a collection
    /// (ignoring the top 5 %).
    pub goal_ratio: Option<f64>,
    /// Collections seen.
    pub cycles: usize,
}

/// The live heap estimated from `samples`.
///
/// Right after a collection HeapAlloc is what survived (the live heap)
/// plus what was allocated since; between collections it only grows, so
/// raw HeapAlloc saw-tooths and says little, while its value just after
/// each collection ([`GcCycle`]) follows what the program keeps. The
/// collector also sets NextGC from the live heap it marked: NextGC = live ×
/// (1 + GOGC/100), unless a memory limit (GOMEMLIMIT) or the 4 MB minimum
/// pins it. When NextGC moves freely (fewer than half the collections share
/// one NextGC value) and stands clearly above HeapAlloc, NextGC divided by
/// that ratio is used: it has no allocation noise. Otherwise (a program held
/// at its memory limit, GOGC=off, a tiny heap) HeapAlloc after each
/// collection is.
///
/// A program that collects many times per sample gives one point per
/// collection seen; the lowest in each of [`LIVE_HEAP_WINDOWS`] equal time
/// windows is kept. Time windows (not counts of samples) make raw samples
/// and per-bucket summaries from a server give the same points.
pub fn live_heap(samples: &[Sample]) -> LiveHeap {
    let cycles = gc_cycles(samples);
    let mut ratios: Vec<f64> = cycles
        .iter()
        .filter(|c| c.live_estimate > 0.0)
        .map(|c| c.next_gc as f64 / c.live_estimate)
        .collect();
    ratios.sort_unstable_by(f64::total_cmp);
    let goal_ratio = (!ratios.is_empty()).then(|| ratios[(ratios.len() - 1) * 95 / 100]);
    let after_gc = thin(samples, cycles.iter().map(|c| (c.t, c.live_estimate)));
    let from_goal = goal_ratio.filter(|r| *r >= 1.25).map(|r| {
        // The NextGC the data starts with was set by a collection before
        // it: a valid (if older) point of the live heap.
        let first = samples
            .first()
            .filter(|s| cycles.first().is_none_or(|c| c.t > s.t))
            .map(|s| (s.t, s.next_gc as f64 / r));
        thin(
            samples,
            first
                .into_iter()
                .chain(cycles.iter().map(|c| (c.t, c.next_gc as f64 / r))),
        )
    });
    // NextGC is used only while the collector paces by GOGC: a memory
    // limit (GOMEMLIMIT, or GOGC=off with one) pins it within a fraction of
    // a percent while the live heap moves, over the whole data or at its
    // end (a leak that reached the limit).
    let goals: Vec<f64> = cycles.iter().map(|c| c.next_gc as f64).collect();
    let pinned = is_pinned(&goals) || is_pinned(&goals[goals.len() - goals.len() / 3..]);
    // With fewer than three collections pinning cannot be told: NextGC is
    // used only when its trend is within a factor of two of HeapAlloc's.
    let few_agree = |goal: &[(f64, f64)]| match (theil_sen(goal), theil_sen(&after_gc)) {
        (Some(g), Some(a)) => (0.5..=2.0).contains(&(g.slope / a.slope)),
        _ => false,
    };
    let (source, points) = match from_goal {
        Some(goal) if !pinned && (cycles.len() >= 3 || few_agree(&goal)) => {
            (LiveHeapSource::GcGoal, goal)
        }
        _ => (LiveHeapSource::AfterGc, after_gc),
    };
    LiveHeap {
        source,
        points,
        goal_ratio,
        cycles: cycles.len(),
    }
}

/// Whether NextGC stays within 0.3 % (5th to 95th percentile) over at
/// least three collections: held by a limit, not by the live heap, which
/// moves more than that between collections.
fn is_pinned(goals: &[f64]) -> bool {
    if goals.len() < 3 {
        return false;
    }
    let mut sorted = goals.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let at = |q: usize| sorted[(sorted.len() - 1) * q / 100];
    let middle = at(50);
    middle > 0.0 && (at(95) - at(5)) / middle < 0.003
}

/// The lowest point in each of [`LIVE_HEAP_WINDOWS`] equal time windows
/// of the span of `samples`.
fn thin(samples: &[Sample], points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return out;
    };
    let width = (last.t - first.t) / LIVE_HEAP_WINDOWS as f64;
    let mut current_window: Option<i64> = None;
    for (t, v) in points {
        let window = if width > 0.0 {
            ((t - first.t) / width).floor() as i64
        } else {
            0
        };
        match (current_window, out.last_mut()) {
            (Some(w), Some(point)) if w == window => {
                if v < point.1 {
                    *point = (t, v);
                }
            }
            _ => {
                out.push((t, v));
                current_window = Some(window);
            }
        }
    }
    out
}

/// The points of [`live_heap`].
pub fn live_heap_points(samples: &[Sample]) -> Vec<(f64, f64)> {
    live_heap(samples).points
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(
        target: &str,
        t: &str,
        allocated: u64,
        gc: u64,
        cmdline: &str,
        restarted: bool,
    ) -> Value {
        json!({
            "@timestamp": t,
            "metricset": {"name": "heap"},
            "service": {"address": target},
            "golang": {"heap": {
                "cmdline": cmdline, "restarted": restarted,
                "allocations": {"allocated": allocated},
                "gc": {"next_gc_limit": 4_000_000, "total_count": gc, "cpu_fraction": 0.001}
            }}
        })
    }

    #[test]
    fn series_split_at_restarts_and_new_command_lines() {
        let docs = vec![
            doc("a:1", "2026-01-01T00:00:02Z", 20, 5, "./x", false),
            doc("a:1", "2026-01-01T00:00:01Z", 10, 4, "./x", false),
            doc("a:1", "2026-01-01T00:00:03Z", 5, 1, "./x", true),
            doc("a:1", "2026-01-01T00:00:04Z", 6, 2, "./x -v2", false),
            doc("b:2", "2026-01-01T00:00:01Z", 1, 1, "./y", false),
            json!({"metricset": {"name": "expvar"}}),
        ];
        let lives = lifetimes(&docs);
        let shape: Vec<(&str, usize)> = lives
            .iter()
            .map(|l| (l.target.as_str(), l.samples.len()))
            .collect();
        assert_eq!(shape, vec![("a:1", 2), ("a:1", 1), ("a:1", 1), ("b:2", 1)]);
        assert_eq!(lives[0].samples[0].allocated, 10, "ordered by time");
        assert_eq!(lives[0].span(), 1.0);
    }

    #[test]
    fn troughs_take_the_minimum_of_each_window() {
        let samples: Vec<Sample> = [5u64, 9, 3, 8, 7, 6, 4]
            .iter()
            .enumerate()
            .map(|(i, a)| Sample {
                t: i as f64,
                allocated: *a,
                total_alloc: None,
                next_gc: 0,
                gc_count: 0,
                cpu_fraction: 0.0,
                pause_p99_ns: None,
                alloc_rate: None,
                gc_rate: None,
                restarted: false,
                cmdline: String::new(),
            })
            .collect();
        assert_eq!(
            troughs(&samples, 3),
            vec![(2.0, 3.0), (5.0, 6.0), (6.0, 4.0)]
        );
    }
}
