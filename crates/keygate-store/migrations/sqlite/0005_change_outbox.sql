-- keygate schema, version 5 (SQLite): the change outbox. Every write to what gateways
-- replicate (APIs, applications, subscriptions, key mappings, policies, deny conditions,
-- revoked tokens) records, in the same transaction and by trigger, which row changed at
-- the next revision of one counter. Writers take the counter in turn, so revisions are
-- gapless and commit in order; a rolled-back write takes its revision back with it.

CREATE TABLE kg_change_counter (
    id INTEGER NOT NULL PRIMARY KEY,
    revision INTEGER NOT NULL
);
INSERT INTO kg_change_counter (id, revision) VALUES (1, 0);

CREATE TABLE kg_change_outbox (
    revision INTEGER NOT NULL PRIMARY KEY,
    entity TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    tenant TEXT NOT NULL,
    operation TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX kg_change_outbox_published ON kg_change_outbox (published, revision);

CREATE TRIGGER kg_change_api_insert AFTER INSERT ON kg_api
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'api', NEW.uuid, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_api_update AFTER UPDATE ON kg_api
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'api', NEW.uuid, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_api_delete AFTER DELETE ON kg_api
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'api', OLD.uuid, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_application_insert AFTER INSERT ON kg_application
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'application', NEW.uuid, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_application_update AFTER UPDATE ON kg_application
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'application', NEW.uuid, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_application_delete AFTER DELETE ON kg_application
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'application', OLD.uuid, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_subscription_insert AFTER INSERT ON kg_subscription
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'subscription', NEW.uuid, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_subscription_update AFTER UPDATE ON kg_subscription
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'subscription', NEW.uuid, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_subscription_delete AFTER DELETE ON kg_subscription
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'subscription', OLD.uuid, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_key_mapping_insert AFTER INSERT ON kg_key_mapping
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'key_mapping', NEW.consumer_key, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_key_mapping_update AFTER UPDATE ON kg_key_mapping
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1 AND OLD.consumer_key <> NEW.consumer_key;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'key_mapping', OLD.consumer_key, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1 AND OLD.consumer_key <> NEW.consumer_key;
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'key_mapping', NEW.consumer_key, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_key_mapping_delete AFTER DELETE ON kg_key_mapping
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'key_mapping', OLD.consumer_key, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_subscription_policy_insert AFTER INSERT ON kg_subscription_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'subscription_policy', NEW.name, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_subscription_policy_update AFTER UPDATE ON kg_subscription_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1 AND OLD.name <> NEW.name;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'subscription_policy', OLD.name, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1 AND OLD.name <> NEW.name;
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'subscription_policy', NEW.name, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_subscription_policy_delete AFTER DELETE ON kg_subscription_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'subscription_policy', OLD.name, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_application_policy_insert AFTER INSERT ON kg_application_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'application_policy', NEW.name, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_application_policy_update AFTER UPDATE ON kg_application_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1 AND OLD.name <> NEW.name;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'application_policy', OLD.name, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1 AND OLD.name <> NEW.name;
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'application_policy', NEW.name, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_application_policy_delete AFTER DELETE ON kg_application_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'application_policy', OLD.name, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_api_policy_insert AFTER INSERT ON kg_api_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'api_policy', NEW.name, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_api_policy_update AFTER UPDATE ON kg_api_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1 AND OLD.name <> NEW.name;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'api_policy', OLD.name, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1 AND OLD.name <> NEW.name;
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'api_policy', NEW.name, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_api_policy_delete AFTER DELETE ON kg_api_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'api_policy', OLD.name, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_global_policy_insert AFTER INSERT ON kg_global_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'global_policy', NEW.name, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_global_policy_update AFTER UPDATE ON kg_global_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1 AND OLD.name <> NEW.name;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'global_policy', OLD.name, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1 AND OLD.name <> NEW.name;
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'global_policy', NEW.name, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_global_policy_delete AFTER DELETE ON kg_global_policy
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'global_policy', OLD.name, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_block_condition_insert AFTER INSERT ON kg_block_condition
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'block_condition', NEW.uuid, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_block_condition_update AFTER UPDATE ON kg_block_condition
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'block_condition', NEW.uuid, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_block_condition_delete AFTER DELETE ON kg_block_condition
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'block_condition', OLD.uuid, OLD.tenant, 'DELETE', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_revoked_token_insert AFTER INSERT ON kg_revoked_token
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'revoked_token', NEW.signature, NEW.tenant, 'INSERT', 0
        FROM kg_change_counter WHERE id = 1;
END;

CREATE TRIGGER kg_change_revoked_token_update AFTER UPDATE ON kg_revoked_token
FOR EACH ROW BEGIN
    UPDATE kg_change_counter SET revision = revision + 1 WHERE id = 1;
    INSERT INTO kg_change_outbox (revision, entity, entity_key, tenant, operation, published)
        SELECT revision, 'revoked_token', NEW.signature, NEW.tenant, 'UPDATE', 0
        FROM kg_change_counter WHERE id = 1;
END;
