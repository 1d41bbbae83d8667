//! Verdicts on a real run: five example Go apps (`examples/go`) monitored by
//! `gomon run` every second for four minutes, recorded from the file store
//! (`tests/fixtures/five-apps-240s.ndjson`; targets renamed `<app>:6060`,
//! expvar documents reduced to `app.version`/`app.name`).

use gomon_analyze::{
    Analysis, Thresholds, Verdict, analyze, compare, expvar_labels, label_of, lifetimes,
};
use serde_json::Value;

fn recorded() -> Vec<Value> {
    let text = include_str!("fixtures/five-apps-240s.ndjson");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verdict_of(analyses: &[Analysis], app: &str) -> Analysis {
    analyses
        .iter()
        .find(|a| a.target == format!("{app}:6060"))
        .unwrap()
        .clone()
}

#[test]
fn four_minutes_of_one_second_data_give_the_right_verdict_for_every_app() {
    let docs = recorded();
    let analyses: Vec<Analysis> = lifetimes(&docs)
        .iter()
        .map(|l| analyze(l, &Thresholds::default()))
        .collect();
    assert_eq!(analyses.len(), 5);

    let steady = verdict_of(&analyses, "steady");
    assert_eq!(steady.verdicts, vec![Verdict::Steady], "{steady:#?}");

    let leaking = verdict_of(&analyses, "leaking");
    assert_eq!(leaking.verdict, Verdict::Leak, "{leaking:#?}");
    // 64 KiB every 100 ms: about 2,360 MB/h.
    assert!(
        (2000.0..2800.0).contains(&leaking.evidence.recent_growth_mb_per_hour),
        "{leaking:#?}"
    );
    assert!(leaking.evidence.confidence.unwrap() > 0.9);
    assert!(
        leaking.evidence.gc_limit_end_bytes > 4 * leaking.evidence.gc_limit_start_bytes,
        "NextGC rises too"
    );

    let gcheavy = verdict_of(&analyses, "gcheavy");
    assert_eq!(gcheavy.verdicts, vec![Verdict::GcPressure], "{gcheavy:#?}");
    assert!(gcheavy.evidence.gc_cycles_per_sec.unwrap() > 100.0);

    let cache = verdict_of(&analyses, "cache");
    assert_eq!(cache.verdict, Verdict::Plateau, "{cache:#?}");
    // 400 entries of 64 KiB: the level-off is about 26 MB.
    assert!(
        (20e6..35e6).contains(&cache.evidence.live_heap_end_bytes),
        "{cache:#?}"
    );

    let churn = verdict_of(&analyses, "churnleak");
    assert_eq!(
        churn.verdict,
        Verdict::Leak,
        "a small leak under heavy churn: {churn:#?}"
    );
}

/// The first minutes of real processes, the window where a leak must show
/// early: every prefix of 60, 90 and 120 s of the recording gets each app's
/// verdict (the cache has filled, in about 40 s, and levelled off).
#[test]
fn the_first_minutes_of_each_real_process_already_give_its_verdict() {
    let docs = recorded();
    for seconds in [60.0, 90.0, 120.0] {
        for life in lifetimes(&docs) {
            let mut early = life.clone();
            let start = early.samples[0].t;
            early.samples.retain(|s| s.t - start <= seconds);
            let a = analyze(&early, &Thresholds::default());
            let app = life.target.trim_end_matches(":6060");
            let right: &[Verdict] = match app {
                "steady" => &[Verdict::Steady],
                "leaking" | "churnleak" => &[Verdict::Leak],
                "cache" => &[Verdict::Plateau],
                "gcheavy" => &[Verdict::GcPressure],
                other => panic!("an app not in the recording: {other}"),
            };
            assert_eq!(a.verdicts, right, "{app}, first {seconds} s: {}", a.summary);
        }
    }
}

#[test]
fn too_little_data_says_how_much_more_is_needed() {
    let docs = recorded();
    let first = |app: &str| {
        let mut lives = lifetimes(&docs);
        lives.retain(|l| l.target == format!("{app}:6060"));
        let mut life = lives.remove(0);
        life.samples.truncate(8);
        life
    };
    let a = analyze(&first("leaking"), &Thresholds::default());
    assert_eq!(a.verdict, Verdict::InsufficientData);
    assert!(
        a.summary.contains("2 more samples") && a.summary.contains("s more data"),
        "{}",
        a.summary
    );
}

#[test]
fn a_memory_limit_gives_the_time_left_for_a_leak() {
    let docs = recorded();
    let lives = lifetimes(&docs);
    let leaking = lives.iter().find(|l| l.target == "leaking:6060").unwrap();
    let th = Thresholds {
        memory_limit: Some(1_000_000_000),
        ..Thresholds::default()
    };
    let a = analyze(leaking, &th);
    let seconds = a.evidence.seconds_to_limit.unwrap();
    // About 870 MB left at about 0.65 MB/s.
    assert!((1000.0..1800.0).contains(&seconds), "{seconds}");
    assert!(a.summary.contains("reaches the limit in"), "{}", a.summary);
}

#[test]
fn restarts_split_the_series_and_each_process_is_judged_alone() {
    let mut docs = recorded();
    // The leaking app "restarts" halfway: its second half is a new process.
    let mut seen = 0;
    for doc in docs
        .iter_mut()
        .filter(|d| d["service"]["address"] == "leaking:6060" && d["metricset"]["name"] == "heap")
    {
        seen += 1;
        if seen == 120 {
            doc["golang"]["heap"]["restarted"] = Value::Bool(true);
        }
    }
    let lives: Vec<_> = lifetimes(&docs)
        .into_iter()
        .filter(|l| l.target == "leaking:6060")
        .collect();
    assert_eq!(lives.len(), 2);
    assert_eq!(lives[0].samples.len() + lives[1].samples.len(), 240);
}

#[test]
fn versions_are_compared_by_an_expvar_label() {
    let docs = recorded();
    let lives = lifetimes(&docs);
    let labels = expvar_labels(&docs, "app.version");
    assert_eq!(
        label_of(
            lives.iter().find(|l| l.target == "churnleak:6060").unwrap(),
            &labels
        )
        .as_deref(),
        Some("2.0.0")
    );
    let c = compare(&lives, |l| label_of(l, &labels), Some("1.0.0")).unwrap();
    let names: Vec<&str> = c.groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(names, vec!["1.0.0", "2.0.0"]);
    let unknown = compare(&lives, |l| label_of(l, &labels), Some("9.9")).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "no version \"9.9\" to use as the baseline; versions present: 1.0.0, 2.0.0"
    );
    assert_eq!((c.groups[0].lifetimes, c.groups[1].lifetimes), (4, 1));
    let diff = &c.differences[0];
    // 2.0.0 (the churning app) allocates far more than the 1.0.0 apps' median.
    assert!(diff.alloc_rate.unwrap() > 1.0, "{diff:?}");
    assert!(
        c.groups[1].growth_mb_per_hour.unwrap() > 100.0,
        "{:?}",
        c.groups[1]
    );
}

