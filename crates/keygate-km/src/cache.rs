//! What the token endpoint reads on every request and what seldom changes, kept in
//! memory for [`LOOKUP_TTL`] at most: client registrations by client id, scopes (with
//! their role bindings, or the fact that no such scope exists) by name, and users' roles
//! by username.
//!
//! Changes made through this key manager (client registration, update, secret
//! regeneration and deletion, revoking a user's tokens) drop the entries they touch at
//! once. Changes made elsewhere — another node, the control plane, the user store — are
//! seen after [`LOOKUP_TTL`], or at once when [`LookupCache::invalidate`] is called with
//! the domain and key that changed: the hook that `keygate.cache.invalidation.<domain>`
//! messages on the event bus (DESIGN §5) reach.
//!
//! A value read from the database is kept only if no invalidation of its domain happened
//! while it was being read, so that a change and its invalidation racing a read never
//! leave the old value behind.

use keygate_model::{OAuthClient, Scope};
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Longest an entry is served without reading the database again.
pub const LOOKUP_TTL: Duration = Duration::from_secs(5);
/// Most entries kept per domain.
pub const LOOKUP_CAPACITY: u64 = 10_000;

/// Domain of client registrations; the key is the client id.
pub const CLIENT_DOMAIN: &str = "oauth_client";
/// Domain of scopes and their role bindings; the key is the scope name.
pub const SCOPE_DOMAIN: &str = "scope";
/// Domain of users' roles; the key is the username.
pub const USER_DOMAIN: &str = "user";

/// One cached domain, with the count of invalidations that guards against keeping a
/// value read before one of them.
struct Domain<V> {
    entries: Cache<String, V>,
    invalidations: AtomicU64,
}

/// Where a database read started: pass it back when keeping what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadMark(u64);

impl<V: Clone + Send + Sync + 'static> Domain<V> {
    fn new(ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(LOOKUP_CAPACITY)
                .time_to_live(ttl)
                .build(),
            invalidations: AtomicU64::new(0),
        }
    }

    fn get(&self, key: &str) -> Option<V> {
        self.entries.get(key)
    }

    fn mark(&self) -> ReadMark {
        ReadMark(self.invalidations.load(Ordering::Acquire))
    }

    fn keep(&self, mark: ReadMark, key: &str, value: V) {
        self.entries.insert(key.to_owned(), value);
        // An invalidation since the read began may have missed what was just inserted.
        if self.invalidations.load(Ordering::Acquire) != mark.0 {
            self.entries.invalidate(key);
        }
    }

    fn invalidate(&self, key: &str) {
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(key);
    }

    fn clear(&self) {
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}

/// The key manager's cache of clients, scopes and users' roles.
pub struct LookupCache {
    clients: Domain<Arc<OAuthClient>>,
    scopes: Domain<Option<Arc<Scope>>>,
    roles: Domain<Arc<[String]>>,
    /// `(domain, key)` of every change made here, for other nodes' caches.
    changes: tokio::sync::broadcast::Sender<(String, String)>,
}

/// Changes remembered for a slow listener of [`LookupCache::changes`] before it lags.
const CHANGES_BUFFER: usize = 1024;

impl std::fmt::Debug for LookupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupCache")
            .field("clients", &self.clients.entries.entry_count())
            .field("scopes", &self.scopes.entries.entry_count())
            .field("roles", &self.roles.entries.entry_count())
            .finish()
    }
}

impl Default for LookupCache {
    fn default() -> Self {
        Self::new(LOOKUP_TTL)
    }
}

