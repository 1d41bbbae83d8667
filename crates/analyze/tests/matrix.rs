//! The verdict matrix: nine kinds of Go program, simulated with the
//! collector's pacing (`sim`), each judged in three windows of its life
//! (the first two minutes; half an hour in the middle; an hour late, at
//! more than 1 GB of heap, where collections are minutes apart) at two
//! polling periods (1 s and 10 s). Every case must get one of the verdicts
//! listed for it; `insufficient-data` is listed only where the window
//! cannot tell, and must then say what is missing.

mod sim;

use gomon_analyze::{Analysis, Thresholds, Verdict, analyze, lifetimes};
use sim::Program;

const MB: f64 = 1e6;
const GB: f64 = 1e9;
const H: f64 = 3600.0;

/// Where in a process's life the window lies.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Window {
    /// The first two minutes.
    Early,
    /// Half an hour, from 30 min to 60 min.
    Middle,
    /// Twenty minutes from 3 h, the program's heap above 1 GB.
    Late,
}

impl Window {
    fn range(self) -> (f64, f64) {
        match self {
            Window::Early => (0.0, 120.0),
            Window::Middle => (1800.0, 3600.0),
            Window::Late => (3.0 * H, 3.0 * H + 1200.0),
        }
    }
}

struct Behaviour {
    name: &'static str,
    /// The program in the early and middle windows (tens of MB).
    small: Program,
    /// The program in the late window (above 1 GB).
    large: Program,
    /// Verdicts that are right, per window.
    right: fn(Window) -> &'static [Verdict],
}

use Verdict::{InsufficientData as Unsure, Leak, Plateau, Steady};

fn program(live: fn(f64) -> f64, churn: f64) -> Program {
    Program {
        live,
        churn,
        gogc: Some(100.0),
        memory_limit: None,
    }
}

/// A program whose live heap does not grow: steady, though two minutes
/// of a program whose heap moves a lot may not be enough to say so.
fn quiet(window: Window) -> &'static [Verdict] {
    match window {
        Window::Early => &[Steady, Unsure],
        _ => &[Steady],
    }
}

fn behaviours() -> Vec<Behaviour> {
    vec![
        Behaviour {
            name: "fast leak",
            // 2.4 GB/h from 10 MB; late: 3.6 GB/h from 1 GB at 3 h.
            small: program(|t| 10.0 * MB + t * 2.4 * GB / H, 2.0 * MB),
            large: program(
                |t| 100.0 * MB + (t - 2.75 * H).max(0.0) * 3.6 * GB / H,
                2.0 * MB,
            ),
            right: |_| &[Leak],
        },
        Behaviour {
            name: "slow leak, heavy churn",
            // 200 MB/h under 150 MB/s of garbage; late: 300 MB/h at 1.2 GB.
            small: program(|t| 20.0 * MB + t * 200.0 * MB / H, 150.0 * MB),
            large: program(|t| 1.2 * GB + t * 300.0 * MB / H, 20.0 * MB),
            right: |w| match w {
                Window::Early => &[Leak, Unsure],
                _ => &[Leak],
            },
        },
        Behaviour {
            name: "steady",
            small: program(|_| 30.0 * MB, 5.0 * MB),
            large: program(|_| 1.5 * GB, 5.0 * MB),
            right: quiet,
        },
        Behaviour {
            name: "cache fills, then levels off",
            // 100 MB in the first minute; late: 1 GB in the first 20 minutes.
            small: program(|t| 10.0 * MB + 100.0 * MB * (t / 60.0).min(1.0), 3.0 * MB),
            large: program(|t| 200.0 * MB + GB * (t / 1200.0).min(1.0), 5.0 * MB),
            right: |w| match w {
                Window::Early => &[Plateau, Unsure],
                _ => &[Steady],
            },
        },
        Behaviour {
            name: "churn, no leak",
            small: program(|_| 50.0 * MB, 30.0 * MB),
            large: program(|_| 1.2 * GB, 50.0 * MB),
            right: quiet,
        },
        Behaviour {
            name: "GC pressure",
            small: program(|_| 5.0 * MB, 300.0 * MB),
            large: program(|_| 1.1 * GB, 400.0 * MB),
            right: quiet,
        },
        Behaviour {
            name: "saw-tooth, periodic large frees",
            // +50 MB over 30 s, then freed; late: +500 MB over 5 min.
            small: program(|t| 40.0 * MB + 50.0 * MB * (t % 30.0) / 30.0, 5.0 * MB),
            large: program(|t| GB + 500.0 * MB * (t % 300.0) / 300.0, 10.0 * MB),
            // An hour late holds four of its periods, seen at twelve
            // collections: too few to tell its swings from a trend.
            right: |w| match w {
                Window::Middle => &[Steady],
                _ => &[Steady, Unsure],
            },
        },
        Behaviour {
            name: "held at GOMEMLIMIT",
            small: Program {
                memory_limit: Some(100.0 * MB),
                ..program(|_| 80.0 * MB, 20.0 * MB)
            },
            large: Program {
                memory_limit: Some(1.4 * GB),
                ..program(|_| 1.2 * GB, 20.0 * MB)
            },
            right: quiet,
        },
        Behaviour {
            name: "GOGC=off until the limit",
            small: Program {
                gogc: None,
                memory_limit: Some(500.0 * MB),
                ..program(|_| 20.0 * MB, 10.0 * MB)
            },
            large: Program {
                gogc: None,
                memory_limit: Some(4.0 * GB),
                ..program(|_| 1.2 * GB, 10.0 * MB)
            },
            right: |w| match w {
                Window::Early => &[Unsure],
                _ => &[Steady],
            },
        },
    ]
}

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
