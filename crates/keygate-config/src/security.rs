//! Who may do what, and with which keys: `[user_store]`, `[keystore.*]` and
//! `[truststore]`, `[[event_listener]]` (mutual-TLS client authentication among them),
//! `[resource_access_control]` and `[[resource.access_control]]`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use keygate_model::Secret;
use regex::Regex;

use crate::assemble::Assembler;
use crate::defaults;
use crate::file::{
    AccessControlFile, EventListenerFile, KeystoreFile, KeystoresFile, PropertyFile,
    ResourceAccessControlFile, ResourceFile, UserStoreFile,
};

/// The event-listener id that turns on RFC 8705 mutual-TLS client authentication.
pub const MUTUAL_TLS_AUTHENTICATOR: &str = "mutual_tls_authenticator";

/// Free-form `properties` of a table; values of keys that look like secrets
/// (`password`, `*_password`, `secret`, ...) are hidden from `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties(BTreeMap<String, String>);

impl Properties {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Every property, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn from_file(file: Option<BTreeMap<String, PropertyFile>>) -> Self {
        Self(
            file.unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_text()))
                .collect(),
        )
    }
}

/// Whether a key name marks a secret value.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("secret") || key.ends_with("_key") || key == "key"
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let shown = if is_secret_key(k) { "***" } else { v.as_str() };
                (k, shown)
            }))
            .finish()
    }
}

/// Where users and roles live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserStoreKind {
    /// `database_unique_id`: users in `shared_db`.
    #[default]
    Database,
    /// `read_only_ldap_unique_id`.
    ReadOnlyLdap,
    /// `read_write_ldap_unique_id`.
    ReadWriteLdap,
    /// `active_directory_unique_id`.
    ActiveDirectory,
}

const USER_STORE_TYPES: &str = "`database_unique_id`, `read_only_ldap_unique_id`, `read_write_ldap_unique_id` or `active_directory_unique_id`";

impl UserStoreKind {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let base = text.strip_suffix("_unique_id").unwrap_or(&text);
        match base {
            "database" | "jdbc" => Some(Self::Database),
            "read_only_ldap" => Some(Self::ReadOnlyLdap),
            "read_write_ldap" => Some(Self::ReadWriteLdap),
            "active_directory" => Some(Self::ActiveDirectory),
            _ => None,
        }
    }

    /// Whether users live in a directory server.
    pub fn is_ldap(self) -> bool {
        self != Self::Database
    }
}

/// `[user_store]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserStoreSettings {
    /// Where users live.
    pub kind: UserStoreKind,
    /// The directory server, for the LDAP kinds.
    pub ldap: Option<LdapSettings>,
    /// `[user_store.properties]`.
    pub properties: Properties,
}

/// A directory server holding users and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapSettings {
    /// `ldap://` or `ldaps://` URL.
    pub connection_url: String,
    /// Bind DN.
    pub connection_name: Option<String>,
    /// Bind password.
    pub connection_password: Option<Secret>,
    /// Root of the directory.
    pub base_dn: Option<String>,
    /// Where users are searched (default: `base_dn`).
    pub user_search_base: String,
    /// Attribute holding the user name.
    pub user_name_attribute: String,
    /// Filter finding one user; `?` stands for the name.
    pub user_name_search_filter: String,
    /// Filter listing users.
    pub user_name_list_filter: String,
    /// Object class of user entries.
    pub user_entry_object_class: String,
    /// Attribute holding the immutable user id.
    pub user_id_attribute: String,
    /// Where groups are searched (default: `base_dn`).
    pub group_search_base: String,
    /// Attribute holding the group name.
    pub group_name_attribute: String,
    /// Filter finding one group; `?` stands for the name.
    pub group_name_search_filter: String,
    /// Filter listing groups.
    pub group_name_list_filter: String,
    /// Object class of group entries.
    pub group_entry_object_class: String,
    /// Attribute of a group listing its members.
    pub membership_attribute: String,
    /// Whether groups are read from the directory.
    pub read_groups: bool,
    /// Whether groups are written to the directory.
    pub write_groups: bool,
    /// Bind without credentials.
    pub anonymous_bind: bool,
}

