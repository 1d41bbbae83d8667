//! Per-node health: round-robin over the nodes believed alive; a node that
//! fails is left alone for a while (growing with its failures), then tried
//! again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::retry::RetryPolicy;

#[derive(Debug, Default, Clone, Copy)]
struct NodeHealth {
    /// Failures in a row.
    failures: u32,
    /// Not picked before this instant, unless every node is dead.
    dead_until: Option<Instant>,
}

/// The nodes of a cluster and what is known of their health.
#[derive(Debug)]
pub(crate) struct NodePool {
    urls: Vec<String>,
    health: Vec<Mutex<NodeHealth>>,
    next: AtomicUsize,
    revival: RetryPolicy,
}

impl NodePool {
    pub(crate) fn new(urls: Vec<String>, revival: RetryPolicy) -> NodePool {
        let health = urls.iter().map(|_| Mutex::default()).collect();
        NodePool {
            urls,
            health,
            next: AtomicUsize::new(0),
            revival,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.urls.len()
    }

    pub(crate) fn url(&self, node: usize) -> &str {
        &self.urls[node]
    }

    fn state(&self, node: usize) -> NodeHealth {
        *self.health[node]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next node to use, skipping `tried`: round-robin over the live
    /// ones (a dead node whose wait is over counts as live: it gets one
    /// request to prove itself); if all are dead, the one that comes back
    /// soonest.
    pub(crate) fn pick(&self, tried: &[usize], now: Instant) -> Option<usize> {
        let n = self.urls.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let candidates = (0..n)
            .map(|i| (start + i) % n)
            .filter(|node| !tried.contains(node));
        let mut soonest: Option<(usize, Instant)> = None;
        for node in candidates {
            match self.state(node).dead_until {
                None => return Some(node),
                Some(until) if until <= now => return Some(node),
                Some(until) => {
                    if soonest.is_none_or(|(_, best)| until < best) {
                        soonest = Some((node, until));
                    }
                }
            }
        }
        soonest.map(|(node, _)| node)
    }

    /// The node answered: it is alive.
    pub(crate) fn mark_alive(&self, node: usize) {
        let mut state = self.health[node]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.failures > 0 {
            tracing::info!(server = %self.urls[node], "node answers again");
        }
        *state = NodeHealth::default();
    }

    /// The node did not answer: leave it alone for the revival backoff of
    /// its failure count.
    pub(crate) fn mark_dead(&self, node: usize, now: Instant) {
        let mut state = self.health[node]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.failures = state.failures.saturating_add(1);
        let wait = self.revival.ceiling(state.failures);
        state.dead_until = Some(now + wait);
        tracing::warn!(server = %self.urls[node], failures = state.failures, retry_in_ms = wait.as_millis() as u64, "node marked dead");
    }

    /// Nodes currently believed alive.
    pub(crate) fn alive(&self, now: Instant) -> usize {
        (0..self.urls.len())
            .filter(|&node| self.state(node).dead_until.is_none_or(|t| t <= now))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pool(n: usize) -> NodePool {
        NodePool::new(
            (0..n).map(|i| format!("http://node{i}")).collect(),
            RetryPolicy {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(8),
                ..RetryPolicy::default()
            },
        )
    }

    #[test]
    fn live_nodes_take_turns() {
        let pool = pool(3);
        let now = Instant::now();
        let picks: Vec<usize> = (0..6).map(|_| pool.pick(&[], now).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn a_dead_node_is_skipped_until_its_wait_is_over_then_tried_again() {
        let pool = pool(2);
        let now = Instant::now();
        pool.mark_dead(1, now);
        assert_eq!(pool.alive(now), 1);
        for _ in 0..4 {
            assert_eq!(pool.pick(&[], now), Some(0));
        }
        let later = now + Duration::from_millis(1001);
        let picks: Vec<usize> = (0..4).map(|_| pool.pick(&[], later).unwrap()).collect();
        assert!(picks.contains(&1), "{picks:?}");
        pool.mark_alive(1);
        assert_eq!(pool.alive(now), 2);
    }

    #[test]
    fn with_every_node_dead_the_one_back_soonest_is_tried_and_tried_nodes_are_skipped() {
        let pool = pool(3);
        let now = Instant::now();
        pool.mark_dead(0, now);
        pool.mark_dead(0, now); // 2 s
        pool.mark_dead(1, now); // 1 s
        pool.mark_dead(2, now);
        pool.mark_dead(2, now);
        pool.mark_dead(2, now); // 4 s
        assert_eq!(pool.pick(&[], now), Some(1));
        assert_eq!(pool.pick(&[1], now), Some(0));
        assert_eq!(pool.pick(&[0, 1, 2], now), None);
    }

    #[test]
    fn failures_in_a_row_lengthen_the_wait_up_to_the_maximum() {
        let pool = pool(1);
        let now = Instant::now();
        for _ in 0..10 {
            pool.mark_dead(0, now);
        }
        let until = pool.state(0).dead_until.unwrap();
        assert_eq!(until - now, Duration::from_secs(8));
    }
}
