//! The OpenAPI 3 document of the control plane's management APIs, served at
//! `GET /api/am/openapi.json` (no credentials needed) and checked in as
//! `docs/openapi.json`. It is built from [`OPERATIONS`], one entry per route and method
//! with the scope it needs, and the body schemas in [`schemas`]; tests hold the table to
//! the router both ways (every documented operation is routed, every route documented)
//! and the checked-in file to what is served.

mod schemas;

use crate::Routes;
use crate::scopes::{Permission, SCOPES};
use axum::Json;
use axum::routing::get;
use serde_json::{Map, Value, json};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/am/openapi.json";

/// What an operation reads and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: &'static str,
    /// The path, with `{name}` parameters as the router has them.
    pub path: &'static str,
    /// `Publisher`, `Developer Portal`, `Admin` or `Internal`.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// What the caller needs; `None` for the gateways' internal data service.
    pub permission: Option<Permission>,
    /// Query parameters: name, schema type, required.
    pub query: &'static [(&'static str, &'static str, bool)],
    /// The schema of the JSON request body, if any.
    pub request: Option<&'static str>,
    /// Success status and the schema of its JSON body (`None` for an empty body).
    pub response: (u16, Option<&'static str>),
}

const PAGING: &[(&str, &str, bool)] = &[("limit", "integer", false), ("offset", "integer", false)];

const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    permission: Permission,
) -> Operation {
    Operation {
        method,
        path,
        tag,
        summary,
        permission: Some(permission),
        query: &[],
        request: None,
        response: (200, None),
    }
}

const fn with_query(
    mut o: Operation,
    query: &'static [(&'static str, &'static str, bool)],
) -> Operation {
    o.query = query;
    o
}

const fn with_request(mut o: Operation, schema: &'static str) -> Operation {
    o.request = Some(schema);
    o
}

const fn answering(mut o: Operation, status: u16, schema: Option<&'static str>) -> Operation {
    o.response = (status, schema);
    o
}

const PUB: &str = "Publisher";
const DEV: &str = "Developer Portal";
const ADM: &str = "Admin";

const APIS: &str = "/api/am/publisher/v1/apis";
const API: &str = "/api/am/publisher/v1/apis/{id}";
const PORTAL_APIS: &str = "/api/am/devportal/v1/apis";
const PORTAL_API: &str = "/api/am/devportal/v1/apis/{id}";
const APPS: &str = "/api/am/devportal/v1/applications";
const APP: &str = "/api/am/devportal/v1/applications/{id}";
const SUBS: &str = "/api/am/devportal/v1/subscriptions";
const SUB: &str = "/api/am/devportal/v1/subscriptions/{id}";
const KEYS: &str = "/api/am/devportal/v1/applications/{applicationId}/keys/{keyType}";

use Permission as P;