/// The leaking app in its first minutes (where NextGC rose 131 → 173 →
/// 227 MB but the old estimate called it a plateau with a falling last
/// third): every prefix from 40 s on is a leak, and the rate each prints
/// is the app's.
#[test]
fn the_leaking_app_is_a_leak_from_its_first_minute_in_every_prefix() {
    let docs = recorded();
    let life = lifetimes(&docs)
        .into_iter()
        .find(|l| l.target == "leaking:6060")
        .unwrap();
    for seconds in (40..=240).step_by(10) {
        let mut prefix = life.clone();
        prefix.samples.truncate(seconds);
        let a = analyze(&prefix, &Thresholds::default());
        assert_eq!(a.verdict, Verdict::Leak, "first {seconds} s: {}", a.summary);
        // 64 KiB every 100 ms, about 2,360 MB/h; the start of a process
        // grows faster (its runtime and first buffers).
        assert!(
            (1500.0..4500.0).contains(&a.evidence.growth_mb_per_hour),
            "first {seconds} s: {}",
            a.summary
        );
    }
}

/// Every app in every window of a minute or more that the recording
/// holds gets the verdict of the whole run, or a precise abstention.
#[test]
fn every_window_of_the_recording_agrees_with_the_whole_run() {
    let docs = recorded();
    for life in lifetimes(&docs) {
        let whole = analyze(&life, &Thresholds::default()).verdict;
        for start in (0..180).step_by(30) {
            for len in [60usize, 90, 120, 180] {
                if start + len > life.samples.len() {
                    continue;
                }
                let mut window = life.clone();
                window.samples = life.samples[start..start + len].to_vec();
                let a = analyze(&window, &Thresholds::default());
                // A cache that filled before the window is steady in it.
                let right = match (whole, a.verdict) {
                    (w, v) if w == v => true,
                    (Verdict::Plateau, Verdict::Steady) => start > 0,
                    (_, Verdict::InsufficientData) => a.summary.contains("need "),
                    _ => false,
                };
                assert!(
                    right,
                    "{} from {start} s for {len} s: {} ({}), whole run {}",
                    life.target,
                    a.verdict.as_str(),
                    a.summary,
                    whole.as_str()
                );
            }
        }
    }
}
