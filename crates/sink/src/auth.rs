//! Credentials, kept out of every `Debug`, log line and error message.

use std::fmt;

use base64::Engine as _;
use hyper::header::HeaderValue;

use crate::error::SinkError;

/// How the sink authenticates to the cluster. `Debug` shows the kind and
/// the user name or key id, never a password, key or token.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An Elasticsearch API key given as its id and key
    /// (sent as `ApiKey base64(id:key)`).
    ApiKey {
        /// The key's id.
        id: String,
        /// The key's secret.
        key: String,
    },
    /// A bearer token (`Authorization: Bearer ...`).
    Bearer {
        /// The token.
        token: String,
    },
}

impl Credentials {
    /// An API key from its `id:key` form (what Metricbeat's `api_key` takes).
    pub fn api_key(id_colon_key: &str) -> Result<Credentials, SinkError> {
        match id_colon_key.split_once(':') {
            Some((id, key)) if !id.is_empty() && !key.is_empty() => Ok(Credentials::ApiKey {
                id: id.to_owned(),
                key: key.to_owned(),
            }),
            _ => Err(SinkError::InvalidConfig {
                field: "credentials",
                reason: "an API key must be given as id:key (both parts non-empty)".to_owned(),
            }),
        }
    }

    /// The `Authorization` header, marked sensitive (hyper keeps it out of
    /// its own debug output).
    pub(crate) fn header(&self) -> Result<HeaderValue, SinkError> {
        let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
        let text = match self {
            Credentials::Basic { username, password } => {
                format!("Basic {}", b64(format!("{username}:{password}")))
            }
            Credentials::ApiKey { id, key } => format!("ApiKey {}", b64(format!("{id}:{key}"))),
            Credentials::Bearer { token } => format!("Bearer {}", token.trim()),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| SinkError::InvalidConfig {
            field: "credentials",
            // Never quote the value: it is the secret.
            reason: "contains characters not allowed in an HTTP header (line breaks, control characters)"
                .to_owned(),
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::ApiKey { id, .. } => f
                .debug_struct("ApiKey")
                .field("id", id)
                .field("key", &"<redacted>")
                .finish(),
            Credentials::Bearer { .. } => f
                .debug_struct("Bearer")
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_each_scheme() {
        let basic = Credentials::Basic {
            username: "elastic".into(),
            password: "changeme".into(),
        };
        assert_eq!(basic.header().unwrap(), "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
        let key = Credentials::api_key("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").unwrap();
        assert_eq!(
            key.header().unwrap(),
            "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
        );
        let bearer = Credentials::Bearer {
            token: "abc.def".into(),
        };
        assert_eq!(bearer.header().unwrap(), "Bearer abc.def");
        assert!(bearer.header().unwrap().is_sensitive());
    }

    #[test]
    fn secrets_never_appear_in_debug_or_errors() {
        let all = [
            Credentials::Basic {
                username: "user".into(),
                password: "s3cret-pw".into(),
            },
            Credentials::api_key("key-id:s3cret-key").unwrap(),
            Credentials::Bearer {
                token: "s3cret-token".into(),
            },
        ];
        for credentials in all {
            let shown = format!("{credentials:?} {:?}", credentials.header().unwrap());
            assert!(!shown.contains("s3cret"), "{shown}");
        }
        let bad = Credentials::Bearer {
            token: "s3cret\nInjected: yes".into(),
        };
        let err = bad.header().unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(Credentials::api_key("no-colon").is_err());
    }
}
