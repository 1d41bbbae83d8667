//! Property tests of the flattener on arbitrary JSON.

use std::time::Instant;

use gomon_flatten::{ArrayPolicy, FlattenConfig, Flattener, Limits, Mode};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Arbitrary expvar-like JSON: keys may contain dots when `dotted` is set.
fn json(dotted: bool) -> impl Strategy<Value = Value> {
    let key = if dotted { "[a-c.]{1,4}" } else { "[a-d_]{1,4}" };
    let leaf = prop_oneof![
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        (-1e12f64..1e12).prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z ]{0,8}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object(dotted: bool) -> impl Strategy<Value = Map<String, Value>> {
    let key = if dotted { "[a-c.]{1,4}" } else { "[a-d_]{1,4}" };
    prop::collection::btree_map(key, json(dotted), 0..6).prop_map(|m| m.into_iter().collect())
}

/// Objects whose leaves are scalars (no nulls, arrays or empty objects):
/// exactly what flattening can give back unchanged.
fn plain_object() -> impl Strategy<Value = Map<String, Value>> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        "[a-z]{0,6}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
    ];
    let tree = leaf.prop_recursive(5, 48, 5, |inner| {
        prop::collection::btree_map("[a-d_]{1,4}", inner, 1..5)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    });
    prop::collection::btree_map("[e-h_]{1,4}", tree, 0..6).prop_map(|m| m.into_iter().collect())
}

fn nest(flat: &Map<String, Value>) -> Map<String, Value> {
    let mut root = Map::new();
    for (path, value) in flat {
        let mut node = &mut root;
        let segments: Vec<&str> = path.split('.').collect();
        for segment in &segments[..segments.len() - 1] {
            node = node
                .entry(segment.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("no leaf where an object is");
        }
        node.insert(segments[segments.len() - 1].to_owned(), value.clone());
    }
    root
}

fn count_leaves(map: &Map<String, Value>) -> usize {
    map.values()
        .map(|v| match v {
            Value::Object(m) => count_leaves(m),
            _ => 1,
        })
        .sum()
}

fn has_null(map: &Map<String, Value>) -> bool {
    map.values().any(|v| match v {
        Value::Null => true,
        Value::Object(m) => has_null(m),
        Value::Array(items) => items.iter().any(Value::is_null),
        _ => false,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn flattening_never_panics_and_stays_within_the_limits(
        snapshots in prop::collection::vec(object(true), 1..4),
        mode in prop_oneof![Just(Mode::Flatten), Just(Mode::Metricbeat)],
        arrays in prop_oneof![Just(ArrayPolicy::Keep), Just(ArrayPolicy::Drop), Just(ArrayPolicy::Expand)],
        max_fields in 1usize..20,
        max_depth in 1usize..6,
    ) {
        let mut config = FlattenConfig::new("p").unwrap().rate("**").unwrap();
        config.mode = mode;
        config.arrays = arrays;
        config.limits = Limits { max_depth, max_fields, max_key_len: 12, max_remembered_paths: 50 };
        let mut flattener = Flattener::new(config);
        for vars in &snapshots {
            let doc = flattener.flatten(vars, Instant::now());
            let written = match mode {
                Mode::Flatten => doc.fields().len(),
                Mode::Metricbeat => count_leaves(doc.fields()),
            };
            prop_assert!(written <= max_fields, "{} fields written, limit {}", written, max_fields);
            // Metricbeat drops nulls at every depth; so does either mode.
            prop_assert!(!has_null(doc.fields()), "a null was written: {:?}", doc.fields());
            if mode == Mode::Flatten {
                for key in doc.fields().keys() {
                    prop_assert!(key.len() <= 12);
                }
            }
            // Output paths are unique by construction (a map), and a dotted
            // path never runs through a leaf of the same document: only an
            // array of objects (an object field to Elasticsearch, as the
            // path's prefix makes it) may be both.
            if mode == Mode::Flatten {
                let fields = doc.fields();
                let objects = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_object));
                for (a, value) in fields {
                    for b in fields.keys() {
                        prop_assert!(
                            !b.starts_with(&format!("{a}.")) || objects(value),
                            "{} is a leaf ({}) and a prefix of {}", a, value, b
                        );
                    }
                }
            }
            // Written straight from the document, it is the same JSON as the value.
            let direct = serde_json::to_value(&doc).unwrap();
            prop_assert_eq!(direct, doc.into_golang_value());
        }
    }

    #[test]
    fn re_nesting_flat_paths_gives_back_the_input(vars in plain_object()) {
        let mut flattener = Flattener::new(FlattenConfig::new("p").unwrap());
        let doc = flattener.flatten(&vars, Instant::now());
        prop_assert_eq!(doc.dropped().total(), 0);
        prop_assert_eq!(nest(doc.fields()), vars);
    }
}
