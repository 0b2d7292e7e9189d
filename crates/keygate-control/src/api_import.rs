//! Creating an API from an OpenAPI definition (`POST /api/am/publisher/v1/apis/import-openapi`),
//! as the Publisher REST API has it: the body carries the definition (OpenAPI 3.x or
//! Swagger 2.0, JSON — as an object or as its text) and `additionalProperties` (an object,
//! or its JSON text as `apictl` sends it) with the API's name, context, version,
//! endpoints and policies, which win over the document. Every path × verb becomes a
//! resource with its `{param}` template; an operation's `security` (or the document's)
//! gives its scopes, and `security: []` means no authentication. A bad definition is 400
//! naming the member (`definition.info.title`, `definition.paths./pets`).

use crate::ControlPlane;
use crate::auth::Permission;
use crate::body::JsonBody;
use crate::errors::{ControlError, ControlResult, FieldError};
use crate::publisher::{ApiBody, EndpointConfig, EndpointUrl, Operation, insert_api};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// Where the import is served.
pub const IMPORT_OPENAPI_PATH: &str = "/api/am/publisher/v1/apis/import-openapi";

/// The verbs an OpenAPI path item may hold, in the order resources are listed.
const VERBS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// The request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRequest {
    /// The OpenAPI or Swagger definition, as a JSON object or its text.
    #[serde(default)]
    pub definition: Option<Value>,
    /// What the caller sets over the definition, as an object or its JSON text.
    #[serde(default)]
    pub additional_properties: Option<Value>,
}

/// `additionalProperties`: members of the API body that win over the definition.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportProperties {
    /// Name (default: `info.title`).
    pub name: Option<String>,
    /// Context (default: `/` and the name's lower-case words joined by `-`).
    pub context: Option<String>,
    /// Version (default: `info.version`).
    pub version: Option<String>,
    /// Description (default: `info.description`).
    pub description: Option<String>,
    /// Whether this version also answers without a version in the path.
    #[serde(default)]
    pub is_default_version: bool,
    /// Backends (production, when not given: the definition's first absolute server URL).
    pub endpoint_config: Option<EndpointConfig>,
    /// Subscription policies.
    #[serde(default)]
    pub policies: Vec<String>,
    /// API-level advanced throttling policy.
    pub api_throttling_policy: Option<String>,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError::new(field, message)]
}

