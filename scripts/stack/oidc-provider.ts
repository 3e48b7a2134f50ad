// A local OpenID provider standing in for Google and Apple, for tests and `npm run dev`. Both
// live on one loopback server under their own path (and so their own issuer):
//   /google  google-like: ES256 ID tokens, boolean email_verified, name and azp claims,
//            client_secret_basic or client_secret_post
//   /apple   apple-like: RS256 ID tokens, email_verified and is_private_email as strings,
//            nonce_supported, no name claim; the client secret is an ES256 JWT signed with
//            the developer key (iss = team id, sub = client id, aud = issuer), as Apple's is
// Real keys and real signatures (jose); nothing is faked inside the code under test.
//
//   GET  /{p}/.well-known/openid-configuration   discovery (Cache-Control max-age)
//   GET  /{p}/jwks                               public keys (Cache-Control max-age)
//   GET  /{p}/authorize                          auto-approves, 302 (or form_post) back with a code
//   POST /{p}/token                              authorization_code grant, PKCE S256, one-time codes
// Control API for tests (JSON bodies):
//   POST /_control/next-login {provider, sub, email, email_verified, name}  who the next authorize signs in
//   POST /_control/mint {provider, claims?, header?, key?: "current"|"foreign"|"unlisted"|"hs256"}
//                             an ID token with any claims; null removes a default claim
//   POST /_control/rotate {provider}                 new signing key; the old one leaves the JWKS
//   POST /_control/clients {provider, client_id, redirect_uris, client_secret?, apple_key?}
//   POST /_control/cache {provider, jwksMaxAge?, discoveryMaxAge?}
//   GET  /_control/stats                             fetch counts and current kid per provider
// Without a registered client, `open: true` (the dev stack) accepts any client id, any loopback
// redirect URI and any client secret. Never for production.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { httpError, readBody } from "./http-body.ts";
import { listeningPort } from "./local-service.ts";

type ProviderName = "google" | "apple";

interface LocalUser {
  sub: string;
  email?: string;
  email_verified?: boolean | string;
  name?: string;
  is_private_email?: boolean;
}

export interface ClientRegistration {
  provider: ProviderName;
  client_id: string;
  redirect_uris?: string[];
  /** Google-like: a shared secret (client_secret_basic or _post). */
  client_secret?: string;
  /** Apple-like: the client secret is an ES256 JWT signed with this developer key. */
  apple_key?: { team_id: string; key_id: string; public_jwk: JWK };
}

interface MintOptions {
  provider: ProviderName;
  /** Merged over the defaults (iss, aud, sub, iat, exp, email, ...); null removes a claim. */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** current: the published key; foreign: another key under the published kid; unlisted: a kid not in the JWKS; hs256: HMAC with the public key. */
  key?: "current" | "foreign" | "unlisted" | "hs256";
}

interface ProviderStats {
  discoveryFetches: number;
  jwksFetches: number;
  authorizeRequests: number;
  tokenRequests: number;
  kid: string;
  issuer: string;
}

export interface OidcProvider {
  url: string;
  port: number;
  google: { issuer: string; discoveryUrl: string };
  apple: { issuer: string; discoveryUrl: string };
  mint(opts: MintOptions): Promise<{ id_token: string; kid: string }>;
  rotate(provider: ProviderName): Promise<{ kid: string; previousKid: string }>;
  addClient(client: ClientRegistration): void;
  nextLogin(provider: ProviderName, user: LocalUser): void;
  stats(): Record<ProviderName, ProviderStats>;
  stop(): Promise<void>;
}

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** A registered client, or (open mode) any client id with any loopback redirect URI. */
type Client = Omit<ClientRegistration, "provider" | "redirect_uris"> & { redirect_uris: string[] | null; open?: boolean };

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  nonce: string | null;
  user: LocalUser;
  expiresAt: number;
}

interface Provider {
  name: ProviderName;
  profile: (typeof PROFILES)[ProviderName];
  key: SigningKey;
  clients: Map<string, Client>;
  codes: Map<string, Grant>;
  nextLogins: LocalUser[];
  jwksMaxAge: number;
  discoveryMaxAge: number;
  stats: Omit<ProviderStats, "kid" | "issuer">;
}

