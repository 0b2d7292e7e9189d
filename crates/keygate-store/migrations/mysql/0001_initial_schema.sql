-- keygate schema, version 1 (MySQL/MariaDB). One schema serves both apim_db and shared_db.

-- shared_db: users, roles, claims
CREATE TABLE kg_user (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    username VARCHAR(255) NOT NULL,
    password_hash TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (tenant, username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_role (
    tenant VARCHAR(128) NOT NULL,
    name VARCHAR(255) NOT NULL,
    PRIMARY KEY (tenant, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_user_role (
    user_id VARCHAR(64) NOT NULL,
    tenant VARCHAR(128) NOT NULL,
    role_name VARCHAR(255) NOT NULL,
    PRIMARY KEY (user_id, role_name),
    FOREIGN KEY (tenant, role_name) REFERENCES kg_role (tenant, name) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES kg_user (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_user_role_role ON kg_user_role (tenant, role_name);

CREATE TABLE kg_user_claim (
    user_id VARCHAR(64) NOT NULL,
    claim_uri VARCHAR(255) NOT NULL,
    claim_value TEXT NOT NULL,
    PRIMARY KEY (user_id, claim_uri),
    FOREIGN KEY (user_id) REFERENCES kg_user (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- apim_db: APIs and their resources
CREATE TABLE kg_api (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    provider VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    version VARCHAR(64) NOT NULL,
    context VARCHAR(255) NOT NULL,
    is_default_version BIGINT NOT NULL,
    production_endpoint TEXT,
    sandbox_endpoint TEXT,
    status VARCHAR(32) NOT NULL,
    api_tier TEXT,
    subscription_tiers TEXT NOT NULL,
    revision BIGINT NOT NULL,
    deployed_revision BIGINT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (tenant, provider, name, version),
    UNIQUE (tenant, context, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_api_tenant_name ON kg_api (tenant, name);

CREATE TABLE kg_api_resource (
    api_uuid VARCHAR(64) NOT NULL,
    ordinal BIGINT NOT NULL,
    url_pattern VARCHAR(512) NOT NULL,
    http_verb VARCHAR(16) NOT NULL,
    auth_scheme TEXT NOT NULL,
    throttling_tier TEXT NOT NULL,
    scopes TEXT NOT NULL,
    PRIMARY KEY (api_uuid, url_pattern, http_verb),
    FOREIGN KEY (api_uuid) REFERENCES kg_api (uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- applications, subscriptions, key mappings
CREATE TABLE kg_application (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(64) NOT NULL UNIQUE,
    tenant VARCHAR(128) NOT NULL,
    name VARCHAR(255) NOT NULL,
    owner VARCHAR(255) NOT NULL,
    tier TEXT NOT NULL,
    callback_url TEXT,
    status VARCHAR(32) NOT NULL,
    group_id VARCHAR(255),
    token_type TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (tenant, owner, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_application_group ON kg_application (tenant, group_id);

CREATE TABLE kg_subscription (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    application_uuid VARCHAR(64) NOT NULL,
    api_uuid VARCHAR(64) NOT NULL,
    tier TEXT NOT NULL,
    status VARCHAR(32) NOT NULL,
    create_state TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (application_uuid, api_uuid),
    FOREIGN KEY (application_uuid) REFERENCES kg_application (uuid) ON DELETE CASCADE,
    FOREIGN KEY (api_uuid) REFERENCES kg_api (uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_subscription_api ON kg_subscription (api_uuid);
CREATE INDEX kg_subscription_tenant ON kg_subscription (tenant);

CREATE TABLE kg_key_mapping (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    application_uuid VARCHAR(64) NOT NULL,
    consumer_key VARCHAR(255) NOT NULL UNIQUE,
    key_type TEXT NOT NULL,
    state TEXT NOT NULL,
    key_manager VARCHAR(255) NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (application_uuid, key_type, key_manager),
    FOREIGN KEY (application_uuid) REFERENCES kg_application (uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_key_mapping_tenant ON kg_key_mapping (tenant);

-- OAuth clients, tokens, codes
CREATE TABLE kg_oauth_client (
    client_id VARCHAR(255) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    secret_digest BLOB,
    client_name TEXT NOT NULL,
    owner VARCHAR(255) NOT NULL,
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    pkce_mandatory BIGINT NOT NULL,
    pkce_plain_allowed BIGINT NOT NULL,
    user_access_token_ms BIGINT,
    application_access_token_ms BIGINT,
    refresh_token_ms BIGINT,
    id_token_ms BIGINT,
    token_type TEXT NOT NULL,
    jwks TEXT,
    jwks_uri TEXT,
    tls_client_auth_subject_dn TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_oauth_client_owner ON kg_oauth_client (tenant, owner);

CREATE TABLE kg_access_token (
    token_id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    token_digest VARCHAR(512) NOT NULL UNIQUE,
    token_value TEXT,
    refresh_token_digest VARCHAR(512) UNIQUE,
    refresh_token_value TEXT,
    refresh_family_id VARCHAR(64) NOT NULL,
    client_id VARCHAR(255) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    grant_type TEXT NOT NULL,
    scopes TEXT NOT NULL,
    issued_at_ms BIGINT NOT NULL,
    validity_ms BIGINT NOT NULL,
    refresh_issued_at_ms BIGINT,
    refresh_validity_ms BIGINT,
    state TEXT NOT NULL,
    binding_thumbprint TEXT,
    FOREIGN KEY (client_id) REFERENCES kg_oauth_client (client_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_access_token_client_subject ON kg_access_token (client_id, subject);
CREATE INDEX kg_access_token_subject ON kg_access_token (tenant, subject);

CREATE TABLE kg_authorization_code (
    code_id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    code_digest VARCHAR(512) NOT NULL UNIQUE,
    client_id VARCHAR(255) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    redirect_uri TEXT,
    scopes TEXT NOT NULL,
    pkce_challenge TEXT,
    pkce_method TEXT,
    nonce TEXT,
    issued_at_ms BIGINT NOT NULL,
    validity_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    token_id VARCHAR(64),
    FOREIGN KEY (client_id) REFERENCES kg_oauth_client (client_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_authorization_code_client ON kg_authorization_code (client_id);

-- scopes
CREATE TABLE kg_scope (
    tenant VARCHAR(128) NOT NULL,
    name VARCHAR(255) NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (tenant, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_scope_role (
    tenant VARCHAR(128) NOT NULL,
    scope_name VARCHAR(255) NOT NULL,
    role_name VARCHAR(255) NOT NULL,
    PRIMARY KEY (tenant, scope_name, role_name),
    FOREIGN KEY (tenant, scope_name) REFERENCES kg_scope (tenant, name) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_scope_role_role ON kg_scope_role (tenant, role_name);

-- throttling policies
CREATE TABLE kg_subscription_policy (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    name VARCHAR(255) NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    quota_type TEXT NOT NULL,
    request_count BIGINT,
    data_amount BIGINT,
    data_unit TEXT,
    unit_time BIGINT NOT NULL,
    time_unit TEXT NOT NULL,
    spike_arrest_limit BIGINT,
    spike_arrest_unit TEXT,
    stop_on_quota_reach BIGINT NOT NULL,
    billing_plan TEXT NOT NULL,
    UNIQUE (tenant, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_application_policy (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    name VARCHAR(255) NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    quota_type TEXT NOT NULL,
    request_count BIGINT,
    data_amount BIGINT,
    data_unit TEXT,
    unit_time BIGINT NOT NULL,
    time_unit TEXT NOT NULL,
    UNIQUE (tenant, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_api_policy (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    name VARCHAR(255) NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    policy_level TEXT NOT NULL,
    quota_type TEXT NOT NULL,
    request_count BIGINT,
    data_amount BIGINT,
    data_unit TEXT,
    unit_time BIGINT NOT NULL,
    time_unit TEXT NOT NULL,
    condition_groups TEXT NOT NULL,
    UNIQUE (tenant, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_global_policy (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    key_template VARCHAR(512) NOT NULL,
    siddhi_query TEXT NOT NULL,
    is_deployed BIGINT NOT NULL,
    UNIQUE (tenant, name),
    UNIQUE (tenant, key_template)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- deny conditions and revoked tokens
CREATE TABLE kg_block_condition (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    condition_type VARCHAR(32) NOT NULL,
    condition_value VARCHAR(512) NOT NULL,
    enabled BIGINT NOT NULL,
    UNIQUE (tenant, condition_type, condition_value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_revoked_token (
    signature VARCHAR(512) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    token_type TEXT NOT NULL,
    expiry_time_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
