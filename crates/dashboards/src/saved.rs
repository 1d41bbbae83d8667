//! A saved object as the import API takes it, and its NDJSON line.

use serde_json::{Map, Value, json};

/// A link from one saved object to another (`references` in Kibana's format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The name the referring attributes use (`panel_p1`, `kibanaSavedObjectMeta.searchSourceJSON.index`, ...).
    pub name: String,
    /// The referred object's type.
    pub kind: String,
    /// The referred object's id.
    pub id: String,
}

/// One saved object: a data view, a visualization or a dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedObject {
    /// Fixed id: a re-import overwrites the same object.
    pub id: String,
    /// `index-pattern`, `lens`, `visualization`, `dashboard`.
    pub kind: String,
    /// The attributes, readable: the attributes the application stores as
    /// JSON strings are JSON values here (see [`SavedObject::to_value`]).
    pub attributes: Value,
    /// Objects this one uses.
    pub references: Vec<Reference>,
    /// The version of the object's format per type (`migrationVersion`), so
    /// the application migrates it forward from there.
    pub migration_version: String,
}

/// Whether an attribute is one the application stores as a JSON string:
/// `panelsJSON`, `optionsJSON`, `searchSourceJSON`, `uiStateJSON`,
/// `ignoreParentSettingsJSON`, `fieldFormatMap`, `visState`.
fn stored_as_string(key: &str) -> bool {
    key.ends_with("JSON") || key == "visState" || key == "fieldFormatMap"
}

/// The attributes with every string-stored attribute serialised, at any depth
/// (`kibanaSavedObjectMeta.searchSourceJSON`, `controlGroupInput.panelsJSON`).
fn encode(attributes: &Value) -> Value {
    match attributes {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let encoded = if stored_as_string(key) && !value.is_string() {
                    Value::String(value.to_string())
                } else {
                    encode(value)
                };
                out.insert(key.clone(), encoded);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

impl SavedObject {
    /// The object as the import API takes it: string-stored attributes
    /// serialised, `references`, `migrationVersion`, `coreMigrationVersion`.
    pub fn to_value(&self) -> Value {
        let references: Vec<Value> = self
            .references
            .iter()
            .map(|r| json!({"name": r.name, "type": r.kind, "id": r.id}))
            .collect();
        json!({
            "id": self.id,
            "type": self.kind,
            "attributes": encode(&self.attributes),
            "references": references,
            "migrationVersion": {self.kind.clone(): self.migration_version},
        })
    }

    /// One NDJSON line (no newline).
    pub fn to_ndjson_line(&self) -> String {
        self.to_value().to_string()
    }
}

/// The NDJSON file the import API takes: one object per line, each line
/// ending with a newline.
pub fn to_ndjson(objects: &[SavedObject]) -> String {
    let mut out = String::new();
    for object in objects {
        out.push_str(&object.to_ndjson_line());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_stored_attributes_are_serialised_at_any_depth_and_others_kept() {
        let object = SavedObject {
            id: "d".into(),
            kind: "dashboard".into(),
            attributes: json!({
                "title": "t",
                "panelsJSON": [{"panelIndex": "p1"}],
                "kibanaSavedObjectMeta": {"searchSourceJSON": {"query": {"query": ""}}},
                "state": {"query": {"query": ""}},
            }),
            references: vec![],
            migration_version: "8.6.0".into(),
        };
        let value = object.to_value();
        assert_eq!(
            value["attributes"]["panelsJSON"],
            r#"[{"panelIndex":"p1"}]"#
        );
        assert_eq!(
            value["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"],
            r#"{"query":{"query":""}}"#
        );
        assert!(value["attributes"]["state"].is_object());
        assert_eq!(value["migrationVersion"]["dashboard"], "8.6.0");
    }
}
