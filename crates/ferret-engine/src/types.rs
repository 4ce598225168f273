//! Field types from an optional schema (the ECS field table), used for typed
//! comparisons: an `ip` field compares as addresses, a `date` field parses a
//! string literal as a date. ferret never embeds a schema; it is user input.

use std::collections::HashMap;

/// A mapping from dotted field names to Elasticsearch field types.
#[derive(Clone, Debug, Default)]
pub struct FieldTypes {
    types: HashMap<String, String>,
}

impl FieldTypes {
    /// Reads a schema file of the shape `{"field.name": {"type": "keyword", …}, …}`.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<FieldTypes, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        FieldTypes::from_json_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the schema text (see [`FieldTypes::load`]).
    pub fn from_json_str(text: &str) -> Result<FieldTypes, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        let obj = v
            .as_object()
            .ok_or_else(|| "expected a JSON object of field names".to_string())?;
        let mut types = HashMap::with_capacity(obj.len());
        for (name, spec) in obj {
            let ty = spec
                .get("type")
                .and_then(|t| t.as_str())
                .ok_or_else(|| format!("field `{name}` has no string \"type\""))?;
            types.insert(name.clone(), ty.to_string());
        }
        Ok(FieldTypes { types })
    }

    /// Builds a table from `(field, type)` pairs (tests, programmatic use).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> FieldTypes {
        FieldTypes {
            types: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The Elasticsearch type of a dotted field name, if the schema has it.
    pub fn type_of(&self, dotted: &str) -> Option<&str> {
        self.types.get(dotted).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `<workspace root>/../shared`, or `$FERRET_SHARED`.
    fn shared_dir() -> std::path::PathBuf {
        match std::env::var_os("FERRET_SHARED") {
            Some(p) => p.into(),
            None => std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .join("../shared"),
        }
    }

    #[test]
    fn loads_the_ecs_schema() {
        let path = shared_dir().join("schemas/ecs-9.5.0-types.json");
        assert!(
            path.exists(),
            "shared ECS schema not found at {} (set FERRET_SHARED to the shared folder)",
            path.display()
        );
        let t = FieldTypes::load(&path).unwrap();
        assert!(t.len() > 2000);
        assert_eq!(t.type_of("source.ip"), Some("ip"));
        assert_eq!(t.type_of("@timestamp"), Some("date"));
        assert_eq!(t.type_of("process.name"), Some("keyword"));
        assert_eq!(t.type_of("process.pid"), Some("long"));
        assert_eq!(t.type_of("no.such.field"), None);
    }

    #[test]
    fn rejects_malformed_schemas() {
        assert!(FieldTypes::from_json_str("[1]").is_err());
        assert!(FieldTypes::from_json_str("{").is_err());
        assert!(FieldTypes::from_json_str(r#"{"a": {"kind": "ip"}}"#).is_err());
        let t = FieldTypes::from_json_str(r#"{"a.b": {"type": "ip", "normalize": []}}"#).unwrap();
        assert_eq!(t.type_of("a.b"), Some("ip"));
        assert!(FieldTypes::load("/nonexistent/schema.json")
            .unwrap_err()
            .contains("/nonexistent/schema.json"));
    }
}
