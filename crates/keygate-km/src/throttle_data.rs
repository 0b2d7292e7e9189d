//! Throttle data for gateways and traffic managers (DESIGN §4), in WSO2's shapes:
//!
//! - `GET /throttle/data/v1/keyTemplates`: the key templates of the deployed global
//!   (custom) policies, a JSON list of strings such as `["$userId:$apiContext"]`;
//! - `GET /throttle/data/v1/block`: the deny conditions in force, as WSO2's
//!   `BlockConditionsDTO` — `{"api": [...], "application": [...], "ip": [{...}],
//!   "user": [...], "custom": [...]}`, where each IP condition is
//!   `{"type": "IP", "fixedIp", "invert", "tenantDomain"}` and each range
//!   `{"type": "IPRANGE", "startingIp", "endingIp", "invert", "tenantDomain"}`.
//!
//! Both take the `[apim.key_manager]` user by HTTP Basic, and answer for the default
//! tenant. Disabled conditions are left out.

use crate::access_control::Principal;
use crate::errors::{Failure, no_store_json};
use crate::manager::KeyManager;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use keygate_model::{BlockCondition, BlockConditionType};
use keygate_store::Page;
use serde_json::{Value, json};

/// `GET /throttle/data/v1/keyTemplates`.
pub(crate) async fn key_templates(
    State(km): State<KeyManager>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    let principal = request.extensions().get::<Principal>().cloned();
    let headers = request.headers().clone();
    inner.service_caller(principal.as_ref(), &headers).await?;
    let policies = inner
        .stores
        .global_policies()
        .list_global_policies(&inner.settings.tenant, Page::ALL)
        .await?;
    let mut templates: Vec<String> = Vec::new();
    for policy in policies.into_iter().filter(|p| p.is_deployed) {
        if !templates.contains(&policy.key_template) {
            templates.push(policy.key_template);
        }
    }
    Ok(no_store_json(StatusCode::OK, json!(templates)))
}

/// `GET /throttle/data/v1/block`.
pub(crate) async fn block_conditions(
    State(km): State<KeyManager>,
    request: Request,
) -> Result<Response, Failure> {
    let inner = &km.inner;
    let principal = request.extensions().get::<Principal>().cloned();
    let headers = request.headers().clone();
    inner.service_caller(principal.as_ref(), &headers).await?;
    let tenant = &inner.settings.tenant;
    let conditions = inner
        .stores
        .block_conditions()
        .list_block_conditions(tenant, Page::ALL)
        .await?;
    Ok(no_store_json(
        StatusCode::OK,
        block_conditions_dto(&conditions),
    ))
}

/// WSO2's `BlockConditionsDTO` of the enabled conditions among `conditions`.
pub fn block_conditions_dto(conditions: &[BlockCondition]) -> Value {
    let mut api = Vec::new();
    let mut application = Vec::new();
    let mut ip = Vec::new();
    let mut user = Vec::new();
    for condition in conditions.iter().filter(|c| c.enabled) {
        let tenant = condition.tenant.domain();
        match condition.condition_type {
            BlockConditionType::Api => api.push(json!(condition.value)),
            BlockConditionType::Application => application.push(json!(condition.value)),
            BlockConditionType::User => user.push(json!(condition.value)),
            BlockConditionType::Ip => {
                let (fixed, invert) = match serde_json::from_str::<Value>(&condition.value) {
                    Ok(Value::Object(v)) => (
                        v.get("fixedIp")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        v.get("invert").and_then(Value::as_bool).unwrap_or(false),
                    ),
                    _ => (condition.value.clone(), false),
                };
                ip.push(json!({
                    "type": "IP",
                    "fixedIp": fixed,
                    "invert": invert,
                    "tenantDomain": tenant,
                }));
            }
            BlockConditionType::IpRange => {
                let v = serde_json::from_str::<Value>(&condition.value).unwrap_or(Value::Null);
                let text = |name: &str| {
                    v.get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                ip.push(json!({
                    "type": "IPRANGE",
                    "startingIp": text("startingIp"),
                    "endingIp": text("endingIp"),
                    "invert": v.get("invert").and_then(Value::as_bool).unwrap_or(false),
                    "tenantDomain": tenant,
                }));
            }
        }
    }
    json!({
        "api": api,
        "application": application,
        "ip": ip,
        "user": user,
        "custom": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_model::Tenant;

    fn condition(kind: BlockConditionType, value: &str, enabled: bool) -> BlockCondition {
        BlockCondition {
            uuid: value.into(),
            tenant: Tenant::default(),
            condition_type: kind,
            value: value.into(),
            enabled,
        }
    }

    #[test]
    fn conditions_take_wso2s_dto_shape() {
        let dto = block_conditions_dto(&[
            condition(BlockConditionType::Api, "/pets/1.0.0", true),
            condition(BlockConditionType::Api, "/gone/1.0.0", false),
            condition(BlockConditionType::Application, "bob:PetApp", true),
            condition(BlockConditionType::User, "mallory", true),
            condition(BlockConditionType::Ip, "10.0.0.7", true),
            condition(
                BlockConditionType::Ip,
                r#"{"fixedIp":"10.0.0.8","invert":true}"#,
                true,
            ),
            condition(
                BlockConditionType::IpRange,
                r#"{"startingIp":"10.1.0.0","endingIp":"10.1.0.255","invert":false}"#,
                true,
            ),
        ]);
        assert_eq!(dto["api"], json!(["/pets/1.0.0"]));
        assert_eq!(dto["application"], json!(["bob:PetApp"]));
        assert_eq!(dto["user"], json!(["mallory"]));
        assert_eq!(dto["custom"], json!([]));
        assert_eq!(
            dto["ip"],
            json!([
                {"type": "IP", "fixedIp": "10.0.0.7", "invert": false, "tenantDomain": "carbon.super"},
                {"type": "IP", "fixedIp": "10.0.0.8", "invert": true, "tenantDomain": "carbon.super"},
                {"type": "IPRANGE", "startingIp": "10.1.0.0", "endingIp": "10.1.0.255",
                 "invert": false, "tenantDomain": "carbon.super"},
            ])
        );
    }
}
