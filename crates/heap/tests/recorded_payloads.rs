//! The mapper on `/debug/vars` payloads recorded from the example Go apps
//! (`examples/go`, recorded with `curl http://ADDR/debug/vars`).

use gomon_heap::{HeapMetrics, MemStats};
use serde_json::Value;

fn recorded(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn map(name: &str) -> (Value, HeapMetrics) {
    let vars = recorded(name);
    let memstats = MemStats::from_json(&vars["memstats"]).unwrap();
    let cmdline: Vec<&str> = vars["cmdline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    (
        vars.clone(),
        HeapMetrics::from_memstats(&memstats, &cmdline),
    )
}

#[test]
fn every_metricbeat_field_comes_from_its_memstats_source() {
    let (vars, heap) = map("steady");
    let m = &vars["memstats"];
    let doc = serde_json::to_value(&heap).unwrap();
    let pairs = [
        ("/allocations/mallocs", "Mallocs"),
        ("/allocations/frees", "Frees"),
        ("/allocations/objects", "HeapObjects"),
        ("/allocations/total", "TotalAlloc"),
        ("/allocations/allocated", "HeapAlloc"),
        ("/allocations/idle", "HeapIdle"),
        ("/allocations/active", "HeapInuse"),
        ("/system/total", "Sys"),
        ("/system/obtained", "HeapSys"),
        ("/system/stack", "StackSys"),
        ("/system/released", "HeapReleased"),
        ("/gc/next_gc_limit", "NextGC"),
        ("/gc/total_count", "NumGC"),
        ("/gc/cpu_fraction", "GCCPUFraction"),
        ("/gc/total_pause/ns", "PauseTotalNs"),
    ];
    for (field, source) in pairs {
        assert_eq!(doc.pointer(field), Some(&m[source]), "{field} <- {source}");
    }
    assert_eq!(doc["cmdline"], "./steady -addr 127.0.0.1:0 -version 1.4.0");
    assert!(doc["gc"]["cpu_fraction"].is_f64());
    assert!(doc["allocations"]["allocated"].is_u64());
}

#[test]
fn recorded_heaps_are_consistent_as_the_go_runtime_promises() {
    for name in ["steady", "leaking", "gcheavy"] {
        let (_, heap) = map(name);
        let a = heap.allocations;
        assert_eq!(
            heap.system.obtained,
            a.idle + a.active,
            "{name}: HeapSys = HeapIdle + HeapInuse"
        );
        assert!(a.allocated <= a.active, "{name}: HeapAlloc <= HeapInuse");
        assert!(a.frees <= a.mallocs, "{name}");
        assert_eq!(
            a.objects,
            a.mallocs - a.frees,
            "{name}: HeapObjects = Mallocs - Frees"
        );
        assert!(heap.system.obtained <= heap.system.total, "{name}");
    }
}

#[test]
fn the_gc_heavy_app_was_recorded_mid_churn() {
    let (_, heap) = map("gcheavy");
    assert!(
        heap.gc.total_count > 256,
        "more cycles than the PauseNs ring holds: {}",
        heap.gc.total_count
    );
}
