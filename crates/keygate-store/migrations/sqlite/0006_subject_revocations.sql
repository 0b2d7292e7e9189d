-- keygate schema, version 6 (SQLite): revoke-all records. Revoking every token of an OAuth
-- client or of a user records which tokens it covers (those issued before
-- revoked_before_ms), kept until the last of them would have expired, so that a gateway
-- started later refuses them from its first snapshot.
CREATE TABLE kg_subject_revocation (
    tenant TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    revoked_before_ms INTEGER NOT NULL,
    expiry_time_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, subject_type, subject)
);
CREATE INDEX kg_subject_revocation_expiry ON kg_subject_revocation (expiry_time_ms);
