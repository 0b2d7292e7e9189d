"""PyJWT's PyJWKClient verifying tokens a running keygate key manager issued.

Usage: python3 pyjwt_jwks.py verify, with KEYGATE_JWKS_URI, KEYGATE_ISSUER,
KEYGATE_CLIENT_ID (the audience), KEYGATE_ACCESS_TOKEN (a JWT access token),
KEYGATE_ID_TOKEN (an ID token) and KEYGATE_CA_FILE (the node's certificate, trusted for
TLS). The key of each token is fetched from the node's JWK Set by its `kid`, the token is
verified (signature, `iss`, `aud`, `exp`, `iat`), and the claims are printed as one JSON
object, with the error names of a tampered token and of a wrong audience.
"""

import json
import os
import ssl
import sys

import jwt
from jwt import PyJWKClient


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set")
    return value


def tampered(token):
    last = "B" if token[-2] == "A" else "A"
    return token[:-2] + last + token[-1]


def refusal(call):
    try:
        call()
    except jwt.PyJWTError as e:
        return type(e).__name__
    return None


def verify():
    context = ssl.create_default_context(cafile=env("KEYGATE_CA_FILE"))
    jwks = PyJWKClient(env("KEYGATE_JWKS_URI"), ssl_context=context)
    issuer = env("KEYGATE_ISSUER")
    audience = env("KEYGATE_CLIENT_ID")

    def decode(token, aud=audience):
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key,
            algorithms=["RS256", "ES256", "EdDSA"],
            audience=aud,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )

    access = env("KEYGATE_ACCESS_TOKEN")
    id_token = env("KEYGATE_ID_TOKEN")
    return {
        "access_token_header": jwt.get_unverified_header(access),
        "access_token": decode(access),
        "id_token_header": jwt.get_unverified_header(id_token),
        "id_token": decode(id_token),
        "tampered_error": refusal(lambda: decode(tampered(access))),
        "wrong_audience_error": refusal(lambda: decode(access, "someone-else")),
    }


if __name__ == "__main__":
    if sys.argv[1:] != ["verify"]:
        print("usage: pyjwt_jwks.py verify", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(verify()))
