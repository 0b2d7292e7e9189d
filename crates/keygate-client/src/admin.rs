//! The Admin API (`/api/am/admin/v1`): throttling policies of the three kinds and
//! blocking (deny) conditions. Policies travel as JSON values: their limits and
//! conditional groups are the server's to validate.

use crate::connection::{Management, all_pages};
use crate::error::{ClientError, ClientResult};
use crate::model::BlockCondition;
use serde_json::Value;

const POLICIES: &str = "/api/am/admin/v1/throttling/policies";
const DENY: &str = "/api/am/admin/v1/throttling/blacklist";

/// A kind of throttling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Subscription tiers (`Gold`).
    Subscription,
    /// Application policies (`50PerMin`).
    Application,
    /// Advanced (API and resource level) policies (`50KPerMin`).
    Advanced,
}

impl PolicyKind {
    /// The path segment of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscription => "subscription",
            Self::Application => "application",
            Self::Advanced => "advanced",
        }
    }
}

impl Management {
    /// Every policy of a kind.
    pub async fn policies(&self, kind: PolicyKind) -> ClientResult<Vec<Value>> {
        all_pages(self, &format!("{POLICIES}/{}", kind.as_str()), &[]).await
    }

    /// Creates a policy from its JSON body.
    pub async fn create_policy(&self, kind: PolicyKind, body: &Value) -> ClientResult<Value> {
        self.post(&format!("{POLICIES}/{}", kind.as_str()), body)
            .await
    }

    /// A policy named by its id or its `policyName`.
    pub async fn find_policy(&self, kind: PolicyKind, reference: &str) -> ClientResult<Value> {
        self.policies(kind)
            .await?
            .into_iter()
            .find(|p| {
                ["policyId", "policyName"]
                    .iter()
                    .any(|key| p.get(key).and_then(Value::as_str) == Some(reference))
            })
            .ok_or_else(|| ClientError::NotFound(format!("{} policy `{reference}`", kind.as_str())))
    }

    /// Deletes a policy by id.
    pub async fn delete_policy(&self, kind: PolicyKind, id: &str) -> ClientResult<()> {
        self.delete(&format!("{POLICIES}/{}/{id}", kind.as_str()))
            .await
    }

    /// Every blocking condition.
    pub async fn deny_conditions(&self) -> ClientResult<Vec<BlockCondition>> {
        all_pages(self, DENY, &[]).await
    }

    /// Creates a blocking condition.
    pub async fn create_deny_condition(
        &self,
        condition: &BlockCondition,
    ) -> ClientResult<BlockCondition> {
        self.post(DENY, condition).await
    }

    /// Deletes a blocking condition.
    pub async fn delete_deny_condition(&self, id: &str) -> ClientResult<()> {
        self.delete(&format!("{DENY}/{id}")).await
    }
}
