//! What a verdict reports: the figures behind it ([`Evidence`]) and the
//! analysis of one process lifetime ([`Analysis`]), as `analyze --json`
//! writes them (schema in docs/analysis.md).

use serde::Serialize;

use crate::series::LiveHeapSource;
use crate::verdict::Verdict;

/// The figures behind a verdict. The verdict, the summary and the table are
/// all made from these numbers and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// Live heap at the start: lower quartile of the live-heap points of the
    /// first tenth of the window (at least ten points when there are thirty,
    /// at least two), bytes.
    pub live_heap_start_bytes: f64,
    /// Live heap at the end: lower quartile of the points of the last third
    /// (at least three points; else the last two), bytes.
    pub live_heap_end_bytes: f64,
    /// Robust (Theil–Sen) trend of the live heap over the whole window, MB
    /// per hour: the rate the table and every summary print, and the one
    /// the verdict is called on.
    pub growth_mb_per_hour: f64,
    /// 95 % interval of `growth_mb_per_hour`: lower end.
    pub growth_low_mb_per_hour: f64,
    /// 95 % interval of `growth_mb_per_hour`: upper end.
    pub growth_high_mb_per_hour: f64,
    /// Trend over the last third of the window (or its last two points
    /// when the last third holds fewer than three), MB per hour: whether
    /// the live heap still rises at the end.
    pub recent_growth_mb_per_hour: f64,
    /// 95 % interval of `recent_growth_mb_per_hour`: lower end.
    pub recent_growth_low_mb_per_hour: f64,
    /// 95 % interval of `recent_growth_mb_per_hour`: upper end.
    pub recent_growth_high_mb_per_hour: f64,
    /// Growth (bytes) from which the live heap counts as growing: the larger
    /// of the relative ([`Thresholds::min_growth_fraction`](crate::Thresholds::min_growth_fraction) of the start
    /// level) and absolute thresholds.
    pub growth_threshold_bytes: f64,
    /// The growth rate from which a trend counts: `growth_threshold_bytes`
    /// per hour, or over the window when the window is longer than an hour,
    /// and at least [`Thresholds::min_growth_bytes`](crate::Thresholds::min_growth_bytes) over the window. A
    /// `steady` verdict's `growth_mb_per_hour` is never above it.
    pub growth_threshold_mb_per_hour: f64,
    /// Collections seen in the window (runs of samples after a change of
    /// NumGC), the source of the live-heap estimate.
    pub gc_cycles_seen: usize,
    /// Live-heap points the trends were fitted through.
    pub live_heap_points: usize,
    /// Seconds from the first to the last live-heap point: the window the
    /// trends and thresholds are measured over.
    pub window_secs: f64,
    /// Where the live-heap points come from (absent without samples).
    pub live_heap_source: Option<LiveHeapSource>,
    /// NextGC over the live heap as measured (1 + GOGC/100 when the
    /// collector paces by GOGC).
    pub gc_goal_ratio: Option<f64>,
    /// How sure a leak or plateau call is (absent for other verdicts). Leak:
    /// share of point pairs over the last third that agree the heap rises
    /// (0.5 = chance, 1 = all). Plateau: share of the last third's points
    /// that stay above the early level by more than half the growth threshold.
    pub confidence: Option<f64>,
    /// NextGC (the GC limit) at the start, bytes.
    pub gc_limit_start_bytes: u64,
    /// NextGC at the end, bytes.
    pub gc_limit_end_bytes: u64,
    /// GC CPU fraction at the end (since the program started).
    pub gc_cpu_fraction: f64,
    /// Median of the per-interval p99 GC pauses, ns.
    pub pause_p99_ns: Option<u64>,
    /// GC cycles per second over the span.
    pub gc_cycles_per_sec: Option<f64>,
    /// Median allocation rate, bytes per second.
    pub alloc_bytes_per_sec: Option<f64>,
    /// For a leak with a memory limit: seconds until the live heap reaches it.
    pub seconds_to_limit: Option<f64>,
}

/// The analysis of one process lifetime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The target, as `service.address` holds it.
    pub target: String,
    /// The process's command line.
    pub cmdline: String,
    /// The program's name (from the command line), shown beside the target.
    pub program: String,
    /// Samples read.
    pub samples: usize,
    /// Seconds covered.
    pub span_secs: f64,
    /// The main verdict: leak, plateau, gc-pressure, steady or insufficient-data.
    pub verdict: Verdict,
    /// Every verdict that applies (a leak can also be under GC pressure).
    pub verdicts: Vec<Verdict>,
    /// One sentence a person reads.
    pub summary: String,
    /// The figures.
    pub evidence: Evidence,
    /// What the lifetime's profile documents say: where the heap grows,
    /// the goroutine count (absent without profile documents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<crate::profiles::ProfileEvidence>,
}
