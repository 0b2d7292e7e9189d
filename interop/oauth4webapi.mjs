// oauth4webapi (panva) as a resource server: RFC 9068 `validateJwtAccessToken` on access
// tokens a running keygate key manager issued.
//
// Usage: node oauth4webapi.mjs validate, with KEYGATE_ISSUER, KEYGATE_CLIENT_ID and
// KEYGATE_CLIENT_SECRET (a client allowed client_credentials, JWT tokens) and
// optionally KEYGATE_USER_ACCESS_TOKEN (a user's JWT access token) and
// KEYGATE_OPAQUE_TOKEN (an opaque one). The script discovers the server, gets an
// application token with oauth4webapi's own client_credentials request, validates both
// JWTs as a resource server would, checks that tampered, misaddressed and opaque tokens
// are refused, and prints one JSON object. TLS is verified against NODE_EXTRA_CA_CERTS.
import * as oauth from 'oauth4webapi';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const issuer = new URL(env('KEYGATE_ISSUER'));
const clientId = env('KEYGATE_CLIENT_ID');

/** A resource request carrying `token` as a bearer token (RFC 6750 §2.1). */
const resourceRequest = (token) =>
  new Request('https://api.example/orders', { headers: { authorization: `Bearer ${token}` } });

/** `code: message` of a refused validation, or `null` when it passed. */
async function refusal(as, token, audience) {
  try {
    await oauth.validateJwtAccessToken(as, resourceRequest(token), audience);
    return null;
  } catch (e) {
    return `${e.code ?? e.name}: ${e.message}`;
  }
}

/** `token` with one character of its signature changed. */
function tampered(token) {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.at(-1)}`;
}

async function validate() {
  const discovery = await oauth.discoveryRequest(issuer, { algorithm: 'oidc' });
  const as = await oauth.processDiscoveryResponse(issuer, discovery);
  const client = { client_id: clientId };
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    client,
    oauth.ClientSecretBasic(env('KEYGATE_CLIENT_SECRET')),
    new URLSearchParams({ scope: 'read' }),
  );
  const tokens = await oauth.processClientCredentialsResponse(as, client, response);
  const application = await oauth.validateJwtAccessToken(as, resourceRequest(tokens.access_token), clientId);

  const result = {
    access_token: tokens.access_token,
    application,
    tampered_error: await refusal(as, tampered(tokens.access_token), clientId),
    wrong_audience_error: await refusal(as, tokens.access_token, 'https://another-api.example'),
  };
  const user = process.env.KEYGATE_USER_ACCESS_TOKEN;
  if (user) {
    result.user = await oauth.validateJwtAccessToken(as, resourceRequest(user), clientId);
  }
  const opaque = process.env.KEYGATE_OPAQUE_TOKEN;
  if (opaque) {
    result.opaque_error = await refusal(as, opaque, clientId);
  }
  return result;
}

if (process.argv[2] !== 'validate') {
  console.error('usage: node oauth4webapi.mjs validate');
  process.exit(2);
}
try {
  console.log(JSON.stringify(await validate()));
} catch (e) {
  console.error('validate failed:', e);
  if (e.cause) console.error('cause:', e.cause);
  process.exit(1);
}
