//! The walk from an expvar object to a `golang.<namespace>` document.
//!
//! Over 500 lines with its unit tests (about 480 of code): one walk, whose
//! rules (modes, arrays, types, rates, limits) interact.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::config::{ArrayPolicy, DeclaredType, FlattenConfig, Mode};
use crate::glob::any_matches;
use crate::memory::{Kind, TypeMemory};

/// What the flattener left out of one document, by reason. Written into the
/// document under `golang.<namespace>._dropped` when anything was dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Subtrees nested deeper than `max_depth`.
    #[serde(skip_serializing_if = "is_zero")]
    pub depth: u64,
    /// Values past `max_fields`.
    #[serde(skip_serializing_if = "is_zero")]
    pub fields: u64,
    /// Paths longer than `max_key_len`.
    #[serde(skip_serializing_if = "is_zero")]
    pub key_length: u64,
    /// Values whose type conflicts with the path's earlier type or its
    /// declared type.
    #[serde(skip_serializing_if = "is_zero")]
    pub type_conflict: u64,
    /// Arrays the array policy does not keep.
    #[serde(skip_serializing_if = "is_zero")]
    pub array: u64,
    /// Paths with an empty segment (`a..b`, `.a`, `a.`), which Elasticsearch refuses.
    #[serde(skip_serializing_if = "is_zero")]
    pub invalid_key: u64,
    /// Paths produced twice (`{"a.b": 1, "a": {"b": 2}}`): the first in key order is kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicate: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Dropped {
    /// Total values dropped.
    pub fn total(&self) -> u64 {
        self.depth
            + self.fields
            + self.key_length
            + self.type_conflict
            + self.array
            + self.duplicate
    }
}

/// The `golang.<namespace>` part of one expvar document.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpvarDocument {
    namespace: String,
    fields: Map<String, Value>,
    rates: BTreeMap<String, f64>,
    dropped: Dropped,
}

impl ExpvarDocument {
    /// `golang.<namespace>`, the `event.dataset` of the document.
    pub fn dataset(&self) -> String {
        format!("golang.{}", self.namespace)
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The variables: dotted paths in flatten mode, nested objects in
    /// Metricbeat mode.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// Per-second rates of the paths configured with `rate`.
    pub fn rates(&self) -> &BTreeMap<String, f64> {
        &self.rates
    }

    /// What was left out, by reason.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    /// `{"<namespace>": {fields..., "_rate": {...}, "_dropped": {...}}}`: the
    /// value of the document's `golang` key.
    pub fn into_golang_value(self) -> Value {
        let mut body = self.fields;
        if !self.rates.is_empty() {
            let rates: Map<String, Value> = self
                .rates
                .into_iter()
                .filter_map(|(k, v)| Number::from_f64(v).map(|n| (k, Value::Number(n))))
                .collect();
            body.insert("_rate".to_owned(), Value::Object(rates));
        }
        if self.dropped.total() > 0
            && let Ok(dropped) = serde_json::to_value(self.dropped)
        {
            body.insert("_dropped".to_owned(), dropped);
        }
        let mut golang = Map::new();
        golang.insert(self.namespace, Value::Object(body));
        Value::Object(golang)
    }
}

/// Serialises as [`ExpvarDocument::into_golang_value`] would, without
/// building the value first (the agent writes each document once, straight
/// from this).
impl serde::Serialize for ExpvarDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;

        struct Body<'a>(&'a ExpvarDocument);

        impl serde::Serialize for Body<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let doc = self.0;
                let mut map = serializer.serialize_map(None)?;
                for (key, value) in &doc.fields {
                    map.serialize_entry(key, value)?;
                }
                if !doc.rates.is_empty() {
                    let finite: BTreeMap<&str, f64> = doc
                        .rates
                        .iter()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(k, v)| (k.as_str(), *v))
                        .collect();
                    map.serialize_entry("_rate", &finite)?;
                }
                if doc.dropped.total() > 0 {
                    map.serialize_entry("_dropped", &doc.dropped)?;
                }
                map.end()
            }
        }

        let mut golang = serializer.serialize_map(Some(1))?;
        golang.serialize_entry(&self.namespace, &Body(self))?;
        golang.end()
    }
}

