//! One decoded `/debug/vars` response.

use std::time::Duration;

use serde_json::{Map, Value};

/// The body of an expvar endpoint that is not a usable expvar object.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, truncated JSON or nesting past serde_json's limit of 128;
    /// the message carries line and column.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON whose top level is not an object.
    #[error("top level is {found}, expected a JSON object")]
    NotAnObject {
        /// The JSON type found (`array`, `string`, ...).
        found: &'static str,
    },
}

/// The decoded variables of one fetch, with what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    vars: Map<String, Value>,
    body_bytes: usize,
    duration: Duration,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Snapshot {
    /// Decodes an expvar body. Integers that fit `u64`/`i64` stay exact.
    pub fn decode(body: &[u8], duration: Duration) -> Result<Snapshot, DecodeError> {
        match serde_json::from_slice::<Value>(body)? {
            Value::Object(vars) => Ok(Snapshot {
                vars,
                body_bytes: body.len(),
                duration,
            }),
            other => Err(DecodeError::NotAnObject {
                found: json_type(&other),
            }),
        }
    }

    /// Every variable, `memstats` and `cmdline` included.
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }

    /// The `memstats` object (`runtime.MemStats`), if the program publishes it.
    pub fn memstats(&self) -> Option<&Map<String, Value>> {
        self.vars.get("memstats").and_then(Value::as_object)
    }

    /// The `cmdline` arguments, if published as an array of strings.
    pub fn cmdline(&self) -> Option<Vec<&str>> {
        self.vars
            .get("cmdline")?
            .as_array()?
            .iter()
            .map(Value::as_str)
            .collect()
    }

    /// Size of the response body in bytes.
    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    /// Time from sending the request to having the whole body.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers_above_2_pow_53_stay_exact() {
        let s = Snapshot::decode(br#"{"big": 9007199254740993}"#, Duration::ZERO).unwrap();
        assert_eq!(s.vars()["big"].as_u64(), Some(9_007_199_254_740_993));
    }

    #[test]
    fn a_top_level_array_is_refused_with_its_type() {
        let err = Snapshot::decode(b"[1,2]", Duration::ZERO).unwrap_err();
        assert_eq!(
            err.to_string(),
            "top level is an array, expected a JSON object"
        );
    }

    #[test]
    fn truncated_json_reports_where() {
        let err = Snapshot::decode(br#"{"a": {"b": 1"#, Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("line 1 column"), "{err}");
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Snapshot::decode(&bytes, Duration::ZERO);
        }
    }
}
