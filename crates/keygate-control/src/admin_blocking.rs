//! Deny (blocking) conditions in the Admin REST API (`/api/am/admin/v1/throttling/blacklist`,
//! WSO2 Admin v1's name): requests to an API (by context and version, `/pets/1.0.0`), from
//! an application (`subscriber:appName`), an IP address or range, or a user are refused
//! with 900805 at every gateway while the condition is enabled. Conditions are listed,
//! read, created, enabled or disabled (`PATCH {conditionStatus}`) and deleted; reading needs
//! `apim:bl_view`, the rest `apim:bl_manage`. A type and value pair is unique (409); an
//! IP range is `{startingIp, endingIp, invert}` and stored as that JSON.

use crate::auth::Permission;
use crate::body::{JsonBody, QueryParams};
use crate::errors::{ControlError, ControlResult, FieldError};
use crate::publisher::{ListBody, PaginationBody};
use crate::{ControlPlane, Routes};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use keygate_model::{BlockCondition, BlockConditionType};
use keygate_store::Page;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::IpAddr;

/// Where the conditions live.
pub const BLOCKING_PATH: &str = "/api/am/admin/v1/throttling/blacklist";

/// A deny condition (`BlockingCondition`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockConditionBody {
    /// Id; assigned on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_id: Option<String>,
    /// `API`, `APPLICATION`, `IP`, `IPRANGE` or `USER`.
    #[serde(default)]
    pub condition_type: String,
    /// The blocked context, application, address or user; for `IPRANGE` an object
    /// `{startingIp, endingIp, invert}`.
    #[serde(default)]
    pub condition_value: Value,
    /// Whether the condition is in force (default true).
    #[serde(default = "enabled")]
    pub condition_status: bool,
}

fn enabled() -> bool {
    true
}

/// The body of `PATCH`: the new state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockConditionStatusBody {
    /// Whether the condition is in force.
    pub condition_status: bool,
}

/// `IPRANGE` values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpRangeValue {
    starting_ip: String,
    ending_ip: String,
    #[serde(default)]
    invert: bool,
}

impl BlockConditionBody {
    /// The body of a stored condition.
    pub fn from_condition(c: &BlockCondition) -> Self {
        let value = match c.condition_type {
            BlockConditionType::IpRange => {
                serde_json::from_str(&c.value).unwrap_or_else(|_| Value::String(c.value.clone()))
            }
            _ => Value::String(c.value.clone()),
        };
        Self {
            condition_id: Some(c.uuid.clone()),
            condition_type: c.condition_type.as_str().to_owned(),
            condition_value: value,
            condition_status: c.enabled,
        }
    }

    /// The condition the body describes; every bad field otherwise.
    pub fn to_condition(
        &self,
        uuid: &str,
        tenant: &keygate_model::Tenant,
    ) -> Result<BlockCondition, Vec<FieldError>> {
        let Ok(condition_type) = self.condition_type.parse::<BlockConditionType>() else {
            return Err(vec![FieldError::new(
                "conditionType",
                "must be API, APPLICATION, IP, IPRANGE or USER",
            )]);
        };
        let bad = |message: &str| vec![FieldError::new("conditionValue", message)];
        let value = match (condition_type, &self.condition_value) {
            (BlockConditionType::IpRange, value) => {
                let range: IpRangeValue = match value {
                    Value::String(text) => serde_json::from_str(text),
                    other => serde_json::from_value(other.clone()),
                }
                .map_err(|_| bad("must be {startingIp, endingIp, invert}"))?;
                let start = range.starting_ip.parse::<IpAddr>();
                let end = range.ending_ip.parse::<IpAddr>();
                match (start, end) {
                    (Ok(start), Ok(end)) if start.is_ipv4() == end.is_ipv4() && start <= end => {}
                    _ => {
                        return Err(bad(
                            "must be a range of two addresses of one family, low to high",
                        ));
                    }
                }
                json!({
                    "startingIp": range.starting_ip,
                    "endingIp": range.ending_ip,
                    "invert": range.invert,
                })
                .to_string()
            }
            (_, Value::String(text)) if !text.trim().is_empty() => {
                let text = text.trim();
                match condition_type {
                    BlockConditionType::Api if !text.starts_with('/') || text.len() < 2 => {
                        return Err(bad(
                            "must be an API context with its version, e.g. /pets/1.0.0",
                        ));
                    }
                    BlockConditionType::Application
                        if !text
                            .split_once(':')
                            .is_some_and(|(s, a)| !s.is_empty() && !a.is_empty()) =>
                    {
                        return Err(bad("must be subscriber:applicationName"));
                    }
                    BlockConditionType::Ip if text.parse::<IpAddr>().is_err() => {
                        return Err(bad("must be an IPv4 or IPv6 address"));
                    }
                    _ => text.to_owned(),
                }
            }
            _ => return Err(bad("is required")),
        };
        Ok(BlockCondition {
            uuid: uuid.to_owned(),
            tenant: tenant.clone(),
            condition_type,
            value,
            enabled: self.condition_status,
        })
    }
}

/// Filters of the list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockConditionQuery {
    /// Only conditions of this type.
    pub condition_type: Option<String>,
    /// Most items.
    pub limit: Option<u32>,
    /// Items skipped.
    pub offset: Option<u32>,
}

async fn find(control: &ControlPlane, id: &str) -> ControlResult<BlockCondition> {
    match control
        .stores()
        .block_conditions()
        .block_condition(id)
        .await?
    {
        Some(c) if &c.tenant == control.tenant() => Ok(c),
        _ => Err(ControlError::NotFound(format!("block condition {id}"))),
    }
}

