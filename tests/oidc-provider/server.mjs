// A real OpenID Provider (oidc-provider) on 127.0.0.1 for end-to-end tests of our OAuth client.
// No login UI: interactions complete themselves for the account the test registered, and a few
// `/__test/*` endpoints let a test drive the browser's part and corrupt the next ID token.
// Configuration (environment): PORT, ISSUER (default http://127.0.0.1:$PORT), CLIENTS (JSON array
// of client metadata). See README.md.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
if (!port) throw new Error('PORT is required');
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
// Routes and cookie paths below assume the provider is mounted at the root of the issuer.
if (new URL(issuer).pathname !== '/') throw new Error(`ISSUER must have no path: ${issuer}`);
const clients = JSON.parse(process.env.CLIENTS || '[]');
const redirectUris = clients.flatMap((c) => c.redirect_uris || []);

// Our own signing key, so the tamper endpoint can sign with exactly the key the JWKS publishes.
const KID = 'fixture-rs256';
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' };

// sub -> claims, filled by POST /__test/authorize.
const accounts = new Map();
// Who signs in when the request names nobody (`login_hint` absent): a person trying the flow
// by hand with `OIDC=local make run`.
const DEMO = 'local-demo-user';
accounts.set(DEMO, { email: 'oidc-demo@example.com', email_verified: true, name: 'Demo Patient' });

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingJwk] },
  // Unsigned cookies would work too; keys only silence the warning. On plain http ctx.secure is
  // false, so oidc-provider never marks cookies `Secure` and no proxy setting is needed.
  cookies: { keys: [randomBytes(32).toString('hex')] },
  features: { devInteractions: { enabled: false } },
  // Our RP is a confidential client, for which PKCE is optional by default; insist on it.
  pkce: { required: () => true },
  // tid (Microsoft's tenant id) rides on `openid` because Microsoft always sends it.
  claims: { openid: ['sub', 'tid'], email: ['email', 'email_verified'], profile: ['name'] },
  // Our RP reads only the ID token, so put every claim of the granted scopes in it (by default
  // they go to userinfo only when an access token is issued alongside).
  conformIdTokenClaims: false,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const claims = accounts.get(sub);
    return claims && { accountId: sub, claims: async () => ({ ...claims, sub }) };
  },
});

// The next successful token response's id_token is replaced according to this (then cleared):
// the next one for a given subject (so tests running in parallel do not see each other's
// tampering), or else the next one at all.
let pendingTamper = null;
const tamperBySubject = new Map();
provider.use(async (ctx, next) => {
  await next();
  if (ctx.method === 'POST' && ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    const { sub } = decodeJwt(ctx.body.id_token);
    const mode = tamperBySubject.get(sub) ?? pendingTamper;
    if (!mode) return;
    if (tamperBySubject.has(sub)) tamperBySubject.delete(sub);
    else pendingTamper = null;
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, mode) };
  }
});

async function tamper(idToken, mode) {
  const claims = decodeJwt(idToken);
  const header = decodeProtectedHeader(idToken);
  let key = await importJWK(signingJwk, 'RS256');
  const now = Math.floor(Date.now() / 1000);
  if (mode === 'audience') claims.aud = 'someone-else';
  else if (mode === 'issuer') claims.iss = 'http://127.0.0.1:1/evil';
  else if (mode === 'nonce') claims.nonce = 'not-the-nonce';
  else if (mode === 'expired') {
    // Keep the token's lifetime, ending one hour ago: far beyond any clock leeway.
    const lifetime = claims.exp - claims.iat;
    claims.exp = now - 3600;
    claims.iat = claims.exp - lifetime;
  } else if (mode === 'unknown_key') {
    // Same kid as the real key, so only a signature check can tell it apart.
    key = (await generateKeyPair('RS256')).privateKey;
  } else throw new Error(`unknown tamper mode ${mode}`);
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

// The login and consent prompts complete at once: login as the account named by login_hint,
// consent to everything requested (the pattern of oidc-provider's own example).
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const hint = params.login_hint ?? DEMO;
    const result = accounts.has(hint)
      ? { login: { accountId: hint } }
      : { error: 'access_denied', error_description: `unknown login_hint ${params.login_hint}` };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (prompt.name !== 'consent') throw new Error(`unexpected prompt ${prompt.name}`);
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

// Plays the browser: follows the authorization URL through the interactions with a cookie jar,
// stopping at the redirect to the client, which is not ours to request.
async function authorize({ url, account }) {
  if (!account?.sub) throw new Error('account.sub is required');
  const { sub, ...claims } = account;
  accounts.set(sub, claims);
  let next = new URL(url);
  next.searchParams.set('login_hint', sub);
  const jar = new Map(); // `${name};${path}` -> {name, value, path}
  for (let hop = 0; hop < 20; hop += 1) {
    if (next.origin !== new URL(issuer).origin) throw new Error(`redirected off the provider to ${next}`);
    const cookie = [...jar.values()].filter((c) => next.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`).join('; ');
    const res = await fetch(next, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const line of res.headers.getSetCookie()) storeCookie(jar, line);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) {
      throw new Error(`${next.pathname} answered ${res.status}: ${(await res.text()).slice(0, 2000)}`);
    }
    const target = new URL(location, next).href;
    if (redirectUris.some((uri) => target.startsWith(uri))) return { location: target };
    next = new URL(target);
  }
  throw new Error('too many redirects');
}

function storeCookie(jar, line) {
  const [pair, ...attributes] = line.split(';').map((s) => s.trim());
  const name = pair.slice(0, pair.indexOf('='));
  const value = pair.slice(pair.indexOf('=') + 1);
  const attr = (n) => attributes.find((a) => a.toLowerCase().startsWith(`${n}=`))?.split('=')[1];
  const path = attr('path') || '/';
  const expires = attr('expires');
  const gone = attr('max-age') === '0' || (expires && Date.parse(expires) <= Date.now());
  if (gone) jar.delete(`${name};${path}`);
  else jar.set(`${name};${path}`, { name, value, path });
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const TAMPER_MODES = ['audience', 'issuer', 'expired', 'nonce', 'unknown_key'];
const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  try {
    if (req.method === 'GET' && path === '/__test/health') return send(res, 200, { ok: true });
    if (req.method === 'POST' && path === '/__test/authorize') return send(res, 200, await authorize(await readJson(req)));
    if (req.method === 'POST' && path === '/__test/tamper') {
      const { mode, sub } = await readJson(req);
      if (mode !== 'none' && !TAMPER_MODES.includes(mode)) return send(res, 400, { error: `unknown mode ${mode}` });
      if (sub) {
        if (mode === 'none') tamperBySubject.delete(sub);
        else tamperBySubject.set(sub, mode);
      } else pendingTamper = mode === 'none' ? null : mode;
      return send(res, 200, { mode });
    }
    if (req.method === 'GET' && path.startsWith('/interaction/')) return await interaction(req, res);
    return callback(req, res);
  } catch (err) {
    console.error(`${req.method} ${path} failed:`, err);
    if (!res.headersSent) send(res, 500, { error: String(err?.message || err), path });
  }
});

server.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
