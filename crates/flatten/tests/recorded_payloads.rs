//! The flattener on payloads recorded from the example Go apps
//! (`crates/heap/tests/fixtures`), and on the Metricbeat self-monitoring
//! payload of the source article (dotted keys).

use std::time::{Duration, Instant};

use gomon_flatten::{FlattenConfig, Flattener, Mode};
use serde_json::{Value, json};

fn recorded(name: &str) -> Value {
    let path = format!(
        "{}/../heap/tests/fixtures/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_steady_app_flattens_to_dotted_paths_with_exact_numbers() {
    let vars = recorded("steady");
    let mut flattener = Flattener::new(FlattenConfig::new("example").unwrap());
    let doc = flattener.flatten(vars.as_object().unwrap(), Instant::now());
    let f = doc.fields();

    assert_eq!(f["big_counter"], json!(9_007_199_254_740_993u64));
    assert_eq!(f["output.events.acked"], vars["output.events.acked"]);
    assert_eq!(f["stats.work.items"], vars["stats"]["work"]["items"]);
    assert_eq!(f["stats.cache.entries"], vars["stats"]["cache"]["entries"]);
    assert_eq!(f["app.version"], "1.4.0");
    assert_eq!(f["healthy"], true);
    assert_eq!(f["tags"], json!(["example", "steady"]));
    assert_eq!(f["cmdline"], "./steady -addr 127.0.0.1:0 -version 1.4.0");
    assert!(!f.contains_key("last_error"), "null dropped");
    assert!(f.keys().all(|k| !k.starts_with("memstats")));
    assert_eq!(doc.dropped().total(), 0);
}

#[test]
fn every_recorded_app_matches_its_reviewed_golden_document() {
    for app in ["steady", "leaking", "gcheavy"] {
        let vars = recorded(app);
        let mut flattener = Flattener::new(FlattenConfig::new("example").unwrap());
        let doc = flattener.flatten(vars.as_object().unwrap(), Instant::now());
        let actual = doc.into_golang_value();
        let path = format!("{}/tests/golden/{app}.json", env!("CARGO_MANIFEST_DIR"));
        if gomon_testrig::bless_goldens() {
            std::fs::create_dir_all(format!("{}/tests/golden", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        }
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            actual, golden,
            "{app}: regenerate with GOMON_BLESS=1 only after review"
        );
        // Independently of the golden: every field is the input's value at
        // that dotted path (keys may hold dots themselves), and every
        // non-null leaf of the input outside memstats is a field.
        let fields = golden["example"].as_object().unwrap();
        for (path, value) in fields {
            if path == "cmdline" {
                let joined: Vec<&str> = vars["cmdline"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                assert_eq!(value, &json!(joined.join(" ")), "{app}: cmdline");
                continue;
            }
            assert_eq!(
                at_dotted_path(&vars, path),
                Some(value),
                "{app}: field {path}"
            );
        }
        let mut leaves = Vec::new();
        input_leaves("", &vars, &mut leaves);
        for leaf in leaves {
            assert!(
                fields.contains_key(&leaf),
                "{app}: input leaf {leaf} is not a field"
            );
        }
    }
}

/// The value at `path` in `value`, where object keys may contain dots.
fn at_dotted_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    if let Some(found) = object.get(path) {
        return Some(found);
    }
    object.iter().find_map(|(key, child)| {
        let rest = path.strip_prefix(key.as_str())?.strip_prefix('.')?;
        at_dotted_path(child, rest)
    })
}

/// Dotted paths of the non-null leaves of an expvar object (arrays are
/// leaves), leaving out `memstats` and `cmdline`.
fn input_leaves(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                if prefix.is_empty() && (key == "memstats" || key == "cmdline") {
                    continue;
                }
                input_leaves(&path, child, out);
            }
        }
        Value::Null => {}
        _ => out.push(prefix.to_owned()),
    }
}

/// The start of Metricbeat's own `/debug/vars` as printed in the source article.
fn article_payload(acked: u64) -> Value {
    json!({
        "output.events.acked": acked,
        "output.elasticsearch.events.acked": acked,
        "output.elasticsearch.events.not_acked": 0,
        "output.elasticsearch.publishEvents.call.count": 24,
        "beat.memstats.memory_alloc": 3632728,
        "cmdline": ["./metricbeat", "-httpprof=127.0.0.1:6060", "-e", "-v"],
        "fetches": {"system-cpu": {"events": 4, "failures": 0, "success": 4}},
        "libbeat.config.module.running": 0,
        "memstats": {"Alloc": 3637704, "TotalAlloc": 155721720u64, "PauseNs": [1, 2, 3]}
    })
}

#[test]
fn the_articles_metricbeat_payload_keeps_the_timelion_path_in_both_modes() {
    for mode in [Mode::Flatten, Mode::Metricbeat] {
        let mut config = FlattenConfig::new("metricbeat")
            .unwrap()
            .rate("output.elasticsearch.events.acked")
            .unwrap();
        config.mode = mode;
        let mut flattener = Flattener::new(config);
        let t0 = Instant::now();
        flattener.flatten(article_payload(1088).as_object().unwrap(), t0);
        let doc = flattener.flatten(
            article_payload(1288).as_object().unwrap(),
            t0 + Duration::from_secs(10),
        );
        assert_eq!(doc.dataset(), "golang.metricbeat");
        // Elasticsearch expands the dotted key to the article's Timelion field
        // golang.metricbeat.output.elasticsearch.events.acked.
        assert_eq!(
            doc.fields()["output.elasticsearch.events.acked"],
            1288,
            "{mode:?}"
        );
        assert_eq!(
            doc.fields()["cmdline"],
            "./metricbeat -httpprof=127.0.0.1:6060 -e -v"
        );
        // Timelion's derivative(), done at the source: 200 events in 10 s.
        assert_eq!(
            doc.rates()["output.elasticsearch.events.acked"],
            20.0,
            "{mode:?}"
        );
        match mode {
            Mode::Flatten => {
                assert_eq!(doc.fields()["fetches.system-cpu.events"], 4);
                assert!(!doc.fields().contains_key("memstats"));
            }
            Mode::Metricbeat => {
                assert_eq!(doc.fields()["fetches"]["system-cpu"]["events"], 4);
                assert_eq!(
                    doc.fields()["memstats"]["TotalAlloc"],
                    155721720u64,
                    "memstats kept in full"
                );
            }
        }
    }
}
