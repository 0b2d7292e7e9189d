//! The gateway's in-memory replica of the control plane's data (DESIGN §2): APIs by
//! context with their compiled resources, applications, subscriptions, key mappings,
//! throttling policies, deny conditions and revoked tokens. Everything a request is
//! checked against is here, so no request waits on the network.
//!
//! The request path reads a [`ReplicaSnapshot`] through an [`arc_swap::ArcSwap`]: one
//! atomic load, no lock. Writers (the snapshot loader and the event handler) build the
//! next snapshot and swap it in. Tables are persistent hash maps ([`imbl`]): cloning a
//! snapshot is O(1), a change copies only the path to the entry it touches, and a lookup
//! is O(log n) with a small constant, so 10,000 APIs and 100,000 subscriptions cost no
//! more per request than ten.
//!
//! Every event carries a revision. [`Replica::apply_event`] applies the next one, ignores
//! those already applied (delivery is at-least-once) and answers
//! [`ApplyOutcome::NeedSnapshot`] on a gap, so the caller pulls a fresh snapshot with
//! [`Replica::load_snapshot`] — nothing is ever missed for good.

use crate::route::{ContextMatch, DeployError, DeployedApi, RouteError, RouteMatch, prefix_ends};
use arc_swap::ArcSwap;
use foldhash::fast::RandomState;
use imbl::shared_ptr::DefaultSharedPtr;
pub use keygate_model::changes::{ReplicaChange, RevocationSubject};
use keygate_model::{
    Api, ApiPolicy, ApiStatus, Application, ApplicationPolicy, BlockCondition, GlobalPolicy,
    KeyMapping, RevokedToken, Subscription, SubscriptionPolicy,
};
use keygate_throttle::{BlockingConditions, PolicySet, ThrottleError};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// A persistent hash map with a fast hasher.
pub(crate) type Map<K, V> = imbl::GenericHashMap<K, V, RandomState, DefaultSharedPtr>;

/// An application with its numeric id as text, as throttle keys and JWTs need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationEntry {
    /// The application.
    pub app: Application,
    /// `app.id` as decimal text.
    pub id_text: Box<str>,
}

impl ApplicationEntry {
    /// Wraps an application.
    pub fn new(app: Application) -> Self {
        let id_text = app.id.to_string().into();
        Self { app, id_text }
    }
}

/// A revoke-all record of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRevocation {
    /// Whose tokens.
    pub subject: RevocationSubject,
    /// Tokens issued before this time, unix milliseconds, are refused.
    pub issued_before_ms: i64,
}

/// A full snapshot, as the control plane's internal data service gives it (DESIGN §4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplicaData {
    /// The revision the snapshot was taken at.
    pub revision: u64,
    pub apis: Vec<Api>,
    pub applications: Vec<Application>,
    pub subscriptions: Vec<Subscription>,
    pub key_mappings: Vec<KeyMapping>,
    pub subscription_policies: Vec<SubscriptionPolicy>,
    pub application_policies: Vec<ApplicationPolicy>,
    pub api_policies: Vec<ApiPolicy>,
    pub global_policies: Vec<GlobalPolicy>,
    pub block_conditions: Vec<BlockCondition>,
    pub revoked_tokens: Vec<RevokedToken>,
    pub subject_revocations: Vec<SubjectRevocation>,
}

/// A change that could not be taken in; the rest of the replica is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    /// An API whose context cannot be routed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// A policy that does not compile.
    #[error("policy {name}: {error}")]
    Policy { name: String, error: ThrottleError },
    /// A deny condition that does not compile.
    #[error("block condition {uuid}: {error}")]
    BlockCondition { uuid: String, error: ThrottleError },
}

/// What [`Replica::apply_event`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The change was applied; the replica is at its revision.
    Applied,
    /// The change could not be taken in, but its revision is counted as seen.
    Skipped(ReplicaError),
    /// The revision was already applied; nothing changed.
    Stale,
    /// A revision is missing: nothing changed, load a snapshot.
    NeedSnapshot {
        /// The revision the replica waits for.
        expected: u64,
        /// The revision that came.
        received: u64,
    },
}

/// Where a context prefix leads.
#[derive(Debug, Clone)]
struct ContextTarget {
    api: Arc<DeployedApi>,
    via_default_version: bool,
}

