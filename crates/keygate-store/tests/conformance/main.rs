//! The conformance suite: every repository method, run against SQLite, PostgreSQL and
//! MariaDB with the same test bodies, including concurrent writers and schema migrations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod samples;

mod catalog;
mod concurrency;
mod keys;
mod migrations;
mod oauth;
mod outbox;
mod sessions;
mod throttling;
mod unavailable;
mod users;

conformance!(stores:
    users::users_roles_and_claims,
    users::authentication_and_super_admin,
    catalog::apis_and_resources,
    catalog::applications,
    catalog::subscriptions_and_key_mappings,
    oauth::oauth_clients,
    oauth::access_tokens,
    oauth::revoke_alls_are_recorded,
    oauth::authorization_codes,
    oauth::scopes,
    throttling::subscription_and_application_policies,
    throttling::api_and_global_policies,
    throttling::block_conditions_and_revoked_tokens,
    concurrency::concurrent_token_inserts,
    concurrency::a_bad_token_among_concurrent_inserts_fails_alone,
    concurrency::concurrent_same_application_name,
    concurrency::concurrent_code_consumption,
    concurrency::concurrent_refresh_rotation,
    keys::signing_keys_and_rotation,
    keys::server_secrets_are_created_once,
    keys::assertion_ids_are_single_use,
    sessions::login_sessions_expire_and_end,
    sessions::consents_are_remembered_per_user_and_client,
    outbox::writes_are_recorded_in_order,
    outbox::policies_conditions_and_revocations_are_recorded,
    outbox::concurrent_writers_get_gapless_revisions,
);

conformance!(database:
    migrations::migrating_twice_is_a_no_op,
    migrations::upgrade_from_v1_keeps_every_row,
    migrations::newer_schema_is_refused_untouched,
    migrations::verify_only_refuses_an_outdated_schema,
    migrations::apim_and_shared_in_one_database,
    concurrency::a_one_connection_pool_is_not_starved_by_the_token_writer,
);
