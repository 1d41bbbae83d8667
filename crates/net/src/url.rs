//! Credentials in URLs (`http://user:password@host`): percent-decoding
//! the user-info, taking it out of a URL, and hiding it in text that may be
//! shown (error messages, parser messages that quote a value).
//!
//! URLs are taken as written, with or without a scheme (`user:pw@host:port`
//! too); the authority ends at the first `/`, `?` or `#`, and the user-info
//! at the last `@` before it, as browsers read them.

use std::fmt;

/// What stands in for a secret wherever one would be shown.
pub const REDACTED: &str = "<redacted>";

/// Credentials given in a URL's user-info, percent-escapes decoded. `Debug`
/// shows the user name only.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlCredentials {
    /// The user name (may be empty: `http://:password@host`).
    pub username: String,
    /// The password; `None` for `http://user@host`.
    pub password: Option<String>,
}

impl UrlCredentials {
    /// Decodes a user-info (`user:password` or `user`, without the `@`);
    /// the password runs from the first `:`.
    pub fn from_userinfo(userinfo: &str) -> UrlCredentials {
        let (username, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(percent_decode(password))),
            None => (userinfo, None),
        };
        UrlCredentials {
            username: percent_decode(username),
            password,
        }
    }
}

impl fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlCredentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// A URL cut at its user-info: `scheme://` (if any), the user-info (if
/// any) and everything after its `@`.
struct UserInfoSplit<'a> {
    scheme: Option<&'a str>,
    userinfo: Option<&'a str>,
    after: &'a str,
}

fn split(url: &str) -> UserInfoSplit<'_> {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => UserInfoSplit {
            scheme,
            userinfo: Some(&rest[..at]),
            after: &rest[at + 1..],
        },
        None => UserInfoSplit {
            scheme,
            userinfo: None,
            after: rest,
        },
    }
}

fn join(scheme: Option<&str>, rest: &str) -> String {
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest.to_owned(),
    }
}

/// Splits `http://user:password@host:port/path` (or `user:password@host:port`)
/// into the URL without its user-info and the credentials it carried.
pub fn split_url_credentials(url: &str) -> (String, Option<UrlCredentials>) {
    let parts = split(url);
    match parts.userinfo {
        None => (url.to_owned(), None),
        Some(userinfo) => (
            join(parts.scheme, parts.after),
            Some(UrlCredentials::from_userinfo(userinfo)),
        ),
    }
}

/// `user:secret@host` → `<redacted>@host`, for messages about one URL that
/// may carry a password; the path and query stay as they are.
pub fn redact_userinfo(url: &str) -> String {
    let parts = split(url);
    match parts.userinfo {
        None => join(parts.scheme, parts.after),
        Some(_) => join(parts.scheme, &format!("{REDACTED}@{}", parts.after)),
    }
}

/// Replaces the user-info of every `scheme://` URL in `text` by
/// `<redacted>`: for parser messages that may quote a value from a file.
/// A URL ends at white space, a quote, `/`, `?`, `#` or `,`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '/' | '?' | '#' | ','))
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&tail[at..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Decodes `%XX` escapes of a URL's user-info; anything malformed is kept
/// literally, as browsers do. Bytes that are not UTF-8 after decoding become
/// U+FFFD.
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_are_decoded_and_broken_ones_kept() {
        assert_eq!(percent_decode("p%40ss%3Aword"), "p@ss:word");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn redaction_only_touches_the_user_info() {
        assert_eq!(
            redact_userinfo("http://a:b@h:1/x@y"),
            "http://<redacted>@h:1/x@y"
        );
        assert_eq!(redact_userinfo("h:1/p"), "h:1/p");
        assert_eq!(redact_userinfo("a@h"), "<redacted>@h");
    }

    #[test]
    fn credentials_leave_the_url_decoded_and_the_rest_stays() {
        let (bare, credentials) = split_url_credentials("https://u%20x:p%3Aw:d@h:9200/p@q?x");
        assert_eq!(bare, "https://h:9200/p@q?x");
        let credentials = credentials.unwrap();
        assert_eq!(credentials.username, "u x");
        assert_eq!(credentials.password.as_deref(), Some("p:w:d"));

        let (bare, credentials) = split_url_credentials("user@h:1");
        assert_eq!(bare, "h:1");
        assert_eq!(credentials.unwrap().password, None);

        assert_eq!(
            split_url_credentials("http://h:1/a@b"),
            ("http://h:1/a@b".to_owned(), None)
        );
    }

    #[test]
    fn debug_of_url_credentials_hides_the_password() {
        let shown = format!("{:?}", UrlCredentials::from_userinfo("alice:hunter2"));
        assert!(
            shown.contains("alice") && shown.contains(REDACTED),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn every_url_in_a_text_loses_its_user_info() {
        assert_eq!(
            redact_urls(r#"bad "http://a:s1@h:1/x", also https://b:s2@k,done; ftp://h/y@z"#),
            r#"bad "http://<redacted>@h:1/x", also https://<redacted>@k,done; ftp://h/y@z"#
        );
    }
}
