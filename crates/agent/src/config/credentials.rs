//! Credentials in URLs (`http://user:password@host`): moved out of the
//! hosts when the configuration is read, so no later code path (banner,
//! logs, `test config`, errors, HTTP libraries) can print them; and the
//! `Debug` output of the sections that hold secrets.

use super::{ConfigError, ElasticsearchOutput, ModuleConfig, OutputsConfig};

// The URL credentials themselves (splitting, decoding, redaction) are
// `gomon-net`'s; these re-exports keep the agent's paths.
pub(super) use gomon_net::url::redact_urls;
pub use gomon_net::url::{UrlCredentials, split_url_credentials};

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
    secret.as_ref().map(|_| gomon_net::url::REDACTED)
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
