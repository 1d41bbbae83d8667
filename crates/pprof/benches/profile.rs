//! What a profile costs the agent: parsing a heap profile and comparing it
//! with the previous one (the `profile` metric set's work per target and
//! period), for the recorded example profile and for made-up profiles the
//! size of a large service's; and what a target keeps between profiles.
//!
//! `cargo bench -p gomon-pprof --bench profile`

use std::time::Instant;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gomon_pprof::report::ProfileState;
use gomon_pprof::{Limits, parse, synthetic};

fn recorded(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("heap profile: parse and compare with the previous");
    let cases = [
        (
            "recorded leaking app",
            recorded("leaking-heap-1.pb.gz"),
            recorded("leaking-heap-2.pb.gz"),
        ),
        (
            "1,000 stacks × 16 frames",
            synthetic::heap_profile(1_000, 16, 1),
            synthetic::heap_profile(1_000, 16, 2),
        ),
        (
            "10,000 stacks × 32 frames",
            synthetic::heap_profile(10_000, 32, 1),
            synthetic::heap_profile(10_000, 32, 2),
        ),
    ];
    for (name, older, newer) in &cases {
        let mut state = ProfileState::new();
        let first = parse(older, &limits).unwrap();
        state.heap(&first, Instant::now(), 20).unwrap();
        eprintln!(
            "{name}: {} bytes gzip'd, {} stacks remembered between profiles",
            newer.len(),
            state.remembered()
        );
        group.bench_with_input(BenchmarkId::from_parameter(name), newer, |b, newer| {
            b.iter(|| {
                let profile = parse(newer, &limits).unwrap();
                let mut state = state.clone();
                state.heap(&profile, Instant::now(), 20).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
