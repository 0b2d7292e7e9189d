// The peer of keygate's key manager benchmark: panva's oidc-provider (OpenID Certified),
// issuing RS256 JWT access tokens (RFC 9068) by client_credentials to one client with
// client_secret_basic, with its default in-memory storage. Plain HTTP on 127.0.0.1.
//
//   npm ci && OP_PORT=19003 node op.mjs
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';

const port = Number(process.env.OP_PORT ?? 19003);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = privateKey.export({ format: 'jwk' });
jwk.kid = 'k1';
jwk.alg = 'RS256';
jwk.use = 'sig';

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: process.env.OP_CLIENT_ID ?? 'client1',
    client_secret: process.env.OP_CLIENT_SECRET ?? 'secret1',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'default',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  scopes: ['default'],
});
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on 127.0.0.1:${port}`));
