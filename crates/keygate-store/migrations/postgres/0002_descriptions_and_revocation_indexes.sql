-- keygate schema, version 2 (PostgreSQL): descriptions of APIs and applications; indexes for
-- listing APIs by lifecycle state, revoking a refresh-token family and purging expired
-- tokens, codes and revocations.
ALTER TABLE kg_api ADD COLUMN description TEXT;
ALTER TABLE kg_application ADD COLUMN description TEXT;
CREATE INDEX kg_api_status ON kg_api (tenant, status);
CREATE INDEX kg_access_token_family ON kg_access_token (refresh_family_id);
CREATE INDEX kg_access_token_issued ON kg_access_token (issued_at_ms);
CREATE INDEX kg_authorization_code_issued ON kg_authorization_code (issued_at_ms);
CREATE INDEX kg_authorization_code_token ON kg_authorization_code (token_id);
CREATE INDEX kg_revoked_token_expiry ON kg_revoked_token (expiry_time_ms);