async fn list_conditions(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<BlockConditionQuery>,
) -> ControlResult<Json<ListBody<BlockConditionBody>>> {
    control.caller(&headers, Permission::BlockView).await?;
    let wanted = match query.condition_type.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<BlockConditionType>().map_err(|_| {
            ControlError::invalid(
                "conditionType",
                "must be API, APPLICATION, IP, IPRANGE or USER",
            )
        })?),
    };
    let page = crate::publisher::Paging {
        limit: query.limit,
        offset: query.offset,
    }
    .page();
    let list: Vec<BlockConditionBody> = control
        .stores()
        .block_conditions()
        .list_block_conditions(control.tenant(), Page::ALL)
        .await?
        .iter()
        .filter(|c| wanted.is_none_or(|t| c.condition_type == t))
        .skip(page.offset as usize)
        .take(page.limit as usize)
        .map(BlockConditionBody::from_condition)
        .collect();
    Ok(Json(ListBody {
        count: list.len(),
        list,
        pagination: PaginationBody {
            offset: page.offset,
            limit: page.limit,
        },
    }))
}

async fn get_condition(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<Json<BlockConditionBody>> {
    control.caller(&headers, Permission::BlockView).await?;
    Ok(Json(BlockConditionBody::from_condition(
        &find(&control, &id).await?,
    )))
}

async fn create_condition(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<BlockConditionBody>,
) -> ControlResult<(StatusCode, Json<BlockConditionBody>)> {
    control.caller(&headers, Permission::BlockManage).await?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let condition = body
        .to_condition(&uuid, control.tenant())
        .map_err(ControlError::Invalid)?;
    control
        .stores()
        .block_conditions()
        .create_block_condition(&condition)
        .await?;
    control.changed();
    Ok((
        StatusCode::CREATED,
        Json(BlockConditionBody::from_condition(&condition)),
    ))
}

async fn set_condition_status(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BlockConditionStatusBody>,
) -> ControlResult<Json<BlockConditionBody>> {
    control.caller(&headers, Permission::BlockManage).await?;
    let mut condition = find(&control, &id).await?;
    if condition.enabled != body.condition_status {
        control
            .stores()
            .block_conditions()
            .set_block_condition_enabled(&id, body.condition_status)
            .await?;
        control.changed();
    }
    condition.enabled = body.condition_status;
    Ok(Json(BlockConditionBody::from_condition(&condition)))
}

async fn delete_condition(
    State(control): State<ControlPlane>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ControlResult<StatusCode> {
    control.caller(&headers, Permission::BlockManage).await?;
    let condition = find(&control, &id).await?;
    if !control
        .stores()
        .block_conditions()
        .delete_block_condition(&condition.uuid)
        .await?
    {
        return Err(ControlError::NotFound(format!("block condition {id}")));
    }
    control.changed();
    Ok(StatusCode::OK)
}

/// The deny-condition routes.
pub(crate) fn routes() -> Routes {
    vec![
        (
            BLOCKING_PATH.to_owned(),
            get(list_conditions).post(create_condition),
        ),
        (
            format!("{BLOCKING_PATH}/{{conditionId}}"),
            get(get_condition)
                .patch(set_condition_status)
                .delete(delete_condition),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_model::Tenant;

    fn condition(kind: &str, value: Value) -> Result<BlockCondition, Vec<FieldError>> {
        BlockConditionBody {
            condition_id: None,
            condition_type: kind.into(),
            condition_value: value,
            condition_status: true,
        }
        .to_condition("id", &Tenant::super_tenant())
    }

    #[test]
    fn values_are_checked_per_type() {
        assert_eq!(
            condition("API", json!("/pets/1.0.0")).unwrap().value,
            "/pets/1.0.0"
        );
        assert_eq!(
            condition("APPLICATION", json!("bob:Pets")).unwrap().value,
            "bob:Pets"
        );
        assert!(condition("IP", json!("2001:db8::1")).is_ok());
        assert!(condition("USER", json!("mallory")).is_ok());
        for (kind, value) in [
            ("API", json!("pets")),
            ("APPLICATION", json!("Pets")),
            ("IP", json!("10.0.0.256")),
            ("USER", json!("")),
            (
                "IPRANGE",
                json!({"startingIp": "10.0.0.9", "endingIp": "10.0.0.1"}),
            ),
            (
                "IPRANGE",
                json!({"startingIp": "10.0.0.1", "endingIp": "::1"}),
            ),
        ] {
            let errors = condition(kind, value).unwrap_err();
            assert_eq!(errors[0].field, "conditionValue", "{kind}");
        }
        assert_eq!(
            condition("COOKIE", json!("x")).unwrap_err()[0].field,
            "conditionType"
        );
    }

    #[test]
    fn ip_ranges_are_stored_as_json_and_read_back() {
        let stored = condition(
            "IPRANGE",
            json!({"startingIp": "10.0.0.1", "endingIp": "10.0.0.9", "invert": true}),
        )
        .unwrap();
        let value: Value = serde_json::from_str(&stored.value).unwrap();
        assert_eq!(value["startingIp"], "10.0.0.1");
        assert_eq!(value["invert"], true);
        let body = BlockConditionBody::from_condition(&stored);
        assert_eq!(body.condition_value["endingIp"], "10.0.0.9");
        // A range given as JSON text is accepted too.
        assert!(condition("IPRANGE", json!(stored.value)).is_ok());
    }
}
