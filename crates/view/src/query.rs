//! The API's query parameters, checked in one place.
//!
//! Every handler turns its query string into typed values here, once; any
//! value that is missing, malformed, duplicated or unknown becomes an
//! [`ApiError`] naming the parameter, answered as a 4xx JSON body
//! (`{"error": "...", "parameter": "from"}`). Nothing later re-checks.
//!
//! Times are Unix milliseconds, or `now`, or `now-<n><unit>` with the unit
//! `s`, `m`, `h` or `d` (`now-24h`), so a shared URL can say "the last hour".
//!
//! ```
//! use gomon_view::query::Params;
//! let now = 1_700_000_000_000;
//! let params = Params::new(vec![("target".into(), "a:1".into()), ("from".into(), "now-1h".into())]);
//! let range = params.range(now, 3_600_000, &["target"]).unwrap();
//! assert_eq!((range.from_ms, range.to_ms), (now - 3_600_000, now));
//! let bad = Params::new(vec![("from".into(), "yesterday".into())]);
//! assert_eq!(bad.range(now, 1000, &[]).unwrap_err().parameter, Some("from"));
//! ```

use gomon_store::TimeRange;
use serde::Serialize;

/// Points per series when the page does not say.
pub const DEFAULT_POINTS: usize = 1000;
/// Most points per series one request may ask for.
pub const MAX_POINTS: usize = 10_000;

/// An answer other than 200: the HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiError {
    /// HTTP status (400, 404, 500, ...).
    #[serde(skip)]
    pub status: u16,
    /// What is wrong and what to do.
    pub error: String,
    /// The query parameter at fault, if one is.
    pub parameter: Option<&'static str>,
}

impl ApiError {
    /// A 400 about `parameter`.
    pub fn bad(parameter: &'static str, error: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            error: error.into(),
            parameter: Some(parameter),
        }
    }

    /// A 404 about `parameter` (a target or field the store has not seen).
    pub fn not_found(parameter: &'static str, error: impl Into<String>) -> ApiError {
        ApiError {
            status: 404,
            error: error.into(),
            parameter: Some(parameter),
        }
    }

    /// A 500: the store failed; its message is passed on as it is.
    pub fn store(error: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: 500,
            error: format!("the store could not answer: {error}"),
            parameter: None,
        }
    }
}

