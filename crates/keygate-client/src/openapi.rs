//! An API to create, read from an OpenAPI definition (OpenAPI 3.x, or Swagger 2.0) in
//! JSON: the name and version from `info`, the backend from the first absolute
//! `servers[].url` (Swagger: `schemes`, `host` and `basePath`), one operation per path
//! and verb, with `security: []` on an operation meaning no authentication. Anything
//! the caller gives explicitly wins over the document.

use crate::model::{ApiDraft, Endpoint, EndpointConfig, Operation};
use serde_json::Value;

/// The HTTP verbs an OpenAPI path item may hold.
const VERBS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// What the caller sets over the document.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// API name.
    pub name: Option<String>,
    /// Context (`/orders`).
    pub context: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Production backend URL.
    pub backend: Option<String>,
    /// Sandbox backend URL.
    pub sandbox: Option<String>,
    /// Subscription policies allowed.
    pub policies: Vec<String>,
}

/// Why a document cannot become an API: the member that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{member}: {problem}")]
pub struct DefinitionError {
    /// The JSON member (`info.title`, `paths`).
    pub member: String,
    /// What is wrong.
    pub problem: String,
}

fn missing(member: &str, problem: &str) -> DefinitionError {
    DefinitionError {
        member: member.to_owned(),
        problem: problem.to_owned(),
    }
}

/// A context from an API name: `/` and its lower-case words joined by `-`.
pub fn context_from_name(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    format!("/{}", words.join("-"))
}

fn backend(document: &Value) -> Option<String> {
    if let Some(servers) = document.get("servers").and_then(Value::as_array) {
        return servers
            .iter()
            .filter_map(|s| s.get("url").and_then(Value::as_str))
            .find(|u| u.starts_with("http://") || u.starts_with("https://"))
            .map(|u| u.trim_end_matches('/').to_owned());
    }
    let host = document.get("host").and_then(Value::as_str)?;
    let scheme = document
        .get("schemes")
        .and_then(Value::as_array)
        .and_then(|s| {
            let names: Vec<&str> = s.iter().filter_map(Value::as_str).collect();
            names
                .iter()
                .find(|n| **n == "https")
                .or(names.first())
                .copied()
        })
        .unwrap_or("https");
    let base = document
        .get("basePath")
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(format!("{scheme}://{host}{}", base.trim_end_matches('/')))
}

fn operations(document: &Value) -> Result<Vec<Operation>, DefinitionError> {
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| missing("paths", "an object of paths is required"))?;
    let mut operations = Vec::new();
    for (path, item) in paths {
        if !path.starts_with('/') {
            return Err(missing(&format!("paths.{path}"), "a path starts with `/`"));
        }
        for verb in VERBS {
            let Some(operation) = item.get(*verb) else {
                continue;
            };
            let open = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty);
            operations.push(Operation {
                target: path.clone(),
                verb: verb.to_ascii_uppercase(),
                auth_type: open.then(|| "None".to_owned()),
                scopes: Vec::new(),
                throttling_policy: None,
            });
        }
    }
    if operations.is_empty() {
        return Err(missing("paths", "no operation (get, post, …) in any path"));
    }
    Ok(operations)
}

/// The API an OpenAPI or Swagger JSON document describes, with `overrides` applied.
pub fn api_from_definition(
    document: &Value,
    overrides: &Overrides,
) -> Result<ApiDraft, DefinitionError> {
    if document.get("openapi").is_none() && document.get("swagger").is_none() {
        return Err(missing("openapi", "not an OpenAPI 3 or Swagger 2 document"));
    }
    let info = document.get("info");
    let text = |key: &str| {
        info.and_then(|i| i.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let name = overrides
        .name
        .clone()
        .or_else(|| text("title"))
        .ok_or_else(|| missing("info.title", "the API needs a name (or --name)"))?;
    let version = overrides
        .version
        .clone()
        .or_else(|| text("version"))
        .ok_or_else(|| missing("info.version", "the API needs a version (or --version)"))?;
    let context = overrides
        .context
        .clone()
        .unwrap_or_else(|| context_from_name(&name));
    let production = overrides.backend.clone().or_else(|| backend(document));
    let endpoint_config =
        (production.is_some() || overrides.sandbox.is_some()).then(|| EndpointConfig {
            production_endpoints: production.map(|url| Endpoint { url }),
            sandbox_endpoints: overrides.sandbox.clone().map(|url| Endpoint { url }),
        });
    Ok(ApiDraft {
        name,
        context,
        version,
        description: text("description"),
        endpoint_config,
        operations: operations(document)?,
        policies: overrides.policies.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn petstore() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "Pet Store", "version": "2.1.0"},
            "servers": [{"url": "/relative"}, {"url": "https://pets.example/v2/"}],
            "paths": {
                "/pets": {"get": {}, "post": {}, "parameters": []},
                "/pets/{id}": {"get": {"security": []}, "delete": {}}
            }
        })
    }

    #[test]
    fn an_openapi_document_becomes_an_api() {
        let api = api_from_definition(&petstore(), &Overrides::default()).unwrap();
        assert_eq!(api.name, "Pet Store");
        assert_eq!(api.version, "2.1.0");
        assert_eq!(api.context, "/pet-store");
        let backend = api.endpoint_config.unwrap().production_endpoints.unwrap();
        assert_eq!(backend.url, "https://pets.example/v2");
        let ops: Vec<(String, String, Option<String>)> = api
            .operations
            .into_iter()
            .map(|o| (o.verb, o.target, o.auth_type))
            .collect();
        assert_eq!(ops.len(), 4);
        assert!(ops.contains(&("GET".into(), "/pets/{id}".into(), Some("None".into()))));
        assert!(ops.contains(&("POST".into(), "/pets".into(), None)));
    }

    #[test]
    fn overrides_win() {
        let overrides = Overrides {
            context: Some("/p".into()),
            version: Some("9".into()),
            backend: Some("http://b:1".into()),
            ..Overrides::default()
        };
        let api = api_from_definition(&petstore(), &overrides).unwrap();
        assert_eq!((api.context.as_str(), api.version.as_str()), ("/p", "9"));
        assert_eq!(
            api.endpoint_config
                .unwrap()
                .production_endpoints
                .unwrap()
                .url,
            "http://b:1"
        );
    }

    #[test]
    fn swagger_two_backends_come_from_host() {
        let doc = json!({"swagger": "2.0", "info": {"title": "T", "version": "1"},
            "host": "api.example:8080", "basePath": "/base", "schemes": ["http"],
            "paths": {"/x": {"get": {}}}});
        let api = api_from_definition(&doc, &Overrides::default()).unwrap();
        assert_eq!(
            api.endpoint_config
                .unwrap()
                .production_endpoints
                .unwrap()
                .url,
            "http://api.example:8080/base"
        );
    }

    #[test]
    fn bad_documents_name_the_member() {
        let e = api_from_definition(&json!({"info": {}}), &Overrides::default()).unwrap_err();
        assert_eq!(e.member, "openapi");
        let e = api_from_definition(
            &json!({"openapi": "3.0.0", "info": {"version": "1"}, "paths": {}}),
            &Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(e.member, "info.title");
        let e = api_from_definition(
            &json!({"openapi": "3.0.0", "info": {"title": "a", "version": "1"}, "paths": {}}),
            &Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(e.member, "paths");
    }

    #[test]
    fn contexts_from_names() {
        assert_eq!(context_from_name("Pet Store API"), "/pet-store-api");
        assert_eq!(context_from_name("orders"), "/orders");
    }
}
