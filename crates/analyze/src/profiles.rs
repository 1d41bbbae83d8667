//! What profile documents (`golang.profile`, the `profile` metric set) add
//! to a lifetime's verdict: *where* a leak grows, and whether goroutines
//! pile up (MemStats has no goroutine count, so only profiles show it).
//!
//! Sites are summed over the lifetime's heap profiles: each document lists
//! its top sites by growth since the profile before, so the sum over a
//! window is the growth of each site that was among the top in the
//! profiles of that window. The goroutine count is fitted like the live
//! heap (Theil–Sen, with Sen's 95 % interval): a goroutine leak is a count
//! whose whole interval rises and that grows past a threshold over the
//! window.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::fields::{self, get, profile};
use crate::series::Lifetime;
use crate::trend::{median_of, theil_sen};
use crate::verdict::Thresholds;

/// Sites (and goroutine places) reported per lifetime.
pub const WHERE_SITES: usize = 5;

/// Fewest goroutine profiles for a verdict on the goroutine count.
pub const MIN_GOROUTINE_PROFILES: usize = 4;

/// A place in the code, with what grew there over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrowingSite {
    /// The function (`main.(*Cache).Put`).
    pub function: String,
    /// Its source file.
    pub file: String,
    /// The line.
    pub line: i64,
    /// Heap bytes (for a heap site) or goroutines (for a goroutine place)
    /// gained over the window.
    pub growth: i64,
    /// Its part of the growth of all growing places (0–1).
    pub share: f64,
    /// `function file:line` from the place outward, from the latest profile
    /// that listed it.
    pub stack: Vec<String>,
}

impl GrowingSite {
    /// `function file:line` with the short file, as the summary prints it:
    /// the first frame of the stack the profile wrote, else the function.
    pub fn label(&self) -> String {
        self.stack
            .first()
            .cloned()
            .unwrap_or_else(|| self.function.clone())
    }
}

/// The goroutine count of a lifetime and its trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoroutineEvidence {
    /// Goroutine profiles read.
    pub profiles: usize,
    /// Seconds from the first to the last of them.
    pub window_secs: f64,
    /// Goroutines at the start (median of the first third's counts).
    pub start: f64,
    /// Goroutines at the end (median of the last third's counts).
    pub end: f64,
    /// Trend of the count, goroutines per hour (Theil–Sen).
    pub growth_per_hour: f64,
    /// 95 % interval of the trend: lower end.
    pub growth_low_per_hour: f64,
    /// 95 % interval of the trend: upper end.
    pub growth_high_per_hour: f64,
    /// Growth over the window from which the count counts as climbing: the
    /// larger of [`Thresholds::min_goroutine_growth`] and
    /// [`Thresholds::min_growth_fraction`] of the start.
    pub threshold: f64,
    /// Whether the count climbs: the whole interval above zero and the
    /// trend over the window past `threshold`.
    pub leaking: bool,
    /// The places whose goroutines grew the most over the window.
    pub growing: Vec<GrowingSite>,
}

/// What the profile documents of one lifetime say.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProfileEvidence {
    /// Profile documents of the lifetime (error documents not counted).
    pub profiles: usize,
    /// Heap sites by growth over the lifetime's profiles, largest first.
    pub sites: Vec<GrowingSite>,
    /// The goroutine count, when enough goroutine profiles exist.
    pub goroutines: Option<GoroutineEvidence>,
}

fn seconds(doc: &Value) -> Option<f64> {
    let stamp = get(doc, fields::TIMESTAMP).as_str()?;
    let t = humantime::parse_rfc3339_weak(stamp).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

/// The profile documents of `lifetime` (same target, from its first sample
/// to a minute after its last) without errors, oldest first.
fn of_lifetime<'a>(docs: &'a [Value], lifetime: &Lifetime) -> Vec<(f64, &'a Value)> {
    let (Some(first), Some(last)) = (lifetime.samples.first(), lifetime.samples.last()) else {
        return Vec::new();
    };
    let mut found: Vec<(f64, &Value)> = docs
        .iter()
        .filter(|d| get(d, fields::METRICSET_NAME) == "profile")
        .filter(|d| get(d, fields::SERVICE_ADDRESS).as_str() == Some(lifetime.target.as_str()))
        .filter(|d| get(d, profile::OBJECT).is_object())
        .filter_map(|d| seconds(d).map(|t| (t, d)))
        .filter(|(t, _)| *t >= first.t - 1.0 && *t <= last.t + 60.0)
        .collect();
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    found
}

