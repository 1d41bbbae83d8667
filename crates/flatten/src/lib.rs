//! Turns the custom variables of a Go program into `golang.<namespace>` documents.
//!
//! Pure code, no I/O. A Go program's `/debug/vars` holds whatever it
//! published with `expvar`: counters, gauges, strings and nested maps, often
//! with dotted names such as `output.events.acked`. [`flatten`] turns that
//! object into a list of `(dotted path, value)` pairs — nested maps become
//! dotted paths, `cmdline` becomes one string, `memstats` is left to the heap
//! mapper, nulls are dropped — keeping integers exact.
//!
//! ```
//! use serde_json::json;
//! let vars = json!({"stats": {"work": {"items": 3}}, "output.events.acked": 9007199254740993u64});
//! let flat = gomon_flatten::flatten(vars.as_object().unwrap(), &gomon_flatten::Options::default()).unwrap();
//! assert_eq!(flat[0], ("output.events.acked".to_string(), json!(9007199254740993u64)));
//! assert_eq!(flat[1], ("stats.work.items".to_string(), json!(3)));
//! ```
//!
//! Not yet here: glob selection, array policies, type stability across
//! snapshots, rates and the Metricbeat-compatible (unflattened) mode.

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

use serde_json::{Map, Value};

/// How to flatten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Keep the `memstats` variable (the heap mapper covers it; off by default).
    pub include_memstats: bool,
    /// Deepest nesting followed; deeper values are reported as an error.
    pub max_depth: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            include_memstats: false,
            max_depth: 32,
        }
    }
}

/// Input the flattener refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlattenError {
    /// Nesting deeper than [`Options::max_depth`].
    #[error("variable {path:?} is nested deeper than {limit} levels")]
    TooDeep {
        /// Dotted path where the limit was reached.
        path: String,
        /// The limit.
        limit: usize,
    },
}

/// Flattens an expvar object into `(dotted path, value)` pairs, sorted by path.
pub fn flatten(
    vars: &Map<String, Value>,
    options: &Options,
) -> Result<Vec<(String, Value)>, FlattenError> {
    let mut out = Vec::new();
    for (key, value) in vars {
        match key.as_str() {
            "memstats" if !options.include_memstats => {}
            "cmdline" => {
                if let Some(args) = value.as_array() {
                    let joined: Vec<String> = args
                        .iter()
                        .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
                        .collect();
                    out.push((key.clone(), Value::String(joined.join(" "))));
                }
            }
            _ => walk(key.clone(), value, 1, options, &mut out)?,
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn walk(
    path: String,
    value: &Value,
    depth: usize,
    options: &Options,
    out: &mut Vec<(String, Value)>,
) -> Result<(), FlattenError> {
    match value {
        Value::Null => Ok(()),
        Value::Object(map) => {
            if depth > options.max_depth {
                return Err(FlattenError::TooDeep {
                    path,
                    limit: options.max_depth,
                });
            }
            for (key, child) in map {
                walk(format!("{path}.{key}"), child, depth + 1, options, out)?;
            }
            Ok(())
        }
        other => {
            out.push((path, other.clone()));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memstats_is_left_out_unless_asked_for_and_nulls_are_dropped() {
        let vars = json!({"memstats": {"HeapAlloc": 1}, "gone": null, "x": 1});
        let vars = vars.as_object().unwrap();
        let flat = flatten(vars, &Options::default()).unwrap();
        assert_eq!(flat, vec![("x".to_string(), json!(1))]);
        let all = Options {
            include_memstats: true,
            ..Options::default()
        };
        assert_eq!(flatten(vars, &all).unwrap()[0].0, "memstats.HeapAlloc");
    }

    #[test]
    fn nesting_past_the_limit_names_the_path() {
        let vars = json!({"a": {"b": {"c": {"d": 1}}}});
        let opts = Options {
            max_depth: 2,
            ..Options::default()
        };
        let err = flatten(vars.as_object().unwrap(), &opts).unwrap_err();
        assert_eq!(
            err.to_string(),
            "variable \"a.b.c\" is nested deeper than 2 levels"
        );
    }
}
