use super::*;
use http_body_util::BodyExt;

fn every_error() -> Vec<GatewayError> {
    vec![
        GatewayError::AuthenticationFailure("km down"),
        GatewayError::InvalidCredentials(InvalidToken::BadSignature),
        GatewayError::MissingCredentials,
        GatewayError::TokenExpired,
        GatewayError::TokenInactive,
        GatewayError::IncorrectTokenType,
        GatewayError::NoMatchingResource,
        GatewayError::ApiBlocked,
        GatewayError::SubscriptionBlocked,
        GatewayError::ResourceForbidden,
        GatewayError::SubscriptionInactive,
        GatewayError::InvalidScope,
        GatewayError::MutualTlsFailure,
        GatewayError::Throttled {
            code: ThrottleCode::SubscriptionThrottled,
            retry_after_secs: 7,
        },
        GatewayError::Blocked(BlockConditionType::Ip),
        GatewayError::ApiNotFound,
        GatewayError::HeadersTooLarge,
        GatewayError::BodyTooLarge,
        GatewayError::BadRequest("invalid path"),
        GatewayError::Upstream(UpstreamFailure::ConnectFailed),
        GatewayError::Upstream(UpstreamFailure::ConnectTimeout),
        GatewayError::Upstream(UpstreamFailure::ResponseTimeout),
        GatewayError::Upstream(UpstreamFailure::ConnectionClosed),
        GatewayError::Upstream(UpstreamFailure::Tls),
        GatewayError::Internal("bug"),
    ]
}

#[test]
fn codes_and_statuses_are_design_section_7() {
    let expected: [(u32, u16); 25] = [
        (900_900, 500),
        (900_901, 401),
        (900_902, 401),
        (900_903, 401),
        (900_904, 401),
        (900_905, 401),
        (900_906, 403),
        (900_907, 401),
        (900_907, 401),
        (900_908, 403),
        (900_909, 401),
        (900_910, 403),
        (900_911, 401),
        (900_804, 429),
        (900_805, 403),
        (404, 404),
        (431, 431),
        (413, 413),
        (400, 400),
        (101_503, 502),
        (101_504, 504),
        (101_504, 504),
        (101_505, 502),
        (101_503, 502),
        (500, 500),
    ];
    for (error, (code, status)) in every_error().into_iter().zip(expected) {
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(error.status().as_u16(), status, "{error}");
    }
}

#[test]
fn every_throttle_code_answers_429_with_its_own_code() {
    for code in [
        ThrottleCode::ApiThrottled,
        ThrottleCode::HardLimitExceeded,
        ThrottleCode::ResourceThrottled,
        ThrottleCode::ApplicationThrottled,
        ThrottleCode::SubscriptionThrottled,
        ThrottleCode::CustomPolicyThrottled,
    ] {
        let error = GatewayError::throttled(code, 0);
        assert_eq!(error.code(), code.code());
        assert_eq!(error.status(), StatusCode::TOO_MANY_REQUESTS);
        let response = error.into_response();
        assert_eq!(
            response.headers()[RETRY_AFTER],
            "1",
            "Retry-After is at least 1"
        );
    }
    assert_eq!(
        GatewayError::throttled(ThrottleCode::Blocked, 5).status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn bodies_are_wso2_json() {
    for error in every_error() {
        let code = error.code();
        let message = error.message();
        let response = error.into_response();
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/json; charset=UTF-8"
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["code"], code);
        assert_eq!(json["message"], message);
        assert!(json["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(json.as_object().unwrap().len(), 3);
    }
}

#[test]
fn every_401_carries_www_authenticate() {
    for error in every_error() {
        let status = error.status();
        let invalid_scope = error == GatewayError::InvalidScope;
        let missing = error == GatewayError::MissingCredentials;
        let response = error.into_response();
        let header = response.headers().get(WWW_AUTHENTICATE);
        if status == StatusCode::UNAUTHORIZED {
            let header = header.unwrap().to_str().unwrap();
            assert!(header.starts_with("Bearer realm=\"keygate\""));
            // RFC 6750 §3.1: no error code when the request had no credentials.
            assert_eq!(header.contains("error=\"invalid_token\""), !missing);
        } else if invalid_scope {
            assert_eq!(
                header.unwrap(),
                "Bearer realm=\"keygate\", error=\"insufficient_scope\""
            );
        } else {
            assert!(header.is_none(), "{status}");
        }
    }
}

#[test]
fn throttled_answers_carry_retry_after() {
    let response = GatewayError::Throttled {
        code: ThrottleCode::ApplicationThrottled,
        retry_after_secs: 42,
    }
    .into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[RETRY_AFTER], "42");
    let response = GatewayError::Blocked(BlockConditionType::User).into_response();
    assert!(response.headers().get(RETRY_AFTER).is_none());
}

#[test]
fn sources_and_retry_hints() {
    assert_eq!(
        GatewayError::MissingCredentials.origin(),
        ErrorSource::Client
    );
    assert_eq!(
        GatewayError::Upstream(UpstreamFailure::ConnectFailed).origin(),
        ErrorSource::Upstream
    );
    assert_eq!(
        GatewayError::AuthenticationFailure("x").origin(),
        ErrorSource::Upstream
    );
    assert_eq!(GatewayError::Internal("x").origin(), ErrorSource::Internal);
    assert!(GatewayError::Upstream(UpstreamFailure::ConnectTimeout).retry_may_help());
    assert!(!GatewayError::Upstream(UpstreamFailure::Tls).retry_may_help());
    assert!(!GatewayError::TokenExpired.retry_may_help());
    assert!(
        GatewayError::Throttled {
            code: ThrottleCode::ApiThrottled,
            retry_after_secs: 1
        }
        .retry_may_help()
    );
    assert_eq!(ErrorSource::Upstream.to_string(), "upstream");
}

#[test]
fn no_endpoint_for_the_key_type_says_which() {
    let error =
        GatewayError::InvalidCredentials(InvalidToken::NoEndpointForKeyType(KeyType::Sandbox));
    assert_eq!(error.code(), 900_901);
    assert!(error.description().contains("Sandbox"));
}
