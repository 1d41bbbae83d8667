//! Whether a version is worse, better or the same as the baseline, per
//! measure, with the uncertainty drawn from the spread of each version
//! across its process lifetimes and across windows of each lifetime.

use serde::Serialize;

use crate::series::{Lifetime, live_heap_points};
use crate::trend::median_of;
use crate::verdict::{Thresholds, Verdict, analyze};

/// A relative difference below this is the same.
pub const SAME_WITHIN: f64 = 0.10;

/// What a measure did in the candidate, against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Higher (or leaking) beyond the spread of both and the tolerance.
    Worse,
    /// Lower beyond the spread of both and the tolerance.
    Better,
    /// Within the tolerance.
    Same,
    /// A difference beyond the tolerance that the spread (or too little
    /// data: fewer than two windows per version) cannot confirm.
    Unclear,
}

/// One measure of a candidate against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasureChange {
    /// `live heap`, `growth`, `allocation rate`, `GC CPU` or `p99 pause`.
    pub measure: &'static str,
    /// The call.
    pub change: Change,
    /// Baseline: median over its windows (growth: lifetimes called leak).
    pub baseline: Option<f64>,
    /// Candidate: the same.
    pub candidate: Option<f64>,
    /// Baseline: lowest and highest window.
    pub baseline_range: Option<(f64, f64)>,
    /// Candidate: lowest and highest window.
    pub candidate_range: Option<(f64, f64)>,
    /// One sentence with the figures.
    pub reason: String,
}

/// Windows per lifetime: up to four of at least 30 samples each.
fn windows(lifetime: &Lifetime) -> Vec<&[crate::series::Sample]> {
    let n = lifetime.samples.len();
    let pieces = (n / 30).clamp(1, 4);
    lifetime.samples.chunks(n.div_ceil(pieces).max(1)).collect()
}

/// A measure per window of every lifetime of a version.
fn per_window(
    lifetimes: &[&Lifetime],
    measure: impl Fn(&[crate::series::Sample]) -> Option<f64>,
) -> Vec<f64> {
    lifetimes
        .iter()
        .flat_map(|l| windows(l))
        .filter_map(measure)
        .filter(|v| v.is_finite())
        .collect()
}

struct Spec {
    name: &'static str,
    /// Differences below this (in the measure's unit) are the same.
    floor: f64,
    unit: &'static str,
    scale: f64,
    value: fn(&[crate::series::Sample]) -> Option<f64>,
}

fn range(values: &[f64]) -> Option<(f64, f64)> {
    let lo = values.iter().copied().reduce(f64::min)?;
    let hi = values.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

fn judge(spec: &Spec, base: &[f64], cand: &[f64]) -> MeasureChange {
    let (b, c) = (median_of(base), median_of(cand));
    let (br, cr) = (range(base), range(cand));
    let show = |r: Option<(f64, f64)>| {
        r.map_or("-".to_owned(), |(lo, hi)| {
            format!("{:.2}–{:.2}", lo / spec.scale, hi / spec.scale)
        })
    };
    let mut change = Change::Unclear;
    let mut relative = None;
    if let (Some(b), Some(c), Some(br), Some(cr)) = (b, c, br, cr) {
        let rel = if b != 0.0 { c / b - 1.0 } else { 0.0 };
        relative = Some(rel);
        let enough = base.len() >= 2 && cand.len() >= 2;
        change = if (c - b).abs() <= spec.floor || rel.abs() <= SAME_WITHIN {
            Change::Same
        } else if enough && rel > 0.0 && cr.0 > br.1 {
            Change::Worse
        } else if enough && rel < 0.0 && cr.1 < br.0 {
            Change::Better
        } else {
            Change::Unclear
        };
    }
    let reason = format!(
        "{} {}{} ({} {} → {} {})",
        spec.name,
        match change {
            Change::Worse => "worse",
            Change::Better => "better",
            Change::Same => "the same",
            Change::Unclear => "unclear",
        },
        relative.map_or(String::new(), |r| format!(" {:+.0} %", r * 100.0)),
        show(br),
        spec.unit,
        show(cr),
        spec.unit
    );
    MeasureChange {
        measure: spec.name,
        change,
        baseline: b,
        candidate: c,
        baseline_range: br,
        candidate_range: cr,
        reason,
    }
}

fn leaks(lifetimes: &[&Lifetime], th: &Thresholds) -> (usize, usize) {
    let verdicts: Vec<Verdict> = lifetimes.iter().map(|l| analyze(l, th).verdict).collect();
    let judged = verdicts
        .iter()
        .filter(|v| **v != Verdict::InsufficientData)
        .count();
    let leaking = verdicts.iter().filter(|v| **v == Verdict::Leak).count();
    (leaking, judged)
}

/// Every measure of `candidate` against `baseline`. Higher is worse for
/// all of them; growth is worse when candidate lifetimes leak and no
/// baseline lifetime does.
pub fn changes(
    baseline: &[&Lifetime],
    candidate: &[&Lifetime],
    th: &Thresholds,
) -> Vec<MeasureChange> {
    let specs = [
        Spec {
            name: "live heap",
            floor: 1e6,
            unit: "MB",
            scale: 1e6,
            value: |s| median_of(&live_heap_points(s).iter().map(|p| p.1).collect::<Vec<_>>()),
        },
        Spec {
            name: "allocation rate",
            floor: 1e5,
            unit: "MB/s",
            scale: 1e6,
            value: |s| median_of(&s.iter().filter_map(|s| s.alloc_rate).collect::<Vec<_>>()),
        },
        Spec {
            name: "GC CPU",
            floor: 0.001,
            unit: "%",
            scale: 0.01,
            value: |s| s.last().map(|s| s.cpu_fraction),
        },
        Spec {
            name: "p99 pause",
            floor: 100_000.0,
            unit: "ms",
            scale: 1e6,
            value: |s| {
                median_of(
                    &s.iter()
                        .filter_map(|s| s.pause_p99_ns.map(|p| p as f64))
                        .collect::<Vec<_>>(),
                )
            },
        },
    ];
    let mut out: Vec<MeasureChange> = specs
        .iter()
        .map(|spec| {
            judge(
                spec,
                &per_window(baseline, spec.value),
                &per_window(candidate, spec.value),
            )
        })
        .collect();
    let (b_leak, b_judged) = leaks(baseline, th);
    let (c_leak, c_judged) = leaks(candidate, th);
    let change = if b_judged == 0 || c_judged == 0 {
        Change::Unclear
    } else if c_leak > 0 && b_leak == 0 {
        Change::Worse
    } else if b_leak > 0 && c_leak == 0 {
        Change::Better
    } else {
        Change::Same
    };
    out.insert(
        1,
        MeasureChange {
            measure: "growth",
            change,
            baseline: Some(b_leak as f64),
            candidate: Some(c_leak as f64),
            baseline_range: None,
            candidate_range: None,
            reason: format!(
                "growth {} (leak in {c_leak} of {c_judged} lifetimes judged, against {b_leak} of {b_judged})",
                match change {
                    Change::Worse => "worse",
                    Change::Better => "better",
                    Change::Same => "the same",
                    Change::Unclear => "unclear",
                }
            ),
        },
    );
    out
}
