//! Per-target state: what gomon remembers of a process between snapshots.

use std::time::Instant;

use crate::{HeapMetrics, MemStats, PauseStats, Rates};

/// The counters of the previous snapshot of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bookmark {
    cmdline: String,
    num_gc: u32,
    num_forced_gc: u32,
    pause_total_ns: u64,
    total_alloc: u64,
    mallocs: u64,
    frees: u64,
    /// `PauseEnd` of cycle `num_gc` (0 when there was none): while the ring
    /// still holds that cycle, a different value means a different process.
    last_pause_end: u64,
    at: Instant,
}

/// Why a snapshot was taken to be of a new process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartCause {
    /// `cmdline` differs from the previous snapshot's.
    Cmdline,
    /// A cumulative counter (`TotalAlloc`, `Mallocs`, `Frees`, `PauseTotalNs`,
    /// `NumForcedGC`, or `NumGC` far from its `uint32` wrap) went down.
    CounterDecreased(&'static str),
    /// The end time of the last cycle seen before differs: the ring holds
    /// another process's history, even though its counters grew past the
    /// previous ones.
    HistoryChanged,
}

/// Turns the successive snapshots of one target into `golang.heap` documents
/// with interval statistics. Keep one per target; it is small (a few counters).
///
/// - First snapshot of a process: the Metricbeat level fields, but no
///   `gc.pause`, `gc.forced.count` or `rate`: the process's whole history is
///   not one interval, and presenting it as one is Metricbeat's defect.
/// - Later snapshots: the pauses of the cycles completed since the previous
///   snapshot (at most 256 read, the rest counted in `missed`), forced
///   cycles in the interval, and per-second rates.
/// - Restart (counter down or `cmdline` changed): `restarted: true`; every
///   cycle of the new process happened since the previous snapshot, so
///   `gc.pause` covers cycles `1..=NumGC`; rates are absent for this one
///   snapshot, since the process's start time is unknown.
/// - `NumGC` is a `uint32` in Go: a decrease while every other counter grew
///   is a wrap, handled with wrapping arithmetic, not a restart.
#[derive(Debug, Clone, Default)]
pub struct HeapState {
    last: Option<Bookmark>,
    restarts: u64,
    last_restart: Option<RestartCause>,
}

/// `NumGC` values this close to `u32::MAX` followed by small ones are a wrap.
const WRAP_MARGIN: u32 = 1 << 28;

fn pause_end_of(m: &MemStats, cycle: u32) -> u64 {
    if cycle == 0 {
        return 0;
    }
    m.pause_end
        .get((cycle.wrapping_sub(1) % crate::pause::RING) as usize)
        .copied()
        .unwrap_or(0)
}

impl HeapState {
    /// A state that has seen no snapshot yet.
    pub fn new() -> HeapState {
        HeapState::default()
    }

    /// How many restarts this state has detected.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Why the latest snapshot was taken for a restart, if it was.
    pub fn last_restart(&self) -> Option<RestartCause> {
        self.last_restart
    }

    /// Forgets the previous snapshot (the next one is treated as a first).
    pub fn reset(&mut self) {
        self.last = None;
    }

    fn restart_cause(last: &Bookmark, m: &MemStats, cmdline: &str) -> Option<RestartCause> {
        if last.cmdline != cmdline {
            return Some(RestartCause::Cmdline);
        }
        let went_down = [
            ("TotalAlloc", m.total_alloc < last.total_alloc),
            ("Mallocs", m.mallocs < last.mallocs),
            ("Frees", m.frees < last.frees),
            ("PauseTotalNs", m.pause_total_ns < last.pause_total_ns),
            ("NumForcedGC", m.num_forced_gc < last.num_forced_gc),
        ];
        if let Some((name, _)) = went_down.into_iter().find(|(_, down)| *down) {
            return Some(RestartCause::CounterDecreased(name));
        }
        let wrapped = last.num_gc > u32::MAX - WRAP_MARGIN && m.num_gc < WRAP_MARGIN;
        if m.num_gc < last.num_gc && !wrapped {
            return Some(RestartCause::CounterDecreased("NumGC"));
        }
        let completed = m.num_gc.wrapping_sub(last.num_gc);
        if last.num_gc != 0
            && completed < crate::pause::RING
            && pause_end_of(m, last.num_gc) != last.last_pause_end
        {
            return Some(RestartCause::HistoryChanged);
        }
        None
    }

