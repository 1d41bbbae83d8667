//! The store as a user of the crate sees it: documents in, the same
//! documents and series out, rollups that equal a recomputation from the
//! rows, retention, versions, hostile files, imports, and `kill -9`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gomon_store::{Reader, Store, StoreError, StoreSettings, TimeRange, import_ndjson};
use serde_json::{Value, json};

const A: &str = "http://127.0.0.1:6060/debug/vars";
const B: &str = "http://127.0.0.1:6061/debug/vars";

/// Midnight (UTC) two days ago: inside the default retention, and on
/// minute and hour boundaries.
fn start() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now / 86_400_000 - 2) * 86_400_000
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gomon-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join(gomon_store::DEFAULT_FILE)
}

fn stamp(ts: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(ts as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

fn heap(address: &str, ts: i64, allocated: u64, cycles: u64) -> Value {
    json!({
        "@timestamp": stamp(ts),
        "metricset": {"name": "heap"},
        "service": {"address": address},
        "golang": {"heap": {
            "cmdline": "/srv/app -v 1",
            "allocations": {"allocated": allocated, "total": cycles * 1_000},
            "gc": {"total_count": cycles, "next_gc_limit": 2 * allocated,
                   "pause": {"count": 1, "max": {"ns": allocated % 1000}}},
        }},
    })
}

fn expvar(address: &str, ts: i64, acked: u64) -> Value {
    json!({
        "@timestamp": stamp(ts),
        "metricset": {"name": "expvar"},
        "service": {"address": address},
        "golang": {"app": {"output.events.acked": acked, "name": "x"}},
    })
}

fn all_range() -> TimeRange {
    TimeRange::all()
}

#[test]
fn documents_come_back_as_they_were_stored_with_the_targets_status() {
    let path = temp("roundtrip");
    let mut store = Store::open(&path, StoreSettings::default()).unwrap();
    let docs = vec![
        heap(A, start(), 1_000_000, 1),
        expvar(A, start(), 5),
        heap(A, start() + 1_000, 1_200_000, 2),
        json!({"@timestamp": stamp(start() + 2_000), "metricset": {"name": "heap"},
               "service": {"address": A}, "error": {"message": "connection refused"}}),
        heap(B, start(), 3_000_000, 7),
        json!({"not": "a gomon document"}),
    ];
    let written = store.write(&docs).unwrap();
    assert_eq!(
        (written.heap, written.expvar, written.skipped_count),
        (4, 1, 1)
    );
    assert_eq!(written.skipped, ["no service.address"]);

    let reader = Reader::open(&path).unwrap();
    let targets = reader.targets().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0].address, A);
    assert_eq!(targets[0].last_error.as_deref(), Some("connection refused"));
    assert_eq!(targets[0].cmdline.as_deref(), Some("/srv/app -v 1"));
    assert_eq!(
        (targets[0].first_ms, targets[0].last_ms),
        (start(), start() + 2_000)
    );
    assert_eq!(targets[1].last_error, None);

    let back = reader.documents(Some(A), all_range()).unwrap();
    assert_eq!(back.len(), 4);
    assert_eq!(back[0]["golang"], docs[0]["golang"]);
    assert_eq!(back[0]["@timestamp"], docs[0]["@timestamp"]);
    let expvar_back = back
        .iter()
        .find(|d| d["metricset"]["name"] == "expvar")
        .unwrap();
    assert_eq!(expvar_back["golang"], docs[1]["golang"]);
    assert_eq!(back[3]["error"]["message"], "connection refused");
    assert_eq!(reader.documents(None, all_range()).unwrap().len(), 5);

    // Writing the same batch again stores nothing twice.
    store.write(&docs).unwrap();
    assert_eq!(reader.documents(None, all_range()).unwrap().len(), 5);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        for file in [
            path.clone(),
            path.with_extension("db-wal"),
            path.with_extension("db-shm"),
        ] {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    let series = reader.heap_series(A, all_range(), 100).unwrap();
    assert_eq!(series.step_ms, 0, "few rows: the rows themselves");
    assert_eq!(
        series.ts,
        [start(), start() + 1_000],
        "error rows are not points"
    );
    assert_eq!(
        series.column("allocations.allocated").unwrap(),
        &[Some(1e6), Some(1.2e6)]
    );
    // NumGC went 1 → 2: the second row is a live-heap sample; the first,
    // whose history is unknown, is not.
    assert_eq!(series.column("live").unwrap(), &[None, Some(1.2e6)]);
    assert!(
        reader
            .heap_series("http://nowhere/", all_range(), 10)
            .unwrap()
            .ts
            .is_empty()
    );

    assert_eq!(
        reader.expvar_fields(A, all_range()).unwrap(),
        ["app.output.events.acked"]
    );
    let acked = reader
        .expvar_series(A, "app.output.events.acked", all_range(), 10)
        .unwrap();
    assert_eq!(
        acked.column("app.output.events.acked").unwrap(),
        &[Some(5.0)]
    );
    drop(store);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Six hours of 1 s rows for two targets, with gaps and a field that is
/// sometimes missing; every minute and hour step read from the rollups
/// equals the same step recomputed here from the rows.
fn profile(address: &str, ts: i64, growth: i64) -> Value {
    json!({
        "@timestamp": stamp(ts),
        "metricset": {"name": "profile"},
        "service": {"address": address},
        "golang": {"profile": {
            "heap": {"basis": "previous", "growth": {"bytes": growth, "objects": 1},
                     "sites": [{"function": "main.leak", "file": "/src/main.go", "line": 30,
                                "growth": {"bytes": growth, "objects": 1}, "share": {"pct": 1.0},
                                "stack": ["main.leak main.go:30"]}]},
            "goroutines": {"count": 12, "top": [], "growing": []},
        }},
    })
}

#[test]
fn profile_documents_are_kept_whole_and_their_errors_do_not_mark_the_target_down() {
    let path = temp("profiles");
    let mut store = Store::open(&path, StoreSettings::default()).unwrap();
    let failed = json!({"@timestamp": stamp(start() + 2_000), "metricset": {"name": "profile"},
        "service": {"address": A},
        "error": {"message": "http://127.0.0.1:6060/debug/pprof/heap: HTTP status 404 (Not Found)"}});
    let docs = vec![
        heap(A, start(), 1_000_000, 1),
        profile(A, start() + 1_000, 4096),
        failed.clone(),
        profile(A, start() + 3_000, 8192),
    ];
    let written = store.write(&docs).unwrap();
    assert_eq!((written.heap, written.profile), (1, 3));
    let reader = Reader::open(&path).unwrap();
    assert_eq!(reader.targets().unwrap()[0].last_error, None);
    let newest = reader.profiles(A, all_range(), 2).unwrap();
    assert_eq!(newest.len(), 2);
    assert_eq!(newest[0]["golang"], docs[3]["golang"]);
    assert_eq!(newest[1]["error"], failed["error"]);
    assert_eq!(newest[1]["metricset"]["name"], "profile");
    let all = reader.documents(Some(A), all_range()).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[1]["golang"], docs[1]["golang"]);
    assert!(reader.profiles(B, all_range(), 5).unwrap().is_empty());
    drop(store);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn rollups_equal_a_recomputation_from_the_rows() {
    let path = temp("rollups");
    let mut store = Store::open(&path, StoreSettings::default()).unwrap();
    let hours = 6;
    let mut rows: Vec<(i64, u64, u64)> = Vec::new();
    let mut batch = Vec::new();
    for i in 0..hours * 3_600 {
        if i % 1_000 < 50 {
            continue; // a gap
        }
        let ts = start() + i * 1_000;
        let allocated = 10_000_000 + ((i * 7_919) % 5_000) as u64 * 1_000;
        let cycles = (i / 3) as u64;
        rows.push((ts, allocated, cycles));
        batch.push(heap(A, ts, allocated, cycles));
        batch.push(heap(B, ts, allocated / 2, cycles));
        if batch.len() >= 2_000 {
            store.write(&batch).unwrap();
            batch.clear();
        }
    }
    store.write(&batch).unwrap();
    store.maintain().unwrap();
    let reader = Reader::open(&path).unwrap();
    for width in [60_000i64, 3_600_000] {
        let range = TimeRange {
            from_ms: start(),
            to_ms: start() + hours * 3_600_000,
        };
        let points = (range.to_ms - range.from_ms) / width;
        let series = reader.heap_series(A, range, points as usize).unwrap();
        assert_eq!(series.step_ms, width);
        // (step, the rows in it): (time, HeapAlloc, NumGC).
        type Step<'a> = (i64, Vec<&'a (i64, u64, u64)>);
        let mut expected: Vec<Step> = Vec::new();
        for row in &rows {
            let step = row.0 / width * width;
            match expected.last_mut() {
                Some((s, members)) if *s == step => members.push(row),
                _ => expected.push((step, vec![row])),
            }
        }
        assert_eq!(
            series.ts,
            expected.iter().map(|(s, _)| *s).collect::<Vec<_>>()
        );
        let mean = series.column("allocations.allocated").unwrap();
        let min = series.column("allocations.allocated.min").unwrap();
        let max = series.column("allocations.allocated.max").unwrap();
        let count = series.column("gc.total_count").unwrap();
        let pauses = series.column("gc.pause.count").unwrap();
        for (i, (_, members)) in expected.iter().enumerate() {
            let m = members.iter().map(|r| r.1 as f64).sum::<f64>() / members.len() as f64;
            let got = mean[i].unwrap();
            assert!((got - m).abs() <= m * 1e-12, "step {i}: mean {got} vs {m}");
            assert_eq!(min[i], members.iter().map(|r| r.1 as f64).reduce(f64::min));
            assert_eq!(max[i], members.iter().map(|r| r.1 as f64).reduce(f64::max));
            assert_eq!(
                count[i],
                members.iter().map(|r| r.2 as f64).reduce(f64::max)
            );
            assert_eq!(pauses[i], Some(members.len() as f64), "pause counts add up");
        }
    }
    drop(store);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_chart_takes_the_coarsest_table_that_fits_and_stays_within_its_points() {
    let path = temp("steps");
    let mut store = Store::open(&path, StoreSettings::default()).unwrap();
    let docs: Vec<Value> = (0..7_200)
        .map(|i| heap(A, start() + i * 1_000, 1_000 + i as u64, i as u64))
        .collect();
    for chunk in docs.chunks(2_000) {
        store.write(chunk).unwrap();
    }
    store.maintain().unwrap();
    let reader = Reader::open(&path).unwrap();
    let two_hours = TimeRange {
        from_ms: start(),
        to_ms: start() + 7_200_000,
    };
    let fine = reader.heap_series(A, two_hours, 1_000).unwrap();
    assert_eq!(fine.step_ms, 7_200, "from the rows, 7.2 s steps");
    assert_eq!(fine.ts.len(), 1_000);
    let minutes = reader.heap_series(A, two_hours, 100).unwrap();
    assert_eq!(minutes.step_ms, 120_000, "from the minute rollups");
    assert_eq!(minutes.ts.len(), 60);
    let month = TimeRange {
        from_ms: start(),
        to_ms: start() + 30 * 86_400_000,
    };
    let hours = reader.heap_series(A, month, 500).unwrap();
    assert_eq!(hours.step_ms, 2 * 3_600_000, "from the hour rollups");
    assert_eq!(hours.ts.len(), 1);
    drop(store);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn rows_past_their_retention_go_and_the_rollups_stay_longer() {
    let path = temp("retention");
    let settings = StoreSettings {
        retention: Duration::from_secs(3_600),
        ..StoreSettings::default()
    };
    let mut store = Store::open(&path, settings).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut docs: Vec<Value> = [150, 90, 30]
        .iter()
        .map(|minutes| heap(A, now - minutes * 60_000, 1_000, *minutes as u64))
        .collect();
    docs.push(profile(A, now - 150 * 60_000, 1));
    docs.push(profile(A, now - 30 * 60_000, 2));
    store.write(&docs).unwrap();
    store.maintain().unwrap();
    let reader = Reader::open(&path).unwrap();
    let counts: std::collections::BTreeMap<String, i64> =
        reader.row_counts().unwrap().into_iter().collect();
    assert_eq!(
        counts["heap"], 1,
        "only the last hour's row is kept: {counts:?}"
    );
    assert_eq!(counts["heap_1m"], 3, "{counts:?}");
    assert!(counts["heap_1h"] >= 2, "{counts:?}");
    assert_eq!(
        counts["profile"], 1,
        "profiles keep the raw retention: {counts:?}"
    );
    // Later, the minute rollups go too (90 days), the hour rollups stay.
    store.expire(now + 91 * 86_400_000).unwrap();
    let counts: std::collections::BTreeMap<String, i64> =
        reader.row_counts().unwrap().into_iter().collect();
    assert_eq!((counts["heap"], counts["heap_1m"]), (0, 0), "{counts:?}");
    assert!(counts["heap_1h"] >= 2, "{counts:?}");
    drop(store);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn writes_keep_the_minute_rollups_current_and_the_hour_rollups_on_their_own_cadence() {
    let path = temp("cadence");
    let settings = StoreSettings {
        rollup_every: Duration::ZERO,
        hour_rollup_every: Duration::from_secs(3_600),
        ..StoreSettings::default()
    };
    let mut store = Store::open(&path, settings).unwrap();
    let reader = Reader::open(&path).unwrap();
    let counts = || -> std::collections::BTreeMap<String, i64> {
        reader.row_counts().unwrap().into_iter().collect()
    };
    // The first write opens the hour cadence's clock: it rolls minutes only.
    store
        .write(&[heap(A, start(), 1_000, 1), expvar(A, start(), 1)])
        .unwrap();
    let after_write = counts();
    assert_eq!(
        (after_write["heap_1m"], after_write["expvar_1m"]),
        (1, 1),
        "{after_write:?}"
    );
    assert_eq!(
        (after_write["heap_1h"], after_write["expvar_1h"]),
        (0, 0),
        "{after_write:?}"
    );
    store.maintain().unwrap();
    let after_maintain = counts();
    assert_eq!(
        (after_maintain["heap_1h"], after_maintain["expvar_1h"]),
        (1, 1),
        "{after_maintain:?}"
    );
    // A row in the next hour: its minute at once, its hour when the store
    // closes (closing brings every rollup up to date).
    store
        .write(&[heap(A, start() + 3_600_000, 2_000, 2)])
        .unwrap();
    assert_eq!((counts()["heap_1m"], counts()["heap_1h"]), (2, 1));
    drop(store);
    assert_eq!(counts()["heap_1h"], 2);
    drop(reader);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_store_from_a_newer_version_and_files_that_are_not_stores_are_refused_clearly() {
    let path = temp("versions");
    drop(Store::open(&path, StoreSettings::default()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let newer = Store::open(&path, StoreSettings::default()).unwrap_err();
    assert!(
        matches!(newer, StoreError::Newer { found: 99, .. }),
        "{newer}"
    );
    assert!(newer.to_string().contains("newer gomon"), "{newer}");
    assert!(matches!(
        Reader::open(&path).unwrap_err(),
        StoreError::Newer { .. }
    ));

    let dir = path.parent().unwrap();
    let text = dir.join("notes.db");
    std::fs::write(&text, "this is not a database\n".repeat(100)).unwrap();
    let error = Reader::open(&text).unwrap_err().to_string();
    assert!(
        error.contains("not a SQLite database") || error.contains("notes.db"),
        "{error}"
    );
    let other = dir.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let error = Reader::open(&other).unwrap_err().to_string();
    assert!(error.contains("not a gomon store"), "{error}");
    let missing = Reader::open(&dir.join("missing.db")).unwrap_err();
    assert!(matches!(missing, StoreError::Missing(_)), "{missing}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ndjson_files_are_imported_oldest_first_and_bad_lines_are_reported() {
    let path = temp("import");
    let dir = path.parent().unwrap().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let line = |v: Value| v.to_string() + "\n";
    std::fs::write(
        dir.join("gomon.ndjson.1"),
        line(heap(A, start(), 1_000, 1)) + &line(heap(A, start() + 1_000, 2_000, 2)),
    )
    .unwrap();
    std::fs::write(
        dir.join("gomon.ndjson"),
        line(heap(A, start() + 2_000, 3_000, 3)) + "{torn\n" + &line(expvar(A, start() + 2_000, 9)),
    )
    .unwrap();
    std::fs::write(dir.join("README"), "not ndjson").unwrap();
    let mut store = Store::open(&path, StoreSettings::default()).unwrap();
    let report = import_ndjson(&mut store, &dir).unwrap();
    assert_eq!(report.files.len(), 2);
    assert!(
        report.files[0].ends_with("gomon.ndjson.1"),
        "{:?}",
        report.files
    );
    assert_eq!(
        (report.lines, report.heap, report.expvar, report.skipped),
        (5, 3, 1, 1)
    );
    assert!(
        report.problems[0].contains("gomon.ndjson:2: not JSON"),
        "{:?}",
        report.problems
    );
    let reader = Reader::open(&path).unwrap();
    let series = reader.heap_series(A, all_range(), 10).unwrap();
    assert_eq!(
        series.column("live").unwrap(),
        &[None, Some(2_000.0), Some(3_000.0)]
    );
    // Importing again changes nothing.
    import_ndjson(&mut store, &dir).unwrap();
    assert_eq!(reader.documents(None, all_range()).unwrap().len(), 4);
    let missing = import_ndjson(&mut store, &dir.join("nope.ndjson")).unwrap_err();
    assert!(missing.to_string().contains("nope.ndjson"), "{missing}");
    drop(store);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// The child of the kill test: writes batches of 50 documents for ever,
/// printing the number committed after each write.
#[test]
#[ignore = "run by writes_committed_before_a_kill_9_are_all_there"]
fn child_writes_until_killed() {
    let Ok(path) = std::env::var("GOMON_STORE_KILL_PATH") else {
        return;
    };
    let mut store = Store::open(Path::new(&path), StoreSettings::default()).unwrap();
    let mut committed = 0i64;
    let mut out = std::io::stdout();
    for n in 0..1_000_000 {
        let batch: Vec<Value> = (0..50)
            .map(|i| {
                heap(
                    A,
                    start() + (n * 50 + i) * 1_000,
                    1_000,
                    (n * 50 + i) as u64,
                )
            })
            .collect();
        store.write(&batch).unwrap();
        committed += 50;
        writeln!(out, "committed {committed}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn writes_committed_before_a_kill_9_are_all_there_and_the_file_is_intact() {
    let path = temp("kill");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_writes_until_killed",
            "--nocapture",
        ])
        .env("GOMON_STORE_KILL_PATH", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut last = 0i64;
    while let Some(Ok(line)) = lines.next() {
        if let Some(n) = line.strip_prefix("committed ") {
            last = n.parse().unwrap();
            if last >= 5_000 {
                break;
            }
        }
    }
    // SIGKILL mid-stream: the child is somewhere inside a write.
    let _ = Command::new("kill")
        .arg("-9")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("committed ") {
            last = n.parse().unwrap();
        }
    }
    assert!(last >= 5_000, "the child wrote {last}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let reader = Reader::open(&path).unwrap();
    let stored = reader.documents(Some(A), all_range()).unwrap().len() as i64;
    assert!(
        stored >= last,
        "{stored} rows stored, {last} reported committed"
    );
    assert!(
        stored <= last + 50,
        "{stored} rows stored, at most one batch past {last}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A commit torn in the middle of its write-ahead-log frames (a disk that
/// stopped mid-write) is dropped whole; every earlier commit is intact.
#[test]
fn a_torn_last_commit_never_damages_the_earlier_ones() {
    let path = temp("torn");
    let mut store = Store::open(&path, StoreSettings::default()).unwrap();
    let first: Vec<Value> = (0..100)
        .map(|i| heap(A, start() + i * 1_000, 1_000, i as u64))
        .collect();
    store.write(&first).unwrap();
    let wal = path.with_extension("db-wal");
    let after_first = std::fs::metadata(&wal).unwrap().len();
    let second: Vec<Value> = (100..200)
        .map(|i| heap(A, start() + i * 1_000, 1_000, i as u64))
        .collect();
    store.write(&second).unwrap();
    let after_second = std::fs::metadata(&wal).unwrap().len();
    assert!(after_second > after_first);
    // Copy the files as a crash would leave them, the second commit cut in half.
    let copy = temp("torn-copy");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&path, &copy).unwrap();
    let bytes = std::fs::read(&wal).unwrap();
    let cut = (after_first + (after_second - after_first) / 2) as usize;
    std::fs::write(copy.with_extension("db-wal"), &bytes[..cut]).unwrap();
    let reader = Reader::open(&copy).unwrap();
    assert_eq!(reader.documents(Some(A), all_range()).unwrap().len(), 100);
    drop(reader);
    drop(store);
    for p in [&path, &copy] {
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
}
