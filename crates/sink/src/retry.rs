//! Retry logic: how long to wait before trying again, and what each item
//! status means.

use std::time::Duration;

use crate::batch::Op;

/// Exponential backoff with full jitter: before retry `n` (from 1) the sink
/// waits a uniformly random time between zero and
/// `min(max, initial × multiplier^(n-1))`. Full jitter spreads the retries of
/// many writers over the whole window, so a recovering server is not hit by
/// all of them at the same instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The ceiling of the first wait (default 1 s).
    pub initial: Duration,
    /// The largest ceiling (default 60 s).
    pub max: Duration,
    /// Growth of the ceiling per retry (default 2).
    pub multiplier: f64,
    /// Item-level retries (429, 5xx) after which a document goes to the
    /// dead-letter store instead; `None` (default) retries until the
    /// document is delivered or the sink's drain deadline passes.
    /// Whole-request failures (server unreachable) never count here: an
    /// outage must not turn documents into dead letters.
    pub max_item_retries: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 2.0,
            max_item_retries: None,
        }
    }
}

impl RetryPolicy {
    /// The longest wait before retry `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(64) as i32;
        let factor = self.multiplier.max(1.0).powi(exponent);
        let secs = self.initial.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The wait before retry `retry`: uniformly random in `[0, ceiling]`.
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_at(retry, fastrand::f64())
    }

    /// The wait before retry `retry` for a given point `unit` in `[0, 1]` of
    /// the jitter window (what [`RetryPolicy::delay`] draws at random).
    pub fn delay_at(&self, retry: u32, unit: f64) -> Duration {
        self.ceiling(retry).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// What the sink does with one item of a bulk response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemAction {
    /// 2xx: written.
    Delivered,
    /// 409 on `create`: a document with this id exists, written before
    /// (a retry after a lost answer, or a replay).
    Duplicate,
    /// 429 or 5xx: the server could not take it now; send it again alone.
    Retry,
    /// Any other status (400 mapping error, 409 on `index`, 404 ...):
    /// sending it again would fail the same way.
    DeadLetter,
}

impl ItemAction {
    /// Sorts an item by its action and HTTP status.
    pub fn of(op: Op, status: u16) -> ItemAction {
        match status {
            200..=299 => ItemAction::Delivered,
            409 if op == Op::Create => ItemAction::Duplicate,
            429 | 500..=599 => ItemAction::Retry,
            _ => ItemAction::DeadLetter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_ceiling_doubles_from_initial_and_stops_at_max() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(1), Duration::from_secs(1));
        assert_eq!(policy.ceiling(2), Duration::from_secs(2));
        assert_eq!(policy.ceiling(6), Duration::from_secs(32));
        assert_eq!(policy.ceiling(7), Duration::from_secs(60));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(60));
        assert_eq!(policy.delay_at(3, 0.0), Duration::ZERO);
        assert_eq!(policy.delay_at(3, 1.0), Duration::from_secs(4));
        assert_eq!(policy.delay_at(3, 0.5), Duration::from_secs(2));
    }

    #[test]
    fn items_are_sorted_by_status_and_action() {
        assert_eq!(ItemAction::of(Op::Create, 201), ItemAction::Delivered);
        assert_eq!(ItemAction::of(Op::Index, 200), ItemAction::Delivered);
        assert_eq!(ItemAction::of(Op::Create, 409), ItemAction::Duplicate);
        assert_eq!(ItemAction::of(Op::Index, 409), ItemAction::DeadLetter);
        assert_eq!(ItemAction::of(Op::Create, 429), ItemAction::Retry);
        assert_eq!(ItemAction::of(Op::Create, 500), ItemAction::Retry);
        assert_eq!(ItemAction::of(Op::Create, 503), ItemAction::Retry);
        assert_eq!(ItemAction::of(Op::Create, 400), ItemAction::DeadLetter);
        assert_eq!(ItemAction::of(Op::Create, 404), ItemAction::DeadLetter);
    }

    proptest! {
        #[test]
        fn every_delay_lies_between_zero_and_the_ceiling_which_never_exceeds_max(
            initial_ms in 0u64..5_000,
            max_ms in 0u64..120_000,
            multiplier in 0.5f64..10.0,
            retry in 0u32..200,
        ) {
            let policy = RetryPolicy {
                initial: Duration::from_millis(initial_ms),
                max: Duration::from_millis(max_ms),
                multiplier,
                max_item_retries: None,
            };
            let ceiling = policy.ceiling(retry);
            prop_assert!(ceiling <= policy.max);
            let delay = policy.delay(retry);
            prop_assert!(delay <= ceiling);
            // The ceiling never shrinks from one retry to the next.
            prop_assert!(policy.ceiling(retry + 1) >= ceiling);
        }
    }
}