/// The parameters of one request, as sent.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Wraps the decoded `name=value` pairs of a query string.
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// Fails on a parameter outside `allowed` (a typo such as `form=` would
    /// otherwise be ignored silently) or given twice.
    pub fn only(&self, allowed: &[&'static str]) -> Result<(), ApiError> {
        for (i, (name, _)) in self.pairs.iter().enumerate() {
            let Some(known) = allowed.iter().find(|a| **a == name) else {
                return Err(ApiError {
                    status: 400,
                    error: format!(
                        "unknown parameter {name:?} (this endpoint takes: {})",
                        allowed.join(", ")
                    ),
                    parameter: None,
                });
            };
            if self.pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(ApiError::bad(known, format!("{known} is given twice")));
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required, non-empty text parameter.
    pub fn required(&self, name: &'static str) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            Some(_) => Err(ApiError::bad(name, format!("{name} is empty"))),
            None => Err(ApiError::bad(name, format!("{name} is required"))),
        }
    }

    /// `from` and `to`: `to` defaults to `now`, `from` to `default_span_ms`
    /// before `to`. `from` must be before `to`. `allowed` is every other
    /// parameter the endpoint takes, for [`Params::only`].
    pub fn range(
        &self,
        now_ms: i64,
        default_span_ms: i64,
        allowed: &[&'static str],
    ) -> Result<TimeRange, ApiError> {
        let mut names = vec!["from", "to"];
        names.extend_from_slice(allowed);
        self.only(&names)?;
        let to_ms = match self.get("to") {
            Some(text) => time("to", text, now_ms)?,
            None => now_ms,
        };
        let from_ms = match self.get("from") {
            Some(text) => time("from", text, now_ms)?,
            None => to_ms.saturating_sub(default_span_ms),
        };
        if from_ms >= to_ms {
            return Err(ApiError::bad(
                "from",
                format!("from ({from_ms}) must be before to ({to_ms})"),
            ));
        }
        Ok(TimeRange { from_ms, to_ms })
    }

    /// `points`: how many points per series at most (default
    /// [`DEFAULT_POINTS`], from 2 to [`MAX_POINTS`]).
    pub fn points(&self) -> Result<usize, ApiError> {
        let Some(text) = self.get("points") else {
            return Ok(DEFAULT_POINTS);
        };
        match text.parse::<usize>() {
            Ok(n) if (2..=MAX_POINTS).contains(&n) => Ok(n),
            Ok(n) => Err(ApiError::bad(
                "points",
                format!("points must be from 2 to {MAX_POINTS}, not {n}"),
            )),
            Err(_) => Err(ApiError::bad(
                "points",
                format!("points must be a whole number, not {text:?}"),
            )),
        }
    }
}

/// Parses one time: Unix ms, `now` or `now-<n><s|m|h|d>`.
fn time(name: &'static str, text: &str, now_ms: i64) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad(
            name,
            format!(
                "{name} must be Unix milliseconds, \"now\" or \"now-<n><s|m|h|d>\", not {text:?}"
            ),
        )
    };
    if let Some(rest) = text.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now_ms);
        }
        let ago = rest.strip_prefix('-').ok_or_else(bad)?;
        let unit_at = ago.len().checked_sub(1).ok_or_else(bad)?;
        let (n, unit) = ago.split_at(unit_at);
        let n: i64 = n.parse().map_err(|_| bad())?;
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        return n
            .checked_mul(unit_ms)
            .and_then(|d| now_ms.checked_sub(d))
            .filter(|t| *t >= 0)
            .ok_or_else(bad);
    }
    match text.parse::<i64>() {
        Ok(t) if t >= 0 => Ok(t),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_range_defaults_to_the_span_before_now() {
        let r = params(&[]).range(NOW, 60_000, &[]).unwrap();
        assert_eq!((r.from_ms, r.to_ms), (NOW - 60_000, NOW));
    }

    #[test]
    fn relative_and_absolute_times_are_read() {
        let r = params(&[("from", "now-2d"), ("to", "now-30m")])
            .range(NOW, 1, &[])
            .unwrap();
        assert_eq!(r.from_ms, NOW - 2 * 86_400_000);
        assert_eq!(r.to_ms, NOW - 30 * 60_000);
        let r = params(&[("from", "1000"), ("to", "2000")])
            .range(NOW, 1, &[])
            .unwrap();
        assert_eq!((r.from_ms, r.to_ms), (1000, 2000));
    }

    #[test]
    fn malformed_times_name_their_parameter() {
        for bad in [
            "",
            "now+1h",
            "now-h",
            "now-1w",
            "-5",
            "1.5",
            "now-99999999999d",
        ] {
            let e = params(&[("to", bad)]).range(NOW, 1, &[]).unwrap_err();
            assert_eq!((e.status, e.parameter), (400, Some("to")), "{bad:?}");
        }
    }

    #[test]
    fn an_inverted_or_empty_range_is_refused() {
        let e = params(&[("from", "2000"), ("to", "1000")])
            .range(NOW, 1, &[])
            .unwrap_err();
        assert_eq!(e.parameter, Some("from"));
        assert!(e.error.contains("before"), "{}", e.error);
        let e = params(&[("from", "1000"), ("to", "1000")])
            .range(NOW, 1, &[])
            .unwrap_err();
        assert_eq!(e.parameter, Some("from"));
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        let e = params(&[("form", "1")])
            .range(NOW, 1, &["target"])
            .unwrap_err();
        assert!(e.error.contains("\"form\""), "{}", e.error);
        let e = params(&[("target", "a"), ("target", "b")])
            .range(NOW, 1, &["target"])
            .unwrap_err();
        assert_eq!(e.parameter, Some("target"));
    }

    #[test]
    fn points_are_bounded_whole_numbers() {
        assert_eq!(params(&[]).points().unwrap(), DEFAULT_POINTS);
        assert_eq!(params(&[("points", "300")]).points().unwrap(), 300);
        for bad in ["0", "1", "10001", "abc", "-3"] {
            let e = params(&[("points", bad)]).points().unwrap_err();
            assert_eq!(e.parameter, Some("points"), "{bad:?}");
        }
    }

    #[test]
    fn a_required_parameter_must_be_present_and_non_empty() {
        assert_eq!(
            params(&[]).required("target").unwrap_err().parameter,
            Some("target")
        );
        assert!(params(&[("target", " ")]).required("target").is_err());
        assert_eq!(params(&[("target", "x")]).required("target").unwrap(), "x");
    }
}