const CODE_TTL_S = 60;
const MAX_BODY = 64 * 1024;
const MAX_CODES = 10_000;

const PROFILES: Record<ProviderName, { alg: string; authMethods: string[]; scopes: string[] }> = {
  google: { alg: "ES256", authMethods: ["client_secret_basic", "client_secret_post"], scopes: ["openid", "email", "profile"] },
  apple: { alg: "RS256", authMethods: ["client_secret_post"], scopes: ["openid", "email", "name"] },
};

const b64url = (buf: Uint8Array) => Buffer.from(buf).toString("base64url");
const sha256 = (s: string) => createHash("sha256").update(s).digest();
const nowS = () => Math.floor(Date.now() / 1000);
const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

function safeEqual(a: string, b: string) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

async function newKey(alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${b64url(randomBytes(6))}`;
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

function send(res: http.ServerResponse, status: number, body: string | object, headers: Record<string, string> = {}) {
  const isText = typeof body === "string";
  res.writeHead(status, {
    "content-type": isText ? "text/html; charset=utf-8" : "application/json",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(isText ? body : JSON.stringify(body));
}

const isLoopback = (u: string) => {
  try {
    const { hostname } = new URL(u);
    return hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]";
  } catch {
    return false;
  }
};

/**
 * Start the provider. `port` 0 picks a free port. `clients` registers clients up front
 * ({provider, client_id, redirect_uris, client_secret?, apple_key?: {team_id, key_id, public_jwk}}).
 */
export async function startOidcProvider({
  port = 0,
  host = "127.0.0.1",
  clients = [],
  open = false,
  jwksMaxAge = 3600,
  discoveryMaxAge = 3600,
}: {
  port?: number;
  host?: string;
  clients?: ClientRegistration[];
  /** Accept unregistered clients with any loopback redirect URI and any secret (the dev stack). */
  open?: boolean;
  jwksMaxAge?: number;
  discoveryMaxAge?: number;
} = {}): Promise<OidcProvider> {
  const state = {} as Record<ProviderName, Provider>;
  for (const name of Object.keys(PROFILES) as ProviderName[]) {
    state[name] = {
      name,
      profile: PROFILES[name],
      key: await newKey(PROFILES[name].alg),
      clients: new Map(),
      codes: new Map(),
      nextLogins: [],
      jwksMaxAge,
      discoveryMaxAge,
      stats: { discoveryFetches: 0, jwksFetches: 0, authorizeRequests: 0, tokenRequests: 0 },
    };
  }
  let base = "";
  const issuerOf = (p: Provider) => `${base}/${p.name}`;

  const providerOf = (name: string | undefined): Provider => {
    const p = state[(name ?? "google") as ProviderName];
    if (!p) throw httpError(`unknown provider ${name}`, 400);
    return p;
  };

  function addClient({ provider, client_id, redirect_uris = [], client_secret, apple_key }: ClientRegistration) {
    const p = providerOf(provider);
    if (!client_id) throw httpError("client_id is required", 400);
    p.clients.set(client_id, { client_id, redirect_uris, client_secret, apple_key });
  }
  for (const c of clients) addClient(c);

  async function rotate(name: string | undefined) {
    const p = providerOf(name);
    const previousKid = p.key.kid;
    p.key = await newKey(p.profile.alg);
    return { kid: p.key.kid, previousKid };
  }

  function userClaims(p: Provider, user: LocalUser) {
    const claims: JWTPayload = { sub: String(user.sub), email: user.email };
    if (p.name === "apple") {
      // Apple sends these booleans as strings ("true"), and never the name in the token.
      claims.email_verified = String(user.email_verified ?? true);
      claims.is_private_email = String(user.is_private_email ?? false);
    } else {
      claims.email_verified = user.email_verified ?? true;
      if (user.name) claims.name = user.name;
    }
    return claims;
  }

  /** Sign an ID token. `key` picks what signs it, for the tests of refused tokens. */
  async function mint({ provider, claims = {}, header = {}, key = "current" }: MintOptions) {
    const p = providerOf(provider);
    const iat = nowS();
    const defaults = {
      iss: issuerOf(p),
      aud: [...p.clients.keys()][0] ?? "local-client",
      iat,
      exp: iat + 3600,
      ...userClaims(p, { sub: "minted-user", email: "minted@example.test", email_verified: true, name: "Minted User" }),
      ...(p.name === "apple" ? { nonce_supported: true } : {}),
    };
    const payload: JWTPayload = { ...defaults, ...claims };
    for (const [k, v] of Object.entries(payload)) if (v === null) delete payload[k];
    if (p.name === "google" && payload.azp === undefined && typeof payload.aud === "string") payload.azp = payload.aud;
    let signer = p.key;
    if (key === "foreign") signer = { ...(await newKey(p.profile.alg)), kid: p.key.kid }; // right kid, wrong key
    if (key === "unlisted") signer = await newKey(p.profile.alg); // a kid the JWKS never had
    if (key === "hs256") {
      // The classic confusion attack: HMAC with the public key as the secret.
      const secret = new TextEncoder().encode(JSON.stringify(p.key.publicJwk));
      const id_token = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: p.key.kid, ...header }).sign(secret);
      return { id_token, kid: p.key.kid };
    }
    const id_token = await new SignJWT(payload)
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: "JWT", ...header })
      .sign(signer.privateKey);
    return { id_token, kid: signer.kid };
  }

  function discovery(p: Provider) {
    const iss = issuerOf(p);
    return {
      issuer: iss,
      authorization_endpoint: `${iss}/authorize`,
      token_endpoint: `${iss}/token`,
      jwks_uri: `${iss}/jwks`,
      response_types_supported: ["code"],
      response_modes_supported: ["query", "form_post"],
      subject_types_supported: ["public", "pairwise"],
      id_token_signing_alg_values_supported: [p.profile.alg],
      scopes_supported: p.profile.scopes,
      token_endpoint_auth_methods_supported: p.profile.authMethods,
      code_challenge_methods_supported: ["S256"],
      claims_supported: ["aud", "email", "email_verified", "exp", "iat", "iss", "nonce", "sub", "name"],
    };
  }

  function clientFor(p: Provider, clientId: string): Client | null {
    const c = p.clients.get(clientId);
    if (c) return c;
    return open ? { client_id: clientId, redirect_uris: null, open: true } : null;
  }

  function redirectAllowed(client: Client, uri: string) {
    if (client.redirect_uris === null) return isLoopback(uri);
    return client.redirect_uris.includes(uri);
  }

  function authorize(p: Provider, url: URL, res: http.ServerResponse) {
    p.stats.authorizeRequests++;
    const q = url.searchParams;
    const client = clientFor(p, q.get("client_id") ?? "");
    const redirectUri = q.get("redirect_uri") ?? "";
    // Never redirect to an address the client did not register (RFC 6749 4.1.2.1).
    if (!client) return send(res, 400, `<h1>invalid_client</h1><p>Unknown client_id.</p>`);
    if (!redirectAllowed(client, redirectUri)) return send(res, 400, `<h1>invalid_request</h1><p>redirect_uri is not registered.</p>`);
    const responseMode = q.get("response_mode") ?? "query";
    const back = (params: Record<string, string>) => {
      const stateParam = q.get("state");
      const all = { ...params, ...(stateParam !== null ? { state: stateParam } : {}) };
      if (responseMode === "form_post") {
        const inputs = Object.entries(all)
          .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
          .join("");
        return send(
          res,
          200,
          `<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="${escapeHtml(redirectUri)}">${inputs}<noscript><button>Continue</button></noscript></form></body></html>`,
        );
      }
      const target = new URL(redirectUri);
      for (const [k, v] of Object.entries(all)) target.searchParams.set(k, v);
      res.writeHead(302, { location: target.toString(), "cache-control": "no-store" });
      res.end();
    };
    if (q.get("response_type") !== "code") return back({ error: "unsupported_response_type" });
    if (!(q.get("scope") ?? "").split(" ").includes("openid")) return back({ error: "invalid_scope" });
    const challenge = q.get("code_challenge");
    const method = q.get("code_challenge_method");
    if (challenge !== null && method !== "S256") return back({ error: "invalid_request", error_description: "only S256" });
    const hint = q.get("login_hint");
    const user: LocalUser =
      p.nextLogins.shift() ??
      (hint?.includes("@")
        ? { sub: `sub-${sha256(hint.toLowerCase()).toString("hex").slice(0, 16)}`, email: hint, email_verified: true }
        : { sub: "local-user", email: "local.user@example.test", email_verified: true, name: "Local User" });
    const code = b64url(randomBytes(32));
    if (p.codes.size >= MAX_CODES) p.codes.delete(p.codes.keys().next().value!);
    p.codes.set(code, {
      clientId: client.client_id,
      redirectUri,
      challenge,
      nonce: q.get("nonce"),
      user,
      expiresAt: nowS() + CODE_TTL_S,
    });
    const extra: Record<string, string> = {};
    // Apple posts the user's name once, beside the code, never in the token.
    if (p.name === "apple" && responseMode === "form_post" && user.name) {
      const [firstName, ...rest] = String(user.name).split(" ");
      extra.user = JSON.stringify({ name: { firstName, lastName: rest.join(" ") }, email: user.email });
    }
    return back({ code, ...extra });
  }

  async function authenticateClient(
    p: Provider,
    req: http.IncomingMessage,
    form: URLSearchParams,
  ): Promise<{ client: Client; error?: undefined } | { error: string }> {
    let clientId = form.get("client_id");
    let secret = form.get("client_secret");
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (basic) {
      if (!p.profile.authMethods.includes("client_secret_basic")) return { error: "invalid_client" };
      const [id, pw] = Buffer.from(basic[1], "base64").toString("utf8").split(":");
      clientId = decodeURIComponent(id ?? "");
      secret = decodeURIComponent(pw ?? "");
    }
    const client = clientFor(p, clientId ?? "");
    if (!client) return { error: "invalid_client" };
    if (client.open) return { client };
    if (client.apple_key) {
      if (!secret) return { error: "invalid_client" };
      try {
        const key = await importJWK(client.apple_key.public_jwk, "ES256");
        const { payload, protectedHeader } = await jwtVerify(secret, key, {
          algorithms: ["ES256"],
          issuer: client.apple_key.team_id,
          subject: client.client_id,
          audience: issuerOf(p),
        });
        if (protectedHeader.kid !== client.apple_key.key_id) return { error: "invalid_client" };
        // Apple refuses client secrets valid for more than six months.
        if (typeof payload.exp !== "number" || typeof payload.iat !== "number" || payload.exp - payload.iat > 15_777_000)
          return { error: "invalid_client" };
      } catch {
        return { error: "invalid_client" };
      }
      return { client };
    }
    if (client.client_secret !== undefined) {
      if (!secret || !safeEqual(secret, client.client_secret)) return { error: "invalid_client" };
    }
    return { client };
  }

  async function token(p: Provider, req: http.IncomingMessage, res: http.ServerResponse) {
    p.stats.tokenRequests++;
    const form = new URLSearchParams(await readBody(req, MAX_BODY));
    const fail = (status: number, error: string, error_description?: string) =>
      send(res, status, { error, ...(error_description ? { error_description } : {}) });
    if (form.get("grant_type") !== "authorization_code") return fail(400, "unsupported_grant_type");
    const auth = await authenticateClient(p, req, form);
    if (auth.error !== undefined) return fail(401, auth.error);
    const code = form.get("code") ?? "";
    const grant = p.codes.get(code);
    // One use only: a second attempt with the same code fails even if the first one did.
    p.codes.delete(code);
    if (!grant || grant.expiresAt < nowS()) return fail(400, "invalid_grant", "unknown, used or expired code");
    if (grant.clientId !== auth.client.client_id) return fail(400, "invalid_grant", "code issued to another client");
    if (grant.redirectUri !== (form.get("redirect_uri") ?? "")) return fail(400, "invalid_grant", "redirect_uri mismatch");
    const verifier = form.get("code_verifier");
    if (grant.challenge !== null) {
      if (!verifier || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return fail(400, "invalid_grant", "code_verifier required");
      if (!safeEqual(b64url(sha256(verifier)), grant.challenge)) return fail(400, "invalid_grant", "PKCE verification failed");
    } else if (verifier) return fail(400, "invalid_grant", "no code_challenge was sent");
    const iat = nowS();
    const claims = {
      iss: issuerOf(p),
      aud: grant.clientId,
      iat,
      exp: iat + 3600,
      auth_time: iat,
      ...userClaims(p, grant.user),
      ...(grant.nonce !== null ? { nonce: grant.nonce } : {}),
      ...(p.name === "apple" ? { nonce_supported: true } : { azp: grant.clientId }),
    };
    const id_token = await new SignJWT(claims).setProtectedHeader({ alg: p.key.alg, kid: p.key.kid, typ: "JWT" }).sign(p.key.privateKey);
    return send(res, 200, {
      access_token: b64url(randomBytes(24)),
      token_type: "Bearer",
      expires_in: 3600,
      id_token,
      ...(p.name === "apple" ? { refresh_token: b64url(randomBytes(24)) } : { scope: "openid email profile" }),
    });
  }

  function stats() {
    return Object.fromEntries(Object.values(state).map((p) => [p.name, { ...p.stats, kid: p.key.kid, issuer: issuerOf(p) }])) as Record<
      ProviderName,
      ProviderStats
    >;
  }

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const path = url.pathname.replace(/\/+$/, "") || "/";
      const json = async () => JSON.parse((await readBody(req, MAX_BODY)) || "{}");
      if (path.startsWith("/_control/")) {
        const route = `${req.method} ${path}`;
        if (route === "GET /_control/stats") return send(res, 200, stats());
        if (route === "POST /_control/mint") return send(res, 200, await mint(await json()));
        if (route === "POST /_control/rotate") return send(res, 200, await rotate((await json()).provider));
        if (route === "POST /_control/next-login") {
          const { provider, ...user } = await json();
          if (!user.sub) return send(res, 400, { error: "sub is required" });
          providerOf(provider).nextLogins.push(user);
          return send(res, 200, { queued: providerOf(provider).nextLogins.length });
        }
        if (route === "POST /_control/clients") {
          addClient(await json());
          return send(res, 200, { ok: true });
        }
        if (route === "POST /_control/cache") {
          const body = await json();
          const p = providerOf(body.provider);
          if (body.jwksMaxAge !== undefined) p.jwksMaxAge = Number(body.jwksMaxAge);
          if (body.discoveryMaxAge !== undefined) p.discoveryMaxAge = Number(body.discoveryMaxAge);
          return send(res, 200, { jwksMaxAge: p.jwksMaxAge, discoveryMaxAge: p.discoveryMaxAge });
        }
        return send(res, 404, { error: "not_found" });
      }
      const [, name, ...rest] = path.split("/");
      const p = state[name as ProviderName];
      const sub = `/${rest.join("/")}`;
      if (!p) return send(res, 404, { error: "not_found" });
      if (req.method === "GET" && sub === "/.well-known/openid-configuration") {
        p.stats.discoveryFetches++;
        return send(res, 200, discovery(p), { "cache-control": `public, max-age=${p.discoveryMaxAge}` });
      }
      if (req.method === "GET" && sub === "/jwks") {
        p.stats.jwksFetches++;
        return send(
          res,
          200,
          { keys: [p.key.publicJwk] },
          { "cache-control": `public, max-age=${p.jwksMaxAge}, must-revalidate, no-transform` },
        );
      }
      if (req.method === "GET" && sub === "/authorize") return authorize(p, url, res);
      if (req.method === "POST" && sub === "/token") return await token(p, req, res);
      return send(res, 404, { error: "not_found" });
    } catch (err) {
      if (!res.headersSent)
        send(res, (err as { status?: number })?.status ?? 500, {
          error: "server_error",
          error_description: String((err as Error)?.message ?? err),
        });
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = listeningPort(server);
  base = `http://${host.includes(":") ? `[${host}]` : host}:${actual}`;
  const info = (name: ProviderName) => ({ issuer: `${base}/${name}`, discoveryUrl: `${base}/${name}/.well-known/openid-configuration` });
  return {
    url: base,
    port: actual,
    google: info("google"),
    apple: info("apple"),
    mint,
    rotate,
    addClient,
    stats,
    nextLogin: (provider, user) => {
      providerOf(provider).nextLogins.push(user);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
