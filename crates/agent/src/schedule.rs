//! When each target is fetched: the scheduler tick, as pure functions.
//!
//! **This module does no I/O and reads no clock**: callers pass the times.
//! Each target runs on its module's period from a random start offset
//! ([`start_offset`]), so targets with the same period do not all fire at
//! once. Fetches of one target never overlap and never stack up: when a
//! fetch (or a full queue) takes longer than the period, the ticks that
//! passed are skipped and counted ([`next_due`]).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use tokio::time::Instant;

/// A start offset in `[0, period)`, different per target and per run.
pub fn start_offset(period: Duration, target: &str) -> Duration {
    offset_from_hash(period, RandomState::new().hash_one(target))
}

fn offset_from_hash(period: Duration, hash: u64) -> Duration {
    let nanos = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(hash % nanos)
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
        // Spread out: twenty targets do not all start at the same moment.
        let offsets: std::collections::BTreeSet<Duration> = (0..20)
            .map(|i| start_offset(P, &format!("host{i}:6060")))
            .collect();
        assert!(offsets.len() > 10, "{offsets:?}");
        assert_eq!(offset_from_hash(P, 25_000_000_000), Duration::from_secs(5));
        assert_eq!(offset_from_hash(Duration::ZERO, 7), Duration::ZERO);
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