/// One consistent view of the replica. Cheap to clone; never changes once published.
#[derive(Debug, Clone)]
pub struct ReplicaSnapshot {
    revision: u64,
    apis: Map<Arc<str>, Arc<DeployedApi>>,
    contexts: Map<Box<str>, ContextTarget>,
    max_context_depth: usize,
    applications: Map<Arc<str>, Arc<ApplicationEntry>>,
    /// Application uuid → API uuid → subscription.
    subscriptions: Map<Arc<str>, Map<Arc<str>, Arc<Subscription>>>,
    /// Subscription uuid → (application uuid, API uuid).
    subscription_index: Map<Arc<str>, (Arc<str>, Arc<str>)>,
    subscription_count: usize,
    key_mappings: Map<Arc<str>, Arc<KeyMapping>>,
    policies: Arc<PolicySet>,
    block_conditions: Map<Arc<str>, BlockCondition>,
    blocking: Arc<BlockingConditions>,
    /// JWT signature, `jti` or opaque-token digest → expiry, unix milliseconds.
    revoked: Map<Box<str>, i64>,
    revoked_subjects: Map<RevocationSubject, i64>,
}

impl Default for ReplicaSnapshot {
    fn default() -> Self {
        Self {
            revision: 0,
            apis: Map::default(),
            contexts: Map::default(),
            max_context_depth: 0,
            applications: Map::default(),
            subscriptions: Map::default(),
            subscription_index: Map::default(),
            subscription_count: 0,
            key_mappings: Map::default(),
            policies: Arc::new(PolicySet::wso2_defaults()),
            block_conditions: Map::default(),
            blocking: Arc::new(BlockingConditions::new()),
            revoked: Map::default(),
            revoked_subjects: Map::default(),
        }
    }
}

/// Whether gateways serve an API in this state. A blocked API is still routed, so its
/// callers get 900907 rather than 404; created and retired ones are not deployed.
fn is_deployed(status: ApiStatus) -> bool {
    status.is_invocable() || status == ApiStatus::Blocked
}

impl ReplicaSnapshot {
    /// The revision of the last change taken in.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The API claiming the longest context prefix of `path`.
    pub fn resolve_context(&self, path: &str) -> Option<ContextMatch> {
        let (ends, count) = prefix_ends(path);
        let count = count.min(self.max_context_depth);
        for &end in ends.get(..count).unwrap_or_default().iter().rev() {
            let Some(prefix) = path.get(..end) else {
                continue;
            };
            if let Some(target) = self.contexts.get(prefix) {
                return Some(ContextMatch {
                    api: target.api.clone(),
                    via_default_version: target.via_default_version,
                    prefix_len: end,
                });
            }
        }
        None
    }

    /// The API and resource for `verb` and `path`.
    pub fn route(&self, verb: &str, path: &str) -> Result<RouteMatch, RouteError> {
        let found = self.resolve_context(path).ok_or(RouteError::NoApi)?;
        crate::route::match_resource(found, verb, path)
    }

    /// An API by uuid.
    pub fn api(&self, uuid: &str) -> Option<&Arc<DeployedApi>> {
        self.apis.get(uuid)
    }

    /// An application by uuid.
    pub fn application(&self, uuid: &str) -> Option<&Arc<ApplicationEntry>> {
        self.applications.get(uuid)
    }

    /// The subscription of an application to an API.
    pub fn subscription(
        &self,
        application_uuid: &str,
        api_uuid: &str,
    ) -> Option<&Arc<Subscription>> {
        self.subscriptions.get(application_uuid)?.get(api_uuid)
    }

    /// The key mapping of a consumer key.
    pub fn key_mapping(&self, consumer_key: &str) -> Option<&Arc<KeyMapping>> {
        self.key_mappings.get(consumer_key)
    }

    /// The compiled throttling policies.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The enabled deny conditions.
    pub fn blocking(&self) -> &BlockingConditions {
        &self.blocking
    }

    /// Whether a token identified by `id` (JWT signature, `jti` or opaque digest) is
    /// revoked at `now_ms`.
    pub fn is_revoked(&self, id: &str, now_ms: i64) -> bool {
        self.revoked.get(id).is_some_and(|&expiry| expiry > now_ms)
    }

    /// Whether a token of this client or user issued at `issued_at_ms` is revoked by a
    /// revoke-all.
    pub fn is_revoked_for(&self, subject: &RevocationSubject, issued_at_ms: i64) -> bool {
        self.revoked_subjects
            .get(subject)
            .is_some_and(|&before| issued_at_ms < before)
    }

