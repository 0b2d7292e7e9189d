"""authlib against a running keygate key manager.

Usage: python3 authlib_client.py <flow>, with the node's token endpoint and a client in
the environment. Each flow does its protocol work through authlib only and prints one
JSON object on stdout; the Rust test that started the node checks it. TLS is verified
against the node's certificate (KEYGATE_CA_FILE), never switched off.

Flows:
  password    RFC 6749 §4.3 resource owner password credentials with an
              OAuth2Session (client_secret_basic), then a refresh by authlib.
              KEYGATE_USERNAME, KEYGATE_PASSWORD.
  jwt_bearer  RFC 7523 §2.1: an AssertionSession signs a JWT as a trusted issuer for a
              user and trades it for an access token; the client authenticates by HTTP
              Basic. KEYGATE_ASSERTION_ISSUER, KEYGATE_ASSERTION_KEY (PKCS#8 PEM),
              KEYGATE_ASSERTION_KEY_ID, KEYGATE_USERNAME.

Common: KEYGATE_TOKEN_ENDPOINT, KEYGATE_CLIENT_ID, KEYGATE_CLIENT_SECRET, KEYGATE_CA_FILE.
"""

import json
import os
import sys

from authlib.integrations.requests_client import AssertionSession, OAuth2Session
from authlib.oauth2.rfc7523 import JWTBearerGrant


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set")
    return value


def trust_only_the_node(session):
    """Verifies TLS against the node's certificate alone. requests would otherwise prefer a
    CA bundle named by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE over `verify`, and honour
    proxy variables."""
    session.trust_env = False
    session.verify = env("KEYGATE_CA_FILE")


def password():
    session = OAuth2Session(
        env("KEYGATE_CLIENT_ID"),
        env("KEYGATE_CLIENT_SECRET"),
        scope="openid read",
        token_endpoint_auth_method="client_secret_basic",
    )
    trust_only_the_node(session)
    first = session.fetch_token(
        env("KEYGATE_TOKEN_ENDPOINT"),
        grant_type="password",
        username=env("KEYGATE_USERNAME"),
        password=env("KEYGATE_PASSWORD"),
    )
    refreshed = session.refresh_token(
        env("KEYGATE_TOKEN_ENDPOINT"), refresh_token=first["refresh_token"]
    )
    return {
        "access_token": first["access_token"],
        "refresh_token": first["refresh_token"],
        "id_token": first.get("id_token"),
        "token_type": first["token_type"],
        "expires_at": first.get("expires_at"),
        "scope": first.get("scope"),
        "refreshed_access_token": refreshed["access_token"],
        "refreshed_refresh_token": refreshed["refresh_token"],
    }


def jwt_bearer():
    token_endpoint = env("KEYGATE_TOKEN_ENDPOINT")
    session = AssertionSession(
        token_endpoint=token_endpoint,
        issuer=env("KEYGATE_ASSERTION_ISSUER"),
        subject=env("KEYGATE_USERNAME"),
        audience=token_endpoint,
        grant_type=JWTBearerGrant.GRANT_TYPE,
        scope="read",
        key=env("KEYGATE_ASSERTION_KEY"),
        header={"alg": "ES256", "kid": env("KEYGATE_ASSERTION_KEY_ID")},
    )
    trust_only_the_node(session)
    session.auth = (env("KEYGATE_CLIENT_ID"), env("KEYGATE_CLIENT_SECRET"))
    token = session.refresh_token()
    # A second exchange signs a fresh assertion (new jti): not a replay.
    again = session.refresh_token()
    return {
        "access_token": token["access_token"],
        "token_type": token["token_type"],
        "scope": token.get("scope"),
        "second_access_token": again["access_token"],
    }


FLOWS = {"password": password, "jwt_bearer": jwt_bearer}

if __name__ == "__main__":
    flow = FLOWS.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if flow is None:
        print(f"usage: authlib_client.py {{{','.join(FLOWS)}}}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(flow()))
