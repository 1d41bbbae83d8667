//! Documents with Metricbeat's metadata around the metric sets' fields.

use std::path::Path;
use std::time::{Duration, SystemTime};

use gomon_flatten::ExpvarDocument;
use gomon_heap::HeapMetrics;
use gomon_pprof::report::ProfileMetrics;
use serde::Serialize;
use serde_json::Value;

/// The file in the data folder that keeps `agent.id` across restarts: one
/// UUID and a newline, mode 0600.
pub const AGENT_ID_FILE: &str = "agent-id";

/// Who and where: the `host` and `agent` fields of every document, as
/// Metricbeat writes them (`agent.type` says `gomon`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `host.name` and `agent.hostname`: this machine's host name.
    pub host_name: String,
    /// `agent.name`: the configured `name`, else the host name.
    pub agent_name: String,
    /// `agent.id`: a UUID kept in the data folder ([`AGENT_ID_FILE`]), the
    /// same for every run on that folder.
    pub agent_id: String,
    /// `agent.ephemeral_id`: a UUID new at every start.
    pub ephemeral_id: String,
    /// `agent.version`.
    pub agent_version: String,
}

impl Origin {
    /// This machine's host name (from the kernel, else `$HOSTNAME`), this
    /// crate's version and a new ephemeral id, which also stands for
    /// `agent.id`: for one-off commands (`gomon once`) that keep no data.
    pub fn detect() -> Origin {
        let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".to_owned());
        let ephemeral_id = random_uuid();
        Origin {
            agent_name: host_name.clone(),
            host_name,
            agent_id: ephemeral_id.clone(),
            ephemeral_id,
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// The origin of a run that keeps its data in `data_dir`: `agent.id` is
    /// read from `data_dir/agent-id`, or created there on the first start
    /// (the folder 0700, the file 0600); `name` (the configuration's `name`)
    /// becomes `agent.name`, else the host name. When the id cannot be read
    /// or kept, a warning says so and this run's ephemeral id stands in.
    pub fn for_data_dir(data_dir: &Path, name: Option<&str>) -> Origin {
        let mut origin = Origin::detect();
        if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
            origin.agent_name = name.to_owned();
        }
        match load_or_create_agent_id(data_dir) {
            Ok(id) => origin.agent_id = id,
            Err(e) => {
                let path = data_dir.join(AGENT_ID_FILE);
                tracing::warn!(path = %path.display(), error = %e,
                    "cannot keep agent.id; this run uses its ephemeral id, so agent.id changes at the next start");
            }
        }
        origin
    }
}

/// A random UUID (version 4, RFC 9562), lower-case hex with dashes.
pub fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    // The kernel's generator where there is one; else fastrand, which is
    // seeded from the OS too: ids need to be unique, not secret.
    let from_kernel = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !from_kernel {
        bytes = fastrand::u128(..).to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Whether `text` is a UUID in the form [`random_uuid`] writes.
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The persisted agent id; written with `create_new`, so two processes
/// starting at once on one folder agree on whichever id landed first.
fn load_or_create_agent_id(data_dir: &Path) -> std::io::Result<String> {
    use std::io::{ErrorKind, Write};
    gomon_net::files::create_dir_all(data_dir)?;
    let path = data_dir.join(AGENT_ID_FILE);
    for _ in 0..3 {
        match std::fs::read_to_string(&path) {
            Ok(text) if is_uuid(text.trim()) => return Ok(text.trim().to_ascii_lowercase()),
            Ok(_) => {
                // Empty or torn (a crash while it was written): replaced.
                tracing::warn!(path = %path.display(), "agent id file does not hold a UUID; writing a new one");
                std::fs::remove_file(&path)?;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let id = random_uuid();
        match gomon_net::files::open_options()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(format!("{id}\n").as_bytes())?;
                file.sync_all()?;
                return Ok(id);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "the file keeps changing (another process writing it?)",
    ))
}

/// The fields of one metric set: the value of a document's `golang` key,
/// kept typed until the document is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Golang {
    /// `{"heap": …}`: the `heap` metric set.
    Heap(Box<HeapMetrics>),
    /// `{"<namespace>": …}`: the `expvar` metric set.
    Expvar(Box<ExpvarDocument>),
    /// `{"profile": …}`: the `profile` metric set.
    Profile(Box<ProfileMetrics>),
}

impl Serialize for Golang {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Golang::Heap(heap) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("heap", heap)?;
                map.end()
            }
            Golang::Expvar(expvar) => expvar.serialize(serializer),
            Golang::Profile(profile) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("profile", profile)?;
                map.end()
            }
        }
    }
}

