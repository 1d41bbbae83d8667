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
    let settings = StoreSettings {
        retention: Duration::from_secs(10 * 365 * 86_400),
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

fn charts(c: &mut Criterion) {
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
