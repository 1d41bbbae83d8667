//! The verdict matrix: nine kinds of Go program, simulated with the
//! collector's pacing (`sim`), each judged in three windows of its life
//! (the first two minutes; half an hour in the middle; an hour late, at
//! more than 1 GB of heap, where collections are minutes apart) at two
//! polling periods (1 s and 10 s). Every case must get one of the verdicts
//! listed for it; `insufficient-data` is listed only where the window
//! cannot tell, and must then say what is missing.

mod sim;

use Verdict::Steady;
use gomon_analyze::{Analysis, Thresholds, Verdict, analyze, lifetimes};
use sim::{Program, Window, behaviours};

const MB: f64 = 1e6;
const GB: f64 = 1e9;

/// The verdict on the heap trend: gc-pressure alone stands in for steady
/// when GC takes a large share of CPU.
fn heap_verdict(a: &Analysis) -> Verdict {
    a.verdicts
        .iter()
        .copied()
        .find(|v| *v != Verdict::GcPressure)
        .unwrap_or(Steady)
}

fn judge(program: &Program, window: Window, period: f64, seed: u64) -> Analysis {
    let (from, to) = window.range();
    let docs = program.run(from, to, period, seed);
    let lives = lifetimes(&docs);
    assert_eq!(lives.len(), 1);
    analyze(&lives[0], &Thresholds::default())
}

#[test]
fn every_behaviour_gets_a_right_verdict_in_every_window_at_every_period() {
    let mut wrong = Vec::new();
    let mut table = String::new();
    for b in behaviours() {
        for window in [Window::Early, Window::Middle, Window::Late] {
            let program = if window == Window::Late {
                &b.large
            } else {
                &b.small
            };
            for period in [1.0, 10.0] {
                for seed in 1..=3 {
                    let a = judge(program, window, period, seed);
                    let line = format!(
                        "{:<32} {:<7} {:>3}s seed {seed}: {:<18} {}\n",
                        b.name,
                        format!("{window:?}"),
                        period,
                        a.verdicts
                            .iter()
                            .map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join("+"),
                        a.summary
                    );
                    table.push_str(&line);
                    let right = (b.right)(window);
                    if !right.contains(&heap_verdict(&a)) {
                        wrong.push(format!("{line}   right: {right:?}"));
                    }
                    if a.verdict == Verdict::InsufficientData {
                        assert!(
                            a.summary.contains("need "),
                            "an abstention says what it needs: {}",
                            a.summary
                        );
                    }
                }
            }
        }
    }
    println!("{table}");
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// How long after a process starts each behaviour gets its verdict (the
/// first span of data from which every longer span, checked every 10 s up
/// to 30 min, gets a right verdict): measured, printed for
/// docs/analysis.md, and held to what that page says.
#[test]
fn time_to_a_verdict_from_the_start_of_a_process() {
    let mut lines = Vec::new();
    for b in behaviours() {
        for period in [1.0, 10.0] {
            let docs = b.small.run(0.0, 1800.0, period, 11);
            let lives = lifetimes(&docs);
            let right = (b.right)(Window::Middle);
            let mut settled: Option<f64> = None;
            for end in (20..=1800).step_by(10) {
                let n = (end as f64 / period) as usize + 1;
                let mut life = lives[0].clone();
                life.samples.truncate(n);
                let a = analyze(&life, &Thresholds::default());
                // From the start of the process a cache is seen filling.
                let ok = right.contains(&heap_verdict(&a))
                    || (b.name.starts_with("cache") && heap_verdict(&a) == Verdict::Plateau);
                match (ok, settled) {
                    (true, None) => settled = Some(end as f64),
                    (false, _) => settled = None,
                    _ => {}
                }
            }
            let line = format!(
                "| {} | {} s | {} |",
                b.name,
                period,
                settled.map_or("not within 30 min".to_owned(), |s| format!("{s:.0} s"))
            );
            lines.push(line);
            // Every behaviour gets its verdict within ten minutes; a fast
            // leak within the first minute (two at 10 s: ten samples); a
            // live heap that swings by more than its own size every 30 s
            // within the half hour.
            let limit = match b.name {
                "fast leak" => 60.0 * period.min(2.0),
                "saw-tooth, periodic large frees" => 1800.0,
                _ => 600.0,
            };
            assert!(
                settled.is_some_and(|s| s <= limit),
                "{}: {:?} at {period} s",
                b.name,
                settled
            );
        }
    }
    println!("{}", lines.join("\n"));
}

/// The smallest leak called in a window, by heap size, window length and
/// period: leaks from 1 MB/h to 2 GB/h on a live heap of 50 MB or 1 GB,
/// under 5 or 20 MB/s of garbage, three seeds each; the smallest rate from
/// which every rate is called a leak in every seed. Printed for
/// docs/analysis.md, and held to a leak of twice the threshold (20 % of
/// the heap per hour) over an hour.
#[test]
fn the_smallest_leak_called_by_heap_size_and_window() {
    let rates = [
        1.0, 2.0, 5.0, 6.0, 8.0, 10.0, 20.0, 50.0, 100.0, 120.0, 150.0, 200.0, 500.0, 1000.0,
        2000.0,
    ];
    let mut lines = Vec::new();
    for (heap, churn) in [(50.0 * MB, 5.0 * MB), (GB, 20.0 * MB)] {
        for window in [600.0, 3600.0] {
            for period in [1.0, 10.0] {
                let mut smallest = None;
                for rate in rates.iter().rev() {
                    let per_sec = rate * MB / 3600.0;
                    let all = (1..=3).all(|seed| {
                        let p = sim::program(move |t| heap + per_sec * t, churn);
                        // Half an hour into the process, as a window of a
                        // running service.
                        let docs = p.run(1800.0, 1800.0 + window, period, seed);
                        let a = analyze(&lifetimes(&docs)[0], &Thresholds::default());
                        a.verdict == Verdict::Leak
                    });
                    if !all {
                        break;
                    }
                    smallest = Some(*rate);
                }
                lines.push(format!(
                    "| {:.0} MB | {:.0} min | {period} s | {} |",
                    heap / MB,
                    window / 60.0,
                    smallest.map_or("none up to 2 GB/h".to_owned(), |r| format!("{r} MB/h"))
                ));
                if window == 3600.0 {
                    assert!(
                        smallest.is_some_and(|r| r * MB <= 0.2 * heap),
                        "{} MB heap over an hour at {period} s: {smallest:?}",
                        heap / MB
                    );
                }
            }
        }
    }
    println!("{}", lines.join("\n"));
}
