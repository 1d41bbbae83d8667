//! Comparing versions of the monitored program.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::fields::{GOLANG, METRICSET_NAME, SERVICE_ADDRESS, TIMESTAMP, get};
use crate::regression::{Change, MeasureChange, changes};
use crate::series::{Lifetime, live_heap_points};
use crate::trend::{median_of, theil_sen};
use crate::verdict::Thresholds;

/// What a group of process lifetimes (one version) looked like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSummary {
    /// The label (a version, or a command line).
    pub label: String,
    /// Process lifetimes in the group.
    pub lifetimes: usize,
    /// Samples in the group.
    pub samples: usize,
    /// Median live heap (troughs of HeapAlloc), bytes.
    pub live_heap_bytes: Option<f64>,
    /// Median of the lifetimes' live-heap trends, MB per hour.
    pub growth_mb_per_hour: Option<f64>,
    /// Median allocation rate, bytes per second.
    pub alloc_bytes_per_sec: Option<f64>,
    /// Median GC cycles per second.
    pub gc_cycles_per_sec: Option<f64>,
    /// Median GC CPU fraction (last value of each lifetime).
    pub gc_cpu_fraction: Option<f64>,
    /// Median per-interval p99 pause, ns.
    pub pause_p99_ns: Option<f64>,
}

/// A group next to the baseline: relative changes (0.25 = 25 % more).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The group compared with the baseline.
    pub label: String,
    /// Live heap, relative change.
    pub live_heap: Option<f64>,
    /// Live-heap trend, MB/h more (absolute difference).
    pub growth_mb_per_hour: Option<f64>,
    /// Allocation rate, relative change.
    pub alloc_rate: Option<f64>,
    /// GC frequency, relative change.
    pub gc_rate: Option<f64>,
    /// GC CPU fraction, difference in percentage points.
    pub gc_cpu_points: Option<f64>,
    /// p99 pause, relative change.
    pub pause_p99: Option<f64>,
    /// Per measure: worse, better, the same or unclear, with the spread of
    /// both versions across lifetimes and windows.
    pub changes: Vec<MeasureChange>,
    /// Whether any measure is worse.
    pub regression: bool,
}

/// Why a comparison cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    /// `--baseline` names a version no lifetime has.
    #[error("no version {baseline:?} to use as the baseline; versions present: {}", present.join(", "))]
    UnknownBaseline {
        /// The baseline asked for.
        baseline: String,
        /// The labels present, oldest first.
        present: Vec<String>,
    },
}

/// Groups compared with the first (the baseline).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The groups, baseline first.
    pub groups: Vec<GroupSummary>,
    /// Each other group against the baseline.
    pub differences: Vec<Difference>,
}

/// The value of an expvar variable per target over time, from `expvar`
/// documents: `(target, seconds, value)`.
pub fn expvar_labels(docs: &[Value], variable: &str) -> BTreeMap<String, Vec<(f64, String)>> {
    let mut out: BTreeMap<String, Vec<(f64, String)>> = BTreeMap::new();
    for doc in docs {
        if get(doc, METRICSET_NAME) != "expvar" {
            continue;
        }
        let Some(target) = get(doc, SERVICE_ADDRESS).as_str() else {
            continue;
        };
        let Some(t) = get(doc, TIMESTAMP)
            .as_str()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        else {
            continue;
        };
        // golang.<namespace>.<variable>: literal dotted key, or nested.
        let Some(ns) = get(doc, GOLANG).as_object().and_then(|g| g.values().next()) else {
            continue;
        };
        let value = ns.get(variable).cloned().or_else(|| {
            variable
                .split('.')
                .try_fold(ns.clone(), |node, key| node.get(key).cloned())
        });
        let Some(value) = value else { continue };
        let label = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        out.entry(target.to_owned())
            .or_default()
            .push((t.as_secs_f64(), label));
    }
    out
}