/// What one metric set produced for one fetch, before metadata. It stays
/// typed through the queue to the output, which writes it once
/// ([`Event::to_json`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `heap`, `expvar` or `profile`.
    pub metricset: &'static str,
    /// `golang.heap`, `golang.<namespace>` or `golang.profile`.
    pub dataset: String,
    /// The metric set's fields; `None` on failure.
    pub golang: Option<Golang>,
    /// `error.message` on failure.
    pub error: Option<String>,
    /// `service.address`: the URL fetched, without credentials, as
    /// Metricbeat writes it (`http://localhost:6060/debug/vars`).
    pub address: String,
    /// When the fetch started.
    pub timestamp: SystemTime,
    /// How long the fetch took.
    pub duration: Duration,
    /// The module's period.
    pub period: Duration,
}

impl Event {
    /// `@timestamp`: RFC 3339 UTC with milliseconds, as Beats write it.
    pub fn timestamp_text(&self) -> String {
        humantime::format_rfc3339_millis(self.timestamp).to_string()
    }

    /// The `golang.heap` fields, for a heap event that succeeded.
    pub fn heap(&self) -> Option<&HeapMetrics> {
        match &self.golang {
            Some(Golang::Heap(heap)) => Some(heap),
            _ => None,
        }
    }

    /// The complete document, Metricbeat's metadata included, as something
    /// to serialise (nothing is copied).
    pub fn document<'a>(&'a self, origin: &'a Origin) -> impl Serialize + 'a {
        DocumentView {
            timestamp: self.timestamp_text(),
            agent: AgentFields {
                ephemeral_id: &origin.ephemeral_id,
                hostname: &origin.host_name,
                id: &origin.agent_id,
                name: &origin.agent_name,
                kind: "gomon",
                version: &origin.agent_version,
            },
            ecs: EcsFields { version: "8.0.0" },
            error: self.error.as_deref().map(|message| ErrorFields { message }),
            event: EventFields {
                dataset: &self.dataset,
                duration: u64::try_from(self.duration.as_nanos()).unwrap_or(u64::MAX),
                module: "golang",
            },
            golang: self.golang.as_ref(),
            host: HostFields {
                name: &origin.host_name,
            },
            metricset: MetricSetFields {
                name: self.metricset,
                period: u64::try_from(self.period.as_millis()).unwrap_or(u64::MAX),
            },
            service: ServiceFields {
                address: &self.address,
                kind: "golang",
            },
        }
    }

    /// The document as one line of JSON (no newline): the one serialisation
    /// every output writes.
    pub fn to_json(&self, origin: &Origin) -> Vec<u8> {
        // Sized for a heap document (about 1.2 KB) at once, not grown.
        let mut line = Vec::with_capacity(2048);
        // Only strings, integers, finite floats and maps: cannot fail.
        match serde_json::to_writer(&mut line, &self.document(origin)) {
            Ok(()) => line,
            Err(_) => Vec::new(),
        }
    }

    /// The document as a JSON value (for `gomon once` and tests).
    pub fn to_value(&self, origin: &Origin) -> Value {
        serde_json::to_value(self.document(origin)).unwrap_or(Value::Null)
    }
}

// The document's shape. Keys in alphabetical order, as a `serde_json::Map`
// orders them, so a document reads the same whichever way it was built.
#[derive(Serialize)]
struct DocumentView<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    agent: AgentFields<'a>,
    ecs: EcsFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorFields<'a>>,
    event: EventFields<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    golang: Option<&'a Golang>,
    host: HostFields<'a>,
    metricset: MetricSetFields,
    service: ServiceFields<'a>,
}

#[derive(Serialize)]
struct AgentFields<'a> {
    ephemeral_id: &'a str,
    hostname: &'a str,
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct EcsFields {
    version: &'static str,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    message: &'a str,
}

#[derive(Serialize)]
struct EventFields<'a> {
    dataset: &'a str,
    duration: u64,
    module: &'static str,
}

#[derive(Serialize)]
struct HostFields<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct MetricSetFields {
    name: &'static str,
    period: u64,
}

