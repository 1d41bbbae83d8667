//! Documents with Metricbeat's metadata around the metric sets' fields.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

/// Who and where: the `host` and `agent` fields of every document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `host.name`.
    pub host_name: String,
    /// `agent.version`.
    pub agent_version: String,
}

impl Origin {
    /// This machine's host name (from the kernel, else `$HOSTNAME`) and this
    /// crate's version.
    pub fn detect() -> Origin {
        let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".to_owned());
        Origin {
            host_name,
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// What one metric set produced for one fetch, before metadata.
#[derive(Debug, Clone)]
pub struct Event {
    /// `heap` or `expvar`.
    pub metricset: &'static str,
    /// `golang.heap` or `golang.<namespace>`.
    pub dataset: String,
    /// The value of the document's `golang` key; `None` on failure.
    pub golang: Option<Value>,
    /// `error.message` on failure.
    pub error: Option<String>,
    /// `service.address`: host:port of the target.
    pub address: String,
    /// When the fetch started.
    pub timestamp: SystemTime,
    /// How long the fetch took.
    pub duration: Duration,
    /// The module's period.
    pub period: Duration,
}

impl Event {
    /// The complete document, Metricbeat's metadata included.
    pub fn into_document(self, origin: &Origin) -> Value {
        let mut doc = json!({
            "@timestamp": humantime::format_rfc3339_millis(self.timestamp).to_string(),
            "event": {
                "module": "golang",
                "dataset": self.dataset,
                "duration": u64::try_from(self.duration.as_nanos()).unwrap_or(u64::MAX),
            },
            "metricset": {"name": self.metricset, "period": u64::try_from(self.period.as_millis()).unwrap_or(u64::MAX)},
            "service": {"address": self.address, "type": "golang"},
            "host": {"name": origin.host_name},
            "agent": {"type": "gomon", "version": origin.agent_version},
            "ecs": {"version": "8.0.0"},
        });
        if let Some(golang) = self.golang {
            doc["golang"] = golang;
        }
        if let Some(message) = self.error {
            doc["error"] = json!({ "message": message });
        }
        doc
    }
}
