//! Where to fetch from, and with which credentials.

use std::fmt;
use std::path::PathBuf;

use hyper::Uri;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::{Authorization, CredentialError, Redacted};
use gomon_net::url::{UrlCredentials, redact_userinfo};

/// The path Go's `expvar` package registers its handler on.
pub const DEFAULT_PATH: &str = "/debug/vars";

/// One expvar endpoint, as Metricbeat's `hosts` entries name them, with the
/// credentials and extra headers sent to it.
///
/// `Display` shows the URL without credentials; `Debug` shows the user name
/// of basic auth, the path of a token file and the names of extra headers,
/// never a password, token or header value.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// Never carries user-info: credentials live in `auth`.
    uri: Uri,
    auth: Option<Authorization>,
    headers: HeaderMap,
}

/// A target string or setting that cannot name an expvar endpoint. Messages
/// never contain passwords or tokens.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Empty or whitespace only.
    #[error("target is empty: expected host:port or an http(s):// URL")]
    Empty,
    /// Not parseable as a URI.
    #[error("target {target:?} is not a valid host:port or URL: {reason}")]
    Invalid {
        /// The string given, with any password replaced by `<redacted>`.
        target: String,
        /// What the URI parser said.
        reason: String,
    },
    /// A scheme other than http or https.
    #[error("target {target:?} uses scheme {scheme:?}; expected http or https")]
    UnsupportedScheme {
        /// The string given, with any password replaced by `<redacted>`.
        target: String,
        /// Its scheme.
        scheme: String,
    },
    /// A password, token or header that cannot be sent.
    #[error("target {target}: {what} cannot be used: {reason}")]
    InvalidCredential {
        /// The target (without credentials).
        target: String,
        /// Which setting: `bearer token`, `header "x-api-key"`, ...
        what: String,
        /// Why; never the secret itself.
        reason: String,
    },
}