#[derive(Serialize)]
struct ServiceFields<'a> {
    address: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gomon-origin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn uuids_are_version_4_and_differ() {
        let a = random_uuid();
        let b = random_uuid();
        assert!(is_uuid(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert!(!is_uuid("not-a-uuid"));
    }

    #[test]
    fn the_agent_id_survives_a_restart_and_the_ephemeral_id_does_not() {
        let dir = temp_dir("restart").join("data");
        let first = Origin::for_data_dir(&dir, None);
        let second = Origin::for_data_dir(&dir, Some("edge-7"));
        assert_eq!(first.agent_id, second.agent_id);
        assert_ne!(first.ephemeral_id, second.ephemeral_id);
        assert_ne!(first.agent_id, first.ephemeral_id);
        assert_eq!(first.agent_name, first.host_name, "no name: the host name");
        assert_eq!(second.agent_name, "edge-7");
        let stored = std::fs::read_to_string(dir.join(AGENT_ID_FILE)).unwrap();
        assert_eq!(stored.trim(), first.agent_id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join(AGENT_ID_FILE)), 0o600);
        }
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_torn_agent_id_file_is_replaced_by_a_new_id() {
        let dir = temp_dir("torn");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(AGENT_ID_FILE), "3f2c").unwrap();
        let origin = Origin::for_data_dir(&dir, None);
        assert!(is_uuid(&origin.agent_id));
        assert_ne!(origin.agent_id, origin.ephemeral_id, "kept, not ephemeral");
        let stored = std::fs::read_to_string(dir.join(AGENT_ID_FILE)).unwrap();
        assert_eq!(stored.trim(), origin.agent_id);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn documents_carry_every_agent_field_metricbeat_writes() {
        let origin = Origin::detect();
        let doc = Event {
            metricset: "heap",
            dataset: "golang.heap".to_owned(),
            golang: None,
            error: None,
            address: "http://localhost:6060/debug/vars".to_owned(),
            timestamp: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(3),
            period: Duration::from_secs(10),
        }
        .to_value(&origin);
        for field in ["name", "hostname", "id", "ephemeral_id", "type", "version"] {
            assert!(doc["agent"][field].is_string(), "agent.{field}: {doc}");
        }
        assert_eq!(doc["agent"]["hostname"], doc["host"]["name"]);
        assert_eq!(
            doc["service"]["address"],
            "http://localhost:6060/debug/vars"
        );
    }

    #[test]
    fn a_document_is_written_straight_from_the_typed_event() {
        let origin = Origin {
            host_name: "h".to_owned(),
            agent_name: "a".to_owned(),
            agent_id: "id".to_owned(),
            ephemeral_id: "eph".to_owned(),
            agent_version: "9.9.9".to_owned(),
        };
        let mut heap = HeapMetrics::default();
        heap.allocations.allocated = 42;
        let mut event = Event {
            metricset: "heap",
            dataset: "golang.heap".to_owned(),
            golang: Some(Golang::Heap(Box::new(heap.clone()))),
            error: None,
            address: "http://127.0.0.1:1/debug/vars".to_owned(),
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_millis(1_500),
            duration: Duration::from_nanos(7),
            period: Duration::from_secs(10),
        };
        let expected = serde_json::json!({
            "@timestamp": "1970-01-01T00:00:01.500Z",
            "agent": {"ephemeral_id": "eph", "hostname": "h", "id": "id", "name": "a",
                      "type": "gomon", "version": "9.9.9"},
            "ecs": {"version": "8.0.0"},
            "event": {"dataset": "golang.heap", "duration": 7, "module": "golang"},
            "golang": {"heap": serde_json::to_value(&heap).unwrap()},
            "host": {"name": "h"},
            "metricset": {"name": "heap", "period": 10_000},
            "service": {"address": "http://127.0.0.1:1/debug/vars", "type": "golang"},
        });
        assert_eq!(event.to_value(&origin), expected);
        let line = event.to_json(&origin);
        assert_eq!(serde_json::from_slice::<Value>(&line).unwrap(), expected);
        assert!(!line.contains(&b'\n'), "one line");
        assert_eq!(event.heap(), Some(&heap));

        event.golang = None;
        event.error = Some("connection refused".to_owned());
        let failed = event.to_value(&origin);
        assert_eq!(failed["error"]["message"], "connection refused");
        assert!(failed.get("golang").is_none(), "{failed}");
        assert_eq!(event.heap(), None);
    }
}
