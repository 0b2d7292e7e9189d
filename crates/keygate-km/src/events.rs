//! Revocation events (DESIGN §5) on `keygate.token.revocation`, so that every gateway
//! stops accepting a revoked token within milliseconds instead of when its cache expires.
//!
//! One event per revoked access token, `TOKEN_REVOKED`, with the token's `jti` (what a
//! gateway checks a JWT by) and the SHA-256 of its value (what it caches an opaque token
//! under), its expiry (after which the record is useless), client and subject; and one
//! event for a bulk revocation, `TOKENS_REVOKED_FOR_CLIENT` or `TOKENS_REVOKED_FOR_USER`,
//! meaning every token issued to that client or user before `revoked_before_ms`.
//!
//! Each envelope carries a fresh id, the node's name, and a revision that increases with
//! every event this process publishes, starting from the clock at start so that it keeps
//! increasing across restarts. The bus is best effort: a revocation is already persisted
//! (the token's state and the revoked-token list that gateway snapshots carry) before its
//! event is published, and a failed publication is logged, never an error to the client.

use crate::settings::KmSettings;
use keygate_bus::{Envelope, EventBus, Subject};
use keygate_model::{AccessToken, Tenant};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Type of the event for one revoked token.
pub const TOKEN_REVOKED: &str = "TOKEN_REVOKED";
/// Type of the event for every token of a client.
pub const TOKENS_REVOKED_FOR_CLIENT: &str = "TOKENS_REVOKED_FOR_CLIENT";
/// Type of the event for every token of a user.
pub const TOKENS_REVOKED_FOR_USER: &str = "TOKENS_REVOKED_FOR_USER";

/// Why a token was revoked, carried in the event for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    /// A client revoked it (RFC 7009).
    Revoked,
    /// A refresh superseded it (its refresh token was rotated).
    Superseded,
    /// Its refresh-token family was revoked: reuse of a rotated refresh token, or
    /// revocation of a refresh token.
    FamilyRevoked,
    /// The authorization code it came from was replayed.
    CodeReplayed,
}

impl RevocationReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Superseded => "superseded",
            Self::FamilyRevoked => "family_revoked",
            Self::CodeReplayed => "code_replayed",
        }
    }
}

/// Publishes revocations.
pub struct RevocationEvents {
    bus: Arc<dyn EventBus>,
    subject: Subject,
    node: String,
    tenant: Tenant,
    revision: AtomicU64,
}

impl RevocationEvents {
    /// Events on the token-revocation subject of `settings`, revisions starting after
    /// `start_ms`.
    pub fn new(bus: Arc<dyn EventBus>, settings: &KmSettings, start_ms: i64) -> Self {
        Self {
            bus,
            subject: Subject::token_revocation(&settings.subject_prefix),
            node: settings.node_name.clone(),
            tenant: settings.tenant.clone(),
            revision: AtomicU64::new(u64::try_from(start_ms).unwrap_or(0)),
        }
    }

    /// Announces one revoked access token.
    pub async fn token_revoked(&self, token: &AccessToken, reason: RevocationReason, now_ms: i64) {
        let payload = json!({
            "jti": token.token_id,
            "token_digest": crate::token_keys::revocation_digest(token),
            "expiry_time_ms": token.expires_at_ms(),
            "client_id": token.client_id,
            "subject": token.subject,
            "tenant": token.tenant.domain(),
            "reason": reason.as_str(),
        });
        self.publish(TOKEN_REVOKED, payload, now_ms).await;
    }

    /// Announces that every token of `client_id` issued before now is revoked.
    pub async fn client_tokens_revoked(&self, client_id: &str, now_ms: i64) {
        let payload = json!({
            "client_id": client_id,
            "tenant": self.tenant.domain(),
            "revoked_before_ms": now_ms,
        });
        self.publish(TOKENS_REVOKED_FOR_CLIENT, payload, now_ms)
            .await;
    }

