//! Credentials a target sends, kept out of every `Debug`, `Display`, log line
//! and error message.

use std::fmt;
use std::path::{Path, PathBuf};

use hyper::header::HeaderValue;

/// Bearer token files larger than this are refused: a token is a few KiB at
/// most, and a wrong path (a log file, a device) must not be read whole.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// How a target authenticates. The header values are built once, when the
/// target is configured, and marked sensitive.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Authorization {
    /// HTTP basic auth; the user name is not a secret and is shown in `Debug`.
    Basic {
        username: String,
        header: HeaderValue,
    },
    /// A bearer token given inline.
    Bearer { header: HeaderValue },
    /// A bearer token read from this file on every fetch, so that rotated
    /// tokens (Kubernetes service-account tokens, for one) keep working.
    BearerFile { path: PathBuf },
}

impl Authorization {
    pub(crate) fn basic(username: &str, password: &str) -> Result<Authorization, InvalidSecret> {
        let encoded = base64_encode(format!("{username}:{password}").as_bytes());
        Ok(Authorization::Basic {
            username: username.to_owned(),
            header: sensitive_header(&format!("Basic {encoded}"))?,
        })
    }

    pub(crate) fn bearer(token: &str) -> Result<Authorization, InvalidSecret> {
        let token = token.trim();
        if token.is_empty() {
            return Err(InvalidSecret::Empty);
        }
        Ok(Authorization::Bearer {
            header: sensitive_header(&format!("Bearer {token}"))?,
        })
    }

    /// The `Authorization` header value for one request.
    pub(crate) async fn header(&self) -> Result<HeaderValue, CredentialError> {
        match self {
            Authorization::Basic { header, .. } | Authorization::Bearer { header } => {
                Ok(header.clone())
            }
            Authorization::BearerFile { path } => read_token_file(path).await,
        }
    }
}

async fn read_token_file(path: &Path) -> Result<HeaderValue, CredentialError> {
    let failed = |reason: String| CredentialError {
        path: path.to_owned(),
        reason,
    };
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|e| failed(e.to_string()))?
        .len();
    if size > MAX_TOKEN_FILE_BYTES {
        return Err(failed(format!(
            "file has {size} bytes, more than the {MAX_TOKEN_FILE_BYTES} a token may have"
        )));
    }
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(failed("file is empty".to_owned()));
    }
    // The message must not echo the token, so it names the problem only.
    sensitive_header(&format!("Bearer {token}")).map_err(|e| failed(e.to_string()))
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authorization::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &Redacted)
                .finish(),
            Authorization::Bearer { .. } => f.debug_tuple("Bearer").field(&Redacted).finish(),
            Authorization::BearerFile { path } => f.debug_tuple("BearerFile").field(path).finish(),
        }
    }
}

/// Stands in for a secret in `Debug` output.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A secret that cannot go into an HTTP header. The message never contains it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InvalidSecret {
    #[error("it is empty")]
    Empty,
    #[error(
        "it contains characters not allowed in an HTTP header (control characters or newlines)"
    )]
    NotAHeaderValue,
}

/// A bearer token file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bearer token file {path:?}: {reason}")]
pub(crate) struct CredentialError {
    path: PathBuf,
    reason: String,
}

fn sensitive_header(value: &str) -> Result<HeaderValue, InvalidSecret> {
    let mut header = HeaderValue::from_str(value).map_err(|_| InvalidSecret::NotAHeaderValue)?;
    header.set_sensitive(true);
    Ok(header)
}

/// Standard base64 with padding (RFC 4648 section 4), all basic auth needs;
/// not worth a dependency.
pub(crate) fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn debug_output_hides_passwords_and_tokens() {
        let basic = Authorization::basic("alice", "hunter2").unwrap();
        let bearer = Authorization::bearer("tok-123").unwrap();
        let shown = format!("{basic:?} {bearer:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-123"),
            "{shown}"
        );
        assert!(!shown.contains(&base64_encode(b"alice:hunter2")), "{shown}");
    }

    #[test]
    fn a_token_with_a_newline_is_refused_without_echoing_it() {
        let err = Authorization::bearer("abc\ndef").unwrap_err().to_string();
        assert!(!err.contains("abc"), "{err}");
    }
}
