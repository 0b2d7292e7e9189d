// openid-client (panva) against a running keygate key manager.
//
// Usage: node openid-client.mjs <flow>, with the node's issuer and a client in the
// environment. Each flow does its protocol work through the library only and prints one
// JSON object on stdout; the Rust test that started the node checks it. TLS is verified
// against the node's certificate, passed in NODE_EXTRA_CA_CERTS.
//
// Environment: KEYGATE_ISSUER, KEYGATE_CLIENT_ID, KEYGATE_CLIENT_SECRET; for `refresh`
// KEYGATE_USERNAME and KEYGATE_PASSWORD; for `private_key_jwt` KEYGATE_CLIENT_KEY (PKCS#8
// PEM) and KEYGATE_CLIENT_KEY_ID; for `registration` KEYGATE_INITIAL_ACCESS_TOKEN (RFC
// 7591 §3) instead of a client; for `authorization_code` KEYGATE_REDIRECT_URI,
// KEYGATE_USERNAME and KEYGATE_PASSWORD, and no KEYGATE_CLIENT_SECRET for a public client.
import * as client from 'openid-client';
import { importPKCS8 } from 'jose';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const issuer = new URL(env('KEYGATE_ISSUER'));

/** The client configuration by discovery, authenticating with the client secret. */
async function configuration(auth = client.ClientSecretBasic) {
  return client.discovery(issuer, env('KEYGATE_CLIENT_ID'), undefined, auth(env('KEYGATE_CLIENT_SECRET')));
}

/** The OAuth error code of a failed call, or `null` when it succeeded. */
async function errorOf(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return e.error ?? e.code ?? String(e);
  }
}

/** HTML attribute text, unescaped. */
const unescape = (text) =>
  text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/**
 * A person's browser, reduced to what the login and consent pages need: it keeps cookies,
 * does not follow redirects, and submits a page's first form with its hidden fields.
 */
class Browser {
  cookies = new Map();

