-- keygate schema, version 6 (MySQL/MariaDB): revoke-all records. Revoking every token of
-- an OAuth client or of a user records which tokens it covers (those issued before
-- revoked_before_ms), kept until the last of them would have expired, so that a gateway
-- started later refuses them from its first snapshot.
CREATE TABLE kg_subject_revocation (
    tenant VARCHAR(128) NOT NULL,
    subject_type VARCHAR(16) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    revoked_before_ms BIGINT NOT NULL,
    expiry_time_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject_type, subject)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX kg_subject_revocation_expiry ON kg_subject_revocation (expiry_time_ms);