    /// Maps one snapshot taken at `at`, updating the state.
    pub fn observe<S: AsRef<str>>(
        &mut self,
        m: &MemStats,
        cmdline: &[S],
        at: Instant,
    ) -> HeapMetrics {
        let mut heap = HeapMetrics::from_memstats(m, cmdline);
        let bookmark = Bookmark {
            cmdline: heap.cmdline.clone(),
            num_gc: m.num_gc,
            num_forced_gc: m.num_forced_gc,
            pause_total_ns: m.pause_total_ns,
            total_alloc: m.total_alloc,
            mallocs: m.mallocs,
            frees: m.frees,
            last_pause_end: pause_end_of(m, m.num_gc),
            at,
        };
        self.last_restart = None;
        if let Some(last) = self.last.take() {
            match Self::restart_cause(&last, m, &heap.cmdline) {
                Some(cause) => {
                    self.last_restart = Some(cause);
                    self.restarts += 1;
                    heap.restarted = true;
                    heap.gc.pause = Some(PauseStats::between(&m.pause_ns, 0, m.num_gc));
                    heap.gc.forced.count = Some(u64::from(m.num_forced_gc));
                }
                None => {
                    heap.gc.pause = Some(PauseStats::between(&m.pause_ns, last.num_gc, m.num_gc));
                    heap.gc.forced.count = Some(u64::from(m.num_forced_gc - last.num_forced_gc));
                    heap.rate = rates(&last, m, at);
                }
            }
        }
        self.last = Some(bookmark);
        heap
    }
}

