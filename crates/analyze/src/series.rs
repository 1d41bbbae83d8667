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
    for s in samples {
        match previous {
            // Nothing is in `out` while the data is still in its first run.
            Some(p) if s.gc_count == p.gc_count => {
                if let Some(last) = out.last_mut() {
                    last.min_allocated = last.min_allocated.min(s.allocated);
                }
            }
            Some(p) => {
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

    /// A sample `t` seconds in: HeapAlloc and NextGC in MB, NumGC.
    fn sample(t: f64, allocated_mb: f64, next_gc_mb: f64, gc_count: u64) -> Sample {
        Sample {
            t: 1_800_000_000.0 + t,
            allocated: (allocated_mb * 1e6) as u64,
            total_alloc: None,
            next_gc: (next_gc_mb * 1e6) as u64,
            gc_count,
            cpu_fraction: 0.001,
            pause_p99_ns: None,
            alloc_rate: None,
            gc_rate: None,
            restarted: false,
            cmdline: "./app".to_owned(),
        }
    }

    #[test]
    fn error_documents_and_other_metric_sets_are_not_samples() {
        let good = doc("a:1", "2026-01-01T00:00:01Z", 10, 4, "./x", false);
        assert!(Sample::from_document(&good).is_some());
        let mut failed = good.clone();
        failed["error"] = json!({"message": "connection refused"});
        assert_eq!(Sample::from_document(&failed), None);
        let mut other = good;
        other["metricset"]["name"] = json!("expvar");
        assert_eq!(Sample::from_document(&other), None);
    }

    /// Each collection seen keeps the lowest HeapAlloc of its run; the run
    /// the data starts in is no collection seen.
    #[test]
    fn a_collection_keeps_the_lowest_heap_alloc_of_its_run() {
        let samples = [
            (0.0, 50.0, 0),
            (1.0, 30.0, 1),
            (2.0, 25.0, 1),
            (3.0, 40.0, 1),
            (4.0, 35.0, 2),
        ]
        .map(|(t, mb, gc)| sample(t, mb, 60.0, gc));
        let cycles = gc_cycles(&samples);
        let seen: Vec<(u64, u64)> = cycles
            .iter()
            .map(|c| (c.gc_count, c.min_allocated))
            .collect();
        assert_eq!(seen, vec![(1, 25_000_000), (2, 35_000_000)]);
    }

    /// The goal ratio is the highest NextGC / live heap but the top 5 %,
    /// and a collection whose live heap is estimated at nothing has none.
    #[test]
    fn the_goal_ratio_leaves_out_the_top_and_empty_estimates() {
        let mut samples = vec![sample(0.0, 20.0, 40.0, 0)];
        for i in 1..=10u32 {
            // Nine collections at GOGC=100, one with NextGC three times the heap.
            let next = if i == 5 { 60.0 } else { 40.0 };
            samples.push(sample(f64::from(i), 20.0, next, u64::from(i)));
        }
        assert_eq!(live_heap(&samples).goal_ratio, Some(2.0));

        // 20 MB allocated since a sample already at NextGC, HeapAlloc 10 MB.
        let mut before = sample(0.0, 40.0, 40.0, 0);
        before.total_alloc = Some(100_000_000);
        let mut after = sample(1.0, 10.0, 20.0, 1);
        after.total_alloc = Some(120_000_000);
        let samples = [before, after];
        assert_eq!(gc_cycles(&samples)[0].live_estimate, 0.0);
        assert_eq!(live_heap(&samples).goal_ratio, None);
    }

    /// NextGC held within 0.3 % by a memory limit is not read as the live
    /// heap: over three collections, with one goal straying, and over the
    /// last third of a leak that reached its limit, which stays a leak.
    #[test]
    fn a_goal_held_by_a_limit_is_not_the_live_heap() {
        // Three collections, NextGC within 0.1 % of 100 MB.
        let held = [
            sample(0.0, 60.0, 100.0, 0),
            sample(10.0, 61.0, 100.05, 1),
            sample(20.0, 62.0, 99.95, 2),
            sample(30.0, 63.0, 100.0, 3),
        ];
        assert_eq!(live_heap(&held).source, LiveHeapSource::AfterGc);

        // Ten collections at the limit, one goal of the last third 2 % above it.
        let mut strays: Vec<Sample> = (0..=10u32)
            .map(|i| {
                let next = 100.0 + f64::from(i % 3) * 0.02;
                sample(f64::from(i) * 10.0, 60.0 + f64::from(i), next, u64::from(i))
            })
            .collect();
        strays[9].next_gc = 102_000_000;
        assert_eq!(live_heap(&strays).source, LiveHeapSource::AfterGc);

        // A leak of 0.5 MB/s from 20 MB, NextGC twice the live heap up to
        // 100 MB (at 60 s), then held there.
        let leak: Vec<Sample> = (0..=120u32)
            .map(|i| {
                let t = f64::from(i);
                let live = 20.0 + 0.5 * t;
                let next = (2.0 * live).min(100.0 + f64::from(i % 3) * 0.01);
                sample(t, live + 0.2 * f64::from(i % 2), next, u64::from(i / 2))
            })
            .collect();
        assert_eq!(live_heap(&leak).source, LiveHeapSource::AfterGc);
        let life = Lifetime {
            target: "a:1".to_owned(),
            cmdline: "./app".to_owned(),
            samples: leak,
        };
        let a = crate::verdict::analyze(&life, &crate::verdict::Thresholds::default());
        assert_eq!(a.verdict, crate::verdict::Verdict::Leak, "{}", a.summary);
    }

    /// Several collections per window: one point per time window (1/40 of
    /// the span, from the first sample), the lowest the window holds.
    #[test]
    fn many_collections_give_the_lowest_point_of_each_time_window() {
        // 0.5 s apart over 41 s: windows of 1.025 s hold two or three.
        let samples: Vec<Sample> = (0..=82u32)
            .map(|i| {
                let mb = 20.0 + f64::from((i * 7) % 5);
                sample(f64::from(i) * 0.5, mb, mb * 1.1, u64::from(i))
            })
            .collect();
        let first = samples[0].t;
        let width = 41.0 / LIVE_HEAP_WINDOWS as f64;
        let window = |t: f64| ((t - first) / width).floor() as i64;
        let seen: Vec<(f64, f64)> = samples[1..]
            .iter()
            .map(|s| (s.t, s.allocated as f64))
            .collect();
        let points = live_heap(&samples).points;
        let mut windows: Vec<i64> = seen.iter().map(|p| window(p.0)).collect();
        windows.dedup();
        assert_eq!(points.len(), windows.len());
        for pair in points.windows(2) {
            assert!(window(pair[0].0) < window(pair[1].0), "{pair:?}");
        }
        for p in &seen {
            let kept = points.iter().find(|k| window(k.0) == window(p.0));
            assert!(
                kept.is_some_and(|k| k.1 <= p.1 && seen.contains(k)),
                "{p:?}: {kept:?}"
            );
        }
    }
}
