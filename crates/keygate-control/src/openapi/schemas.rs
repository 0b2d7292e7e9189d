//! The JSON schemas of the management APIs' bodies, as the handlers read and write them
//! (`crate::publisher`, `crate::devportal`, `crate::devportal_apis`, `crate::app_keys`,
//! `crate::policy_bodies`, `crate::admin_blocking`, `crate::errors`). Read-only members are marked so; members a
//! handler defaults are optional.

use crate::app_keys::GRANT_TYPES;
use serde_json::{Map, Value, json};

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn text(max: u32) -> Value {
    json!({"type": "string", "maxLength": max})
}

fn integer() -> Value {
    json!({"type": "integer", "format": "int64"})
}

fn positive() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": 1})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn read_only(mut schema: Value) -> Value {
    schema["readOnly"] = json!(true);
    schema
}

fn object(required: &[&str], properties: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = properties
        .iter()
        .map(|(name, schema)| ((*name).to_owned(), schema.clone()))
        .collect();
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn list_of(item: &str) -> Value {
    object(
        &["count", "list", "pagination"],
        &[
            ("count", integer()),
            ("list", array(reference(item))),
            ("pagination", reference("Pagination")),
        ],
    )
}

const TIME_UNITS: &[&str] = &["sec", "min", "hour", "day", "month", "year"];

fn throttle_limit() -> Value {
    object(
        &["type"],
        &[
            ("type", one_of(&["REQUESTCOUNTLIMIT", "BANDWIDTHLIMIT"])),
            (
                "requestCount",
                object(
                    &["timeUnit", "unitTime", "requestCount"],
                    &[
                        ("timeUnit", one_of(TIME_UNITS)),
                        ("unitTime", positive()),
                        ("requestCount", positive()),
                    ],
                ),
            ),
            (
                "bandwidth",
                object(
                    &["timeUnit", "unitTime", "dataAmount", "dataUnit"],
                    &[
                        ("timeUnit", one_of(TIME_UNITS)),
                        ("unitTime", positive()),
                        ("dataAmount", positive()),
                        ("dataUnit", one_of(&["KB", "MB", "GB"])),
                    ],
                ),
            ),
        ],
    )
}

fn policy_common() -> Vec<(&'static str, Value)> {
    vec![
        ("policyId", read_only(string())),
        (
            "policyName",
            json!({"type": "string", "minLength": 1, "maxLength": 255,
                              "pattern": "^[A-Za-z0-9_.-]+$"}),
        ),
        ("displayName", text(255)),
        ("description", text(1024)),
        ("defaultLimit", reference("ThrottleLimit")),
        ("isDeployed", read_only(boolean())),
    ]
}

fn condition() -> Value {
    object(
        &["type"],
        &[
            (
                "type",
                one_of(&[
                    "HEADERCONDITION",
                    "IPCONDITION",
                    "QUERYPARAMETERCONDITION",
                    "JWTCLAIMSCONDITION",
                ]),
            ),
            ("invertCondition", boolean()),
            (
                "headerCondition",
                object(
                    &["headerName", "headerValue"],
                    &[("headerName", string()), ("headerValue", string())],
                ),
            ),
            (
                "ipCondition",
                object(
                    &["ipConditionType"],
                    &[
                        ("ipConditionType", one_of(&["IPSPECIFIC", "IPRANGE"])),
                        ("specificIP", string()),
                        ("startingIP", string()),
                        ("endingIP", string()),
                    ],
                ),
            ),
            (
                "queryParameterCondition",
                object(
                    &["parameterName", "parameterValue"],
                    &[("parameterName", string()), ("parameterValue", string())],
                ),
            ),
            (
                "jwtClaimsCondition",
                object(
                    &["claimUrl", "attribute"],
                    &[("claimUrl", string()), ("attribute", string())],
                ),
            ),
        ],
    )
}

fn api() -> Value {
    let endpoint = object(
        &["url"],
        &[("url", json!({"type": "string", "format": "uri"}))],
    );
    object(
        &["name", "context", "version"],
        &[
            ("id", read_only(string())),
            ("name", text(255)),
            ("context", text(200)),
            ("version", text(64)),
            ("description", string()),
            ("provider", read_only(string())),
            (
                "lifeCycleStatus",
                read_only(one_of(&[
                    "CREATED",
                    "PROTOTYPED",
                    "PUBLISHED",
                    "BLOCKED",
                    "DEPRECATED",
                    "RETIRED",
                ])),
            ),
            ("isDefaultVersion", boolean()),
            (
                "endpointConfig",
                object(
                    &[],
                    &[
                        ("production_endpoints", endpoint.clone()),
                        ("sandbox_endpoints", endpoint),
                    ],
                ),
            ),
            ("policies", array(string())),
            ("apiThrottlingPolicy", string()),
            (
                "operations",
                array(object(
                    &["target", "verb"],
                    &[
                        ("target", string()),
                        (
                            "verb",
                            one_of(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
                        ),
                        (
                            "authType",
                            one_of(&[
                                "Any",
                                "Application & Application User",
                                "None",
                                "Application",
                                "Application User",
                                "Application_User",
                            ]),
                        ),
                        ("throttlingPolicy", string()),
                        ("scopes", array(string())),
                    ],
                )),
            ),
            ("createdTime", read_only(integer())),
            ("lastUpdatedTime", read_only(integer())),
        ],
    )
}

/// Every schema, by name.
pub(super) fn all() -> Value {
    let subscription_status = one_of(&[
        "UNBLOCKED",
        "BLOCKED",
        "PROD_ONLY_BLOCKED",
        "ON_HOLD",
        "REJECTED",
    ]);
    let key_type = one_of(&["PRODUCTION", "SANDBOX"]);
    let mut advanced = policy_common();
    advanced.push(("level", one_of(&["apiLevel", "resourceLevel"])));
    advanced.push((
        "conditionalGroups",
        array(object(
            &["conditions", "limit"],
            &[
                ("description", string()),
                ("conditions", array(reference("ThrottleCondition"))),
                ("limit", reference("ThrottleLimit")),
            ],
        )),
    ));
    let mut subscription_policy = policy_common();
    subscription_policy.extend([
        (
            "rateLimitCount",
            json!({"type": "integer", "format": "int64", "minimum": 0}),
        ),
        ("rateLimitTimeUnit", one_of(&["sec", "min"])),
        ("stopOnQuotaReach", boolean()),
        ("billingPlan", one_of(&["FREE", "COMMERCIAL"])),
    ]);
    json!({
        "Error": object(&["code", "message", "description"], &[
            ("code", integer()),
            ("message", string()),
            ("description", string()),
            ("error", array(object(&["code", "message", "field"], &[
                ("code", integer()), ("message", string()), ("field", string())]))),
        ]),
        "Pagination": object(&["offset", "limit"], &[("offset", integer()), ("limit", integer())]),
        "Api": api(),
        "ApiList": list_of("Api"),
        "PortalApi": object(
            &["id", "name", "context", "version", "provider", "lifeCycleStatus",
              "throttlingPolicies", "isDefaultVersion"],
            &[
                ("id", string()),
                ("name", string()),
                ("context", string()),
                ("version", string()),
                ("provider", string()),
                ("lifeCycleStatus", one_of(&["PUBLISHED", "PROTOTYPED", "DEPRECATED"])),
                ("throttlingPolicies", array(string())),
                ("isDefaultVersion", boolean()),
                ("description", string()),
            ],
        ),
        "PortalApiList": list_of("PortalApi"),
        "ApiImport": object(&["definition"], &[
            ("definition", json!({"description":
                "the OpenAPI 3 or Swagger 2 definition: a JSON object, or its JSON text"})),
            ("additionalProperties", json!({"description":
                "name, context, version, description, isDefaultVersion, endpointConfig, policies, apiThrottlingPolicy over the definition: an object, or its JSON text"})),
        ]),
        "LifecycleResponse": object(&["workflowStatus", "lifecycleState"], &[
            ("workflowStatus", string()),
            ("lifecycleState", object(&["state"], &[
                ("state", string()),
                ("availableTransitions", array(object(&["event", "targetState"], &[
                    ("event", string()), ("targetState", string())]))),
            ])),
        ]),
        "PublisherSubscription": object(
            &["subscriptionId", "applicationId", "apiId", "throttlingPolicy", "subscriptionStatus"],
            &[
                ("subscriptionId", string()),
                ("applicationId", string()),
                ("apiId", string()),
                ("throttlingPolicy", string()),
                ("subscriptionStatus", subscription_status.clone()),
            ]),
        "PublisherSubscriptionList": list_of("PublisherSubscription"),
        "Application": object(&["name"], &[
            ("applicationId", read_only(string())),
            ("name", json!({"type": "string", "minLength": 1, "maxLength": 100})),
            ("throttlingPolicy", string()),
            ("description", string()),
            ("tokenType", one_of(&["JWT", "OAUTH"])),
            ("callbackUrl", string()),
            ("status", read_only(one_of(&["CREATED", "APPROVED", "REJECTED", "DELETE_PENDING"]))),
            ("owner", read_only(string())),
        ]),
        "ApplicationList": list_of("Application"),
        "Subscription": object(&["applicationId", "apiId", "throttlingPolicy"], &[
            ("subscriptionId", read_only(string())),
            ("applicationId", string()),
            ("apiId", string()),
            ("throttlingPolicy", string()),
            ("status", read_only(subscription_status)),
        ]),
        "SubscriptionList": list_of("Subscription"),
        "KeyGeneration": object(&["keyType"], &[
            ("keyType", key_type.clone()),
            ("grantTypesToBeSupported", array(one_of(&GRANT_TYPES))),
            ("callbackUrl", string()),
        ]),
        "ApplicationKey": object(&["keyMappingId", "keyType", "consumerKey", "keyState", "keyManager"], &[
            ("keyMappingId", string()),
            ("keyType", key_type),
            ("consumerKey", string()),
            ("consumerSecret", json!({"type": "string", "description": "Only when just made"})),
            ("supportedGrantTypes", array(string())),
            ("callbackUrl", string()),
            ("keyState", one_of(&["CREATED", "APPROVED", "COMPLETED", "REJECTED"])),
            ("keyManager", string()),
        ]),
        "ApplicationKeyList": list_of("ApplicationKey"),
        "ConsumerSecret": object(&["consumerKey", "consumerSecret"], &[
            ("consumerKey", string()), ("consumerSecret", string())]),
        "TokenRequest": object(&["consumerSecret"], &[
            ("consumerSecret", json!({"type": "string", "minLength": 1})),
            ("validityPeriod", positive()),
            ("scopes", array(json!({"type": "string", "pattern": "^\\S+$"}))),
        ]),
        "ApplicationToken": object(&["accessToken", "tokenScopes", "validityTime"], &[
            ("accessToken", string()), ("tokenScopes", array(string())), ("validityTime", integer())]),
        "ThrottleLimit": throttle_limit(),
        "ThrottleCondition": condition(),
        "SubscriptionPolicy": object(&["policyName", "defaultLimit"], &subscription_policy),
        "SubscriptionPolicyList": list_of("SubscriptionPolicy"),
        "ApplicationPolicy": object(&["policyName", "defaultLimit"], &policy_common()),
        "ApplicationPolicyList": list_of("ApplicationPolicy"),
        "AdvancedPolicy": object(&["policyName", "defaultLimit"], &advanced),
        "AdvancedPolicyList": list_of("AdvancedPolicy"),
        "CustomRule": object(&["policyName", "siddhiQuery", "keyTemplate"], &[
            ("policyId", read_only(string())),
            ("policyName", json!({"type": "string", "minLength": 1, "maxLength": 255,
                                  "pattern": "^[A-Za-z0-9_.-]+$"})),
            ("description", string()),
            ("siddhiQuery", json!({"type": "string", "minLength": 1})),
            ("keyTemplate", json!({"type": "string", "minLength": 1})),
            ("isDeployed", boolean()),
        ]),
        "CustomRuleList": list_of("CustomRule"),
        "BlockCondition": object(&["conditionType", "conditionValue"], &[
            ("conditionId", read_only(string())),
            ("conditionType", one_of(&["API", "APPLICATION", "IP", "IPRANGE", "USER"])),
            ("conditionValue", json!({"oneOf": [
                {"type": "string", "minLength": 1},
                object(&["startingIp", "endingIp"], &[
                    ("startingIp", string()), ("endingIp", string()), ("invert", boolean())]),
            ]})),
            ("conditionStatus", boolean()),
        ]),
        "BlockConditionStatus": object(&["conditionStatus"], &[("conditionStatus", boolean())]),
        "BlockConditionList": list_of("BlockCondition"),
        "CatalogSnapshot": object(&["revision"], &[
            ("revision", integer()),
            ("apis", array(json!({"type": "object"}))),
            ("applications", array(json!({"type": "object"}))),
            ("subscriptions", array(json!({"type": "object"}))),
            ("key_mappings", array(json!({"type": "object"}))),
            ("subscription_policies", array(json!({"type": "object"}))),
            ("application_policies", array(json!({"type": "object"}))),
            ("api_policies", array(json!({"type": "object"}))),
            ("global_policies", array(json!({"type": "object"}))),
            ("block_conditions", array(json!({"type": "object"}))),
            ("revoked_tokens", array(json!({"type": "object"}))),
        ]),
        "RevisionedList": object(&["revision", "list"], &[
            ("revision", integer()), ("list", array(json!({"type": "object"})))]),
    })
}
