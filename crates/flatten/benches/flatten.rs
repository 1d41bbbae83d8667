//! Flattening cost of one snapshot: the recorded `steady` example app
//! (about 8 KB, memstats left out as by default) and about 1 MB of generated
//! custom variables (nested maps, dotted names, arrays), in flatten mode with
//! a rate glob and in Metricbeat mode. `clone_only` is a deep clone of the
//! same object: the floor any transformation of it pays.

#![allow(missing_docs, reason = "criterion_main generates an undocumented main")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gomon_flatten::{FlattenConfig, Flattener, Limits, Mode};
use serde_json::{Map, Value, json};

fn typical() -> Map<String, Value> {
    let text = include_str!("../../heap/tests/fixtures/steady.json");
    serde_json::from_str(text).expect("fixture is a JSON object")
}

/// About `target_bytes` of custom variables, the same on every run.
fn large(target_bytes: usize) -> Map<String, Value> {
    let mut vars = typical();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 11
    };
    let mut size = 0;
    let mut i = 0;
    while size < target_bytes {
        let value = match i % 4 {
            0 => json!((1u64 << 53) + next() % 1000),
            1 => {
                json!({"items": next() % 10_000, "per": {"a": next() % 100, "b": (next() % 1000) as f64 / 7.0}})
            }
            2 => json!(format!("worker-{}", next() % 100)),
            _ => json!([next() % 10, next() % 100]),
        };
        let key = format!("svc{}.handler{}.requests", i % 50, i);
        size += key.len() + value.to_string().len() + 4;
        vars.insert(key, value);
        i += 1;
    }
    vars
}

fn config(mode: Mode) -> FlattenConfig {
    let mut config = FlattenConfig::new("bench")
        .expect("valid namespace")
        .rate("**.requests")
        .expect("valid glob");
    config.mode = mode;
    // The large payload has about 30,000 leaves: lift the field limits so the
    // whole payload is flattened, not truncated at 1000 fields.
    config.limits = Limits {
        max_fields: 1_000_000,
        max_remembered_paths: 1_000_000,
        ..Limits::default()
    };
    config
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("flatten");
    group.measurement_time(Duration::from_secs(5));
    for (name, vars) in [("typical", typical()), ("large", large(1 << 20))] {
        let bytes = serde_json::to_vec(&vars).expect("serializable").len() as u64;
        group.throughput(Throughput::Bytes(bytes));
        for mode in [Mode::Flatten, Mode::Metricbeat] {
            // A warm flattener: type memory and rate bookmarks filled, as in steady state.
            let mut flattener = Flattener::new(config(mode));
            let now = Instant::now();
            flattener.flatten(&vars, now);
            group.bench_function(format!("{name}/{mode:?}"), |b| {
                b.iter(|| black_box(flattener.flatten(black_box(&vars), now)))
            });
        }
        group.bench_function(format!("{name}/clone_only"), |b| {
            b.iter(|| black_box(vars.clone()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