/// Turns successive expvar objects of one target into `golang.<namespace>`
/// documents. Keep one per target: it remembers the type of every path (so
/// types stay stable) and the previous values of rated counters.
#[derive(Debug, Clone)]
pub struct Flattener {
    config: FlattenConfig,
    memory: TypeMemory,
    previous: HashMap<String, (Number, Instant)>,
}

/// One document under construction.
struct Pass<'a> {
    config: &'a FlattenConfig,
    memory: &'a mut TypeMemory,
    out: Map<String, Value>,
    leaves: usize,
    dropped: Dropped,
}

fn kind_of(value: &Value) -> Option<Kind> {
    match value {
        Value::Number(_) => Some(Kind::Number),
        Value::String(_) => Some(Kind::Text),
        Value::Bool(_) => Some(Kind::Bool),
        _ => None,
    }
}

/// Applies a declared type; `None` is a conflict.
fn coerce(value: Value, ty: DeclaredType) -> Option<Value> {
    match (ty, value) {
        (DeclaredType::Long, Value::Number(n)) => {
            if n.is_i64() || n.is_u64() {
                Some(Value::Number(n))
            } else {
                let f = n.as_f64()?;
                // Integral and inside i64: convert exactly; anything else would lose data.
                (f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f))
                .then(|| Value::Number(Number::from(f as i64)))
            }
        }
        (DeclaredType::Double, Value::Number(n)) => Some(Value::Number(n)),
        (DeclaredType::Keyword, Value::String(s)) => Some(Value::String(s)),
        (DeclaredType::Keyword, v @ (Value::Number(_) | Value::Bool(_))) => {
            Some(Value::String(v.to_string()))
        }
        _ => None,
    }
}

