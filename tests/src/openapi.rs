//! Responses checked against `functions/status/openapi.yaml`: the schema of the documented status code and media
//! type of the operation, `$ref`s resolved within the document.

use serde_json::{Value, json};

pub struct OpenApi {
    document: Value,
}

impl OpenApi {
    pub fn load() -> Self {
        let path = super::repo_root().join("functions/status/openapi.yaml");
        let document: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        Self { document }
    }

    /// Panics, saying why, unless the document describes this answer of `template` (GET) exactly.
    pub fn check(&self, template: &str, status: u16, content_type: &str, body: &str) {
        self.check_method("get", template, status, content_type, body);
    }

    /// As [`check`](Self::check), for the operation of another method (`post`).
    pub fn check_method(&self, method: &str, template: &str, status: u16, content_type: &str, body: &str) {
        let operation = &self.document["paths"][template][method];
        assert!(operation.is_object(), "{method} {template} is not documented");
        let mut response = &operation["responses"][status.to_string()];
        assert!(response.is_object(), "{template}: status {status} is not documented ({body})");
        if let Some(reference) = response["$ref"].as_str() {
            response = self.resolve(reference);
        }
        let media = content_type.split(';').next().unwrap().trim();
        let schema = &response["content"][media]["schema"];
        assert!(schema.is_object(), "{template} {status}: media type {media} is not documented");
        if media != "application/json" {
            return;
        }
        // The document's components travel with the schema so that its `$ref`s resolve.
        let mut root = schema.clone();
        root["components"] = self.document["components"].clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        let validator = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{template} {status}: {e}"));
        let instance: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{template}: not JSON ({e}): {body}"));
        let errors: Vec<String> =
            validator.iter_errors(&instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{template} {status} does not match the document: {errors:?}\n{body}");
    }

    fn resolve(&self, reference: &str) -> &Value {
        let pointer = reference.strip_prefix('#').unwrap();
        self.document.pointer(pointer).unwrap_or_else(|| panic!("unresolved {reference}"))
    }
}