impl LookupCache {
    /// A cache whose entries live at most `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            clients: Domain::new(ttl),
            scopes: Domain::new(ttl),
            roles: Domain::new(ttl),
            changes: tokio::sync::broadcast::channel(CHANGES_BUFFER).0,
        }
    }

    /// Drops `key` of `domain` after a change made by this node, and tells
    /// [`LookupCache::changes`]' listeners, so other nodes drop it too.
    pub fn changed(&self, domain: &str, key: &str) {
        self.invalidate(domain, key);
        let _ = self.changes.send((domain.to_owned(), key.to_owned()));
    }

    /// The `(domain, key)` of every change made by this node from now on (not those
    /// invalidated on another node's word).
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<(String, String)> {
        self.changes.subscribe()
    }

    /// Drops what is cached under `key` in `domain` ([`CLIENT_DOMAIN`], [`SCOPE_DOMAIN`]
    /// or [`USER_DOMAIN`]). Returns whether the domain is one of these; other domains'
    /// invalidations are not the key manager's business.
    pub fn invalidate(&self, domain: &str, key: &str) -> bool {
        match domain {
            CLIENT_DOMAIN => self.clients.invalidate(key),
            SCOPE_DOMAIN => self.scopes.invalidate(key),
            USER_DOMAIN => self.roles.invalidate(key),
            _ => return false,
        }
        true
    }

    /// Drops everything, e.g. after the bus was unreachable and invalidations may have
    /// been missed.
    pub fn invalidate_all(&self) {
        self.clients.clear();
        self.scopes.clear();
        self.roles.clear();
    }

    /// A cached client registration.
    pub(crate) fn client(&self, client_id: &str) -> Option<Arc<OAuthClient>> {
        self.clients.get(client_id)
    }

    /// Where a read of a client starts.
    pub(crate) fn client_mark(&self) -> ReadMark {
        self.clients.mark()
    }

    /// Keeps a client read from the database since `mark`.
    pub(crate) fn keep_client(&self, mark: ReadMark, client: Arc<OAuthClient>) {
        let key = client.client_id.clone();
        self.clients.keep(mark, &key, client);
    }

    /// A cached scope: `Some(None)` when it is known not to exist.
    pub(crate) fn scope(&self, name: &str) -> Option<Option<Arc<Scope>>> {
        self.scopes.get(name)
    }

    /// Where a read of a scope starts.
    pub(crate) fn scope_mark(&self) -> ReadMark {
        self.scopes.mark()
    }

    /// Keeps what the database said of scope `name` since `mark`.
    pub(crate) fn keep_scope(&self, mark: ReadMark, name: &str, scope: Option<Arc<Scope>>) {
        self.scopes.keep(mark, name, scope);
    }

    /// A user's cached roles.
    pub(crate) fn roles(&self, username: &str) -> Option<Arc<[String]>> {
        self.roles.get(username)
    }

    /// Where a read of a user's roles starts.
    pub(crate) fn roles_mark(&self) -> ReadMark {
        self.roles.mark()
    }

    /// Keeps a user's roles read from the database since `mark`.
    pub(crate) fn keep_roles(&self, mark: ReadMark, username: &str, roles: Arc<[String]>) {
        self.roles.keep(mark, username, roles);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_model::Tenant;

    fn scope(name: &str) -> Arc<Scope> {
        Arc::new(Scope {
            tenant: Tenant::default(),
            name: name.into(),
            display_name: name.into(),
            description: None,
            roles: vec!["admin".into()],
        })
    }

    #[test]
    fn invalidation_drops_one_key_of_one_domain() {
        let cache = LookupCache::default();
        cache.keep_scope(cache.scope_mark(), "read", Some(scope("read")));
        cache.keep_scope(cache.scope_mark(), "write", None);
        cache.keep_roles(cache.roles_mark(), "read", Arc::from(["r".to_owned()]));
        assert_eq!(cache.scope("write"), Some(None), "absence is cached");
        assert!(cache.invalidate(SCOPE_DOMAIN, "read"));
        assert_eq!(cache.scope("read"), None);
        assert_eq!(cache.scope("write"), Some(None));
        assert!(
            cache.roles("read").is_some(),
            "another domain, same key: kept"
        );
        assert!(!cache.invalidate("gateway_resource", "write"));
        assert_eq!(cache.scope("write"), Some(None));
        cache.invalidate_all();
        assert_eq!(cache.scope("write"), None);
        assert!(cache.roles("read").is_none());
    }

    #[test]
    fn a_read_overtaken_by_an_invalidation_is_not_kept() {
        let cache = LookupCache::default();
        let mark = cache.roles_mark();
        // The roles change and are invalidated while the old ones are being read.
        assert!(cache.invalidate(USER_DOMAIN, "alice"));
        cache.keep_roles(mark, "alice", Arc::from(["old-role".to_owned()]));
        assert!(cache.roles("alice").is_none());
        let fresh = cache.roles_mark();
        cache.keep_roles(fresh, "alice", Arc::from(["new-role".to_owned()]));
        assert_eq!(
            cache.roles("alice").as_deref(),
            Some(&["new-role".to_owned()][..])
        );
    }
}
