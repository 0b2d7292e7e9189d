//! What changes in the data gateways replicate (DESIGN §2, §5): the control plane
//! publishes one [`ReplicaChange`] per outbox entry on `keygate.notification`, carrying the
//! changed record's state (or its deletion), and gateways apply them to their replica; the
//! key manager's revocations become [`ReplicaChange::TokenRevoked`] and
//! [`ReplicaChange::RevokedAll`]. The wire form is `{"kind": "api_upserted", "data":
//! {…}}`.

use crate::{
    Api, ApiPolicy, Application, ApplicationPolicy, BlockCondition, GlobalPolicy, KeyMapping,
    RevokedToken, Subscription, SubscriptionPolicy,
};
use serde::{Deserialize, Serialize};

/// Who a revoke-all event covers: every token of a client, or of a user, issued before a
/// time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum RevocationSubject {
    /// Every token issued to this OAuth client (consumer key).
    ConsumerKey(String),
    /// Every token issued to this user (`name@tenant`, or the bare name in the super
    /// tenant).
    User(String),
}

/// One change to the data gateways replicate, as the control plane's notifications
/// (`keygate.notification`) and the key manager's revocations describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum ReplicaChange {
    /// An API was created, updated or changed state.
    ApiUpserted(Api),
    /// An API was deleted.
    ApiDeleted { uuid: String },
    /// An application was created or updated.
    ApplicationUpserted(Application),
    /// An application was deleted, with its subscriptions.
    ApplicationDeleted { uuid: String },
    /// A subscription was created or changed state.
    SubscriptionUpserted(Subscription),
    /// A subscription was removed.
    SubscriptionDeleted { uuid: String },
    /// Keys were generated or their state changed.
    KeyMappingUpserted(KeyMapping),
    /// Keys were removed.
    KeyMappingDeleted { consumer_key: String },
    /// A subscription policy was added or changed.
    SubscriptionPolicyUpserted(SubscriptionPolicy),
    /// A subscription policy was deleted.
    SubscriptionPolicyDeleted { name: String },
    /// An application policy was added or changed.
    ApplicationPolicyUpserted(ApplicationPolicy),
    /// An application policy was deleted.
    ApplicationPolicyDeleted { name: String },
    /// An advanced (API or resource) policy was added or changed.
    ApiPolicyUpserted(ApiPolicy),
    /// An advanced policy was deleted.
    ApiPolicyDeleted { name: String },
    /// A global (custom) policy was added, changed, deployed or undeployed.
    GlobalPolicyUpserted(GlobalPolicy),
    /// A global policy was deleted.
    GlobalPolicyDeleted { name: String },
    /// A deny condition was added, changed, enabled or disabled.
    BlockConditionUpserted(BlockCondition),
    /// A deny condition was deleted.
    BlockConditionDeleted { uuid: String },
    /// A token was revoked.
    TokenRevoked(RevokedToken),
    /// Every token of a client or user issued before `issued_before_ms` was revoked.
    RevokedAll {
        subject: RevocationSubject,
        issued_before_ms: i64,
    },
}