/// The label of a lifetime: the most frequent value of the variable for its
/// target within its time range.
pub fn label_of(
    lifetime: &Lifetime,
    labels: &BTreeMap<String, Vec<(f64, String)>>,
) -> Option<String> {
    let (first, last) = (lifetime.samples.first()?.t, lifetime.samples.last()?.t);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (t, label) in labels.get(&lifetime.target)? {
        if *t >= first - 1.0 && *t <= last + 1.0 {
            *counts.entry(label).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(l, _)| l.to_owned())
}

fn summarize(label: String, lifetimes: &[&Lifetime]) -> GroupSummary {
    let mut live = Vec::new();
    let mut growth = Vec::new();
    let mut alloc = Vec::new();
    let mut gc = Vec::new();
    let mut cpu = Vec::new();
    let mut p99 = Vec::new();
    let mut samples = 0;
    for l in lifetimes {
        samples += l.samples.len();
        let points = live_heap_points(&l.samples);
        live.extend(points.iter().map(|p| p.1));
        if let Some(tr) = theil_sen(&points) {
            growth.push(tr.slope * 3600.0 / 1e6);
        }
        alloc.extend(l.samples.iter().filter_map(|s| s.alloc_rate));
        gc.extend(l.samples.iter().filter_map(|s| s.gc_rate));
        p99.extend(
            l.samples
                .iter()
                .filter_map(|s| s.pause_p99_ns.map(|p| p as f64)),
        );
        if let Some(last) = l.samples.last() {
            cpu.push(last.cpu_fraction);
        }
    }
    GroupSummary {
        label,
        lifetimes: lifetimes.len(),
        samples,
        live_heap_bytes: median_of(&live),
        growth_mb_per_hour: median_of(&growth),
        alloc_bytes_per_sec: median_of(&alloc),
        gc_cycles_per_sec: median_of(&gc),
        gc_cpu_fraction: median_of(&cpu),
        pause_p99_ns: median_of(&p99),
    }
}

fn relative(new: Option<f64>, base: Option<f64>) -> Option<f64> {
    match (new, base) {
        (Some(n), Some(b)) if b != 0.0 => Some(n / b - 1.0),
        _ => None,
    }
}

/// Compares groups of lifetimes labelled by `label` (lifetimes without a
/// label are left out). `baseline` picks the reference group; default: the
/// group whose first sample is oldest. A `baseline` that no group has is an
/// error that lists the groups present. The growth measure calls leaks with
/// the default [`Thresholds`] ([`compare_with`] takes others).
pub fn compare(
    lifetimes: &[Lifetime],
    label: impl Fn(&Lifetime) -> Option<String>,
    baseline: Option<&str>,
) -> Result<Comparison, CompareError> {
    compare_with(lifetimes, label, baseline, &Thresholds::default())
}

/// [`compare`] with the thresholds the verdicts use (`gomon analyze`'s
/// `--min-span`, `--gc-cpu-percent`, ...), so that the growth measure of a
/// comparison calls a leak exactly where the verdict table does.
pub fn compare_with(
    lifetimes: &[Lifetime],
    label: impl Fn(&Lifetime) -> Option<String>,
    baseline: Option<&str>,
    th: &Thresholds,
) -> Result<Comparison, CompareError> {
    let mut groups: BTreeMap<String, Vec<&Lifetime>> = BTreeMap::new();
    for l in lifetimes {
        if let Some(name) = label(l) {
            groups.entry(name).or_default().push(l);
        }
    }
    let start = |ls: &Vec<&Lifetime>| {
        ls.iter()
            .filter_map(|l| l.samples.first().map(|s| s.t))
            .fold(f64::INFINITY, f64::min)
    };
    let mut ordered: Vec<(String, Vec<&Lifetime>)> = groups.into_iter().collect();
    ordered.sort_by(|a, b| start(&a.1).total_cmp(&start(&b.1)));
    if let Some(base) = baseline {
        let Some(i) = ordered.iter().position(|(l, _)| l == base) else {
            return Err(CompareError::UnknownBaseline {
                baseline: base.to_owned(),
                present: ordered.into_iter().map(|(l, _)| l).collect(),
            });
        };
        let chosen = ordered.remove(i);
        ordered.insert(0, chosen);
    }
    let summaries: Vec<GroupSummary> = ordered
        .iter()
        .map(|(label, ls)| summarize(label.clone(), ls))
        .collect();
    let measured: Vec<Vec<MeasureChange>> = ordered
        .iter()
        .skip(1)
        .map(|(_, ls)| changes(&ordered[0].1, ls, th))
        .collect();
    let differences = match summaries.first() {
        Some(base) => summaries[1..]
            .iter()
            .zip(measured)
            .map(|(g, changes)| Difference {
                regression: changes.iter().any(|c| c.change == Change::Worse),
                changes,
                label: g.label.clone(),
                live_heap: relative(g.live_heap_bytes, base.live_heap_bytes),
                growth_mb_per_hour: g
                    .growth_mb_per_hour
                    .zip(base.growth_mb_per_hour)
                    .map(|(a, b)| a - b),
                alloc_rate: relative(g.alloc_bytes_per_sec, base.alloc_bytes_per_sec),
                gc_rate: relative(g.gc_cycles_per_sec, base.gc_cycles_per_sec),
                gc_cpu_points: g
                    .gc_cpu_fraction
                    .zip(base.gc_cpu_fraction)
                    .map(|(a, b)| (a - b) * 100.0),
                pause_p99: relative(g.pause_p99_ns, base.pause_p99_ns),
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(Comparison {
        groups: summaries,
        differences,
    })
}
