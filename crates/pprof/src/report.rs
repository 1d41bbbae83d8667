//! The `golang.profile` document of one profile fetch, and what a target
//! keeps between fetches to give the growth since the previous one.
//!
//! A heap profile as Go serves it without `?seconds=` holds, per
//! allocation site, what is in use as of the last GC and what was
//! allocated since the program started. Two of them a window apart give,
//! per site, how much the in-use memory grew in between: for a leak, the
//! leaking site is at the top. With `?seconds=N` Go computes that delta
//! itself over N seconds ([`Basis::Delta`]). The goroutine profile gives
//! the goroutines per stack; its growth names the stacks that pile up.

use serde::Serialize;

use crate::{Baseline, Profile, ProfileError, Sample, Site, delta, select, top_sites};

/// Sites or stacks listed per ranking, unless told otherwise.
pub const DEFAULT_TOP: usize = 20;

/// What a heap profile's numbers are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The first profile of the target: what is in use, no growth yet.
    First,
    /// The difference from the target's previous profile.
    Previous,
    /// A delta Go computed itself (`?seconds=N`).
    Delta,
    /// The same as the previous profile: Go updates the heap profile only
    /// when a GC cycle completes, and none did since. No sites; the next
    /// profile's growth is measured from the last one that changed.
    Unchanged,
}

/// Bytes and objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// Bytes (scaled by Go from its sampling, as `go tool pprof` shows them).
    pub bytes: i64,
    /// Objects.
    pub objects: i64,
}

/// A duration in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Seconds {
    /// Seconds.
    pub sec: f64,
}

/// A fraction (0–1), as Metricbeat's `*.pct` fields.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    /// The fraction.
    pub pct: f64,
}

/// One allocation site of `golang.profile.heap.sites`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeapSite {
    /// The function that allocated (`main.(*Cache).Put`).
    pub function: String,
    /// Its source file.
    pub file: String,
    /// The line of the allocation.
    pub line: i64,
    /// In use now (absent for a Go-computed delta).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inuse: Option<Amount>,
    /// Growth of the in-use memory over the window (absent for the first profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth: Option<Amount>,
    /// Its part of the growth of all growing sites (of what is in use, for
    /// the first profile).
    pub share: Share,
    /// `function file:line` from the site outward (at most 8 frames).
    pub stack: Vec<String>,
}

/// The site that grew most in one profile, as flat fields (Kibana tables
/// and terms aggregations cannot pair the fields of an array's objects).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopSite {
    /// `function file:line` with the short file.
    pub site: String,
    /// Its growth over the window.
    pub growth: Amount,
    /// Its part of the growth of all growing sites.
    pub share: Share,
}

/// `golang.profile.heap`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeapProfile {
    /// What the numbers are measured against.
    pub basis: Basis,
    /// The window the growth covers (absent for the first profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Seconds>,
    /// In use, all sites (absent for a Go-computed delta).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inuse: Option<Amount>,
    /// Net growth of the in-use memory over the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth: Option<Amount>,
    /// Allocated over the window (freed or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated: Option<Amount>,
    /// Sites by growth of in-use bytes (by in-use bytes for the first profile).
    pub sites: Vec<HeapSite>,
    /// Sites by growth of in-use objects (by in-use objects for the first profile).
    pub object_sites: Vec<HeapSite>,
    /// The first of `sites` when they are ranked by growth (absent for the
    /// first profile and when nothing grew).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top: Option<TopSite>,
}

impl HeapProfile {
    /// Fills [`HeapProfile::top`] from the first site, when sites are ranked by growth.
    fn with_top(mut self) -> HeapProfile {
        self.top = match self.basis {
            Basis::Previous | Basis::Delta => self.sites.first().and_then(|s| {
                Some(TopSite {
                    site: s.stack.first()?.clone(),
                    growth: s.growth?,
                    share: s.share,
                })
            }),
            Basis::First | Basis::Unchanged => None,
        };
        self
    }
}