/// Every operation of the management APIs (the document itself aside).
pub const OPERATIONS: &[Operation] = &[
    answering(
        with_query(
            op("get", APIS, PUB, "List APIs", P::ApiView),
            &[
                ("limit", "integer", false),
                ("offset", "integer", false),
                ("status", "string", false),
            ],
        ),
        200,
        Some("ApiList"),
    ),
    answering(
        with_request(op("post", APIS, PUB, "Create an API", P::ApiCreate), "Api"),
        201,
        Some("Api"),
    ),
    answering(
        with_request(
            op(
                "post",
                crate::api_import::IMPORT_OPENAPI_PATH,
                PUB,
                "Create an API from an OpenAPI 3 or Swagger 2 definition (JSON)",
                P::ApiCreate,
            ),
            "ApiImport",
        ),
        201,
        Some("Api"),
    ),
    answering(
        op("get", API, PUB, "Read an API", P::ApiView),
        200,
        Some("Api"),
    ),
    answering(
        with_request(op("put", API, PUB, "Replace an API", P::ApiCreate), "Api"),
        200,
        Some("Api"),
    ),
    op(
        "delete",
        API,
        PUB,
        "Delete an API without subscriptions",
        P::ApiCreate,
    ),
    answering(
        with_query(
            op(
                "post",
                "/api/am/publisher/v1/apis/change-lifecycle",
                PUB,
                "Change an API's lifecycle state",
                P::ApiPublish,
            ),
            &[("apiId", "string", true), ("action", "string", true)],
        ),
        200,
        Some("LifecycleResponse"),
    ),
    answering(
        with_query(
            op(
                "get",
                "/api/am/publisher/v1/subscriptions",
                PUB,
                "List the subscriptions of an API",
                P::SubscriptionView,
            ),
            &[
                ("apiId", "string", true),
                ("limit", "integer", false),
                ("offset", "integer", false),
            ],
        ),
        200,
        Some("PublisherSubscriptionList"),
    ),
    with_query(
        op(
            "post",
            "/api/am/publisher/v1/subscriptions/block-subscription",
            PUB,
            "Block a subscription",
            P::SubscriptionBlock,
        ),
        &[
            ("subscriptionId", "string", true),
            ("blockState", "string", true),
        ],
    ),
    with_query(
        op(
            "post",
            "/api/am/publisher/v1/subscriptions/unblock-subscription",
            PUB,
            "Unblock a subscription",
            P::SubscriptionBlock,
        ),
        &[("subscriptionId", "string", true)],
    ),
    answering(
        with_query(
            op(
                "get",
                PORTAL_APIS,
                DEV,
                "List the APIs the caller may subscribe to",
                P::SubManage,
            ),
            &[
                ("limit", "integer", false),
                ("offset", "integer", false),
                ("query", "string", false),
            ],
        ),
        200,
        Some("PortalApiList"),
    ),
    answering(
        op(
            "get",
            PORTAL_API,
            DEV,
            "Read an API the caller may subscribe to",
            P::SubManage,
        ),
        200,
        Some("PortalApi"),
    ),
    answering(
        with_query(
            op(
                "get",
                APPS,
                DEV,
                "List the caller's applications",
                P::AppManage,
            ),
            PAGING,
        ),
        200,
        Some("ApplicationList"),
    ),
    answering(
        with_request(
            op("post", APPS, DEV, "Create an application", P::AppManage),
            "Application",
        ),
        201,
        Some("Application"),
    ),
    answering(
        op("get", APP, DEV, "Read an application", P::AppManage),
        200,
        Some("Application"),
    ),
    answering(
        with_request(
            op("put", APP, DEV, "Replace an application", P::AppManage),
            "Application",
        ),
        200,
        Some("Application"),
    ),
    op(
        "delete",
        APP,
        DEV,
        "Delete an application with its keys and subscriptions",
        P::AppManage,
    ),
    answering(
        with_request(
            op(
                "post",
                "/api/am/devportal/v1/applications/{applicationId}/generate-keys",
                DEV,
                "Generate PRODUCTION or SANDBOX keys; the secret is shown once",
                P::AppManage,
            ),
            "KeyGeneration",
        ),
        200,
        Some("ApplicationKey"),
    ),
    answering(
        op(
            "get",
            "/api/am/devportal/v1/applications/{applicationId}/keys",
            DEV,
            "List an application's keys",
            P::AppManage,
        ),
        200,
        Some("ApplicationKeyList"),
    ),
    answering(
        op(
            "get",
            KEYS,
            DEV,
            "Read an application's keys of one type",
            P::AppManage,
        ),
        200,
        Some("ApplicationKey"),
    ),
    op(
        "delete",
        KEYS,
        DEV,
        "Revoke keys: delete the OAuth client and the key mapping",
        P::AppManage,
    ),
    answering(
        op(
            "post",
            "/api/am/devportal/v1/applications/{applicationId}/keys/{keyType}/regenerate-secret",
            DEV,
            "Give the keys a new consumer secret",
            P::AppManage,
        ),
        200,
        Some("ConsumerSecret"),
    ),
    answering(
        with_request(
            op(
                "post",
                "/api/am/devportal/v1/applications/{applicationId}/keys/{keyType}/generate-token",
                DEV,
                "Get an application access token (client credentials)",
                P::AppManage,
            ),
            "TokenRequest",
        ),
        200,
        Some("ApplicationToken"),
    ),
    answering(
        with_query(
            op(
                "get",
                SUBS,
                DEV,
                "List an application's subscriptions",
                P::SubManage,
            ),
            &[
                ("applicationId", "string", true),
                ("limit", "integer", false),
                ("offset", "integer", false),
            ],
        ),
        200,
        Some("SubscriptionList"),
    ),
    answering(
        with_request(
            op(
                "post",
                SUBS,
                DEV,
                "Subscribe an application to an API",
                P::SubManage,
            ),
            "Subscription",
        ),
        201,
        Some("Subscription"),
    ),
    answering(
        op("get", SUB, DEV, "Read a subscription", P::SubManage),
        200,
        Some("Subscription"),
    ),
    answering(
        with_request(
            op(
                "put",
                SUB,
                DEV,
                "Change a subscription's policy",
                P::SubManage,
            ),
            "Subscription",
        ),
        200,
        Some("Subscription"),
    ),
    op("delete", SUB, DEV, "Unsubscribe", P::SubManage),
    answering(
        with_query(
            op(
                "get",
                "/api/am/admin/v1/throttling/policies/subscription",
                ADM,
                "List subscription policies",
                P::TierView,
            ),
            PAGING,
        ),
        200,
        Some("SubscriptionPolicyList"),
    ),
    answering(
        with_request(
            op(
                "post",
                "/api/am/admin/v1/throttling/policies/subscription",
                ADM,
                "Create a subscription policy",
                P::TierManage,
            ),
            "SubscriptionPolicy",
        ),
        201,
        Some("SubscriptionPolicy"),
    ),
    answering(
        op(
            "get",
            "/api/am/admin/v1/throttling/policies/subscription/{policyId}",
            ADM,
            "Read a subscription policy",
            P::TierView,
        ),
        200,
        Some("SubscriptionPolicy"),
    ),
    answering(
        with_request(
            op(
                "put",
                "/api/am/admin/v1/throttling/policies/subscription/{policyId}",
                ADM,
                "Replace a subscription policy",
                P::TierManage,
            ),
            "SubscriptionPolicy",
        ),
        200,
        Some("SubscriptionPolicy"),
    ),
    op(
        "delete",
        "/api/am/admin/v1/throttling/policies/subscription/{policyId}",
        ADM,
        "Delete an unused subscription policy",
        P::TierManage,
    ),
    answering(
        with_query(
            op(
                "get",
                "/api/am/admin/v1/throttling/policies/application",
                ADM,
                "List application policies",
                P::TierView,
            ),
            PAGING,
        ),
        200,
        Some("ApplicationPolicyList"),
    ),
    answering(
        with_request(
            op(
                "post",
                "/api/am/admin/v1/throttling/policies/application",
                ADM,
                "Create an application policy",
                P::TierManage,
            ),
            "ApplicationPolicy",
        ),
        201,
        Some("ApplicationPolicy"),
    ),
    answering(
        op(
            "get",
            "/api/am/admin/v1/throttling/policies/application/{policyId}",
            ADM,
            "Read an application policy",
            P::TierView,
        ),
        200,
        Some("ApplicationPolicy"),
    ),
    answering(
        with_request(
            op(
                "put",
                "/api/am/admin/v1/throttling/policies/application/{policyId}",
                ADM,
                "Replace an application policy",
                P::TierManage,
            ),
            "ApplicationPolicy",
        ),
        200,
        Some("ApplicationPolicy"),
    ),
    op(
        "delete",
        "/api/am/admin/v1/throttling/policies/application/{policyId}",
        ADM,
        "Delete an unused application policy",
        P::TierManage,
    ),
    answering(
        with_query(
            op(
                "get",
                "/api/am/admin/v1/throttling/policies/advanced",
                ADM,
                "List advanced policies",
                P::TierView,
            ),
            PAGING,
        ),
        200,
        Some("AdvancedPolicyList"),
    ),
    answering(
        with_request(
            op(
                "post",
                "/api/am/admin/v1/throttling/policies/advanced",
                ADM,
                "Create an advanced policy",
                P::TierManage,
            ),
            "AdvancedPolicy",
        ),
        201,
        Some("AdvancedPolicy"),
    ),
    answering(
        op(
            "get",
            "/api/am/admin/v1/throttling/policies/advanced/{policyId}",
            ADM,
            "Read an advanced policy",
            P::TierView,
        ),
        200,
        Some("AdvancedPolicy"),
    ),
    answering(
        with_request(
            op(
                "put",
                "/api/am/admin/v1/throttling/policies/advanced/{policyId}",
                ADM,
                "Replace an advanced policy",
                P::TierManage,
            ),
            "AdvancedPolicy",
        ),
        200,
        Some("AdvancedPolicy"),
    ),
    op(
        "delete",
        "/api/am/admin/v1/throttling/policies/advanced/{policyId}",
        ADM,
        "Delete an unused advanced policy",
        P::TierManage,
    ),
    answering(
        with_query(
            op(
                "get",
                "/api/am/admin/v1/throttling/policies/custom",
                ADM,
                "List custom rules",
                P::TierView,
            ),
            PAGING,
        ),
        200,
        Some("CustomRuleList"),
    ),
    answering(
        with_request(
            op(
                "post",
                "/api/am/admin/v1/throttling/policies/custom",
                ADM,
                "Create a custom rule with its key template",
                P::TierManage,
            ),
            "CustomRule",
        ),
        201,
        Some("CustomRule"),
    ),
    answering(
        op(
            "get",
            "/api/am/admin/v1/throttling/policies/custom/{policyId}",
            ADM,
            "Read a custom rule",
            P::TierView,
        ),
        200,
        Some("CustomRule"),
    ),
    answering(
        with_request(
            op(
                "put",
                "/api/am/admin/v1/throttling/policies/custom/{policyId}",
                ADM,
                "Replace a custom rule",
                P::TierManage,
            ),
            "CustomRule",
        ),
        200,
        Some("CustomRule"),
    ),
    op(
        "delete",
        "/api/am/admin/v1/throttling/policies/custom/{policyId}",
        ADM,
        "Delete a custom rule",
        P::TierManage,
    ),
    answering(
        with_query(
            op(
                "get",
                "/api/am/admin/v1/throttling/blacklist",
                ADM,
                "List deny conditions",
                P::BlockView,
            ),
            &[
                ("conditionType", "string", false),
                ("limit", "integer", false),
                ("offset", "integer", false),
            ],
        ),
        200,
        Some("BlockConditionList"),
    ),
    answering(
        with_request(
            op(
                "post",
                "/api/am/admin/v1/throttling/blacklist",
                ADM,
                "Create a deny condition",
                P::BlockManage,
            ),
            "BlockCondition",
        ),
        201,
        Some("BlockCondition"),
    ),
    answering(
        op(
            "get",
            "/api/am/admin/v1/throttling/blacklist/{conditionId}",
            ADM,
            "Read a deny condition",
            P::BlockView,
        ),
        200,
        Some("BlockCondition"),
    ),
    answering(
        with_request(
            op(
                "patch",
                "/api/am/admin/v1/throttling/blacklist/{conditionId}",
                ADM,
                "Enable or disable a deny condition",
                P::BlockManage,
            ),
            "BlockConditionStatus",
        ),
        200,
        Some("BlockCondition"),
    ),
    op(
        "delete",
        "/api/am/admin/v1/throttling/blacklist/{conditionId}",
        ADM,
        "Delete a deny condition",
        P::BlockManage,
    ),
    Operation {
        method: "get",
        path: "/internal/data/v1/snapshot",
        tag: "Internal",
        summary: "Everything gateways replicate, at one revision",
        permission: None,
        query: &[],
        request: None,
        response: (200, Some("CatalogSnapshot")),
    },
    Operation {
        method: "get",
        path: "/internal/data/v1/{name}",
        tag: "Internal",
        summary: "One replicated list with the revision it was read at",
        permission: None,
        query: &[],
        request: None,
        response: (200, Some("RevisionedList")),
    },
];

