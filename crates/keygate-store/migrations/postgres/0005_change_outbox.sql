-- keygate schema, version 5 (PostgreSQL): the change outbox. Every write to what
-- gateways replicate (APIs, applications, subscriptions, key mappings, policies, deny
-- conditions, revoked tokens) records, in the same transaction and by trigger, which row
-- changed at the next revision of one counter. Writers take the counter's row lock in
-- turn, so revisions are gapless and commit in order; a rolled-back write takes its
-- revision back with it.

CREATE TABLE kg_change_counter (
    id INTEGER NOT NULL PRIMARY KEY,
    revision BIGINT NOT NULL
);
INSERT INTO kg_change_counter (id, revision) VALUES (1, 0);

CREATE TABLE kg_change_outbox (
    revision BIGINT NOT NULL PRIMARY KEY,
    entity TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    tenant TEXT NOT NULL,
    operation TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX kg_change_outbox_published ON kg_change_outbox (published, revision);


CREATE FUNCTION kg_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entity_name TEXT := TG_ARGV[0];
    key_column TEXT := TG_ARGV[1];
    old_row JSONB;
    new_row JSONB;
    next_revision BIGINT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_row := to_jsonb(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_row := to_jsonb(NEW);
    END IF;
    IF TG_OP = 'UPDATE' AND TG_ARGV[2] = 'rename'
        AND (old_row ->> key_column) IS DISTINCT FROM (new_row ->> key_column) THEN
        UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1
            RETURNING revision INTO next_revision;
        INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
            VALUES (next_revision, entity_name, old_row ->> key_column, old_row ->> 'tenant',
                    'DELETE', 0);
    END IF;
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1
        RETURNING revision INTO next_revision;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        VALUES (next_revision, entity_name,
                COALESCE(new_row, old_row) ->> key_column,
                COALESCE(new_row, old_row) ->> 'tenant', TG_OP, 0);
    RETURN NULL;
END
$$;

CREATE TRIGGER kg_change_api AFTER INSERT OR UPDATE OR DELETE ON kg_api
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('api', 'uuid', 'same');

CREATE TRIGGER kg_change_application AFTER INSERT OR UPDATE OR DELETE ON kg_application
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('application', 'uuid', 'same');

CREATE TRIGGER kg_change_subscription AFTER INSERT OR UPDATE OR DELETE ON kg_subscription
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('subscription', 'uuid', 'same');

CREATE TRIGGER kg_change_key_mapping AFTER INSERT OR UPDATE OR DELETE ON kg_key_mapping
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('key_mapping', 'consumer_key', 'rename');

CREATE TRIGGER kg_change_subscription_policy AFTER INSERT OR UPDATE OR DELETE ON kg_subscription_policy
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('subscription_policy', 'name', 'rename');

CREATE TRIGGER kg_change_application_policy AFTER INSERT OR UPDATE OR DELETE ON kg_application_policy
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('application_policy', 'name', 'rename');

CREATE TRIGGER kg_change_api_policy AFTER INSERT OR UPDATE OR DELETE ON kg_api_policy
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('api_policy', 'name', 'rename');

CREATE TRIGGER kg_change_global_policy AFTER INSERT OR UPDATE OR DELETE ON kg_global_policy
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('global_policy', 'name', 'rename');

CREATE TRIGGER kg_change_block_condition AFTER INSERT OR UPDATE OR DELETE ON kg_block_condition
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('block_condition', 'uuid', 'same');

CREATE TRIGGER kg_change_revoked_token AFTER INSERT OR UPDATE ON kg_revoked_token
    FOR EACH ROW EXECUTE FUNCTION kg_record_change('revoked_token', 'signature', 'same');
