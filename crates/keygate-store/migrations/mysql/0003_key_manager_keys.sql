-- keygate schema, version 3 (MySQL/MariaDB): the key manager's signing keys with their
-- rotation state, its server secrets (client-secret pepper, token-encryption key), and the
-- JWT ids of accepted assertions, so that every key-manager node on this database agrees.
CREATE TABLE kg_signing_key (
    tenant VARCHAR(128) NOT NULL,
    generation BIGINT NOT NULL,
    kid VARCHAR(255) NOT NULL,
    algorithm VARCHAR(16) NOT NULL,
    private_key BLOB NOT NULL,
    created_at_ms BIGINT NOT NULL,
    retired_at_ms BIGINT,
    published_until_ms BIGINT,
    PRIMARY KEY (tenant, generation),
    UNIQUE (tenant, kid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_server_secret (
    tenant VARCHAR(128) NOT NULL,
    name VARCHAR(255) NOT NULL,
    secret_value BLOB NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE kg_assertion_id (
    issuer VARCHAR(255) NOT NULL,
    jti VARCHAR(255) NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_assertion_id_expiry ON kg_assertion_id (expires_at_ms);
