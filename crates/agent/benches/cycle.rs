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

criterion_group!(benches, cycle);
criterion_main!(benches);