  async send(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1)];
      if (/max-age=0/i.test(cookie)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { url: new URL(url), status: response.status, location: response.headers.get('location'), html: await response.text() };
  }

  /** Submits the first form of `page` with its hidden fields and `fields`. */
  async submit(page, fields) {
    const form = page.html.match(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/);
    if (!form) throw new Error(`no form on the page (status ${page.status}): ${page.html.slice(0, 500)}`);
    const body = new URLSearchParams();
    for (const input of form[2].matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
      body.append(unescape(input[1]), unescape(input[2]));
    }
    for (const [name, value] of Object.entries(fields)) body.set(name, value);
    return this.send(new URL(unescape(form[1]), page.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }
}

const flows = {
  async authorization_code() {
    const secret = process.env.KEYGATE_CLIENT_SECRET;
    const config = await client.discovery(
      issuer,
      env('KEYGATE_CLIENT_ID'),
      undefined,
      secret ? client.ClientSecretBasic(secret) : client.None(),
    );
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: env('KEYGATE_REDIRECT_URI'),
      scope: 'openid email read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });

    // The person: the login page, then (unless the client needs none) the consent page.
    const browser = new Browser();
    const login = await browser.send(authorizationUrl);
    if (login.status !== 200) throw new Error(`login page: ${login.status} ${login.html.slice(0, 300)}`);
    let page = await browser.submit(login, { username: env('KEYGATE_USERNAME'), password: env('KEYGATE_PASSWORD') });
    const consented = page.status === 200;
    if (consented) page = await browser.submit(page, { kg_consent: 'approve' });
    if (!page.location) throw new Error(`no redirect after sign-in: ${page.status} ${page.html.slice(0, 300)}`);
    const callback = new URL(page.location);

    // The client: openid-client checks state, iss (RFC 9207) and the ID token's nonce.
    const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true };
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    // The code is single-use (RFC 6749 §4.1.2).
    const replay = await errorOf(() => client.authorizationCodeGrant(config, callback, checks));
    return {
      redirected_to: `${callback.origin}${callback.pathname}`,
      iss_parameter: callback.searchParams.get('iss'),
      consent_page_shown: consented,
      session_cookie_set: browser.cookies.size > 0,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token ?? null,
      scope: tokens.scope,
      id_token_claims: claims,
      userinfo,
      replay_error: replay,
    };
  },

  async registration() {
    // RFC 7591: register a client with an initial access token, then use it.
    const config = await client.dynamicClientRegistration(
      issuer,
      {
        client_name: 'openid-client registered',
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      client.ClientSecretBasic(),
      { initialAccessToken: env('KEYGATE_INITIAL_ACCESS_TOKEN') },
    );
    const registered = config.clientMetadata();
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    return {
      client_id: registered.client_id,
      has_client_secret: typeof registered.client_secret === 'string' && registered.client_secret.length > 0,
      token_endpoint_auth_method: registered.token_endpoint_auth_method,
      registration_client_uri: registered.registration_client_uri,
      registration_access_token: registered.registration_access_token,
      access_token: tokens.access_token,
    };
  },


  async discovery() {
    const config = await configuration();
    const m = config.serverMetadata();
    return {
      issuer: m.issuer,
      token_endpoint: m.token_endpoint,
      jwks_uri: m.jwks_uri,
      introspection_endpoint: m.introspection_endpoint,
      revocation_endpoint: m.revocation_endpoint,
      userinfo_endpoint: m.userinfo_endpoint,
      code_challenge_methods_supported: m.code_challenge_methods_supported,
      supports_pkce: m.supportsPKCE(),
    };
  },

  async client_credentials() {
    const config = await configuration();
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    return {
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      expires_in: tokens.expiresIn(),
      scope: tokens.scope,
      refresh_token: tokens.refresh_token ?? null,
    };
  },

  async refresh() {
    const config = await configuration(client.ClientSecretPost);
    const first = await client.genericGrantRequest(config, 'password', {
      username: env('KEYGATE_USERNAME'),
      password: env('KEYGATE_PASSWORD'),
      scope: 'openid read',
    });
    const subject = first.claims()?.sub;
    const userinfo = await client.fetchUserInfo(config, first.access_token, subject);
    const second = await client.refreshTokenGrant(config, first.refresh_token);
    // The first refresh token was rotated away: presenting it again is reuse.
    const reuse = await errorOf(() => client.refreshTokenGrant(config, first.refresh_token));
    return {
      first_access_token: first.access_token,
      first_refresh_token: first.refresh_token,
      id_token_subject: subject ?? null,
      userinfo_subject: userinfo.sub,
      access_token: second.access_token,
      refresh_token: second.refresh_token,
      scope: second.scope,
      reuse_error: reuse,
    };
  },

  async introspection() {
    const config = await configuration();
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    const active = await client.tokenIntrospection(config, tokens.access_token);
    const unknown = await client.tokenIntrospection(config, 'not-a-token-this-server-issued');
    return { access_token: tokens.access_token, active, unknown };
  },

  async revocation() {
    const config = await configuration(client.ClientSecretPost);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    const before = await client.tokenIntrospection(config, tokens.access_token);
    await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    const after = await client.tokenIntrospection(config, tokens.access_token);
    // RFC 7009 §2.2: revoking an unknown or already revoked token still succeeds.
    await client.tokenRevocation(config, tokens.access_token);
    return { access_token: tokens.access_token, active_before: before.active, active_after: after.active };
  },

  async private_key_jwt() {
    const key = await importPKCS8(env('KEYGATE_CLIENT_KEY'), 'ES256');
    const auth = client.PrivateKeyJwt({ key, kid: env('KEYGATE_CLIENT_KEY_ID') });
    const config = await client.discovery(issuer, env('KEYGATE_CLIENT_ID'), undefined, auth);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    const introspected = await client.tokenIntrospection(config, tokens.access_token);
    return { access_token: tokens.access_token, active: introspected.active };
  },
};

const name = process.argv[2];
const flow = flows[name];
if (!flow) {
  console.error(`unknown flow ${name}; flows: ${Object.keys(flows).join(', ')}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await flow()));
} catch (e) {
  console.error(`${name} failed:`, e);
  if (e.cause) console.error('cause:', e.cause);
  process.exit(1);
}
