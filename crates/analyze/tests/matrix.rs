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