/// One stack of `golang.profile.goroutines.top` / `.growing`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoroutineStack {
    /// Where the goroutines wait or run: the first frame outside the runtime.
    pub function: String,
    /// Its source file.
    pub file: String,
    /// Its line.
    pub line: i64,
    /// Goroutines at this place now.
    pub count: i64,
    /// Their growth since the previous profile (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth: Option<i64>,
    /// `function file:line` from that frame outward (at most 8 frames).
    pub stack: Vec<String>,
}

/// `golang.profile.goroutines`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoroutineProfile {
    /// Goroutines in the program.
    pub count: i64,
    /// Change since the previous profile (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth: Option<i64>,
    /// Time since the previous profile (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Seconds>,
    /// Places with the most goroutines.
    pub top: Vec<GoroutineStack>,
    /// Places whose goroutine count grew the most (empty for the first).
    pub growing: Vec<GoroutineStack>,
}

/// `golang.profile`: one fetch's heap and goroutine profiles (either may
/// be absent when only one was asked for or could be read).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileMetrics {
    /// The heap profile's growth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap: Option<HeapProfile>,
    /// The goroutine profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutines: Option<GoroutineProfile>,
}

const HEAP_COLUMNS: [&str; 4] = [
    "inuse_space",
    "inuse_objects",
    "alloc_space",
    "alloc_objects",
];

/// What one target keeps between profile fetches: per stack, a few
/// numbers of the previous heap and goroutine profiles.
#[derive(Debug, Clone, Default)]
pub struct ProfileState {
    heap: Option<Baseline>,
    goroutines: Option<Baseline>,
    goroutines_at: Option<std::time::Instant>,
    heap_at: Option<std::time::Instant>,
}

impl ProfileState {
    /// A target before its first profile.
    pub fn new() -> ProfileState {
        ProfileState::default()
    }

    /// Stacks remembered (heap and goroutines): the state's size.
    pub fn remembered(&self) -> usize {
        self.heap.as_ref().map_or(0, Baseline::len)
            + self.goroutines.as_ref().map_or(0, Baseline::len)
    }

    /// `golang.profile.heap` of a heap profile taken at `at`: its growth
    /// since the previous one of this target, or, when `profile` is a delta
    /// Go computed (`duration_nanos` set), that delta.
    pub fn heap(
        &mut self,
        profile: &Profile,
        at: std::time::Instant,
        top: usize,
    ) -> Result<HeapProfile, ProfileError> {
        let columns = profile.require(&HEAP_COLUMNS)?;
        if profile.duration_nanos > 0 {
            let samples = select(profile, &columns);
            let total = |k: usize| {
                samples
                    .iter()
                    .map(|s| s.values[k])
                    .fold(0i64, i64::saturating_add)
            };
            return Ok(HeapProfile {
                basis: Basis::Delta,
                window: Some(Seconds {
                    sec: profile.duration_nanos as f64 / 1e9,
                }),
                inuse: None,
                growth: Some(Amount {
                    bytes: total(0),
                    objects: total(1),
                }),
                allocated: Some(Amount {
                    bytes: total(2),
                    objects: total(3),
                }),
                sites: heap_sites(&samples, 0, top, |v| (None, Some(amount(v, 0)))),
                object_sites: heap_sites(&samples, 1, top, |v| (None, Some(amount(v, 0)))),
                top: None,
            }
            .with_top());
        }
        let inuse = Some(Amount {
            bytes: profile.total(columns[0]),
            objects: profile.total(columns[1]),
        });
        // Allocations since the start only grow: fewer means a new process,
        // whose profile is compared with nothing.
        if self.heap.as_ref().is_some_and(|base| {
            profile.total(columns[2]) < base.totals.get(2).copied().unwrap_or(0)
        }) {
            self.heap = None;
            self.heap_at = None;
        }
        let (Some(base), Some(then)) = (&self.heap, self.heap_at) else {
            // Nothing to compare with: what is in use, ranked.
            self.heap = Some(Baseline::of(profile, &columns));
            self.heap_at = Some(at);
            let samples = select(profile, &columns);
            let now = |v: &[i64]| (Some(amount(v, 0)), None);
            return Ok(HeapProfile {
                basis: Basis::First,
                window: None,
                inuse,
                growth: None,
                allocated: None,
                sites: heap_sites(&samples, 0, top, now),
                object_sites: heap_sites(&samples, 1, top, now),
                top: None,
            });
        };
        let window = Some(Seconds {
            sec: at.saturating_duration_since(then).as_secs_f64(),
        });
        let d = delta(profile, &columns, base);
        if d.is_unchanged() {
            // The baseline stays: the next growth counts from the last change.
            let zero = Some(Amount {
                bytes: 0,
                objects: 0,
            });
            return Ok(HeapProfile {
                basis: Basis::Unchanged,
                window,
                inuse,
                growth: zero,
                allocated: zero,
                sites: Vec::new(),
                object_sites: Vec::new(),
                top: None,
            });
        }
        self.heap = Some(Baseline::of(profile, &columns));
        self.heap_at = Some(at);
        let both = |v: &[i64]| (Some(amount(v, 0)), Some(amount(v, 4)));
        Ok(HeapProfile {
            basis: Basis::Previous,
            window,
            inuse,
            growth: Some(Amount {
                bytes: d.growth[0],
                objects: d.growth[1],
            }),
            allocated: Some(Amount {
                bytes: d.growth[2],
                objects: d.growth[3],
            }),
            sites: heap_sites(&d.samples, 4, top, both),
            object_sites: heap_sites(&d.samples, 5, top, both),
            top: None,
        }
        .with_top())
    }

