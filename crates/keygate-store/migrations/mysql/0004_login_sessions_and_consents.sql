-- keygate schema, version 4 (MySQL/MariaDB): the key manager's browser login sessions
-- (found by the SHA-256 of their cookie, never the cookie itself), the consents users gave
-- to clients, and when the user behind an authorization code authenticated (OIDC
-- auth_time), so that every key-manager node on this database shares them.
CREATE TABLE kg_login_session (
    session_digest VARCHAR(128) NOT NULL PRIMARY KEY,
    tenant VARCHAR(128) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    auth_time_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    idle_expires_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_login_session_subject ON kg_login_session (tenant, subject);
CREATE INDEX kg_login_session_expiry ON kg_login_session (expires_at_ms);
CREATE INDEX kg_login_session_idle ON kg_login_session (idle_expires_at_ms);

CREATE TABLE kg_user_consent (
    tenant VARCHAR(128) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    client_id VARCHAR(255) NOT NULL,
    scopes TEXT NOT NULL,
    granted_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject, client_id),
    FOREIGN KEY (client_id) REFERENCES kg_oauth_client (client_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_user_consent_client ON kg_user_consent (client_id);

ALTER TABLE kg_authorization_code ADD COLUMN auth_time_ms BIGINT;
