//! When each target is fetched: the scheduler tick, as pure functions.
//!
//! **This module does no I/O and reads no clock**: callers pass the times.
//! Each target runs on its module's period from a random start offset
//! ([`start_offset`]), so targets with the same period do not all fire at
//! once; offsets sit on a grid of a twentieth of the period ([`slot`]), so
//! the targets of one slot are fetched in one wake-up. Fetches of one
//! target never overlap and never stack up: when a fetch (or a full queue)
//! takes longer than the period, the ticks that passed are skipped and
//! counted ([`next_due`]).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use tokio::time::Instant;

/// A start offset in `[0, period)`, different per target and per run, on
/// the period's [`slot`] grid: counted from one instant shared by all
/// targets, the targets of a slot come due together.
pub fn start_offset(period: Duration, target: &str) -> Duration {
    offset_from_hash(period, RandomState::new().hash_one(target))
}

/// The grid start offsets sit on: a twentieth of the period, at least
/// 10 ms (never more than the period). The targets of one slot are fetched
/// in one wake-up of the runtime, their requests and answers handled
/// together, instead of one wake-up each: at 1,000 targets every 10 s, fifty
/// fetches every 500 ms rather than one every 10 ms. Measured with
/// `tests/bench/fleet.py` (docs/performance.md), this cut the CPU per fetch
/// at that rate from about 410 µs to about 110 µs.
pub fn slot(period: Duration) -> Duration {
    (period / 20).max(Duration::from_millis(10)).min(period)
}

fn offset_from_hash(period: Duration, hash: u64) -> Duration {
    let nanos = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
    let step = u64::try_from(slot(period).as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    let steps = (nanos / step).max(1);
    Duration::from_nanos(hash % steps * step)
}

/// The next due time after the fetch that was due at `due` finished at
/// `now`, and how many ticks were skipped because it ran late. The result
/// is always a whole number of periods after `due`, and always after `now`
/// unless `now` is exactly a tick.
pub fn next_due(due: Instant, now: Instant, period: Duration) -> (Instant, u64) {
    let period = period.max(Duration::from_nanos(1));
    let next = due + period;
    if now <= next {
        return (next, 0);
    }
    let behind = now - next;
    let missed = u64::try_from(behind.as_nanos() / period.as_nanos())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let skip = period
        .checked_mul(u32::try_from(missed).unwrap_or(u32::MAX))
        .unwrap_or(Duration::from_secs(u64::from(u32::MAX)));
    (next + skip, missed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: Duration = Duration::from_secs(10);

    #[test]
    fn a_fetch_that_ends_in_time_keeps_the_beat() {
        let t0 = Instant::now();
        assert_eq!(next_due(t0, t0 + Duration::from_millis(30), P), (t0 + P, 0));
        // Ending exactly on the next tick is in time.
        assert_eq!(next_due(t0, t0 + P, P), (t0 + P, 0));
    }

    #[test]
    fn a_slow_fetch_skips_the_ticks_it_overran_and_never_stacks_them() {
        let t0 = Instant::now();
        // 25 s late on a 10 s period: the ticks at 10 s and 20 s passed.
        let (next, skipped) = next_due(t0, t0 + Duration::from_secs(25), P);
        assert_eq!(skipped, 2);
        assert_eq!(next, t0 + Duration::from_secs(30));
        // Just past a tick: that tick is skipped.
        let (next, skipped) = next_due(t0, t0 + P + Duration::from_nanos(1), P);
        assert_eq!((next, skipped), (t0 + 2 * P, 1));
    }

    #[test]
    fn start_offsets_stay_within_one_period() {
        for target in ["a:1", "b:2", "http://c:3/debug/vars"] {
            assert!(start_offset(P, target) < P);
        }
        // Spread out over the twenty slots: a hundred targets do not all
        // start at the same moment (fewer than 16 slots used: about 1e-9).
        let offsets: std::collections::BTreeSet<Duration> = (0..100)
            .map(|i| start_offset(P, &format!("host{i}:6060")))
            .collect();
        assert!(offsets.len() > 15, "{offsets:?}");
        // On the grid of a twentieth of the period (P is 10 s: 500 ms).
        assert!(offsets.iter().all(|o| o.as_nanos() % 500_000_000 == 0));
        assert_eq!(offset_from_hash(P, 50), Duration::from_secs(5));
        assert_eq!(offset_from_hash(P, 150), Duration::from_secs(5));
        assert_eq!(offset_from_hash(Duration::ZERO, 7), Duration::ZERO);
        // Short periods: slots of 10 ms, never longer than the period.
        assert_eq!(slot(Duration::from_millis(500)), Duration::from_millis(25));
        assert_eq!(slot(Duration::from_millis(100)), Duration::from_millis(10));
        assert_eq!(slot(Duration::from_millis(5)), Duration::from_millis(5));
        assert_eq!(slot(Duration::from_secs(60)), Duration::from_secs(3));
    }

    proptest! {
        #[test]
        fn the_next_tick_is_on_the_grid_after_now(
            late_ms in 0u64..1_000_000,
            period_ms in 1u64..100_000,
        ) {
            let t0 = Instant::now();
            let period = Duration::from_millis(period_ms);
            let now = t0 + Duration::from_millis(late_ms);
            let (next, skipped) = next_due(t0, now, period);
            prop_assert!(next >= now);
            // On the grid: exactly 1 + skipped periods after the due time.
            prop_assert_eq!(next - t0, period * u32::try_from(1 + skipped).unwrap_or(u32::MAX));
            // And not a whole period beyond what was needed.
            prop_assert!(next - now <= period);
        }
    }
}