pub(crate) fn user_store(a: &mut Assembler<'_>, file: UserStoreFile) -> UserStoreSettings {
    let kind = match file.kind.as_deref() {
        None => UserStoreKind::Database,
        Some(text) => UserStoreKind::parse(text).unwrap_or_else(|| {
            a.error(
                "user_store.type",
                format!("unknown user store type `{text}`, expected {USER_STORE_TYPES}"),
            );
            UserStoreKind::Database
        }),
    };
    let properties = Properties::from_file(file.properties.clone());
    if !kind.is_ldap() {
        let ldap_keys = [
            ("connection_url", file.connection_url.is_some()),
            ("connection_name", file.connection_name.is_some()),
            ("connection_password", file.connection_password.is_some()),
            ("base_dn", file.base_dn.is_some()),
            ("user_search_base", file.user_search_base.is_some()),
            ("group_search_base", file.group_search_base.is_some()),
        ];
        for (key, present) in ldap_keys {
            if present {
                a.warning(
                    format!("user_store.{key}"),
                    "only used by LDAP and Active Directory user stores, ignored",
                );
            }
        }
        return UserStoreSettings {
            kind,
            ldap: None,
            properties,
        };
    }
    let ldap = ldap_settings(a, kind, file);
    UserStoreSettings {
        kind,
        ldap,
        properties,
    }
}

fn ldap_settings(
    a: &mut Assembler<'_>,
    kind: UserStoreKind,
    file: UserStoreFile,
) -> Option<LdapSettings> {
    let ad = kind == UserStoreKind::ActiveDirectory;
    let connection_url = match file.connection_url {
        None => {
            a.error(
                "user_store.connection_url",
                "an LDAP user store needs `connection_url`",
            );
            return None;
        }
        Some(url) => {
            let lower = url.trim().to_ascii_lowercase();
            if !(lower.starts_with("ldap://") || lower.starts_with("ldaps://")) {
                a.error(
                    "user_store.connection_url",
                    "expected an ldap:// or ldaps:// URL",
                );
                return None;
            }
            url.trim().to_owned()
        }
    };
    let base_dn = file.base_dn;
    let search_base = |given: Option<String>, key: &str, a: &mut Assembler<'_>| {
        given.or_else(|| base_dn.clone()).unwrap_or_else(|| {
            a.error(
                format!("user_store.{key}"),
                format!("give `{key}` or `base_dn`"),
            );
            String::new()
        })
    };
    let user_search_base = search_base(file.user_search_base, "user_search_base", a);
    let group_search_base = search_base(file.group_search_base, "group_search_base", a);
    let user_name_attribute = file.user_name_attribute.unwrap_or_else(|| {
        if ad {
            defaults::AD_USER_NAME_ATTRIBUTE
        } else {
            defaults::LDAP_USER_NAME_ATTRIBUTE
        }
        .to_owned()
    });
    let user_entry_object_class = file.user_entry_object_class.unwrap_or_else(|| {
        if ad {
            defaults::AD_USER_ENTRY_OBJECT_CLASS
        } else {
            defaults::LDAP_USER_ENTRY_OBJECT_CLASS
        }
        .to_owned()
    });
    let group_name_attribute = file
        .group_name_attribute
        .unwrap_or_else(|| defaults::LDAP_GROUP_NAME_ATTRIBUTE.to_owned());
    let group_entry_object_class = file.group_entry_object_class.unwrap_or_else(|| {
        if ad {
            defaults::AD_GROUP_ENTRY_OBJECT_CLASS
        } else {
            defaults::LDAP_GROUP_ENTRY_OBJECT_CLASS
        }
        .to_owned()
    });
    Some(LdapSettings {
        connection_url,
        connection_name: file.connection_name,
        connection_password: file.connection_password,
        base_dn,
        user_search_base,
        user_name_search_filter: file.user_name_search_filter.unwrap_or_else(|| {
            format!("(&(objectClass={user_entry_object_class})({user_name_attribute}=?))")
        }),
        user_name_list_filter: file
            .user_name_list_filter
            .unwrap_or_else(|| format!("(objectClass={user_entry_object_class})")),
        user_id_attribute: file
            .user_id_attribute
            .unwrap_or_else(|| if ad { "objectGuid" } else { "scimId" }.to_owned()),
        user_name_attribute,
        user_entry_object_class,
        group_search_base,
        group_name_search_filter: file.group_name_search_filter.unwrap_or_else(|| {
            format!("(&(objectClass={group_entry_object_class})({group_name_attribute}=?))")
        }),
        group_name_list_filter: file
            .group_name_list_filter
            .unwrap_or_else(|| format!("(objectClass={group_entry_object_class})")),
        group_name_attribute,
        group_entry_object_class,
        membership_attribute: file
            .membership_attribute
            .unwrap_or_else(|| defaults::LDAP_MEMBERSHIP_ATTRIBUTE.to_owned()),
        read_groups: file.read_groups.unwrap_or(true),
        write_groups: file
            .write_groups
            .unwrap_or(kind != UserStoreKind::ReadOnlyLdap),
        anonymous_bind: file.anonymous_bind.unwrap_or(false),
    })
}

