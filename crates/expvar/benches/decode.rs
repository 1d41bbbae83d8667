//! Decoding cost of an expvar body: a typical one (the recorded `steady`
//! example app, about 8 KB) and a large one (about 1 MB of custom variables,
//! generated here). `serde_json_only` is the bare parse, to show what the
//! crate's checks (JSON sniffing, nesting scan, object check) add on top.

#![allow(missing_docs, reason = "criterion_main generates an undocumented main")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gomon_expvar::Snapshot;

const TYPICAL: &[u8] = include_bytes!("fixtures/steady.json");

/// About `target_bytes` of expvar JSON: the typical payload's `cmdline` and
/// `memstats`, plus generated variables of every kind Go programs publish:
/// dotted counters (some above 2^53), maps of maps, floats, strings, bools.
fn large_payload(target_bytes: usize) -> Vec<u8> {
    let typical: serde_json::Value = serde_json::from_slice(TYPICAL).expect("fixture is JSON");
    let mut out = String::with_capacity(target_bytes + 4096);
    out.push_str("{\n\"cmdline\": ");
    out.push_str(&typical["cmdline"].to_string());
    out.push_str(",\n\"memstats\": ");
    out.push_str(&typical["memstats"].to_string());
    // A fixed linear congruential sequence: the same payload on every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 11
    };
    let mut i = 0;
    while out.len() < target_bytes {
        let value = match i % 5 {
            0 => format!("{}", (1u64 << 53) + next() % 1_000_000),
            1 => format!("{:.6}", (next() % 1_000_000) as f64 / 997.0),
            2 => format!("\"worker-{}-{}\"", next() % 100, i),
            3 => format!(
                "{{\"items\": {}, \"bytes\": {}, \"ok\": {}, \"per\": {{\"a\": {}, \"b\": {}}}}}",
                next() % 10_000,
                next(),
                i % 2 == 0,
                next() % 100,
                next() % 100
            ),
            _ => format!("[{}, {}, {}]", next() % 10, next() % 100, next() % 1000),
        };
        out.push_str(&format!(
            ",\n\"service.part{}.metric{}\": {value}",
            i / 50,
            i
        ));
        i += 1;
    }
    out.push_str("\n}\n");
    out.into_bytes()
}

fn decode(c: &mut Criterion) {
    let large = large_payload(1 << 20);
    for (name, body) in [("typical_8KB", TYPICAL), ("large_1MB", large.as_slice())] {
        let mut group = c.benchmark_group(format!("decode/{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("snapshot_decode", |b| {
            b.iter(|| Snapshot::decode(black_box(body), Duration::ZERO).expect("valid payload"))
        });
        group.bench_function("serde_json_only", |b| {
            b.iter(|| {
                serde_json::from_slice::<serde_json::Value>(black_box(body)).expect("valid payload")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