/// A JSON value given as itself or as its text.
fn json_member(value: Value, field: &str) -> Result<Value, Vec<FieldError>> {
    match value {
        Value::String(text) => serde_json::from_str(&text)
            .map_err(|e| bad(field, format!("is not JSON ({e}); YAML is not read"))),
        other => Ok(other),
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

/// The production backend a definition names: its first absolute `servers[].url`
/// (Swagger 2: `schemes`, `host` and `basePath`).
fn backend(document: &Value) -> Option<String> {
    if let Some(servers) = document.get("servers").and_then(Value::as_array) {
        return servers
            .iter()
            .filter_map(|s| s.get("url").and_then(Value::as_str))
            .find(|u| u.starts_with("http://") || u.starts_with("https://"))
            .map(|u| u.trim_end_matches('/').to_owned());
    }
    let host = document.get("host").and_then(Value::as_str)?;
    let schemes: Vec<&str> = document
        .get("schemes")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let scheme = if schemes.contains(&"https") || schemes.is_empty() {
        "https"
    } else {
        schemes[0]
    };
    let base = document
        .get("basePath")
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(format!("{scheme}://{host}{}", base.trim_end_matches('/')))
}

/// The scopes of a security requirement list (`[{"oauth": ["read"]}]`), or `None` when
/// it is empty (no authentication).
fn requirement_scopes(
    security: &Value,
    field: &str,
) -> Result<Option<Vec<String>>, Vec<FieldError>> {
    let list = security
        .as_array()
        .ok_or_else(|| bad(field, "must be an array of security requirements"))?;
    if list.is_empty() {
        return Ok(None);
    }
    let mut scopes = BTreeSet::new();
    for (i, requirement) in list.iter().enumerate() {
        let schemes = requirement
            .as_object()
            .ok_or_else(|| bad(format!("{field}[{i}]"), "must be an object"))?;
        for (scheme, names) in schemes {
            let names = names.as_array().ok_or_else(|| {
                bad(
                    format!("{field}[{i}].{scheme}"),
                    "must be an array of scope names",
                )
            })?;
            for name in names {
                let name = name.as_str().ok_or_else(|| {
                    bad(format!("{field}[{i}].{scheme}"), "scope names are strings")
                })?;
                scopes.insert(name.to_owned());
            }
        }
    }
    Ok(Some(scopes.into_iter().collect()))
}

fn operations(document: &Value) -> Result<Vec<Operation>, Vec<FieldError>> {
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("definition.paths", "an object of paths is required"))?;
    let global = match document.get("security") {
        Some(security) => requirement_scopes(security, "definition.security")?,
        None => Some(Vec::new()),
    };
    let mut found = Vec::new();
    for (path, item) in paths {
        let field = format!("definition.paths.{path}");
        if !path.starts_with('/') {
            return Err(bad(field, "a path starts with '/'"));
        }
        let item = item
            .as_object()
            .ok_or_else(|| bad(&field, "a path item is an object"))?;
        for verb in VERBS {
            let Some(operation) = item.get(*verb) else {
                continue;
            };
            let security = match operation.get("security") {
                Some(security) => {
                    requirement_scopes(security, &format!("{field}.{verb}.security"))?
                }
                None => global.clone(),
            };
            found.push(Operation {
                target: path.clone(),
                verb: verb.to_ascii_uppercase(),
                auth_type: if security.is_some() { "Any" } else { "None" }.to_owned(),
                throttling_policy: "Unlimited".to_owned(),
                scopes: security.unwrap_or_default(),
            });
        }
    }
    if found.is_empty() {
        return Err(bad(
            "definition.paths",
            "no operation (get, post, …) in any path",
        ));
    }
    Ok(found)
}

/// The API body a definition describes, with `properties` applied. Pure: the caller
/// validates and stores it.
pub fn api_from_definition(
    document: &Value,
    properties: ImportProperties,
) -> Result<ApiBody, Vec<FieldError>> {
    if !document.is_object() {
        return Err(bad("definition", "must be a JSON object"));
    }
    if document.get("openapi").is_none() && document.get("swagger").is_none() {
        return Err(bad(
            "definition.openapi",
            "not an OpenAPI 3 or Swagger 2 document (no `openapi` or `swagger` member)",
        ));
    }
    let info = |key: &str| {
        document
            .get("info")
            .and_then(|i| i.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let name = properties
        .name
        .or_else(|| info("title"))
        .ok_or_else(|| bad("definition.info.title", "the API needs a name"))?;
    let version = properties
        .version
        .or_else(|| info("version"))
        .ok_or_else(|| bad("definition.info.version", "the API needs a version"))?;
    let context = properties
        .context
        .unwrap_or_else(|| context_from_name(&name));
    let mut endpoint_config = properties.endpoint_config.unwrap_or_default();
    if endpoint_config.production_endpoints.is_none() {
        endpoint_config.production_endpoints = backend(document).map(|url| EndpointUrl { url });
    }
    Ok(ApiBody {
        id: None,
        name,
        context,
        version,
        description: properties.description.or_else(|| info("description")),
        provider: None,
        life_cycle_status: None,
        is_default_version: properties.is_default_version,
        endpoint_config,
        policies: properties.policies,
        api_throttling_policy: properties.api_throttling_policy,
        operations: operations(document)?,
        created_time: None,
        last_updated_time: None,
    })
}

impl ImportRequest {
    /// The API body the request describes.
    pub fn api_body(self) -> Result<ApiBody, Vec<FieldError>> {
        let definition = self
            .definition
            .ok_or_else(|| bad("definition", "the OpenAPI definition is required"))?;
        let document = json_member(definition, "definition")?;
        let properties = match self.additional_properties {
            None | Some(Value::Null) => ImportProperties::default(),
            Some(value) => {
                let value = json_member(value, "additionalProperties")?;
                serde_json::from_value(value)
                    .map_err(|e| bad("additionalProperties", e.to_string()))?
            }
        };
        api_from_definition(&document, properties)
    }
}

/// `POST /apis/import-openapi`: 201 with the created API.
pub(crate) async fn import_openapi(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ImportRequest>,
) -> ControlResult<(StatusCode, Json<ApiBody>)> {
    let caller = control.caller(&headers, Permission::ApiCreate).await?;
    let body = request.api_body().map_err(ControlError::Invalid)?;
    insert_api(&control, &caller.username, body).await
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
            "security": [{"oauth": ["pets:read"]}],
            "paths": {
                "/pets": {"get": {}, "post": {"security": [{"oauth": ["pets:write", "pets:read"]}]},
                    "parameters": []},
                "/pets/{id}": {"get": {"security": []}, "delete": {}}
            }
        })
    }

    fn find<'a>(api: &'a ApiBody, verb: &str, target: &str) -> &'a Operation {
        api.operations
            .iter()
            .find(|o| o.verb == verb && o.target == target)
            .unwrap()
    }

    #[test]
    fn a_definition_becomes_an_api_with_resources_and_scopes() {
        let api = api_from_definition(&petstore(), ImportProperties::default()).unwrap();
        assert_eq!(
            (api.name.as_str(), api.version.as_str()),
            ("Pet Store", "2.1.0")
        );
        assert_eq!(api.context, "/pet-store");
        assert_eq!(
            api.endpoint_config
                .production_endpoints
                .as_ref()
                .unwrap()
                .url,
            "https://pets.example/v2"
        );
        assert_eq!(api.operations.len(), 4);
        assert_eq!(find(&api, "GET", "/pets").scopes, vec!["pets:read"]);
        assert_eq!(
            find(&api, "POST", "/pets").scopes,
            vec!["pets:read", "pets:write"]
        );
        assert_eq!(find(&api, "GET", "/pets/{id}").auth_type, "None");
        assert_eq!(find(&api, "DELETE", "/pets/{id}").auth_type, "Any");
    }

    #[test]
    fn additional_properties_win_and_may_come_as_text() {
        let request = ImportRequest {
            definition: Some(Value::String(petstore().to_string())),
            additional_properties: Some(Value::String(
                json!({"name": "Pets", "context": "/p", "version": "9",
                    "endpointConfig": {"production_endpoints": {"url": "http://b:1"}}})
                .to_string(),
            )),
        };
        let api = request.api_body().unwrap();
        assert_eq!(
            (
                api.name.as_str(),
                api.context.as_str(),
                api.version.as_str()
            ),
            ("Pets", "/p", "9")
        );
        assert_eq!(
            api.endpoint_config.production_endpoints.unwrap().url,
            "http://b:1"
        );
    }

    #[test]
    fn swagger_two_backends_come_from_host() {
        let doc = json!({"swagger": "2.0", "info": {"title": "T", "version": "1"},
            "host": "api.example:8080", "basePath": "/base", "schemes": ["http"],
            "paths": {"/x": {"get": {}}}});
        let api = api_from_definition(&doc, ImportProperties::default()).unwrap();
        assert_eq!(
            api.endpoint_config.production_endpoints.unwrap().url,
            "http://api.example:8080/base"
        );
    }

    #[test]
    fn bad_definitions_name_the_member() {
        let field = |doc: Value| {
            api_from_definition(&doc, ImportProperties::default()).unwrap_err()[0]
                .field
                .clone()
        };
        assert_eq!(field(json!({"info": {}})), "definition.openapi");
        assert_eq!(
            field(json!({"openapi": "3.0.0", "info": {"version": "1"}, "paths": {}})),
            "definition.info.title"
        );
        assert_eq!(
            field(json!({"openapi": "3.0.0", "info": {"title": "a", "version": "1"}, "paths": {}})),
            "definition.paths"
        );
        assert_eq!(
            field(
                json!({"openapi": "3.0.0", "info": {"title": "a", "version": "1"},
                "paths": {"/a": {"get": {"security": {"x": 1}}}}})
            ),
            "definition.paths./a.get.security"
        );
        let text = ImportRequest {
            definition: Some(json!("openapi: 3.0.0")),
            additional_properties: None,
        };
        assert_eq!(text.api_body().unwrap_err()[0].field, "definition");
    }
}