    /// Whether any revoke-all is in force (to skip building subjects when none is).
    pub fn has_subject_revocations(&self) -> bool {
        !self.revoked_subjects.is_empty()
    }

    /// Number of deployed APIs.
    pub fn api_count(&self) -> usize {
        self.apis.len()
    }

    /// Number of subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.subscription_count
    }

    /// Number of revoked-token records.
    pub fn revoked_count(&self) -> usize {
        self.revoked.len()
    }

    fn unroute(&mut self, api: &DeployedApi) {
        let uuid = api.api.uuid.as_str();
        let contexts = [Some(&api.versioned_context), api.default_context.as_ref()];
        for context in contexts.into_iter().flatten() {
            if self
                .contexts
                .get(&**context)
                .is_some_and(|t| t.api.api.uuid == uuid)
            {
                self.contexts.remove(&**context);
            }
        }
    }

    fn route_api(&mut self, api: &Arc<DeployedApi>) {
        let contexts = [
            (Some(&api.versioned_context), false),
            (api.default_context.as_ref(), true),
        ];
        for (context, via_default_version) in contexts {
            let Some(context) = context else { continue };
            let depth = prefix_ends(context).1;
            self.max_context_depth = self.max_context_depth.max(depth);
            self.contexts.insert(
                context.clone(),
                ContextTarget {
                    api: api.clone(),
                    via_default_version,
                },
            );
        }
    }

    fn upsert_api(&mut self, api: Api) -> Result<(), ReplicaError> {
        let uuid: Arc<str> = api.uuid.as_str().into();
        if let Some(old) = self.apis.remove(&*uuid) {
            self.unroute(&old);
        }
        if !is_deployed(api.status) {
            return Ok(());
        }
        let deployed = Arc::new(DeployedApi::compile(api)?);
        self.route_api(&deployed);
        self.apis.insert(uuid, deployed);
        Ok(())
    }

    fn delete_api(&mut self, uuid: &str) {
        if let Some(old) = self.apis.remove(uuid) {
            self.unroute(&old);
        }
    }

    fn upsert_subscription(&mut self, subscription: Subscription) {
        self.delete_subscription(&subscription.uuid);
        let app: Arc<str> = subscription.application_uuid.as_str().into();
        let api: Arc<str> = subscription.api_uuid.as_str().into();
        let uuid: Arc<str> = subscription.uuid.as_str().into();
        let mut of_app = self.subscriptions.get(&*app).cloned().unwrap_or_default();
        if let Some(previous) = of_app.insert(api.clone(), Arc::new(subscription)) {
            // Another record for the same pair: it is replaced.
            self.subscription_index.remove(previous.uuid.as_str());
        } else {
            self.subscription_count += 1;
        }
        self.subscriptions.insert(app.clone(), of_app);
        self.subscription_index.insert(uuid, (app, api));
    }

    fn delete_subscription(&mut self, uuid: &str) {
        let Some((app, api)) = self.subscription_index.remove(uuid) else {
            return;
        };
        let Some(mut of_app) = self.subscriptions.get(&*app).cloned() else {
            return;
        };
        if of_app.remove(&*api).is_some() {
            self.subscription_count = self.subscription_count.saturating_sub(1);
        }
        if of_app.is_empty() {
            self.subscriptions.remove(&*app);
        } else {
            self.subscriptions.insert(app, of_app);
        }
    }

    fn delete_application(&mut self, uuid: &str) {
        self.applications.remove(uuid);
        if let Some(of_app) = self.subscriptions.remove(uuid) {
            self.subscription_count = self.subscription_count.saturating_sub(of_app.len());
            for subscription in of_app.values() {
                self.subscription_index.remove(subscription.uuid.as_str());
            }
        }
    }

    fn policy_error(name: &str, error: ThrottleError) -> ReplicaError {
        ReplicaError::Policy {
            name: name.to_owned(),
            error,
        }
    }

    fn change_policies(
        &mut self,
        change: impl FnOnce(&mut PolicySet) -> Result<(), ThrottleError>,
        name: &str,
    ) -> Result<(), ReplicaError> {
        let mut policies = (*self.policies).clone();
        change(&mut policies).map_err(|e| Self::policy_error(name, e))?;
        self.policies = Arc::new(policies);
        Ok(())
    }

    fn revoke(&mut self, token: RevokedToken) {
        let expiry = token.expiry_time_ms;
        self.revoked.insert(token.signature.into(), expiry);
    }

    /// Takes one change in.
    fn apply(&mut self, change: ReplicaChange) -> Result<(), ReplicaError> {
        match change {
            ReplicaChange::ApiUpserted(api) => self.upsert_api(api)?,
            ReplicaChange::ApiDeleted { uuid } => self.delete_api(&uuid),
            ReplicaChange::ApplicationUpserted(app) => {
                let uuid: Arc<str> = app.uuid.as_str().into();
                self.applications
                    .insert(uuid, Arc::new(ApplicationEntry::new(app)));
            }
            ReplicaChange::ApplicationDeleted { uuid } => self.delete_application(&uuid),
            ReplicaChange::SubscriptionUpserted(subscription) => {
                self.upsert_subscription(subscription);
            }
            ReplicaChange::SubscriptionDeleted { uuid } => self.delete_subscription(&uuid),
            ReplicaChange::KeyMappingUpserted(mapping) => {
                let key: Arc<str> = mapping.consumer_key.as_str().into();
                self.key_mappings.insert(key, Arc::new(mapping));
            }
            ReplicaChange::KeyMappingDeleted { consumer_key } => {
                self.key_mappings.remove(consumer_key.as_str());
            }
            ReplicaChange::SubscriptionPolicyUpserted(policy) => {
                self.change_policies(|p| p.insert_subscription(&policy), &policy.name)?;
            }
            ReplicaChange::SubscriptionPolicyDeleted { name } => {
                self.change_policies(
                    |p| {
                        p.remove_subscription(&name);
                        Ok(())
                    },
                    &name,
                )?;
            }
            ReplicaChange::ApplicationPolicyUpserted(policy) => {
                self.change_policies(|p| p.insert_application(&policy), &policy.name)?;
            }
            ReplicaChange::ApplicationPolicyDeleted { name } => {
                self.change_policies(
                    |p| {
                        p.remove_application(&name);
                        Ok(())
                    },
                    &name,
                )?;
            }
            ReplicaChange::ApiPolicyUpserted(policy) => {
                self.change_policies(|p| p.insert_api(&policy), &policy.name)?;
            }
            ReplicaChange::ApiPolicyDeleted { name } => {
                self.change_policies(
                    |p| {
                        p.remove_api(&name);
                        Ok(())
                    },
                    &name,
                )?;
            }
            ReplicaChange::GlobalPolicyUpserted(policy) => {
                self.change_policies(|p| p.insert_global(&policy), &policy.name)?;
            }
            ReplicaChange::GlobalPolicyDeleted { name } => {
                self.change_policies(
                    |p| {
                        p.remove_custom(&name);
                        Ok(())
                    },
                    &name,
                )?;
            }
            ReplicaChange::BlockConditionUpserted(condition) => {
                let mut blocking = (*self.blocking).clone();
                blocking
                    .upsert(&condition)
                    .map_err(|error| ReplicaError::BlockCondition {
                        uuid: condition.uuid.clone(),
                        error,
                    })?;
                self.blocking = Arc::new(blocking);
                self.block_conditions
                    .insert(condition.uuid.as_str().into(), condition);
            }
            ReplicaChange::BlockConditionDeleted { uuid } => {
                if self.block_conditions.remove(uuid.as_str()).is_some() {
                    let mut blocking = (*self.blocking).clone();
                    blocking.remove(&uuid);
                    self.blocking = Arc::new(blocking);
                }
            }
            ReplicaChange::TokenRevoked(token) => self.revoke(token),
            ReplicaChange::RevokedAll {
                subject,
                issued_before_ms,
            } => {
                let before = self
                    .revoked_subjects
                    .get(&subject)
                    .map_or(issued_before_ms, |&b| b.max(issued_before_ms));
                self.revoked_subjects.insert(subject, before);
            }
        }
        Ok(())
    }

    /// Builds a snapshot from a full data set; answers what could not be taken in.
    fn from_data(data: ReplicaData) -> (Self, Vec<ReplicaError>) {
        let mut snapshot = Self {
            revision: data.revision,
            ..Self::default()
        };
        let mut errors = Vec::new();
        for api in data.apis {
            if let Err(e) = snapshot.upsert_api(api) {
                errors.push(e);
            }
        }
        for app in data.applications {
            let uuid: Arc<str> = app.uuid.as_str().into();
            snapshot
                .applications
                .insert(uuid, Arc::new(ApplicationEntry::new(app)));
        }
        for subscription in data.subscriptions {
            snapshot.upsert_subscription(subscription);
        }
        for mapping in data.key_mappings {
            let key: Arc<str> = mapping.consumer_key.as_str().into();
            snapshot.key_mappings.insert(key, Arc::new(mapping));
        }
        let mut policies = PolicySet::wso2_defaults();
        let results = data
            .subscription_policies
            .iter()
            .map(|p| (p.name.as_str(), policies.insert_subscription(p)))
            .collect::<Vec<_>>();
        let mut policy_errors: Vec<ReplicaError> = results
            .into_iter()
            .filter_map(|(name, r)| r.err().map(|e| Self::policy_error(name, e)))
            .collect();
        for p in &data.application_policies {
            if let Err(e) = policies.insert_application(p) {
                policy_errors.push(Self::policy_error(&p.name, e));
            }
        }
        for p in &data.api_policies {
            if let Err(e) = policies.insert_api(p) {
                policy_errors.push(Self::policy_error(&p.name, e));
            }
        }
        for p in &data.global_policies {
            if let Err(e) = policies.insert_global(p) {
                policy_errors.push(Self::policy_error(&p.name, e));
            }
        }
        errors.extend(policy_errors);
        snapshot.policies = Arc::new(policies);
        let mut blocking = BlockingConditions::new();
        for condition in data.block_conditions {
            if let Err(error) = blocking.upsert(&condition) {
                errors.push(ReplicaError::BlockCondition {
                    uuid: condition.uuid.clone(),
                    error,
                });
                continue;
            }
            snapshot
                .block_conditions
                .insert(condition.uuid.as_str().into(), condition);
        }
        snapshot.blocking = Arc::new(blocking);
        for token in data.revoked_tokens {
            snapshot.revoke(token);
        }
        for revocation in data.subject_revocations {
            snapshot
                .revoked_subjects
                .insert(revocation.subject, revocation.issued_before_ms);
        }
        (snapshot, errors)
    }
}