/// Sums the growth of each place over `lists` (one array of places per
/// document, oldest first), keeping the latest stack; largest first.
fn summed<'a>(lists: impl Iterator<Item = &'a Value>, growth_of: &str) -> Vec<GrowingSite> {
    let mut by_place: BTreeMap<(String, String, i64), (i64, Vec<String>)> = BTreeMap::new();
    for list in lists {
        for place in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(function) = place["function"].as_str() else {
                continue;
            };
            let key = (
                function.to_owned(),
                place["file"].as_str().unwrap_or_default().to_owned(),
                place["line"].as_i64().unwrap_or(0),
            );
            let growth = get(place, growth_of).as_i64().unwrap_or(0);
            let stack = place["stack"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(|f| f.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let entry = by_place.entry(key).or_insert((0, Vec::new()));
            entry.0 = entry.0.saturating_add(growth);
            entry.1 = stack;
        }
    }
    let positive: i64 = by_place.values().map(|(g, _)| (*g).max(0)).sum();
    let mut sites: Vec<GrowingSite> = by_place
        .into_iter()
        .filter(|(_, (g, _))| *g > 0)
        .map(|((function, file, line), (growth, stack))| GrowingSite {
            function,
            file,
            line,
            growth,
            // A site listed grew, so `positive` is above zero.
            share: growth as f64 / positive as f64,
            stack,
        })
        .collect();
    sites.sort_by(|a, b| {
        b.growth
            .cmp(&a.growth)
            .then_with(|| a.function.cmp(&b.function))
    });
    sites.truncate(WHERE_SITES);
    sites
}

/// What the profile documents in `docs` say about `lifetime`; `None` when
/// there are none.
pub fn profile_evidence(
    docs: &[Value],
    lifetime: &Lifetime,
    th: &Thresholds,
) -> Option<ProfileEvidence> {
    let found = of_lifetime(docs, lifetime);
    if found.is_empty() {
        return None;
    }
    let heap_lists = found.iter().filter_map(|(_, d)| {
        let basis = get(d, profile::HEAP_BASIS).as_str();
        matches!(basis, Some("previous" | "delta")).then(|| get(d, profile::HEAP_SITES))
    });
    let sites = summed(heap_lists, "growth.bytes");
    let counts: Vec<(f64, f64)> = found
        .iter()
        .filter_map(|(t, d)| get(d, profile::GOROUTINES_COUNT).as_f64().map(|c| (*t, c)))
        .collect();
    let goroutines = (counts.len() >= MIN_GOROUTINE_PROFILES)
        .then(|| goroutine_evidence(&counts, &found, th))
        .flatten();
    Some(ProfileEvidence {
        profiles: found.len(),
        sites,
        goroutines,
    })
}

fn goroutine_evidence(
    counts: &[(f64, f64)],
    found: &[(f64, &Value)],
    th: &Thresholds,
) -> Option<GoroutineEvidence> {
    let t0 = counts[0].0;
    let points: Vec<(f64, f64)> = counts.iter().map(|(t, c)| (t - t0, *c)).collect();
    let window_secs = points.last()?.0;
    if window_secs < th.min_span_secs {
        return None;
    }
    let trend = theil_sen(&points)?;
    let third = (points.len() / 3).max(1);
    let level = |part: &[(f64, f64)]| median_of(&part.iter().map(|p| p.1).collect::<Vec<_>>());
    let start = level(&points[..third])?;
    let end = level(&points[points.len() - third..])?;
    let threshold = th.min_goroutine_growth.max(th.min_growth_fraction * start);
    let leaking = trend.slope_low > 0.0 && trend.slope * window_secs >= threshold;
    let growing = summed(
        found
            .iter()
            .map(|(_, d)| get(d, profile::GOROUTINES_GROWING)),
        "growth",
    );
    Some(GoroutineEvidence {
        profiles: points.len(),
        window_secs,
        start,
        end,
        growth_per_hour: trend.slope * 3600.0,
        growth_low_per_hour: trend.slope_low * 3600.0,
        growth_high_per_hour: trend.slope_high * 3600.0,
        threshold,
        leaking,
        growing,
    })
}
