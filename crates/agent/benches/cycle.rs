//! One fetch-to-document cycle against a local server: fetch a realistic
//! `/debug/vars` body (the simulator's, about 10 KB with full pause rings)
//! over a kept-alive loopback connection, decode it once, map the heap
//! document and flatten the expvar one, and serialise both as the file
//! output writes them. What a target costs the agent per period, less the
//! scheduler and the output's write.
//!
//! `cargo bench -p gomon-agent --bench cycle`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gomon_agent::collect::Collector;
use gomon_agent::config::{Config, FileFormat};
use gomon_agent::document::Origin;
use gomon_expvar::{ClientConfig, ExpvarClient};
use gomon_simulator::{Options, Simulator};

fn cycle(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let simulator = runtime
        .block_on(Simulator::start(Options {
            first: "127.0.0.1:0".parse().expect("address"),
            count: 1,
            log: false,
        }))
        .expect("simulator");
    let address = simulator.addrs()[0];
    let origin = Origin::detect();
    let client = ExpvarClient::new(ClientConfig::default());
    let mut group = c.benchmark_group("fetch_to_documents");
    for mode in ["flatten", "metricbeat"] {
        let yaml = format!(
            "modules:\n  - module: golang\n    metricsets: [heap, expvar]\n    period: 10s\n    \
             hosts: [\"{address}\"]\n    expvar: {{namespace: app, mode: {mode}}}\n"
        );
        let config = Config::parse(&yaml, FileFormat::Yaml, "bench").expect("config");
        let mut collector = Collector::from_config(&config)
            .expect("settings")
            .pop()
            .expect("one target");
        group.bench_function(format!("heap+expvar ({mode})"), |b| {
            b.iter(|| {
                let events = runtime.block_on(collector.collect(&client));
                assert!(
                    events.iter().all(|e| e.error.is_none()),
                    "{:?}",
                    events[0].error
                );
                for event in &events {
                    black_box(event.to_json(&origin));
                }
            })
        });
    }
    group.finish();
}

/// The decoding of one body and the typed read of its `memstats`, without
/// HTTP: in one pass (`Snapshot::decode_reading_memstats`, the heap metric
/// set's path), and as text checked first, then read (the path when an
/// expvar document keeps `memstats`' tree).
fn decode_memstats(c: &mut Criterion) {
    use gomon_expvar::Snapshot;
    use gomon_heap::MemStats;
    let mut body = Vec::new();
    gomon_simulator::Program::new(7).write_body(
        std::time::Duration::from_secs(600),
        1_700_000_000_000_000_000,
        6060,
        &mut body,
    );
    let mut group = c.benchmark_group("decode_memstats");
    group.bench_function("one pass", |b| {
        b.iter(|| {
            let (snapshot, memstats) = Snapshot::decode_reading_memstats::<MemStats>(
                black_box(&body),
                std::time::Duration::ZERO,
                64,
            )
            .expect("body");
            black_box((snapshot, memstats.expect("memstats")))
        })
    });
    group.bench_function("text, then typed", |b| {
        b.iter(|| {
            let snapshot =
                Snapshot::decode(black_box(&body), std::time::Duration::ZERO).expect("body");
            let memstats = MemStats::from_json_text(snapshot.memstats_json().expect("memstats"))
                .expect("typed");
            black_box((snapshot, memstats))
        })
    });
    group.finish();
}

criterion_group!(benches, cycle, decode_memstats);
criterion_main!(benches);