/// The replica: the current snapshot, swapped whole on every change.
#[derive(Debug, Default)]
pub struct Replica {
    current: ArcSwap<ReplicaSnapshot>,
    /// Serializes writers so no change is lost between load and store.
    writer: Mutex<()>,
}

impl Replica {
    /// An empty replica at revision 0, with WSO2's default throttling tiers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current snapshot: one atomic load.
    pub fn snapshot(&self) -> Arc<ReplicaSnapshot> {
        self.current.load_full()
    }

    /// The revision of the current snapshot.
    pub fn revision(&self) -> u64 {
        self.current.load().revision
    }

    fn write<T>(&self, change: impl FnOnce(&mut ReplicaSnapshot) -> T) -> T {
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = ReplicaSnapshot::clone(&self.current.load());
        let outcome = change(&mut next);
        self.current.store(Arc::new(next));
        outcome
    }

    /// Replaces everything with a full snapshot; answers what in it could not be taken
    /// in (those records are left out, the rest serves).
    pub fn load_snapshot(&self, data: ReplicaData) -> Vec<ReplicaError> {
        let (snapshot, errors) = ReplicaSnapshot::from_data(data);
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.current.store(Arc::new(snapshot));
        errors
    }

    /// Applies one change outside the revision sequence (tests, local administration).
    pub fn apply(&self, change: ReplicaChange) -> Result<(), ReplicaError> {
        self.write(|next| next.apply(change))
    }

    /// Applies the change of the event with `revision`: the next revision is applied,
    /// an old one ignored, and a gap answered with [`ApplyOutcome::NeedSnapshot`].
    pub fn apply_event(&self, revision: u64, change: ReplicaChange) -> ApplyOutcome {
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.current.load();
        let expected = current.revision.saturating_add(1);
        if revision < expected {
            return ApplyOutcome::Stale;
        }
        if revision > expected {
            return ApplyOutcome::NeedSnapshot {
                expected,
                received: revision,
            };
        }
        let mut next = ReplicaSnapshot::clone(&current);
        let outcome = match next.apply(change) {
            Ok(()) => ApplyOutcome::Applied,
            Err(error) => ApplyOutcome::Skipped(error),
        };
        next.revision = revision;
        self.current.store(Arc::new(next));
        outcome
    }

    /// Forgets revoked-token records whose tokens have expired anyway; answers how many
    /// went.
    pub fn purge_expired_revocations(&self, now_ms: i64) -> usize {
        self.write(|next| {
            let before = next.revoked.len();
            next.revoked.retain(|_, expiry| *expiry > now_ms);
            before - next.revoked.len()
        })
    }
}

#[cfg(test)]
mod tests;