impl Pass<'_> {
    fn declared(&self, path: &str) -> Option<DeclaredType> {
        self.config
            .types
            .iter()
            .find(|(glob, _)| glob.matches(path))
            .map(|(_, ty)| *ty)
    }

    fn selected(&self, path: &str) -> bool {
        if self.config.mode == Mode::Metricbeat {
            return true;
        }
        (self.config.include.is_empty() || any_matches(&self.config.include, path))
            && !any_matches(&self.config.exclude, path)
    }

    /// Checks one leaf value against the limits, declarations and memory.
    fn admit(&mut self, path: &str, value: Value) -> Option<Value> {
        if path.len() > self.config.limits.max_key_len {
            self.dropped.key_length += 1;
            return None;
        }
        // Elasticsearch refuses empty path segments ("a..b", ".a", "a.", "").
        if path.split('.').any(|segment| segment.trim().is_empty()) {
            self.dropped.invalid_key += 1;
            return None;
        }
        let value = match self.declared(path) {
            Some(ty) => match coerce(value, ty) {
                Some(v) => v,
                None => {
                    self.dropped.type_conflict += 1;
                    return None;
                }
            },
            None => value,
        };
        let kind = match &value {
            // `array` only lets through arrays of one scalar kind or of objects.
            Value::Array(items) => items.first().and_then(kind_of).unwrap_or(Kind::Objects),
            other => kind_of(other)?,
        };
        if self.leaves >= self.config.limits.max_fields {
            self.dropped.fields += 1;
            return None;
        }
        if !self.memory.admit(path, kind) {
            self.dropped.type_conflict += 1;
            return None;
        }
        self.leaves += 1;
        Some(value)
    }

    /// Keeps, drops or flags an array under the array policy; `Some` is the
    /// value to write at `path` itself.
    fn array(&mut self, items: &[Value]) -> Option<Value> {
        let items: Vec<&Value> = items.iter().filter(|v| !v.is_null()).collect();
        let kinds: Vec<Option<Kind>> = items.iter().map(|v| kind_of(v)).collect();
        let scalars_of_one_kind = kinds.iter().all(|k| k.is_some() && *k == kinds[0]);
        let all_objects = items.iter().all(|v| v.is_object());
        if !items.is_empty() && (scalars_of_one_kind || all_objects) {
            Some(Value::Array(items.into_iter().cloned().collect()))
        } else {
            if !items.is_empty() {
                self.dropped.array += 1;
            }
            None
        }
    }

    /// Flatten mode: writes the leaves under `path` as dotted keys.
    fn flat(&mut self, path: String, value: &Value, depth: usize) {
        match value {
            Value::Null => {}
            Value::Object(map) => {
                if map.is_empty() {
                    return;
                }
                if depth >= self.config.limits.max_depth {
                    self.dropped.depth += 1;
                    return;
                }
                for (key, child) in map {
                    self.flat(format!("{path}.{key}"), child, depth + 1);
                }
            }
            Value::Array(items) => match self.config.arrays {
                ArrayPolicy::Drop => self.dropped.array += 1,
                ArrayPolicy::Expand => {
                    if depth >= self.config.limits.max_depth {
                        self.dropped.depth += 1;
                        return;
                    }
                    for (i, child) in items.iter().enumerate() {
                        self.flat(format!("{path}.{i}"), child, depth + 1);
                    }
                }
                ArrayPolicy::Keep => {
                    if let Some(kept) = self.array(items) {
                        self.leaf(path, kept);
                    }
                }
            },
            scalar => self.leaf(path, scalar.clone()),
        }
    }

    fn leaf(&mut self, path: String, value: Value) {
        if !self.selected(&path) {
            return;
        }
        if self.out.contains_key(&path) {
            self.dropped.duplicate += 1;
            return;
        }
        if let Some(v) = self.admit(&path, value) {
            self.out.insert(path, v);
        }
    }

    /// Metricbeat mode: rebuilds the object with the same shape, within
    /// limits; `null` values are dropped at every depth, as Metricbeat does.
    fn nested(&mut self, path: &str, value: &Value, depth: usize) -> Option<Value> {
        match value {
            Value::Null => None,
            Value::Object(map) => {
                if depth >= self.config.limits.max_depth && !map.is_empty() {
                    self.dropped.depth += 1;
                    return None;
                }
                let mut out = Map::new();
                for (key, child) in map {
                    let child_path = format!("{path}.{key}");
                    if let Some(v) = self.nested(&child_path, child, depth + 1) {
                        out.insert(key.clone(), v);
                    }
                }
                Some(Value::Object(out))
            }
            Value::Array(items) => {
                let kept = self.array(items)?;
                self.admit(path, kept)
            }
            scalar => self.admit(path, scalar.clone()),
        }
    }
}

fn joined_cmdline(value: &Value) -> Value {
    match value {
        Value::Array(args) => {
            // Written into one string: no string per argument.
            let mut joined =
                String::with_capacity(args.iter().map(arg_len).sum::<usize>() + args.len());
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    joined.push(' ');
                }
                match arg {
                    Value::String(s) => joined.push_str(s),
                    other => joined.push_str(&other.to_string()),
                }
            }
            Value::String(joined)
        }
        other => other.clone(),
    }
}

/// The length of a `cmdline` argument when it is a string (the usual case).
fn arg_len(arg: &Value) -> usize {
    arg.as_str().map_or(0, str::len)
}

fn rate(previous: &Number, current: &Number, secs: f64) -> Option<f64> {
    let delta = match (previous.as_u64(), current.as_u64()) {
        // Exact for integer counters: no f64 until the division.
        (Some(a), Some(b)) => b.checked_sub(a)? as f64,
        _ => {
            let (a, b) = (previous.as_f64()?, current.as_f64()?);
            if b < a {
                return None;
            }
            b - a
        }
    };
    Some(delta / secs)
}

