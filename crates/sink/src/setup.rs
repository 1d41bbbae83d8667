//! What the documents need before the first write: a composable index
//! template with explicit mappings, installed idempotently, and a data
//! stream or dated index names depending on what the server supports.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::cluster::Cluster;
use crate::error::SinkError;

/// How the documents' targets are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetNaming {
    /// One data stream (the template carries `data_stream`); documents go
    /// with `create` to the stream's name.
    DataStream,
    /// One index per day, `<prefix>-YYYY.MM.DD` ([`dated_index`]).
    DatedIndices,
}

/// A composable index template (`PUT _index_template/<name>`).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexTemplate {
    /// The template's name.
    pub name: String,
    /// Index (or data stream) name patterns it applies to.
    pub index_patterns: Vec<String>,
    /// Its version: an installed template with a higher version is a
    /// newer one (the user's, or a later release's) and is kept.
    pub version: u64,
    /// Priority over other matching templates (higher wins).
    pub priority: u64,
    /// Index settings.
    pub settings: Value,
    /// Mappings (`properties`, `dynamic_templates`, ...).
    pub mappings: Value,
}

/// What [`Cluster::install_template`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateOutcome {
    /// There was no template of that name; it is installed.
    Installed,
    /// An older version (or one without a version that the caller allowed
    /// to overwrite) was replaced.
    Updated {
        /// The version that was there.
        previous: Option<u64>,
    },
    /// The same version is installed; nothing was written.
    AlreadyCurrent,
    /// A newer version, or one without a version (someone else's), is
    /// installed and was left alone: pass `overwrite: true` to replace it.
    KeptExisting {
        /// Its version, if it has one.
        installed: Option<u64>,
    },
}

impl IndexTemplate {
    /// The request body, for a data stream or for plain indices.
    pub fn body(&self, naming: TargetNaming) -> Value {
        let mut body = json!({
            "index_patterns": self.index_patterns,
            "priority": self.priority,
            "version": self.version,
            "_meta": {"managed_by": "gomon-sink", "version": self.version},
            "template": {"settings": self.settings, "mappings": self.mappings},
        });
        if naming == TargetNaming::DataStream {
            body["data_stream"] = json!({});
        }
        body
    }
}

/// `<prefix>-YYYY.MM.DD` of the UTC day of `time` (the dated-index
/// fallback where data streams are not available).
pub fn dated_index(prefix: &str, time: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(time).to_string();
    let day = stamp.get(..10).unwrap_or("1970-01-01").replace('-', ".");
    format!("{prefix}-{day}")
}

/// Nested `properties` for an index mapping from `(dotted path, type)`
/// pairs: `[("a.b", "long")]` → `{"a": {"properties": {"b": {"type": "long"}}}}`.
pub fn typed_properties(fields: &[(&str, &str)]) -> Value {
    let mut properties = Map::new();
    for (path, kind) in fields {
        insert_path(&mut properties, path, kind);
    }
    Value::Object(properties)
}

/// Puts `a.b.c: kind` into nested `properties` objects.
fn insert_path(properties: &mut Map<String, Value>, path: &str, kind: &str) {
    match path.split_once('.') {
        // `@timestamp` has no dot; neither does any last segment.
        None => {
            properties.insert(path.to_owned(), json!({"type": kind}));
        }
        Some((head, rest)) => {
            let child = properties
                .entry(head.to_owned())
                .or_insert_with(|| json!({"properties": {}}));
            if let Some(Value::Object(inner)) = child.get_mut("properties") {
                insert_path(inner, rest, kind);
            }
        }
    }
}

impl Cluster {
    /// True when the server has data streams (`GET _data_stream` answers
    /// 200): Elasticsearch 7.9+ and OpenSearch 1.0+ in their usual
    /// distributions; a build without them answers an error.
    pub async fn supports_data_streams(&self) -> Result<bool, SinkError> {
        let (status, _) = self
            .request_json(
                hyper::Method::GET,
                "/_data_stream",
                None,
                "data stream check",
            )
            .await?;
        Ok(status == 200)
    }

