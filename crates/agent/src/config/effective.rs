//! What `gomon test config` prints: the configuration with every default
//! filled in and every secret replaced.

use super::*;

impl Config {
    /// The configuration as JSON with secrets replaced by `<redacted>`, for
    /// `gomon test config`: effective values, defaults filled in (those that
    /// depend on the data folder use [`default_data_dir`](crate::default_data_dir),
    /// as `gomon run` does without `--data`).
    pub fn redacted(&self) -> Value {
        let data_dir = crate::default_data_dir();
        let ssl = |ssl: &SslConfig| {
            serde_json::json!({
                "certificate_authorities": ssl.certificate_authorities,
                "verification_mode": ssl.verification_mode.as_deref().unwrap_or("full"),
            })
        };
        let modules: Vec<Value> = self
            .modules
            .iter()
            .map(|m| {
                serde_json::json!({
                    "module": m.module,
                    "enabled": m.enabled,
                    "metricsets": m.metric_sets().iter().map(|s| s.name()).collect::<Vec<_>>(),
                    "period": humantime::format_duration(m.period).to_string(),
                    "timeout": humantime::format_duration(m.request_timeout()).to_string(),
                    "hosts": m.hosts,
                    "heap": {"path": m.effective_path(&m.heap.path)},
                    "username": m.username,
                    "password": m.password.as_ref().map(|_| gomon_net::url::REDACTED),
                    "bearer_token_file": m.bearer_token_file,
                    "headers": m.headers.keys().collect::<Vec<_>>(),
                    "ssl": ssl(&m.ssl),
                    "expvar": {"namespace": m.expvar.namespace, "path": m.effective_path(&m.expvar.path),
                               "mode": m.expvar.mode.as_deref().unwrap_or("flatten"),
                               "include": m.expvar.include, "exclude": m.expvar.exclude, "rates": m.expvar.rates},
                    "profile": {"period": humantime::format_duration(m.profile.period).to_string(),
                                "seconds": m.profile.seconds,
                                "path": m.profile.path.as_deref().unwrap_or(DEFAULT_PROFILE_PATH),
                                "top": m.profile_top()},
                })
            })
            .collect();
        let redact = |s: &Option<String>| s.as_ref().map(|_| gomon_net::url::REDACTED);
        let file = |f: &FileOutput| serde_json::json!({"file": {"path": f.path, "filename": f.filename, "rotate_every_kb": f.rotate_every_kb, "number_of_files": f.number_of_files}});
        let output = if let Some(es) = &self.output.elasticsearch {
            serde_json::json!({"elasticsearch": {
                "hosts": es.hosts, "username": es.username, "password": redact(&es.password),
                "api_key": redact(&es.api_key), "index": crate::output::index_of(es),
                "ssl": ssl(&es.ssl),
                "dead_letter_path": es.dead_letter_path.clone()
                    .unwrap_or_else(|| data_dir.join(crate::output::DEAD_LETTER_FILE)),
            }})
        } else if let Some(f) = &self.output.file {
            file(f)
        } else if let Some(c) = &self.output.console {
            serde_json::json!({"console": {"pretty": c.pretty}})
        } else {
            let store = self
                .output
                .store
                .clone()
                .unwrap_or_else(|| StoreOutput::in_folder(&data_dir));
            serde_json::json!({"store": {
                "file": store.file(&data_dir),
                "retention": humantime::format_duration(store.retention).to_string(),
            }})
        };
        let disk = crate::output::disk_buffer_settings(&self.queue)
            .ok()
            .flatten()
            .map(|d| serde_json::json!({"path": d.path, "max_size": format_size(d.max_bytes)}));
        serde_json::json!({
            "modules": modules,
            "output": output,
            "queue": {"disk": disk},
            "http": {"enabled": self.http.enabled, "host": self.http.host, "port": self.http.port.unwrap_or(DEFAULT_HTTP_PORT)},
            "view": {
                "username": self.view.username,
                "password": redact(&self.view.password),
                "password_file": self.view.password_file,
                "ssl": {"certificate": self.view.ssl.certificate, "key": self.view.ssl.key},
            },
            "setup": {
                "template": {"enabled": self.setup.template_enabled, "overwrite": self.setup.template_overwrite},
                "kibana": {
                    "host": gomon_net::url::redact_userinfo(self.setup.kibana.host()),
                    "username": self.setup.kibana.username,
                    "password": redact(&self.setup.kibana.password),
                    "api_key": redact(&self.setup.kibana.api_key),
                    "ssl": ssl(&self.setup.kibana.ssl),
                    "space": {"id": self.setup.kibana.space.id},
                },
            },
        })
    }
}

/// `1GiB`, `512MiB`, or bytes.
fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit && bytes.is_multiple_of(*unit))
        .map_or_else(
            || bytes.to_string(),
            |(unit, name)| format!("{}{name}", bytes / unit),
        )
}