    /// `golang.profile.goroutines` of a goroutine profile taken at `at`,
    /// with the growth since the previous one of this target.
    pub fn goroutines(
        &mut self,
        profile: &Profile,
        at: std::time::Instant,
        top: usize,
    ) -> Result<GoroutineProfile, ProfileError> {
        let columns = profile.require(&["goroutine"])?;
        let count = profile.total(columns[0]);
        let previous = self.goroutines.replace(Baseline::of(profile, &columns));
        let window = self.goroutines_at.replace(at).map(|then| Seconds {
            sec: at.saturating_duration_since(then).as_secs_f64(),
        });
        Ok(match previous {
            None => GoroutineProfile {
                count,
                growth: None,
                window: None,
                top: stacks(&select(profile, &columns), 0, top, false),
                growing: Vec::new(),
            },
            Some(base) => {
                let d = delta(profile, &columns, &base);
                GoroutineProfile {
                    count,
                    growth: Some(d.growth[0]),
                    window,
                    top: stacks(&d.samples, 0, top, true),
                    growing: stacks(&d.samples, 1, top, true),
                }
            }
        })
    }
}

fn amount(values: &[i64], from: usize) -> Amount {
    Amount {
        bytes: values[from],
        objects: values[from + 1],
    }
}

fn frames(site: &Site) -> Vec<String> {
    site.stack.iter().map(ToString::to_string).collect()
}

/// The top `n` heap sites by column `rank_by`, their share of that
/// column's positive sum, and their amounts from `amounts(values)`.
fn heap_sites(
    samples: &[Sample],
    rank_by: usize,
    n: usize,
    amounts: impl Fn(&[i64]) -> (Option<Amount>, Option<Amount>),
) -> Vec<HeapSite> {
    let positive: i64 = samples
        .iter()
        .filter(|s| !crate::is_profiler(&s.stack))
        .map(|s| s.values[rank_by].max(0))
        .fold(0, i64::saturating_add);
    top_sites(samples, rank_by, n)
        .into_iter()
        .map(|site| {
            let (inuse, growth) = amounts(&site.values);
            HeapSite {
                function: site.frame.function.to_string(),
                file: site.frame.file.to_string(),
                line: site.frame.line,
                inuse,
                growth,
                share: Share {
                    pct: fraction(site.values[rank_by], positive),
                },
                stack: frames(&site),
            }
        })
        .collect()
}

fn stacks(samples: &[Sample], rank_by: usize, n: usize, with_growth: bool) -> Vec<GoroutineStack> {
    top_sites(samples, rank_by, n)
        .into_iter()
        .map(|site| GoroutineStack {
            function: site.frame.function.to_string(),
            file: site.frame.file.to_string(),
            line: site.frame.line,
            count: site.values[0],
            growth: with_growth.then(|| site.values[1]),
            stack: frames(&site),
        })
        .collect()
}

fn fraction(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        (part as f64 / whole as f64).clamp(0.0, 1.0)
    }
}
