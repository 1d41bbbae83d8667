//! Where to fetch from.

use std::fmt;

use hyper::Uri;

/// The path Go's `expvar` package registers its handler on.
pub const DEFAULT_PATH: &str = "/debug/vars";

/// One expvar endpoint, as Metricbeat's `hosts` entries name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    uri: Uri,
}

/// A target string that cannot name an expvar endpoint.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Empty or whitespace only.
    #[error("target is empty: expected host:port or an http:// URL")]
    Empty,
    /// Not parseable as a URI.
    #[error("target {target:?} is not a valid host:port or URL: {reason}")]
    Invalid {
        /// The string given.
        target: String,
        /// What the URI parser said.
        reason: String,
    },
    /// A scheme other than http.
    #[error("target {target:?} uses scheme {scheme:?}; only http is supported so far")]
    UnsupportedScheme {
        /// The string given.
        target: String,
        /// Its scheme.
        scheme: String,
    },
}

impl Target {
    /// Parses `host:port` (http, path `/debug/vars`) or a full `http://` URL
    /// (its path is kept when it has one, else `/debug/vars`).
    pub fn parse(target: &str) -> Result<Target, TargetError> {
        let trimmed = target.trim();
        if trimmed.is_empty() {
            return Err(TargetError::Empty);
        }
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let invalid = |reason: String| TargetError::Invalid {
            target: target.to_owned(),
            reason,
        };
        let uri: Uri = with_scheme.parse().map_err(|e| invalid(format!("{e}")))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        if scheme != "http" {
            return Err(TargetError::UnsupportedScheme {
                target: target.to_owned(),
                scheme: scheme.to_owned(),
            });
        }
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("no host".to_owned()))?
            .clone();
        let path = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("") | Some("/") => DEFAULT_PATH,
            Some(p) => p,
        };
        Target::from_parts(authority.as_ref(), path).map_err(|e| invalid(e.to_string()))
    }

    /// This target with another path (Metricbeat's `heap.path` / `expvar.path`).
    pub fn with_path(&self, path: &str) -> Result<Target, TargetError> {
        let authority = self
            .uri
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Target::from_parts(&authority, &path).map_err(|e| TargetError::Invalid {
            target: format!("{authority}{path}"),
            reason: e.to_string(),
        })
    }

    fn from_parts(authority: &str, path: &str) -> Result<Target, hyper::http::Error> {
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority)
            .path_and_query(path)
            .build()?;
        Ok(Target { uri })
    }

    /// The full URI fetched.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// `host:port`, as Metricbeat reports it in `service.address`.
    pub fn address(&self) -> String {
        self.uri
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_gets_http_and_the_expvar_path() {
        let t = Target::parse("localhost:6060").unwrap();
        assert_eq!(t.to_string(), "http://localhost:6060/debug/vars");
        assert_eq!(t.address(), "localhost:6060");
    }

    #[test]
    fn a_url_keeps_its_own_path_and_path_override_replaces_it() {
        let t = Target::parse("http://10.0.0.1:8080/metrics/vars").unwrap();
        assert_eq!(t.uri().path(), "/metrics/vars");
        assert_eq!(
            t.with_path("debug/other").unwrap().uri().path(),
            "/debug/other"
        );
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        assert_eq!(Target::parse("  "), Err(TargetError::Empty));
        assert!(matches!(
            Target::parse("ftp://h:1"),
            Err(TargetError::UnsupportedScheme { .. })
        ));
        let err = Target::parse("host:port:extra").unwrap_err().to_string();
        assert!(err.contains("host:port:extra"), "{err}");
    }
}