/// The format of a key or trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeystoreKind {
    /// Java KeyStore, WSO2's default.
    Jks,
    /// PKCS#12 (`.p12`, `.pfx`).
    Pkcs12,
    /// PEM certificates and keys.
    Pem,
}

impl KeystoreKind {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "jks" => Some(Self::Jks),
            "pkcs12" | "p12" | "pfx" => Some(Self::Pkcs12),
            "pem" => Some(Self::Pem),
            _ => None,
        }
    }

    fn from_extension(file: &Path) -> Option<Self> {
        let ext = file.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jks" => Some(Self::Jks),
            "p12" | "pfx" => Some(Self::Pkcs12),
            "pem" | "crt" | "cer" | "key" => Some(Self::Pem),
            _ => None,
        }
    }
}

/// A key or trust store file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreRef {
    /// The file, resolved against the configuration file's directory.
    pub file: PathBuf,
    /// Its format.
    pub kind: KeystoreKind,
    /// Store password (empty for PEM without one).
    pub password: Secret,
    /// The entry to use.
    pub alias: Option<String>,
    /// Password of the private key, when it differs from the store's.
    pub key_password: Option<Secret>,
}

/// `[keystore.primary]`, `[keystore.tls]`, `[keystore.internal]`, `[truststore]`. As in
/// WSO2, `tls` and `internal` default to `primary`; all absent means keygate generates
/// its own keys under `data_dir`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keystores {
    /// Signs tokens.
    pub primary: Option<KeystoreRef>,
    /// Serves TLS.
    pub tls: Option<KeystoreRef>,
    /// Encrypts tokens and secrets at rest.
    pub internal: Option<KeystoreRef>,
    /// Trusted certificates (the key manager's, under `gateway_certificate_alias`).
    pub truststore: Option<KeystoreRef>,
}

pub(crate) fn keystores(
    a: &mut Assembler<'_>,
    file: KeystoresFile,
    truststore: Option<KeystoreFile>,
) -> Keystores {
    let primary = file
        .primary
        .and_then(|f| keystore(a, "keystore.primary", f));
    let tls = file.tls.and_then(|f| keystore(a, "keystore.tls", f));
    let internal = file
        .internal
        .and_then(|f| keystore(a, "keystore.internal", f));
    let truststore = truststore.and_then(|f| keystore(a, "truststore", f));
    Keystores {
        tls: tls.or_else(|| primary.clone()),
        internal: internal.or_else(|| primary.clone()),
        primary,
        truststore,
    }
}

fn keystore(a: &mut Assembler<'_>, table: &str, file: KeystoreFile) -> Option<KeystoreRef> {
    let Some(name) = file.file_name.filter(|n| !n.trim().is_empty()) else {
        a.error(format!("{table}.file_name"), "`file_name` is required");
        return None;
    };
    let path = PathBuf::from(name.trim());
    let path = if path.is_absolute() {
        path
    } else {
        a.config_dir.join(path)
    };
    let kind = match file.kind.as_deref() {
        Some(text) => match KeystoreKind::parse(text) {
            Some(kind) => kind,
            None => {
                a.error(
                    format!("{table}.type"),
                    format!("unknown store type `{text}`, expected `JKS`, `PKCS12` or `PEM`"),
                );
                return None;
            }
        },
        None => KeystoreKind::from_extension(&path).unwrap_or(KeystoreKind::Jks),
    };
    let password = match (file.password, kind) {
        (Some(p), _) => p,
        (None, KeystoreKind::Pem) => Secret::default(),
        (None, _) => {
            a.error(
                format!("{table}.password"),
                "a JKS or PKCS12 store needs its `password`",
            );
            return None;
        }
    };
    Some(KeystoreRef {
        file: path,
        kind,
        password,
        alias: file.alias,
        key_password: file.key_password,
    })
}

/// One `[[event_listener]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventListener {
    /// `id`.
    pub id: String,
    /// `type`: the WSO2 handler kind.
    pub kind: Option<String>,
    /// `name`: the WSO2 class name.
    pub name: Option<String>,
    /// `order`, written as a number or a string of digits.
    pub order: Option<i64>,
    /// `enable`, default true.
    pub enabled: bool,
    /// `[event_listener.properties]`.
    pub properties: Properties,
}