fn json_content(schema: &str) -> Value {
    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}})
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let mut schema = json!({"type": "string", "minLength": 1});
            if name == "keyType" {
                schema = json!({"type": "string", "enum": ["PRODUCTION", "SANDBOX"]});
            }
            if name == "name" {
                schema = json!({"type": "string", "enum": [
                    "apis", "applications", "subscriptions", "application-key-mappings",
                    "subscription-policies", "application-policies", "api-policies",
                    "global-policies", "block-conditions", "revoked-tokens"]});
            }
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

/// The error answers every operation shares, by status: name and meaning.
const ERROR_RESPONSES: [(u16, &str, &str); 6] = [
    (
        400,
        "BadRequest",
        "A bad field (named in the body) or a state that forbids the request",
    ),
    (401, "Unauthorized", "No or invalid credentials"),
    (
        403,
        "Forbidden",
        "The caller lacks the scope (named in the body)",
    ),
    (404, "NotFound", "Unknown, or not the caller's"),
    (409, "Conflict", "Conflicts with what exists"),
    (
        502,
        "KeyManagerFailure",
        "The key manager failed (token introspection, application keys)",
    ),
];

fn error_reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

fn operation_object(o: &Operation) -> Value {
    let mut parameters = path_parameters(o.path);
    for (name, kind, required) in o.query {
        let schema = if *kind == "integer" {
            json!({"type": "integer", "minimum": 0, "maximum": u32::MAX})
        } else {
            json!({"type": "string"})
        };
        parameters
            .push(json!({"name": name, "in": "query", "required": required, "schema": schema}));
    }
    let (status, body) = o.response;
    let mut success = json!({"description": "Success"});
    if let Some(schema) = body {
        success["content"] = json_content(schema);
    }
    let mut responses = Map::new();
    responses.insert(status.to_string(), success);
    for (code, name, _) in ERROR_RESPONSES {
        let applies = match code {
            409 => matches!(o.method, "post" | "put" | "delete"),
            502 => o.permission.is_some(),
            _ => true,
        };
        if applies {
            responses.insert(code.to_string(), error_reference(name));
        }
    }
    let security = match o.permission {
        Some(permission) => json!([
            {"OAuth2": [permission.scope()]},
            {"basicAuth": []}
        ]),
        None => json!([{"basicAuth": []}]),
    };
    let mut object = json!({
        "tags": [o.tag],
        "summary": o.summary,
        "operationId": operation_id(o),
        "parameters": parameters,
        "responses": responses,
        "security": security,
    });
    if let Some(permission) = o.permission {
        object["description"] = json!(format!(
            "Needs one of the scopes {} (or, with Basic authentication, a role bound to one).",
            permission.granting_scopes().join(", ")
        ));
    }
    if let Some(schema) = o.request {
        object["requestBody"] = json!({"required": true, "content": json_content(schema)});
    }
    object
}

