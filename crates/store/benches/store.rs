//! The store's speed goals: a 24-hour chart of 1 s data (86,400 rows) in at
//! most 2,000 points, a 30-day chart through the rollups, and writing.
//!
//! `cargo bench -p gomon-store --bench store`

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gomon_store::{Reader, Store, StoreSettings, TimeRange};
use serde_json::{Value, json};

const TARGET: &str = "http://127.0.0.1:6060/debug/vars";
const START: i64 = 1_767_225_600_000; // 2026-01-01

fn doc(address: &str, ts: i64, n: u64) -> Value {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(ts as u64);
    json!({
        "@timestamp": humantime::format_rfc3339_millis(at).to_string(),
        "metricset": {"name": "heap"},
        "service": {"address": address},
        "golang": {"heap": {
            "cmdline": "/srv/app -addr :6060",
            "allocations": {"allocated": 50_000_000 + (n % 97) * 100_000, "idle": 1_000_000, "active": 60_000_000,
                            "objects": 100_000 + n % 1000, "total": n * 1_000_000, "mallocs": n * 1000, "frees": n * 990},
            "system": {"total": 90_000_000, "obtained": 80_000_000, "stack": 1_000_000, "released": 500_000},
            "gc": {"next_gc_limit": 100_000_000, "total_count": n / 5, "cpu_fraction": 0.01,
                   "total_pause": {"ns": n * 1000},
                   "pause": {"count": 1, "sum": {"ns": 100_000}, "avg": {"ns": 100_000}, "max": {"ns": 200_000},
                             "p50": {"ns": 90_000}, "p95": {"ns": 180_000}, "p99": {"ns": 200_000}, "missed": 0}},
            "rate": {"allocated_bytes_per_sec": 1e6, "mallocs_per_sec": 1000.0},
        }},
    })
}

fn filled(name: &str, rows: i64, step_ms: i64) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gomon-store-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join(gomon_store::DEFAULT_FILE);
    // The data is from 2026-01-01: keep every table's rows.
    let years = Duration::from_secs(10 * 365 * 86_400);
    let settings = StoreSettings {
        retention: years,
        minute_retention: years,
        hour_retention: years,
        ..StoreSettings::default()
    };
    let mut store = Store::open(&path, settings).unwrap();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(2_000);
    for i in 0..rows {
        batch.push(doc(TARGET, START + i * step_ms, i as u64));
        if batch.len() == 2_000 {
            store.write(&batch).unwrap();
            batch.clear();
        }
    }
    store.write(&batch).unwrap();
    store.maintain().unwrap();
    let took = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: wrote {rows} heap documents in {took:.2} s ({:.0} documents/s, rollups included)",
        rows as f64 / took
    );
    path
}

/// 10,000 targets every 10 s for two minutes, heap and expvar: 2,000
/// documents a second of traffic, written in batches of 500 as the agent
/// writes them, rollups included; prints how many documents a second one
/// core writes.
fn ten_thousand_targets() {
    let dir = std::env::temp_dir().join(format!("gomon-store-bench-wide-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join(gomon_store::DEFAULT_FILE);
    let mut store = Store::open(&path, StoreSettings::default()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let targets: Vec<String> = (0..10_000)
        .map(|i| format!("http://10.0.{}.{}:6060/debug/vars", i / 250, i % 250))
        .collect();
    let mut docs = Vec::new();
    for tick in 0..12i64 {
        for (i, target) in targets.iter().enumerate() {
            let ts = now - 120_000 + tick * 10_000 + i as i64;
            docs.push(doc(target, ts, tick as u64));
            let mut expvar = json!({
                "@timestamp": humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH + Duration::from_millis(ts as u64)).to_string(),
                "metricset": {"name": "expvar"},
                "service": {"address": target},
                "golang": {"app": {"requests": tick * 100, "output.events.acked": tick * 50, "version": "1.2.3"}},
            });
            expvar["golang"]["app"]["queue.depth"] = json!(i % 17);
            docs.push(expvar);
        }
    }
    let started = Instant::now();
    for batch in docs.chunks(500) {
        store.write(batch).unwrap();
    }
    store.maintain().unwrap();
    let took = started.elapsed().as_secs_f64();
    eprintln!(
        "10,000 targets: wrote {} documents (2 minutes of traffic at 2,000 documents/s) in {took:.2} s: {:.0} documents/s on one core, {:.0} % of a core for 2,000 documents/s",
        docs.len(),
        docs.len() as f64 / took,
        100.0 * took / 120.0
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn charts(c: &mut Criterion) {
    ten_thousand_targets();
    let day = filled("day", 86_400, 1_000);
    let reader = Reader::open(&day).unwrap();
    let range = TimeRange {
        from_ms: START,
        to_ms: START + 86_400_000,
    };
    c.bench_function("24 h of 1 s rows to 2,000 points", |b| {
        b.iter(|| {
            let s = reader.heap_series(TARGET, range, 2_000).unwrap();
            assert!(s.ts.len() <= 2_000 && s.ts.len() > 1_000);
        })
    });
    // 30 days at 10 s: 259,200 rows, charted through the rollups.
    let month = filled("month", 259_200, 10_000);
    let reader = Reader::open(&month).unwrap();
    let range = TimeRange {
        from_ms: START,
        to_ms: START + 30 * 86_400_000,
    };
    c.bench_function("30 days to 2,000 points through the rollups", |b| {
        b.iter(|| {
            let s = reader.heap_series(TARGET, range, 2_000).unwrap();
            assert!(s.ts.len() <= 2_000 && s.step_ms >= 60_000);
        })
    });
    for path in [day, month] {
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = charts
}
criterion_main!(benches);