pub(crate) fn event_listeners(
    a: &mut Assembler<'_>,
    files: Vec<EventListenerFile>,
) -> Vec<EventListener> {
    let mut listeners = Vec::new();
    for (i, file) in files.into_iter().enumerate() {
        let table = format!("event_listener[{i}]");
        let Some(id) = file.id.filter(|id| !id.trim().is_empty()) else {
            a.error(format!("{table}.id"), "`id` is required");
            continue;
        };
        let order = match file.order {
            None => None,
            Some(PropertyFile::Integer(n)) => Some(n),
            Some(PropertyFile::Text(t)) if t.trim().parse::<i64>().is_ok() => {
                t.trim().parse::<i64>().ok()
            }
            Some(_) => {
                a.error(
                    format!("{table}.order"),
                    "expected an integer, or a string of digits",
                );
                None
            }
        };
        listeners.push(EventListener {
            id: id.trim().to_owned(),
            kind: file.kind,
            name: file.name,
            order,
            enabled: file.enable.unwrap_or(true),
            properties: Properties::from_file(file.properties),
        });
    }
    listeners
}

/// Which HTTP methods a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpMethods {
    /// `all`.
    All,
    /// The listed methods, upper case.
    Only(BTreeSet<String>),
}

impl HttpMethods {
    /// Whether `method` is covered.
    pub fn covers(&self, method: &str) -> bool {
        match self {
            HttpMethods::All => true,
            HttpMethods::Only(methods) => methods.contains(&method.to_ascii_uppercase()),
        }
    }
}

/// One `[[resource.access_control]]` rule.
#[derive(Debug, Clone)]
pub struct ResourceAccessRule {
    /// The context pattern as written (a regular expression over the request path).
    pub context: String,
    pattern: Regex,
    /// Whether the resource needs authentication.
    pub secure: bool,
    /// Methods the rule covers.
    pub http_methods: HttpMethods,
    /// Permissions required.
    pub permissions: Vec<String>,
    /// Scopes required.
    pub scopes: Vec<String>,
}

impl ResourceAccessRule {
    /// Whether the whole of `path` matches `context` (Java's `matches`).
    pub fn matches_context(&self, path: &str) -> bool {
        self.pattern.is_match(path)
    }
}

impl PartialEq for ResourceAccessRule {
    fn eq(&self, other: &Self) -> bool {
        self.context == other.context
            && self.secure == other.secure
            && self.http_methods == other.http_methods
            && self.permissions == other.permissions
            && self.scopes == other.scopes
    }
}

/// `[resource_access_control]` and its rules.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceAccessSettings {
    /// Whether a resource no rule covers is open.
    pub default_access_allow: bool,
    /// The rules, in file order.
    pub rules: Vec<ResourceAccessRule>,
}

pub(crate) fn resource_access(
    a: &mut Assembler<'_>,
    control: ResourceAccessControlFile,
    resource: ResourceFile,
) -> ResourceAccessSettings {
    let mut rules = Vec::new();
    for (i, file) in resource
        .access_control
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if let Some(rule) = access_rule(a, &format!("resource.access_control[{i}]"), file) {
            rules.push(rule);
        }
    }
    ResourceAccessSettings {
        default_access_allow: control.default_access_allow.unwrap_or(false),
        rules,
    }
}

fn access_rule(
    a: &mut Assembler<'_>,
    table: &str,
    file: AccessControlFile,
) -> Option<ResourceAccessRule> {
    let Some(context) = file.context else {
        a.error(format!("{table}.context"), "`context` is required");
        return None;
    };
    let pattern = match Regex::new(&format!("^(?:{context})$")) {
        Ok(pattern) => pattern,
        Err(e) => {
            let text = e.to_string();
            let reason = text
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or("it does not compile")
                .to_owned();
            a.error(
                format!("{table}.context"),
                format!("not a valid regular expression: {reason}"),
            );
            return None;
        }
    };
    let http_methods = match file.http_method.map(|m| m.into_vec()) {
        None => HttpMethods::All,
        Some(values) => {
            let methods: Vec<String> = values
                .iter()
                .flat_map(|v| v.split(','))
                .map(|m| m.trim().to_ascii_uppercase())
                .filter(|m| !m.is_empty())
                .collect();
            if methods.iter().any(|m| m == "ALL") {
                HttpMethods::All
            } else if methods.is_empty()
                || methods
                    .iter()
                    .any(|m| !m.bytes().all(|b| b.is_ascii_uppercase()))
            {
                a.error(
                    format!("{table}.http_method"),
                    "expected `all` or HTTP methods such as `GET` or `GET,POST`",
                );
                HttpMethods::All
            } else {
                HttpMethods::Only(methods.into_iter().collect())
            }
        }
    };
    Some(ResourceAccessRule {
        context,
        pattern,
        secure: file.secure.unwrap_or(true),
        http_methods,
        permissions: file.permissions.map(|p| p.into_vec()).unwrap_or_default(),
        scopes: file.scopes.map(|s| s.into_vec()).unwrap_or_default(),
    })
}