fn rates(last: &Bookmark, m: &MemStats, at: Instant) -> Option<Rates> {
    let secs = at.checked_duration_since(last.at)?.as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    // Counters did not go down (else it is a restart); NumGC may have wrapped.
    let per_sec = |delta: u64| delta as f64 / secs;
    Some(Rates {
        allocated_bytes_per_sec: per_sec(m.total_alloc - last.total_alloc),
        mallocs_per_sec: per_sec(m.mallocs - last.mallocs),
        frees_per_sec: per_sec(m.frees - last.frees),
        gc_cycles_per_sec: per_sec(u64::from(m.num_gc.wrapping_sub(last.num_gc))),
        gc_pause_ns_per_sec: per_sec(m.pause_total_ns - last.pause_total_ns),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn memstats(num_gc: u32, total_alloc: u64) -> MemStats {
        let mut pause_ns = vec![0u64; 256];
        let mut pause_end = vec![0u64; 256];
        for cycle in num_gc.saturating_sub(255).max(1)..=num_gc {
            let slot = ((cycle - 1) % 256) as usize;
            pause_ns[slot] = u64::from(cycle) * 100;
            pause_end[slot] = 1_000_000 + u64::from(cycle);
        }
        MemStats {
            num_gc,
            total_alloc,
            mallocs: total_alloc / 10,
            frees: total_alloc / 20,
            pause_total_ns: (1..=u64::from(num_gc)).map(|c| c * 100).sum(),
            pause_ns,
            pause_end,
            ..MemStats::default()
        }
    }

    #[test]
    fn the_first_snapshot_has_no_interval_fields() {
        let doc = HeapState::new().observe(&memstats(50, 1000), &["./app"], Instant::now());
        assert_eq!(
            (doc.gc.pause, doc.rate, doc.gc.forced.count),
            (None, None, None)
        );
        assert!(!doc.restarted);
        assert_eq!(doc.gc.total_count, 50);
    }

    #[test]
    fn the_next_snapshot_covers_only_the_cycles_since_the_previous_one() {
        let mut state = HeapState::new();
        let t0 = Instant::now();
        state.observe(&memstats(50, 1000), &["./app"], t0);
        let doc = state.observe(&memstats(53, 5000), &["./app"], t0 + Duration::from_secs(4));
        let pause = doc.gc.pause.unwrap();
        assert_eq!(
            (pause.count, pause.sum.ns, pause.max.ns, pause.missed),
            (3, 5100 + 5200 + 5300, 5300, 0)
        );
        let rate = doc.rate.unwrap();
        assert_eq!(rate.allocated_bytes_per_sec, 1000.0);
        assert_eq!(rate.gc_cycles_per_sec, 0.75);
        assert_eq!(doc.gc.forced.count, Some(0));
    }

    #[test]
    fn a_restart_resets_the_window_and_reports_the_new_process_cycles() {
        let mut state = HeapState::new();
        let t0 = Instant::now();
        state.observe(&memstats(500, 100_000), &["./app"], t0);
        // The new process has done 7 cycles since it started, after t0.
        let doc = state.observe(&memstats(7, 900), &["./app"], t0 + Duration::from_secs(10));
        assert!(doc.restarted);
        assert_eq!(
            state.last_restart(),
            Some(RestartCause::CounterDecreased("TotalAlloc"))
        );
        assert_eq!(doc.gc.pause.unwrap().count, 7);
        assert_eq!(doc.rate, None, "start time of the new process unknown");
        // And the window goes on from the new process's counters: never zeros forever.
        let doc = state.observe(&memstats(9, 1900), &["./app"], t0 + Duration::from_secs(20));
        assert!(!doc.restarted);
        assert_eq!(doc.gc.pause.unwrap().count, 2);
        assert_eq!(state.restarts(), 1);
    }

    #[test]
    fn a_new_command_line_is_a_restart() {
        let mut state = HeapState::new();
        let t0 = Instant::now();
        state.observe(&memstats(5, 1000), &["./app", "-v", "1"], t0);
        let doc = state.observe(
            &memstats(6, 2000),
            &["./app", "-v", "2"],
            t0 + Duration::from_secs(1),
        );
        assert!(doc.restarted);
        assert_eq!(state.last_restart(), Some(RestartCause::Cmdline));
    }

    #[test]
    fn a_restarted_process_that_outgrew_the_old_counters_is_caught_by_its_pause_history() {
        let mut state = HeapState::new();
        let t0 = Instant::now();
        state.observe(&memstats(10, 1000), &["./app"], t0);
        let mut newer = memstats(12, 5000);
        // Same counters shape, but cycle 10 ended at another time: another process.
        newer.pause_end[9] += 7;
        let doc = state.observe(&newer, &["./app"], t0 + Duration::from_secs(1));
        assert!(doc.restarted);
        assert_eq!(state.last_restart(), Some(RestartCause::HistoryChanged));
    }

    #[test]
    fn a_wrapping_uint32_gc_counter_is_not_a_restart() {
        let mut state = HeapState::new();
        let t0 = Instant::now();
        let mut before = memstats(3, 1000);
        before.num_gc = u32::MAX - 1;
        let mut after = memstats(3, 2000);
        after.num_gc = 2;
        after.pause_total_ns = before.pause_total_ns + 10;
        state.observe(&before, &["./app"], t0);
        let doc = state.observe(&after, &["./app"], t0 + Duration::from_secs(1));
        assert!(!doc.restarted, "{:?}", state.last_restart());
        assert_eq!(
            doc.gc.pause.unwrap().count + doc.gc.pause.unwrap().missed,
            4
        );
        assert_eq!(doc.rate.unwrap().gc_cycles_per_sec, 4.0);
    }

    #[test]
    fn a_snapshot_not_later_than_the_previous_one_has_no_rates() {
        let mut state = HeapState::new();
        let t0 = Instant::now();
        state.observe(&memstats(1, 10), &["./app"], t0);
        let doc = state.observe(&memstats(2, 20), &["./app"], t0);
        assert_eq!(doc.rate, None);
        assert_eq!(doc.gc.pause.unwrap().count, 1);
    }
}
