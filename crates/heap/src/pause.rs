//! GC pause statistics of the cycles completed between two snapshots.
//!
//! Go keeps the pause of each of the last 256 GC cycles in a ring:
//! cycle `n` (counting from 1) sits at `PauseNs[(n - 1) % 256]`. Between two
//! snapshots with cycle counts `from` and `to`, the cycles `from + 1 ..= to`
//! completed; the ring still holds the newest `min(to - from, 256)` of them,
//! and the older ones are gone (counted as `missed`, never silently dropped).

use serde::{Deserialize, Serialize};

use crate::Nanos;

/// Size of Go's `PauseNs` ring.
pub const RING: u32 = 256;

/// `golang.heap.gc.pause`: the pauses of the cycles completed in one interval.
///
/// `count`, `sum`, `avg` and `max` are Metricbeat's fields; `p50`, `p95`,
/// `p99` and `missed` are gomon's additions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseStats {
    /// Cycles whose pause was read from the ring (at most 256).
    pub count: u64,
    /// Sum of those pauses.
    pub sum: Nanos,
    /// `sum / count` (integer ns), 0 when `count` is 0, as Metricbeat does.
    pub avg: Nanos,
    /// Longest of those pauses, 0 when `count` is 0.
    pub max: Nanos,
    /// Median pause (nearest rank); absent when `count` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<Nanos>,
    /// 95th percentile pause (nearest rank); absent when `count` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<Nanos>,
    /// 99th percentile pause (nearest rank); absent when `count` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<Nanos>,
    /// Cycles completed in the interval whose pause the ring no longer held
    /// (more than 256 cycles between two snapshots).
    pub missed: u64,
}

/// The pauses of the cycles `from + 1 ..= to` that the ring still holds,
/// oldest first. `to - from` is taken with wrapping arithmetic (Go's
/// `NumGC` is a `uint32`); the caller decides whether a decrease is a wrap or
/// a restart. Also returns how many completed cycles are no longer in the
/// ring. A short or malformed ring reports the cycles it lacks as missed.
pub fn interval_pauses(pause_ns: &[u64], from: u32, to: u32) -> (Vec<u64>, u64) {
    let completed = to.wrapping_sub(from);
    let in_ring = completed.min(RING);
    let mut pauses = Vec::with_capacity(in_ring as usize);
    let mut missed = u64::from(completed - in_ring);
    // Cycles to - in_ring + 1 ..= to, oldest first.
    for back in (0..in_ring).rev() {
        let cycle = to.wrapping_sub(back);
        let slot = (cycle.wrapping_sub(1) % RING) as usize;
        match pause_ns.get(slot) {
            Some(&pause) => pauses.push(pause),
            None => missed += 1,
        }
    }
    (pauses, missed)
}

/// Nearest-rank percentile of sorted values: the smallest value such that at
/// least `p` percent of the values are at or below it.
fn nearest_rank(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).max(1);
    sorted.get((rank - 1) as usize).copied()
}

impl PauseStats {
    /// Statistics of the given per-cycle pauses plus the number of cycles missed.
    pub fn from_pauses(mut pauses: Vec<u64>, missed: u64) -> PauseStats {
        pauses.sort_unstable();
        let count = pauses.len() as u64;
        // Saturating: 256 pauses of at most u64::MAX cannot be summed exactly,
        // but a real pause is far below u64::MAX / 256.
        let sum = pauses.iter().fold(0u64, |acc, &p| acc.saturating_add(p));
        let ns = |v: Option<u64>| v.map(|ns| Nanos { ns });
        PauseStats {
            count,
            sum: Nanos { ns: sum },
            avg: Nanos {
                ns: sum.checked_div(count).unwrap_or(0),
            },
            max: Nanos {
                ns: pauses.last().copied().unwrap_or(0),
            },
            p50: ns(nearest_rank(&pauses, 50)),
            p95: ns(nearest_rank(&pauses, 95)),
            p99: ns(nearest_rank(&pauses, 99)),
            missed,
        }
    }

    /// Statistics of the cycles `from + 1 ..= to` read from `pause_ns`.
    pub fn between(pause_ns: &[u64], from: u32, to: u32) -> PauseStats {
        let (pauses, missed) = interval_pauses(pause_ns, from, to);
        PauseStats::from_pauses(pauses, missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_with(cycles: std::ops::RangeInclusive<u32>) -> Vec<u64> {
        // Pause of cycle n is n * 10 ns.
        let mut ring = vec![0u64; 256];
        for n in cycles {
            ring[((n - 1) % 256) as usize] = u64::from(n) * 10;
        }
        ring
    }

    #[test]
    fn cycles_since_the_previous_snapshot_are_read_from_their_ring_slots() {
        let ring = ring_with(1..=300);
        let (pauses, missed) = interval_pauses(&ring, 290, 300);
        assert_eq!(pauses, (291..=300).map(|n| n * 10).collect::<Vec<u64>>());
        assert_eq!(missed, 0);
    }

    #[test]
    fn more_than_256_cycles_report_the_newest_256_and_the_rest_as_missed() {
        let ring = ring_with(1..=1000);
        let stats = PauseStats::between(&ring, 100, 1000);
        assert_eq!(stats.count, 256);
        assert_eq!(stats.missed, 900 - 256);
        assert_eq!(stats.max.ns, 10_000);
        assert_eq!(stats.sum.ns, (745..=1000).map(|n| n * 10).sum::<u64>());
    }

    #[test]
    fn no_cycle_gives_zeros_as_metricbeat_and_no_percentiles() {
        let stats = PauseStats::between(&ring_with(1..=5), 5, 5);
        assert_eq!(stats, PauseStats::default());
        let json = serde_json::to_value(stats).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"count": 0, "sum": {"ns": 0}, "avg": {"ns": 0}, "max": {"ns": 0}, "missed": 0})
        );
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let stats = PauseStats::from_pauses((1..=100).rev().collect(), 0);
        assert_eq!(
            (stats.p50, stats.p95, stats.p99),
            (
                Some(Nanos { ns: 50 }),
                Some(Nanos { ns: 95 }),
                Some(Nanos { ns: 99 })
            )
        );
        let one = PauseStats::from_pauses(vec![7], 0);
        assert_eq!(
            (one.p50, one.p99, one.avg.ns),
            (Some(Nanos { ns: 7 }), Some(Nanos { ns: 7 }), 7)
        );
    }

    #[test]
    fn a_wrapped_uint32_cycle_counter_still_reads_the_right_slots() {
        let mut ring = vec![0u64; 256];
        // Cycles u32::MAX - 1, u32::MAX, then 0 and 1 after the wrap.
        for (cycle, pause) in [(u32::MAX - 1, 1u64), (u32::MAX, 2), (0, 3), (1, 4)] {
            ring[(cycle.wrapping_sub(1) % 256) as usize] = pause;
        }
        let (pauses, missed) = interval_pauses(&ring, u32::MAX - 2, 1);
        assert_eq!((pauses, missed), (vec![1, 2, 3, 4], 0));
    }

    #[test]
    fn a_short_ring_counts_what_it_lacks_as_missed_instead_of_panicking() {
        let (pauses, missed) = interval_pauses(&[5, 6], 0, 4);
        assert_eq!((pauses, missed), (vec![5, 6], 2));
    }
}