/// `getApiPublisherV1ApisId`-style ids, unique per method and path.
fn operation_id(o: &Operation) -> String {
    let mut id = o.method.to_owned();
    for word in o.path.split(['/', '-', '{', '}']).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let item = paths.entry(o.path.to_owned()).or_insert_with(|| json!({}));
        item[o.method] = operation_object(o);
    }
    let scopes: Map<String, Value> = SCOPES
        .iter()
        .map(|s| (s.name.to_owned(), json!(s.description)))
        .collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "keygate management APIs",
            "version": "v1",
            "description": "The Publisher, Developer Portal and Admin REST APIs of keygate's \
                control plane, in WSO2 API Manager 3.1's shape, and the internal data service \
                gateways load their replica from. Call with an OAuth 2.0 access token from \
                keygate's key manager carrying the operation's scope, or with HTTP Basic."
        },
        "tags": [
            {"name": PUB, "description": "APIs, lifecycle, subscription blocking"},
            {"name": DEV, "description": "Applications, keys, subscriptions"},
            {"name": ADM, "description": "Throttling policies, custom rules, deny conditions"},
            {"name": "Internal", "description": "Snapshots for gateways"}
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "OAuth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": scopes.clone()},
                        "password": {"tokenUrl": "/oauth2/token", "scopes": scopes}
                    }
                },
                "basicAuth": {"type": "http", "scheme": "basic"}
            },
            "responses": ERROR_RESPONSES
                .iter()
                .map(|(_, name, description)| {
                    (
                        (*name).to_owned(),
                        json!({"description": description, "content": json_content("Error")}),
                    )
                })
                .collect::<Map<String, Value>>(),
            "schemas": schemas::all(),
        }
    })
}

async fn serve_document() -> Json<Value> {
    Json(document())
}

/// The document's route.
pub(crate) fn routes() -> Routes {
    vec![(OPENAPI_PATH.to_owned(), get(serve_document))]
}

#[cfg(test)]
mod tests;
