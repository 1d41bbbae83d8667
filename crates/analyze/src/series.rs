//! From stored documents to per-process series of heap samples.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fields::{ERROR, METRICSET_NAME, SERVICE_ADDRESS, TIMESTAMP, get, heap};

/// One `golang.heap` document, reduced to what the analysis reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `@timestamp`, seconds since the Unix epoch.
    pub t: f64,
    /// `allocations.allocated` (HeapAlloc), bytes.
    pub allocated: u64,
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

/// Points `(t, bytes)` that follow the live heap.
///
/// The samples taken just after a collection (the GC count moved since the
/// previous sample) are the closest to the live heap: HeapAlloc there is
/// what survived plus at most one period of allocation. When there are
/// enough of them (8 or more), the minima of about 20 windows of them are
/// used: a program that collects many times a second is caught anywhere on
/// its saw-tooth, and the minimum of several samples is close to the
/// trough. Otherwise (a program that rarely collects) the minima of about
/// 40 windows of all samples.
pub fn live_heap_points(samples: &[Sample]) -> Vec<(f64, f64)> {
    let post_gc: Vec<Sample> = samples
        .windows(2)
        .filter(|w| w[1].gc_count > w[0].gc_count)
        .map(|w| w[1].clone())
        .collect();
    if post_gc.len() >= 8 {
        troughs(&post_gc, (post_gc.len() / 20).max(1))
    } else {
        troughs(samples, (samples.len() / 40).max(3))
    }
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