impl Flattener {
    /// A flattener with the given configuration and empty memory.
    pub fn new(config: FlattenConfig) -> Flattener {
        let capacity = config.limits.max_remembered_paths;
        Flattener {
            config,
            memory: TypeMemory::new(capacity),
            previous: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FlattenConfig {
        &self.config
    }

    /// Flattens one snapshot taken at `at`.
    pub fn flatten(&mut self, vars: &Map<String, Value>, at: Instant) -> ExpvarDocument {
        self.flatten_vars(vars.iter().map(|(k, v)| (k.as_str(), v)), at)
    }

    /// Whether the document includes `memstats` (Metricbeat mode, or
    /// `include_memstats`): a caller that keeps `memstats` apart
    /// ([`flatten_with_memstats`](Flattener::flatten_with_memstats)) needs
    /// to build its tree only then.
    pub fn wants_memstats(&self) -> bool {
        self.config.mode == Mode::Metricbeat || self.config.include_memstats
    }

    /// Flattens one snapshot taken at `at` whose `memstats` variable is
    /// given apart from the others (`vars` without it).
    pub fn flatten_with_memstats(
        &mut self,
        vars: &Map<String, Value>,
        memstats: Option<&Value>,
        at: Instant,
    ) -> ExpvarDocument {
        let memstats = memstats.map(|value| ("memstats", value));
        let all = vars.iter().map(|(k, v)| (k.as_str(), v)).chain(memstats);
        self.flatten_vars(all, at)
    }

    fn flatten_vars<'v>(
        &mut self,
        vars: impl Iterator<Item = (&'v str, &'v Value)>,
        at: Instant,
    ) -> ExpvarDocument {
        let mut pass = Pass {
            config: &self.config,
            memory: &mut self.memory,
            out: Map::new(),
            leaves: 0,
            dropped: Dropped::default(),
        };
        for (key, value) in vars {
            match (key, self.config.mode) {
                ("cmdline", _) => pass.leaf(key.to_owned(), joined_cmdline(value)),
                ("memstats", Mode::Flatten) if !self.config.include_memstats => {}
                (_, Mode::Flatten) => pass.flat(key.to_owned(), value, 1),
                (_, Mode::Metricbeat) => {
                    if let Some(v) = pass.nested(key, value, 1) {
                        pass.out.insert(key.to_owned(), v);
                    }
                }
            }
        }
        let Pass { out, dropped, .. } = pass;
        let rates = self.rates(&out, at);
        ExpvarDocument {
            namespace: self.config.namespace.clone(),
            fields: out,
            rates,
            dropped,
        }
    }

    /// Per-second rates of the rated paths; a counter that went down (the
    /// program restarted) has no rate for this snapshot.
    fn rates(&mut self, out: &Map<String, Value>, at: Instant) -> BTreeMap<String, f64> {
        let mut rates = BTreeMap::new();
        if self.config.rates.is_empty() {
            return rates;
        }
        let mut current = HashMap::new();
        let mut visit = |path: &str, value: &Value| {
            let Value::Number(n) = value else { return };
            if !any_matches(&self.config.rates, path) {
                return;
            }
            if let Some((before, then)) = self.previous.get(path) {
                let secs = at
                    .checked_duration_since(*then)
                    .map_or(0.0, |d| d.as_secs_f64());
                if secs > 0.0
                    && let Some(r) = rate(before, n, secs)
                {
                    rates.insert(path.to_owned(), r);
                }
            }
            current.insert(path.to_owned(), (n.clone(), at));
        };
        walk_leaves("", out, &mut visit);
        // Only paths present now are kept: memory bounded by max_fields.
        self.previous = current;
        rates
    }
}

/// Calls `f` on every leaf of a (possibly nested) object with its dotted path.
fn walk_leaves(prefix: &str, map: &Map<String, Value>, f: &mut impl FnMut(&str, &Value)) {
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(child) => walk_leaves(&path, child, f),
            leaf => f(&path, leaf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArrayPolicy, DeclaredType, FlattenConfig, Limits, Mode};
    use serde_json::json;
    use std::time::Duration;

    fn run(config: FlattenConfig, vars: Value) -> ExpvarDocument {
        Flattener::new(config).flatten(vars.as_object().unwrap(), Instant::now())
    }

    fn ns() -> FlattenConfig {
        FlattenConfig::new("app").unwrap()
    }

    #[test]
    fn nested_maps_become_dotted_paths_nulls_go_and_cmdline_is_joined() {
        let doc = run(
            ns(),
            json!({"a": {"b": {"c": 1}}, "n": null, "cmdline": ["./x", "-v"], "s": "t", "ok": true}),
        );
        assert_eq!(
            Value::Object(doc.fields().clone()),
            json!({"a.b.c": 1, "cmdline": "./x -v", "s": "t", "ok": true})
        );
        assert_eq!(doc.dropped(), Dropped::default());
    }

    #[test]
    fn memstats_is_left_to_the_heap_mapper_unless_included() {
        let vars = json!({"memstats": {"HeapAlloc": 1}, "x": 1});
        assert!(
            !run(ns(), vars.clone())
                .fields()
                .contains_key("memstats.HeapAlloc")
        );
        let mut config = ns();
        config.include_memstats = true;
        assert_eq!(run(config, vars).fields()["memstats.HeapAlloc"], 1);
    }

    #[test]
    fn include_and_exclude_globs_select_paths() {
        let vars = json!({"stats": {"work": {"items": 1, "batches": 2}, "cache": {"entries": 3}}, "other": 4});
        let config = ns()
            .include(["stats.**"])
            .unwrap()
            .exclude(["stats.*.batches"])
            .unwrap();
        let doc = run(config, vars);
        let keys: Vec<&String> = doc.fields().keys().collect();
        assert_eq!(keys, ["stats.cache.entries", "stats.work.items"]);
    }

    #[test]
    fn arrays_are_kept_when_indexable_dropped_when_mixed_or_expanded_by_index() {
        let vars = json!({"tags": ["a", "b"], "mixed": [1, "x"], "objs": [{"k": 1}], "empty": []});
        let doc = run(ns(), vars.clone());
        assert_eq!(doc.fields()["tags"], json!(["a", "b"]));
        assert_eq!(doc.fields()["objs"], json!([{"k": 1}]));
        assert!(!doc.fields().contains_key("mixed") && !doc.fields().contains_key("empty"));
        assert_eq!(doc.dropped().array, 1);

        let mut expand = ns();
        expand.arrays = ArrayPolicy::Expand;
        let doc = run(expand, vars.clone());
        assert_eq!(doc.fields()["tags.1"], "b");
        assert_eq!(doc.fields()["mixed.1"], "x");
        assert_eq!(doc.fields()["objs.0.k"], 1);

        let mut drop = ns();
        drop.arrays = ArrayPolicy::Drop;
        let doc = run(drop, vars);
        assert!(doc.fields().is_empty());
        assert_eq!(doc.dropped().array, 4);
    }

    #[test]
    fn a_path_that_changes_kind_is_dropped_and_counted_but_int_and_float_mix() {
        let mut f = Flattener::new(ns());
        let t = Instant::now();
        f.flatten(json!({"n": 1, "s": "x"}).as_object().unwrap(), t);
        let doc = f.flatten(json!({"n": 1.5, "s": 2}).as_object().unwrap(), t);
        assert_eq!(
            doc.fields()["n"],
            1.5,
            "numbers are one kind (mapped as double)"
        );
        assert!(!doc.fields().contains_key("s"));
        assert_eq!(doc.dropped().type_conflict, 1);
        // A leaf cannot become an object, nor the reverse.
        let doc = f.flatten(json!({"n": {"x": 1}}).as_object().unwrap(), t);
        assert!(doc.fields().is_empty());
        assert_eq!(doc.dropped().type_conflict, 1);
    }

    #[test]
    fn declared_types_convert_what_they_can_and_drop_what_would_lose_data() {
        let config = ns()
            .declare("count", DeclaredType::Long)
            .unwrap()
            .declare("ratio", DeclaredType::Long)
            .unwrap()
            .declare("code", DeclaredType::Keyword)
            .unwrap();
        let doc = run(config, json!({"count": 5.0, "ratio": 0.5, "code": 404}));
        assert_eq!(doc.fields()["count"], json!(5));
        assert!(doc.fields()["count"].is_i64());
        assert!(!doc.fields().contains_key("ratio"));
        assert_eq!(doc.fields()["code"], "404");
        assert_eq!(doc.dropped().type_conflict, 1);
    }

    #[test]
    fn limits_truncate_and_count_instead_of_failing() {
        let mut config = ns();
        config.limits = Limits {
            max_depth: 2,
            max_fields: 2,
            max_key_len: 5,
            max_remembered_paths: 100,
        };
        let doc = run(
            config,
            json!({"a": {"b": {"c": 1}}, "longkey": 1, "x": 1, "y": 2, "z": 3}),
        );
        assert_eq!(doc.fields().len(), 2);
        let d = doc.dropped();
        assert_eq!((d.depth, d.key_length, d.fields), (1, 1, 1));
        let golang = doc.into_golang_value();
        assert_eq!(
            golang["app"]["_dropped"],
            json!({"depth": 1, "fields": 1, "key_length": 1})
        );
    }

    #[test]
    fn a_dotted_key_and_a_nested_map_giving_one_path_keep_the_first() {
        let doc = run(ns(), json!({"a": {"b": 2}, "a.b": 1}));
        assert_eq!(doc.fields()["a.b"], 2, "\"a\" sorts before \"a.b\"");
        assert_eq!(doc.dropped().duplicate, 1);
    }

    #[test]
    fn rates_follow_counters_and_skip_resets() {
        let mut f = Flattener::new(ns().rate("**.acked").unwrap());
        let t0 = Instant::now();
        let first = f.flatten(
            json!({"out": {"acked": 100}, "other": 1})
                .as_object()
                .unwrap(),
            t0,
        );
        assert!(first.rates().is_empty());
        let second = f.flatten(
            json!({"out": {"acked": 300}}).as_object().unwrap(),
            t0 + Duration::from_secs(2),
        );
        assert_eq!(second.rates()["out.acked"], 100.0);
        assert!(!second.rates().contains_key("other"));
        let reset = f.flatten(
            json!({"out": {"acked": 5}}).as_object().unwrap(),
            t0 + Duration::from_secs(3),
        );
        assert!(reset.rates().is_empty(), "the program restarted");
        let after = f.flatten(
            json!({"out": {"acked": 15}}).as_object().unwrap(),
            t0 + Duration::from_secs(4),
        );
        assert_eq!(after.rates()["out.acked"], 10.0);
        assert_eq!(
            serde_json::to_value(&after).unwrap(),
            after.clone().into_golang_value(),
            "written directly, the rates come out the same"
        );
        assert_eq!(
            after.into_golang_value()["app"]["_rate"],
            json!({"out.acked": 10.0})
        );
    }

    #[test]
    fn metricbeat_mode_keeps_the_object_as_it_is_but_joins_cmdline_and_drops_nulls() {
        let mut config = ns();
        config.mode = Mode::Metricbeat;
        let vars = json!({
            "memstats": {"HeapAlloc": 1, "PauseNs": [1, 2]},
            "output.elasticsearch.events.acked": 9007199254740993u64,
            "fetches": {"system-cpu": {"events": 4, "last_error": null}},
            "cmdline": ["./metricbeat", "-e"],
            "gone": null,
            "deep": {"a": {"b": null, "c": [1, null, 2]}}
        });
        let doc = run(config, vars);
        assert_eq!(
            Value::Object(doc.fields().clone()),
            json!({
                "memstats": {"HeapAlloc": 1, "PauseNs": [1, 2]},
                "output.elasticsearch.events.acked": 9007199254740993u64,
                "fetches": {"system-cpu": {"events": 4}},
                "cmdline": "./metricbeat -e",
                "deep": {"a": {"c": [1, 2]}}
            })
        );
        assert_eq!(
            doc.dropped().total(),
            0,
            "a null is absent, not dropped by a limit"
        );
    }

    #[test]
    fn the_namespace_is_required_and_checked() {
        assert_eq!(
            FlattenConfig::new("").unwrap_err(),
            crate::FlattenError::MissingNamespace
        );
        let err = FlattenConfig::new("my.app").unwrap_err().to_string();
        assert!(err.contains("'.'"), "{err}");
    }
}
