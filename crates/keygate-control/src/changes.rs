//! What gateways are told on `keygate.notification` (DESIGN §5): one [`CatalogChange`] per
//! outbox entry, carrying the changed record's state as the store holds it when the change
//! is published (or its deletion when the record is gone). Events are therefore
//! idempotent upserts and deletes: replaying them in revision order over a snapshot of an
//! earlier revision converges on the data, whatever was delivered twice.
//!
//! The wire form is the gateway replica's own: `{"kind": "api_upserted", "data": {…}}`,
//! the envelope's `type` names the change WSO2-style (`API_CREATE`, `SUBSCRIPTIONS_DELETE`,
//! …).

use keygate_model::{RevokedToken, RevokedTokenType};
use keygate_store::{ChangeOperation, ChangedEntity, OutboxEntry, StoreResult, Stores};

/// One change to the data gateways replicate; the control plane never publishes
/// [`CatalogChange::RevokedAll`] (revoke-alls come from the key manager).
pub use keygate_model::changes::ReplicaChange as CatalogChange;

/// The envelope `type` of an outbox entry, WSO2's notification names
/// (`API_CREATE`, `APPLICATION_UPDATE`, `SUBSCRIPTIONS_DELETE`, `POLICY_CREATE`, …).
pub fn event_type(entry: &OutboxEntry) -> String {
    let subject = match entry.entity {
        ChangedEntity::Api => "API",
        ChangedEntity::Application => "APPLICATION",
        ChangedEntity::Subscription => "SUBSCRIPTIONS",
        ChangedEntity::KeyMapping => "APPLICATION_REGISTRATION",
        ChangedEntity::SubscriptionPolicy => "SUBSCRIPTION_POLICY",
        ChangedEntity::ApplicationPolicy => "APPLICATION_POLICY",
        ChangedEntity::ApiPolicy => "API_POLICY",
        ChangedEntity::GlobalPolicy => "GLOBAL_POLICY",
        ChangedEntity::BlockCondition => "BLOCK_CONDITION",
        ChangedEntity::RevokedToken => "TOKEN_REVOKED",
    };
    if entry.entity == ChangedEntity::RevokedToken {
        return subject.to_owned();
    }
    let action = match entry.operation {
        ChangeOperation::Insert => "CREATE",
        ChangeOperation::Update => "UPDATE",
        ChangeOperation::Delete => "DELETE",
    };
    format!("{subject}_{action}")
}

/// The change an outbox entry stands for: the record's current state, or its deletion.
pub async fn resolve(stores: &Stores, entry: &OutboxEntry) -> StoreResult<CatalogChange> {
    let key = entry.key.clone();
    let tenant = &entry.tenant;
    Ok(match entry.entity {
        ChangedEntity::Api => match stores.apis().api(&key).await? {
            Some(api) => CatalogChange::ApiUpserted(api),
            None => CatalogChange::ApiDeleted { uuid: key },
        },
        ChangedEntity::Application => match stores.applications().application(&key).await? {
            Some(app) => CatalogChange::ApplicationUpserted(app),
            None => CatalogChange::ApplicationDeleted { uuid: key },
        },
        ChangedEntity::Subscription => match stores.subscriptions().subscription(&key).await? {
            Some(sub) => CatalogChange::SubscriptionUpserted(sub),
            None => CatalogChange::SubscriptionDeleted { uuid: key },
        },
        ChangedEntity::KeyMapping => {
            match stores
                .key_mappings()
                .key_mapping_by_consumer_key(&key)
                .await?
            {
                Some(mapping) => CatalogChange::KeyMappingUpserted(mapping),
                None => CatalogChange::KeyMappingDeleted { consumer_key: key },
            }
        }
        ChangedEntity::SubscriptionPolicy => {
            match stores
                .subscription_policies()
                .subscription_policy(tenant, &key)
                .await?
            {
                Some(p) => CatalogChange::SubscriptionPolicyUpserted(p),
                None => CatalogChange::SubscriptionPolicyDeleted { name: key },
            }
        }
        ChangedEntity::ApplicationPolicy => {
            match stores
                .application_policies()
                .application_policy(tenant, &key)
                .await?
            {
                Some(p) => CatalogChange::ApplicationPolicyUpserted(p),
                None => CatalogChange::ApplicationPolicyDeleted { name: key },
            }
        }
        ChangedEntity::ApiPolicy => match stores.api_policies().api_policy(tenant, &key).await? {
            Some(p) => CatalogChange::ApiPolicyUpserted(p),
            None => CatalogChange::ApiPolicyDeleted { name: key },
        },
        ChangedEntity::GlobalPolicy => {
            match stores.global_policies().global_policy(tenant, &key).await? {
                Some(p) => CatalogChange::GlobalPolicyUpserted(p),
                None => CatalogChange::GlobalPolicyDeleted { name: key },
            }
        }
        ChangedEntity::BlockCondition => {
            match stores.block_conditions().block_condition(&key).await? {
                Some(c) => CatalogChange::BlockConditionUpserted(c),
                None => CatalogChange::BlockConditionDeleted { uuid: key },
            }
        }
        ChangedEntity::RevokedToken => match stores.revoked_tokens().revoked_token(&key).await? {
            Some(token) => CatalogChange::TokenRevoked(token),
            // Purged since: it has expired, so a record already expired keeps the
            // revision sequence without refusing anything.
            None => CatalogChange::TokenRevoked(RevokedToken {
                tenant: tenant.clone(),
                signature: key,
                token_type: RevokedTokenType::JwtSignature,
                expiry_time_ms: 0,
                revoked_at_ms: 0,
            }),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_model::Tenant;

    fn entry(entity: ChangedEntity, operation: ChangeOperation) -> OutboxEntry {
        OutboxEntry {
            revision: 1,
            entity,
            key: "k".into(),
            tenant: Tenant::default(),
            operation,
            published: false,
        }
    }

    #[test]
    fn event_types_are_wso2_notification_names() {
        assert_eq!(
            event_type(&entry(ChangedEntity::Api, ChangeOperation::Insert)),
            "API_CREATE"
        );
        assert_eq!(
            event_type(&entry(ChangedEntity::Subscription, ChangeOperation::Delete)),
            "SUBSCRIPTIONS_DELETE"
        );
        assert_eq!(
            event_type(&entry(ChangedEntity::RevokedToken, ChangeOperation::Insert)),
            "TOKEN_REVOKED"
        );
    }

    #[test]
    fn wire_form_is_kind_and_data() {
        let change = CatalogChange::ApiDeleted { uuid: "u".into() };
        let json = serde_json::to_value(&change).unwrap();
        assert_eq!(json["kind"], "api_deleted");
        assert_eq!(json["data"]["uuid"], "u");
    }
}