    /// Installs `template` unless the same or a newer version is there.
    /// A template of that name without a version (made by someone else) is
    /// kept too, unless `overwrite`; `overwrite` also replaces newer ones.
    /// Idempotent: a second call with the same version writes nothing.
    pub async fn install_template(
        &self,
        template: &IndexTemplate,
        naming: TargetNaming,
        overwrite: bool,
    ) -> Result<TemplateOutcome, SinkError> {
        const OP: &str = "index template";
        let path = format!("/_index_template/{}", template.name);
        let (status, existing) = self
            .request_json(hyper::Method::GET, &path, None, OP)
            .await?;
        let installed: Option<Option<u64>> = match status {
            404 => None,
            200 => {
                let found = existing
                    .get("index_templates")
                    .and_then(Value::as_array)
                    .and_then(|all| all.first())
                    .and_then(|t| t.get("index_template"));
                found.map(|t| t.get("version").and_then(Value::as_u64))
            }
            status => return Err(self.status_error(OP, status, &existing)),
        };
        let outcome = match installed {
            None => TemplateOutcome::Installed,
            Some(Some(v)) if v == template.version && !overwrite => {
                return Ok(TemplateOutcome::AlreadyCurrent);
            }
            Some(version) if !overwrite && version.is_none_or(|v| v > template.version) => {
                tracing::warn!(server = %self.url(), template = %template.name, installed = ?version, ours = template.version, "index template left alone: the installed one is newer or not ours");
                return Ok(TemplateOutcome::KeptExisting { installed: version });
            }
            Some(previous) => TemplateOutcome::Updated { previous },
        };
        let (status, answer) = self
            .request_json(hyper::Method::PUT, &path, Some(template.body(naming)), OP)
            .await?;
        if !(200..300).contains(&status) {
            return Err(self.status_error(OP, status, &answer));
        }
        tracing::info!(server = %self.url(), template = %template.name, version = template.version, ?naming, "index template installed");
        Ok(outcome)
    }

    /// Detects data streams and installs `template` for the naming the
    /// server supports: a data stream where it can, dated indices where it
    /// cannot.
    pub async fn set_up(
        &self,
        template: &IndexTemplate,
        overwrite: bool,
    ) -> Result<(TargetNaming, TemplateOutcome), SinkError> {
        let naming = if self.supports_data_streams().await? {
            TargetNaming::DataStream
        } else {
            tracing::info!(server = %self.url(), "no data streams on this server: dated index names");
            TargetNaming::DatedIndices
        };
        let outcome = self.install_template(template, naming, overwrite).await?;
        Ok((naming, outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_properties_nest_dotted_paths_and_the_body_follows_the_naming() {
        let template = IndexTemplate {
            name: "t".to_owned(),
            index_patterns: vec!["t-*".to_owned()],
            version: 3,
            priority: 200,
            settings: json!({"index.mapping.total_fields.limit": 10000}),
            mappings: json!({"properties": typed_properties(&[("@timestamp", "date"), ("a.b.c", "long"), ("a.d", "float")])}),
        };
        let props = &template.mappings["properties"];
        assert_eq!(
            props["a"]["properties"]["b"]["properties"]["c"]["type"],
            "long"
        );
        assert_eq!(props["a"]["properties"]["d"]["type"], "float");
        assert_eq!(props["@timestamp"]["type"], "date");
        let body = template.body(TargetNaming::DataStream);
        assert_eq!(body["data_stream"], json!({}));
        assert_eq!(body["_meta"]["version"], 3);
        assert_eq!(
            body["template"]["settings"]["index.mapping.total_fields.limit"],
            10000
        );
        assert!(
            template
                .body(TargetNaming::DatedIndices)
                .get("data_stream")
                .is_none()
        );
    }

    #[test]
    fn dated_indices_use_the_utc_day() {
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_599);
        assert_eq!(dated_index("gomon", time), "gomon-2025.12.31");
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
        assert_eq!(dated_index("gomon", time), "gomon-2026.01.01");
    }
}
