//! The flattener on a payload recorded from the example Go app `steady`.

use gomon_flatten::{Options, flatten};
use serde_json::{Value, json};

#[test]
fn the_steady_app_flattens_to_dotted_paths_with_exact_numbers() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../heap/tests/fixtures/steady.json"
    );
    let vars: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let flat = flatten(vars.as_object().unwrap(), &Options::default()).unwrap();
    let get = |p: &str| flat.iter().find(|(k, _)| k == p).map(|(_, v)| v.clone());

    assert_eq!(get("big_counter"), Some(json!(9_007_199_254_740_993u64)));
    assert_eq!(
        get("output.events.acked"),
        vars.get("output.events.acked").cloned()
    );
    assert_eq!(
        get("stats.work.items"),
        Some(vars["stats"]["work"]["items"].clone())
    );
    assert_eq!(get("app.version"), Some(json!("1.4.0")));
    assert_eq!(
        get("cmdline"),
        Some(json!("./steady -addr 127.0.0.1:0 -version 1.4.0"))
    );
    assert_eq!(get("last_error"), None, "null dropped");
    assert!(flat.iter().all(|(k, _)| !k.starts_with("memstats")));
    let mut paths: Vec<&String> = flat.iter().map(|(k, _)| k).collect();
    paths.dedup();
    assert_eq!(paths.len(), flat.len(), "paths are unique");
}
