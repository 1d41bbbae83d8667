//! The checks `run`, `test config` and `test output` all pass through, once,
//! after the configuration is parsed: every value a later step would refuse
//! is refused here, with its key path.

use super::*;

impl Config {
    pub(super) fn check(&self, prefix: &str, labels: &[String]) -> Result<(), ConfigError> {
        let invalid = |key: String, reason: String| ConfigError::Invalid {
            path: prefix.to_owned(),
            key,
            reason,
        };
        if self.modules.is_empty() {
            let skipped = if self.findings.skipped_modules.is_empty() {
                String::new()
            } else {
                format!(
                    " (skipped: {}; gomon runs the golang module)",
                    self.findings.skipped_modules.join(", ")
                )
            };
            return Err(invalid(
                "modules".to_owned(),
                format!(
                    "no golang module configured{skipped}: add `modules:` (or `metricbeat.modules:`) with `module: golang` and `hosts`"
                ),
            ));
        }
        for (m, label) in self.modules.iter().zip(labels) {
            let key = |k: &str| format!("{label}.{k}");
            if m.enabled && m.hosts.is_empty() {
                return Err(invalid(
                    key("hosts"),
                    "empty: list at least one host:port".to_owned(),
                ));
            }
            for (j, host) in m.hosts.iter().enumerate() {
                m.target(host)
                    .map_err(|e| invalid(format!("{label}.hosts[{j}]"), e))?;
            }
            for (name, value) in [("period", Some(m.period)), ("timeout", m.timeout)] {
                if let Some(value) = value.filter(|v| *v < MIN_PERIOD) {
                    return Err(invalid(
                        key(name),
                        format!(
                            "{} is below the minimum of 100ms",
                            humantime::format_duration(value)
                        ),
                    ));
                }
            }
            m.tls().map_err(|e| invalid(key("ssl"), e))?;
            if m.profile.period < std::time::Duration::from_secs(1) {
                return Err(invalid(
                    key("profile.period"),
                    format!(
                        "{} is below the minimum of 1s (a heap profile costs the program a pass over its allocation records)",
                        humantime::format_duration(m.profile.period)
                    ),
                ));
            }
            if let Some(seconds) = m.profile.seconds
                && (seconds == 0 || u128::from(seconds) * 1000 >= m.profile.period.as_millis())
            {
                return Err(invalid(
                    key("profile.seconds"),
                    format!(
                        "{seconds} must be at least 1 and shorter than profile.period ({})",
                        humantime::format_duration(m.profile.period)
                    ),
                ));
            }
            if m.profile
                .top
                .is_some_and(|top| top == 0 || top > MAX_PROFILE_TOP)
            {
                return Err(invalid(
                    key("profile.top"),
                    format!("must be between 1 and {MAX_PROFILE_TOP}"),
                ));
            }
            // Namespace, mode and every glob, as the agent builds its flatteners.
            crate::collect::expvar_settings(m, label)
                .map_err(|e| invalid(e.key().to_owned(), e.reason()))?;
            // Also where the expvar metric set is not run.
            crate::collect::expvar_mode(m.expvar.mode.as_deref())
                .map_err(|reason| invalid(key("expvar.mode"), reason))?;
        }
        let outputs = [
            self.output.elasticsearch.is_some(),
            self.output.store.is_some(),
            self.output.file.is_some(),
            self.output.console.is_some(),
        ];
        if outputs.iter().filter(|o| **o).count() > 1 {
            return Err(invalid(
                "output".to_owned(),
                "more than one output configured: choose one of elasticsearch, store, file, console"
                    .to_owned(),
            ));
        }
        if self.http.enabled && self.http.ip().is_none() {
            return Err(invalid(
                "http.host".to_owned(),
                format!(
                    "{:?} is not an IP address or localhost (e.g. 127.0.0.1, 0.0.0.0, ::1)",
                    self.http.host
                ),
            ));
        }
        self.check_view()
            .map_err(|(key, reason)| invalid(key.to_owned(), reason))?;
        if let Some(store) = &self.output.store
            && store.retention < std::time::Duration::from_secs(60)
        {
            return Err(invalid(
                "output.store.retention".to_owned(),
                format!(
                    "{} is too short: keep rows at least 1m (the minute rollups are made from them)",
                    humantime::format_duration(store.retention)
                ),
            ));
        }
        if let Some(file) = &self.output.file {
            if file.filename.is_empty() || file.filename.contains(['/', '\\']) {
                return Err(invalid(
                    "output.file.filename".to_owned(),
                    format!("{:?}: give a file name without a folder", file.filename),
                ));
            }
            if file.rotate_every_kb == 0 {
                return Err(invalid(
                    "output.file.rotate_every_kb".to_owned(),
                    "0: give at least 1".to_owned(),
                ));
            }
            if file.number_of_files == 0 {
                return Err(invalid(
                    "output.file.number_of_files".to_owned(),
                    "0: give at least 1 (the current file)".to_owned(),
                ));
            }
        }
        if let Some(es) = &self.output.elasticsearch {
            if es.hosts.is_empty() {
                return Err(invalid(
                    "output.elasticsearch.hosts".to_owned(),
                    "empty: list at least one node".to_owned(),
                ));
            }
            // The checks `gomon run` makes when it opens the output, without
            // touching the disk.
            let mut sink = crate::output::sink_settings(es, Path::new("."))
                .map_err(|e| invalid("output.elasticsearch".to_owned(), output_reason(e)))?;
            sink.disk_buffer = crate::output::disk_buffer_settings(&self.queue)
                .map_err(|e| invalid("queue.disk.max_size".to_owned(), e))?;
            sink.validate()
                .map_err(|e| invalid("queue.disk".to_owned(), e.to_string()))?;
        } else {
            crate::output::disk_buffer_settings(&self.queue)
                .map_err(|e| invalid("queue.disk.max_size".to_owned(), e))?;
        }
        Ok(())
    }

    /// `view.*`: the certificate with its key, a password with its user,
    /// one password only.
    fn check_view(&self) -> Result<(), (&'static str, String)> {
        let view = &self.view;
        match (&view.ssl.certificate, &view.ssl.key) {
            (Some(_), None) => {
                return Err((
                    "view.ssl.key",
                    "view.ssl.certificate is set: set view.ssl.key to its private key (PEM)"
                        .to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "view.ssl.certificate",
                    "view.ssl.key is set: set view.ssl.certificate to its certificate (PEM)"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        let has_password = view.password.is_some() || view.password_file.is_some();
        if view.password.is_some() && view.password_file.is_some() {
            return Err((
                "view.password_file",
                "both view.password and view.password_file are set: keep one".to_owned(),
            ));
        }
        if view.password.as_deref() == Some("") {
            return Err(("view.password", "is empty".to_owned()));
        }
        match (&view.username, has_password) {
            (Some(_), false) => Err((
                "view.password",
                "view.username is set: set view.password or view.password_file".to_owned(),
            )),
            (None, true) => Err((
                "view.username",
                "a view password is set: set view.username too".to_owned(),
            )),
            _ => Ok(()),
        }
    }
}
