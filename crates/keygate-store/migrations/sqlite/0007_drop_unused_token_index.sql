-- keygate schema, version 7 (SQLite): kg_access_token_issued (version 2) goes. No
-- statement can use it — purging expired tokens compares issued_at_ms + validity_ms, and
-- every other lookup goes by id, digest, refresh digest, family, client or user — while
-- every issued token paid for one more index entry.
DROP INDEX kg_access_token_issued;