impl Target {
    /// Parses what Metricbeat accepts in `hosts`:
    ///
    /// - `host:port`: http, path `/debug/vars`;
    /// - `http://host:port/path` or `https://...`: the URL's own path is kept
    ///   when it has one, else `/debug/vars`;
    /// - `user:password@` in either form: basic auth (percent-escapes
    ///   decoded), removed from the URL itself.
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
        let shown = redact_userinfo(trimmed);
        let invalid = |reason: String| TargetError::Invalid {
            target: shown.clone(),
            reason,
        };
        let uri: Uri = with_scheme.parse().map_err(|e| invalid(format!("{e}")))?;
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(TargetError::UnsupportedScheme {
                target: shown.clone(),
                scheme,
            });
        }
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("no host".to_owned()))?
            .as_str();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        if host_port.is_empty() {
            return Err(invalid("no host".to_owned()));
        }
        let path = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("") | Some("/") => DEFAULT_PATH,
            Some(p) => p,
        };
        let uri = build_uri(&scheme, host_port, path).map_err(|e| invalid(e.to_string()))?;
        let target = Target {
            uri,
            auth: None,
            headers: HeaderMap::new(),
        };
        match userinfo {
            None => Ok(target),
            Some(userinfo) => {
                let credentials = UrlCredentials::from_userinfo(userinfo);
                let password = credentials.password.unwrap_or_default();
                target.with_basic_auth(&credentials.username, &password)
            }
        }
    }

    /// This target with another path (Metricbeat's `heap.path` / `expvar.path`);
    /// scheme, host, credentials and headers stay.
    pub fn with_path(&self, path: &str) -> Result<Target, TargetError> {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let scheme = self.uri.scheme_str().unwrap_or("http");
        let authority = self.uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let uri = build_uri(scheme, authority, &path).map_err(|e| TargetError::Invalid {
            target: format!("{scheme}://{authority}{path}"),
            reason: e.to_string(),
        })?;
        Ok(Target {
            uri,
            ..self.clone()
        })
    }

    /// This target with HTTP basic auth (Metricbeat's `username`/`password`);
    /// replaces any other authorization.
    pub fn with_basic_auth(self, username: &str, password: &str) -> Result<Target, TargetError> {
        let auth = Authorization::basic(username, password)
            .map_err(|e| self.credential_error("basic auth", e))?;
        Ok(Target {
            auth: Some(auth),
            ..self
        })
    }

    /// This target with a bearer token sent as `Authorization: Bearer ...`;
    /// replaces any other authorization.
    pub fn with_bearer_token(self, token: &str) -> Result<Target, TargetError> {
        let auth =
            Authorization::bearer(token).map_err(|e| self.credential_error("bearer token", e))?;
        Ok(Target {
            auth: Some(auth),
            ..self
        })
    }

    /// This target with a bearer token read from `path` (Metricbeat's
    /// `bearer_token_file`). The file is read on every fetch, so a rotated
    /// token is picked up; an unreadable file fails that fetch with
    /// [`FetchError::Credentials`](crate::FetchError::Credentials).
    /// Replaces any other authorization.
    pub fn with_bearer_token_file(self, path: impl Into<PathBuf>) -> Target {
        Target {
            auth: Some(Authorization::BearerFile { path: path.into() }),
            ..self
        }
    }

    /// This target with one more header on every request (Metricbeat's
    /// `headers`). A later value for the same name replaces the earlier one;
    /// an `Authorization` set through basic auth or a bearer token wins over
    /// one set here. Values are treated as secrets (never shown).
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Target, TargetError> {
        let what = || format!("header {name:?}");
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            TargetError::InvalidCredential {
                target: self.to_string(),
                what: what(),
                reason: "not a valid header name".to_owned(),
            }
        })?;
        let mut header_value =
            HeaderValue::from_str(value).map_err(|_| TargetError::InvalidCredential {
                target: self.to_string(),
                what: what(),
                reason: "the value contains characters not allowed in an HTTP header".to_owned(),
            })?;
        header_value.set_sensitive(true);
        self.headers.insert(header_name, header_value);
        Ok(self)
    }

    fn credential_error(&self, what: &str, reason: impl fmt::Display) -> TargetError {
        TargetError::InvalidCredential {
            target: self.to_string(),
            what: what.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// The full URI fetched (never with credentials in it).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Whether the target is fetched over TLS.
    pub fn is_https(&self) -> bool {
        self.uri.scheme_str() == Some("https")
    }

    /// `host:port`, as Metricbeat reports it in `service.address`; the
    /// scheme's default port is filled in when the target names none.
    pub fn address(&self) -> String {
        let authority = self.uri.authority().map(|a| a.as_str()).unwrap_or_default();
        if self.uri.port_u16().is_some() {
            return authority.to_owned();
        }
        let default_port = if self.is_https() { 443 } else { 80 };
        // `Uri::host` keeps the brackets of an IPv6 literal: `[::1]:80`.
        format!("{}:{default_port}", self.uri.host().unwrap_or_default())
    }

    /// The basic-auth user name, if the target uses basic auth.
    pub fn username(&self) -> Option<&str> {
        match &self.auth {
            Some(Authorization::Basic { username, .. }) => Some(username),
            _ => None,
        }
    }

    /// The extra headers plus `Authorization`, for one request.
    pub(crate) async fn request_headers(&self) -> Result<HeaderMap, CredentialError> {
        let mut headers = self.headers.clone();
        if let Some(auth) = &self.auth {
            headers.insert(hyper::header::AUTHORIZATION, auth.header().await?);
        }
        Ok(headers)
    }
}

fn build_uri(scheme: &str, authority: &str, path: &str) -> Result<Uri, hyper::http::Error> {
    Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(path)
        .build()
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.uri)
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct HeaderNames<'a>(&'a HeaderMap);
        impl fmt::Debug for HeaderNames<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|name| (name.as_str(), Redacted)))
                    .finish()
            }
        }
        f.debug_struct("Target")
            .field("uri", &format_args!("{}", self.uri))
            .field("auth", &self.auth)
            .field("headers", &HeaderNames(&self.headers))
            .finish()
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
        assert!(!t.is_https());
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
    fn https_urls_keep_their_scheme_through_a_path_override() {
        let t = Target::parse("HTTPS://example.org").unwrap();
        assert!(t.is_https());
        assert_eq!(t.to_string(), "https://example.org/debug/vars");
        assert_eq!(t.address(), "example.org:443");
        let moved = t.with_path("/vars").unwrap();
        assert_eq!(moved.to_string(), "https://example.org/vars");
    }

    #[test]
    fn ipv6_literals_keep_their_brackets_in_the_address() {
        let t = Target::parse("[::1]:6060").unwrap();
        assert_eq!(t.address(), "[::1]:6060");
        assert_eq!(Target::parse("http://[::1]").unwrap().address(), "[::1]:80");
    }

    #[test]
    fn user_info_becomes_basic_auth_and_leaves_the_url() {
        let t = Target::parse("https://alice:s3cr%40t@example.org:8443/vars").unwrap();
        assert_eq!(t.to_string(), "https://example.org:8443/vars");
        assert_eq!(t.address(), "example.org:8443");
        assert_eq!(t.username(), Some("alice"));
        let shown = format!("{t:?} {t}");
        assert!(!shown.contains("s3cr"), "{shown}");
        let moved = t.with_path("/other").unwrap();
        assert_eq!(moved.username(), Some("alice"));
    }

    #[test]
    fn debug_shows_header_names_but_not_their_values() {
        let t = Target::parse("h:1")
            .unwrap()
            .with_header("X-Api-Key", "key-987")
            .unwrap()
            .with_bearer_token("tok-654")
            .unwrap();
        let shown = format!("{t:?}");
        assert!(shown.contains("x-api-key"), "{shown}");
        assert!(
            !shown.contains("key-987") && !shown.contains("tok-654"),
            "{shown}"
        );
    }

    #[test]
    fn errors_about_a_target_with_a_password_do_not_show_it() {
        let err = Target::parse("ftp://bob:pa55@h:1").unwrap_err().to_string();
        assert!(err.contains("<redacted>@h:1"), "{err}");
        assert!(!err.contains("pa55"), "{err}");
        let err = Target::parse("bob:pa55@h:1:2").unwrap_err().to_string();
        assert!(!err.contains("pa55"), "{err}");
        let err = Target::parse("h:1")
            .unwrap()
            .with_header("X-Token", "line\nbreak-secret")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("break-secret"), "{err}");
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
        assert!(Target::parse("http://user@").is_err());
        assert!(
            Target::parse("h:1")
                .unwrap()
                .with_header("bad name", "v")
                .is_err()
        );
    }
}
