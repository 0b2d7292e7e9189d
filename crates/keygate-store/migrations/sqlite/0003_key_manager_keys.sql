-- keygate schema, version 3 (SQLite): the key manager's signing keys with their rotation
-- state, its server secrets (client-secret pepper, token-encryption key), and the JWT ids
-- of accepted assertions, so that every key-manager node on this database agrees.
CREATE TABLE kg_signing_key (
    tenant TEXT NOT NULL,
    generation INTEGER NOT NULL,
    kid TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    private_key BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    retired_at_ms INTEGER,
    published_until_ms INTEGER,
    PRIMARY KEY (tenant, generation),
    UNIQUE (tenant, kid)
);

CREATE TABLE kg_server_secret (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_value BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE kg_assertion_id (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX kg_assertion_id_expiry ON kg_assertion_id (expires_at_ms);
