//! Credentials in URLs (`http://user:password@host`): moved out of the
//! hosts when the configuration is read, so no later code path (banner,
//! logs, `test config`, errors, HTTP libraries) can print them; and the
//! `Debug` output of the sections that hold secrets.

use super::{ConfigError, ElasticsearchOutput, ModuleConfig, OutputsConfig};

/// Credentials that were given in a URL's user-info
/// (`http://user:password@host`), percent-escapes decoded. The
/// configuration keeps them here, never in the URL, so nothing that prints
/// a host can print them; `Debug` shows the user name only.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlCredentials {
    /// The user name (may be empty: `http://:password@host`).
    pub username: String,
    /// The password; `None` for `http://user@host`.
    pub password: Option<String>,
}

impl std::fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlCredentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Splits `http://user:password@host:port/path` (or `user:password@host:port`)
/// into the URL without its user-info and the credentials it carried.
pub fn split_url_credentials(url: &str) -> (String, Option<UrlCredentials>) {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_owned(), None);
    };
    let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
    let (username, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(percent_decode(password))),
        None => (userinfo, None),
    };
    let credentials = UrlCredentials {
        username: percent_decode(username),
        password,
    };
    let bare = match scheme {
        Some(scheme) => format!("{scheme}://{host}"),
        None => host.to_owned(),
    };
    (bare, Some(credentials))
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match byte {
            Some(b) => {
                out.push(b);
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

/// Replaces the user-info of every URL in `text` by `<redacted>`: for
/// parser messages that may quote a value from the file.
pub(super) fn redact_urls(text: &str) -> String {
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
                out.push_str("<redacted>");
                out.push_str(&tail[at..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Moves credentials out of the URLs of `modules[].hosts` (into each
/// module's `url_credentials`) and of `output.elasticsearch.hosts` (into its
/// `username`/`password`), so that no later code path can print them.
pub(super) fn move_url_credentials(
    modules: &mut [ModuleConfig],
    labels: &[String],
    output: &mut OutputsConfig,
    prefix: &str,
) -> Result<(), ConfigError> {
    let invalid = |key: String, reason: &str| ConfigError::Invalid {
        path: prefix.to_owned(),
        key,
        reason: reason.to_owned(),
    };
    for (module, label) in modules.iter_mut().zip(labels) {
        for (j, host) in module.hosts.iter_mut().enumerate() {
            let (bare, Some(credentials)) = split_url_credentials(host) else {
                continue;
            };
            if let Some(other) = module.url_credentials.get(&bare)
                && *other != credentials
            {
                return Err(invalid(
                    format!("{label}.hosts[{j}]"),
                    "the same host is listed twice with different credentials",
                ));
            }
            module.url_credentials.insert(bare.clone(), credentials);
            *host = bare;
        }
    }
    if let Some(es) = &mut output.elasticsearch {
        for (j, host) in es.hosts.iter_mut().enumerate() {
            let (bare, Some(credentials)) = split_url_credentials(host) else {
                continue;
            };
            let key = format!("output.elasticsearch.hosts[{j}]");
            if es
                .username
                .as_ref()
                .is_some_and(|u| *u != credentials.username)
            {
                return Err(invalid(
                    key,
                    "the user name in this URL differs from output.elasticsearch.username \
                     (or from another host's URL): give the credentials once, in username and password",
                ));
            }
            if let Some(password) = credentials.password {
                if es.password.as_ref().is_some_and(|p| *p != password) {
                    return Err(invalid(
                        key,
                        "the password in this URL differs from output.elasticsearch.password \
                         (or from another host's URL): give the credentials once, in username and password",
                    ));
                }
                es.password = Some(password);
            }
            es.username = Some(credentials.username);
            *host = bare;
        }
    }
    Ok(())
}

/// Stands in for a secret in `Debug` output.
fn redacted_option(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

impl std::fmt::Debug for ModuleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleConfig")
            .field("module", &self.module)
            .field("metricsets", &self.metricsets)
            .field("enabled", &self.enabled)
            .field("period", &self.period)
            .field("hosts", &self.hosts)
            .field("timeout", &self.timeout)
            .field("heap", &self.heap)
            .field("expvar", &self.expvar)
            .field("username", &self.username)
            .field("password", &redacted_option(&self.password))
            .field("bearer_token_file", &self.bearer_token_file)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("ssl", &self.ssl)
            .field("url_credentials", &self.url_credentials)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ElasticsearchOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticsearchOutput")
            .field("hosts", &self.hosts)
            .field("username", &self.username)
            .field("password", &redacted_option(&self.password))
            .field("api_key", &redacted_option(&self.api_key))
            .field("index", &self.index)
            .field("ssl", &self.ssl)
            .field("dead_letter_path", &self.dead_letter_path)
            .finish_non_exhaustive()
    }
}