    /// Announces that every token of `subject` issued before now is revoked.
    pub async fn user_tokens_revoked(&self, subject: &str, now_ms: i64) {
        let payload = json!({
            "subject": subject,
            "tenant": self.tenant.domain(),
            "revoked_before_ms": now_ms,
        });
        self.publish(TOKENS_REVOKED_FOR_USER, payload, now_ms).await;
    }

    async fn publish(&self, event_type: &str, payload: serde_json::Value, now_ms: i64) {
        let revision = self.revision.fetch_add(1, Ordering::SeqCst) + 1;
        let envelope = Envelope {
            id: uuid::Uuid::new_v4().to_string(),
            event_type: event_type.to_owned(),
            revision,
            time: now_ms,
            origin_node: self.node.clone(),
            payload,
        };
        if let Err(error) = self.bus.publish(&self.subject, &envelope).await {
            tracing::warn!(
                %error,
                event = event_type,
                transport = self.bus.transport(),
                "revocation event not published; gateways will see it in their next snapshot"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate_bus::{BusMessage, InProcessBus};
    use keygate_model::TokenState;

    fn token() -> AccessToken {
        AccessToken {
            token_id: "jti-1".into(),
            tenant: Tenant::default(),
            token_digest: "d".repeat(64),
            token_value: Some("secret-token".into()),
            refresh_token_digest: None,
            refresh_token_value: Some("secret-refresh".into()),
            refresh_family_id: "family".into(),
            client_id: "client-1".into(),
            subject: "alice".into(),
            grant_type: "password".into(),
            scopes: vec!["openid".into()],
            issued_at_ms: 1_000,
            validity_ms: 3_600_000,
            refresh_issued_at_ms: None,
            refresh_validity_ms: None,
            state: TokenState::Revoked,
            binding_thumbprint: None,
        }
    }

    #[tokio::test]
    async fn events_carry_the_design_envelope_and_increasing_revisions() {
        let bus = Arc::new(InProcessBus::default());
        let settings =
            KmSettings::from_config(&keygate_config::Config::embedded_default()).unwrap();
        let events = RevocationEvents::new(bus.clone(), &settings, 5_000);
        let mut sub = bus
            .subscribe(&Subject::token_revocation(&Default::default()))
            .await
            .unwrap();
        assert!(matches!(sub.next().await, Some(BusMessage::Resync { .. })));

        events
            .token_revoked(&token(), RevocationReason::Revoked, 7_000)
            .await;
        events.client_tokens_revoked("client-1", 7_001).await;
        events.user_tokens_revoked("alice", 7_002).await;

        let mut received = Vec::new();
        for _ in 0..3 {
            match sub.next().await {
                Some(BusMessage::Event(e)) => received.push(e),
                other => panic!("expected an event, got {other:?}"),
            }
        }
        let first = &received[0];
        assert_eq!(first.event_type, "TOKEN_REVOKED");
        assert_eq!(first.revision, 5_001);
        assert_eq!(first.time, 7_000);
        assert_eq!(first.origin_node, settings.node_name);
        assert_eq!(first.payload["jti"], "jti-1");
        assert_eq!(first.payload["token_digest"], "d".repeat(64));
        assert_eq!(first.payload["expiry_time_ms"], 3_601_000);
        assert_eq!(first.payload["client_id"], "client-1");
        assert_eq!(first.payload["subject"], "alice");
        let text = serde_json::to_string(first).unwrap();
        assert!(!text.contains("secret-token") && !text.contains("secret-refresh"));
        assert_eq!(received[1].event_type, "TOKENS_REVOKED_FOR_CLIENT");
        assert_eq!(received[1].payload["revoked_before_ms"], 7_001);
        assert_eq!(received[2].event_type, "TOKENS_REVOKED_FOR_USER");
        assert_eq!(received[2].payload["subject"], "alice");
        assert!(received.windows(2).all(|w| w[0].revision < w[1].revision));
        assert_ne!(received[0].id, received[1].id);
    }
}
