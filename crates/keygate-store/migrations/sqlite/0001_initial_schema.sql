-- keygate schema, version 1 (SQLite). One schema serves both apim_db and shared_db.

-- shared_db: users, roles, claims
CREATE TABLE kg_user (
    id TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    UNIQUE (tenant, username)
);

CREATE TABLE kg_role (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE kg_user_role (
    user_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role_name TEXT NOT NULL,
    PRIMARY KEY (user_id, role_name),
    FOREIGN KEY (tenant, role_name) REFERENCES kg_role (tenant, name) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES kg_user (id) ON DELETE CASCADE
);
CREATE INDEX kg_user_role_role ON kg_user_role (tenant, role_name);

CREATE TABLE kg_user_claim (
    user_id TEXT NOT NULL,
    claim_uri TEXT NOT NULL,
    claim_value TEXT NOT NULL,
    PRIMARY KEY (user_id, claim_uri),
    FOREIGN KEY (user_id) REFERENCES kg_user (id) ON DELETE CASCADE
);

-- apim_db: APIs and their resources
CREATE TABLE kg_api (
    uuid TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    provider TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    context TEXT NOT NULL,
    is_default_version INTEGER NOT NULL,
    production_endpoint TEXT,
    sandbox_endpoint TEXT,
    status TEXT NOT NULL,
    api_tier TEXT,
    subscription_tiers TEXT NOT NULL,
    revision INTEGER NOT NULL,
    deployed_revision INTEGER,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    UNIQUE (tenant, provider, name, version),
    UNIQUE (tenant, context, version)
);
CREATE INDEX kg_api_tenant_name ON kg_api (tenant, name);

CREATE TABLE kg_api_resource (
    api_uuid TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    url_pattern TEXT NOT NULL,
    http_verb TEXT NOT NULL,
    auth_scheme TEXT NOT NULL,
    throttling_tier TEXT NOT NULL,
    scopes TEXT NOT NULL,
    PRIMARY KEY (api_uuid, url_pattern, http_verb),
    FOREIGN KEY (api_uuid) REFERENCES kg_api (uuid) ON DELETE CASCADE
);

-- applications, subscriptions, key mappings
CREATE TABLE kg_application (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    tier TEXT NOT NULL,
    callback_url TEXT,
    status TEXT NOT NULL,
    group_id TEXT,
    token_type TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    UNIQUE (tenant, owner, name)
);
CREATE INDEX kg_application_group ON kg_application (tenant, group_id);

CREATE TABLE kg_subscription (
    uuid TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    application_uuid TEXT NOT NULL,
    api_uuid TEXT NOT NULL,
    tier TEXT NOT NULL,
    status TEXT NOT NULL,
    create_state TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    UNIQUE (application_uuid, api_uuid),
    FOREIGN KEY (application_uuid) REFERENCES kg_application (uuid) ON DELETE CASCADE,
    FOREIGN KEY (api_uuid) REFERENCES kg_api (uuid) ON DELETE CASCADE
);
CREATE INDEX kg_subscription_api ON kg_subscription (api_uuid);
CREATE INDEX kg_subscription_tenant ON kg_subscription (tenant);

CREATE TABLE kg_key_mapping (
    uuid TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    application_uuid TEXT NOT NULL,
    consumer_key TEXT NOT NULL UNIQUE,
    key_type TEXT NOT NULL,
    state TEXT NOT NULL,
    key_manager TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (application_uuid, key_type, key_manager),
    FOREIGN KEY (application_uuid) REFERENCES kg_application (uuid) ON DELETE CASCADE
);
CREATE INDEX kg_key_mapping_tenant ON kg_key_mapping (tenant);

-- OAuth clients, tokens, codes
CREATE TABLE kg_oauth_client (
    client_id TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    secret_digest BLOB,
    client_name TEXT NOT NULL,
    owner TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    pkce_mandatory INTEGER NOT NULL,
    pkce_plain_allowed INTEGER NOT NULL,
    user_access_token_ms INTEGER,
    application_access_token_ms INTEGER,
    refresh_token_ms INTEGER,
    id_token_ms INTEGER,
    token_type TEXT NOT NULL,
    jwks TEXT,
    jwks_uri TEXT,
    tls_client_auth_subject_dn TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX kg_oauth_client_owner ON kg_oauth_client (tenant, owner);

CREATE TABLE kg_access_token (
    token_id TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    token_value TEXT,
    refresh_token_digest TEXT UNIQUE,
    refresh_token_value TEXT,
    refresh_family_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    grant_type TEXT NOT NULL,
    scopes TEXT NOT NULL,
    issued_at_ms INTEGER NOT NULL,
    validity_ms INTEGER NOT NULL,
    refresh_issued_at_ms INTEGER,
    refresh_validity_ms INTEGER,
    state TEXT NOT NULL,
    binding_thumbprint TEXT,
    FOREIGN KEY (client_id) REFERENCES kg_oauth_client (client_id) ON DELETE CASCADE
);
CREATE INDEX kg_access_token_client_subject ON kg_access_token (client_id, subject);
CREATE INDEX kg_access_token_subject ON kg_access_token (tenant, subject);

CREATE TABLE kg_authorization_code (
    code_id TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    code_digest TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    redirect_uri TEXT,
    scopes TEXT NOT NULL,
    pkce_challenge TEXT,
    pkce_method TEXT,
    nonce TEXT,
    issued_at_ms INTEGER NOT NULL,
    validity_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    token_id TEXT,
    FOREIGN KEY (client_id) REFERENCES kg_oauth_client (client_id) ON DELETE CASCADE
);
CREATE INDEX kg_authorization_code_client ON kg_authorization_code (client_id);

-- scopes
CREATE TABLE kg_scope (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE kg_scope_role (
    tenant TEXT NOT NULL,
    scope_name TEXT NOT NULL,
    role_name TEXT NOT NULL,
    PRIMARY KEY (tenant, scope_name, role_name),
    FOREIGN KEY (tenant, scope_name) REFERENCES kg_scope (tenant, name) ON DELETE CASCADE
);
CREATE INDEX kg_scope_role_role ON kg_scope_role (tenant, role_name);

-- throttling policies
CREATE TABLE kg_subscription_policy (
    uuid TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    quota_type TEXT NOT NULL,
    request_count INTEGER,
    data_amount INTEGER,
    data_unit TEXT,
    unit_time INTEGER NOT NULL,
    time_unit TEXT NOT NULL,
    spike_arrest_limit INTEGER,
    spike_arrest_unit TEXT,
    stop_on_quota_reach INTEGER NOT NULL,
    billing_plan TEXT NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE kg_application_policy (
    uuid TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    quota_type TEXT NOT NULL,
    request_count INTEGER,
    data_amount INTEGER,
    data_unit TEXT,
    unit_time INTEGER NOT NULL,
    time_unit TEXT NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE kg_api_policy (
    uuid TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    policy_level TEXT NOT NULL,
    quota_type TEXT NOT NULL,
    request_count INTEGER,
    data_amount INTEGER,
    data_unit TEXT,
    unit_time INTEGER NOT NULL,
    time_unit TEXT NOT NULL,
    condition_groups TEXT NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE kg_global_policy (
    uuid TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    key_template TEXT NOT NULL,
    siddhi_query TEXT NOT NULL,
    is_deployed INTEGER NOT NULL,
    UNIQUE (tenant, name),
    UNIQUE (tenant, key_template)
);

-- deny conditions and revoked tokens
CREATE TABLE kg_block_condition (
    uuid TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    condition_type TEXT NOT NULL,
    condition_value TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    UNIQUE (tenant, condition_type, condition_value)
);

CREATE TABLE kg_revoked_token (
    signature TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    token_type TEXT NOT NULL,
    expiry_time_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER NOT NULL
);
