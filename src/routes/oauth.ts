import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { SESSION } from "../auth/access";
import { STATUS_REFUSALS } from "../auth/account/status";
import type { BindingCookie } from "../auth/oauth/browser-binding";
import { PROVIDER_NAMES, providerLabel } from "../auth/oauth/configured";
import { RESUBMIT_MARKER, resubmitPage } from "../auth/oauth/form-post";
import { listIdentities, unlinkIdentity } from "../auth/oauth/identities";
import {
  type CallbackRequest,
  exchangeSignIn,
  finishWebSignIn,
  INTENTS,
  linkWithExchangeCode,
  startWebSignIn,
} from "../auth/oauth/redirect";
import { linkWithIdToken, signInWithIdToken } from "../auth/oauth/social-sign-in";
import type { AppEnv } from "../context";
import type { Identity } from "../db/schema";
import type { ErrorCode } from "../errors";
import { t } from "../i18n/messages";
import { route, say } from "./route";
import {
  anyPasswordField,
  issue,
  json,
  jsonBody,
  MessageSchema,
  mfaCodeField,
  SignInResponseSchema,
  sentence,
  timestamp,
  uuid,
} from "./schemas";
import { signInAnswer } from "./sign-in";

const EXAMPLE_IDENTITY = {
  id: "5d7c3b1a-2e4f-4a6b-8c9d-0e1f2a3b4c5d",
  provider: "google",
  email: "ada@example.com",
  email_verified: true,
  created_at: "2026-01-05T09:30:00.000Z",
  last_used_at: "2026-01-06T08:12:41.000Z",
};
export const IdentitySchema = z
  .object({
    id: uuid(),
    provider: z.enum(PROVIDER_NAMES),
    email: z.string().max(255).nullable().openapi({ description: "The email the provider gave when the identity was linked" }),
    email_verified: z.boolean().openapi({ description: "Whether the provider vouched for that email" }),
    created_at: timestamp(),
    last_used_at: timestamp().nullable(),
  })
  .openapi("Identity", { example: EXAMPLE_IDENTITY });

export const publicIdentity = (i: Identity) => ({
  id: i.id,
  provider: i.provider as (typeof PROVIDER_NAMES)[number],
  email: i.email,
  email_verified: i.emailVerified,
  created_at: i.createdAt.toISOString(),
  last_used_at: i.lastUsedAt?.toISOString() ?? null,
});

export function oauthRoutes() {
  /**
   * Sign in with Google and Apple (docs/social-sign-in.md): native ID tokens, the web redirect flow
   * and its exchange, linking and the identity list. The domain is src/auth/oauth/.
   */
  const TAGS = ["Social sign-in"];

  const provider = z
    .string()
    .max(16)
    .openapi({
      param: { name: "provider", in: "path" },
      enum: [...PROVIDER_NAMES],
      example: "google",
      description: "`google` or `apple`; a provider without client ids configured answers 404",
    });
  const ProviderParams = z.object({ provider });

  /** Every refusal of an ID token (each with its own code). */
  const TOKEN_ERRORS = [
    "id_token_malformed",
    "id_token_bad_signature",
    "id_token_unknown_key",
    "id_token_wrong_issuer",
    "id_token_wrong_audience",
    "id_token_expired",
    "id_token_not_yet_valid",
    "nonce_missing",
    "nonce_mismatch",
    "id_token_email_invalid",
    "provider_unavailable",
  ] as const satisfies readonly ErrorCode[];

  /** What completeSignIn and the account rules can answer after a verified identity. */
  const SIGN_IN_ERRORS = [
    "not_found",
    "oauth_email_missing",
    "account_exists_unverified_link",
    // Every refusal of an account's state (suspended, being deleted), as for password login.
    ...STATUS_REFUSALS,
    "email_unverified",
    "invalid_credentials",
  ] as const satisfies readonly ErrorCode[];

  const idToken = z
    .string({ error: issue("validation.id_token_required") })
    .min(1, issue("validation.id_token_required"))
    .max(16_384)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, issue("validation.id_token_format"))
    .openapi({
      description: "The ID token the provider's SDK returned",
      example: "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiIxIn0.c2ln",
    });
  const nonce = z.string().min(1).max(512).optional().openapi({
    description:
      "The raw nonce: the app gave its SHA-256 (lowercase hex) to the provider's SDK. Required for Apple and Google iOS (docs/social-sign-in.md)",
    example: "c0a8e1f6b2d94e7a8f3b5c1d2e4f6a7b",
  });
  const EXAMPLE_ID_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFwcGxlLWtleSJ9.eyJpc3MiOiJodHRwczovL2FwcGxlaWQuYXBwbGUuY29tIn0.c2lnbmF0dXJl";

  const IdTokenBody = z
    .object({
      id_token: idToken,
      nonce,
      full_name: z.string().trim().min(1).max(100, issue("validation.full_name_too_long")).optional().openapi({
        description: "Apple only: the name the native SDK gave on the first sign-in (never in the token)",
        example: "Ada Lovelace",
      }),
    })
    .openapi("IdTokenSignInRequest", {
      example: { id_token: EXAMPLE_ID_TOKEN, nonce: "c0a8e1f6b2d94e7a8f3b5c1d2e4f6a7b", full_name: "Ada Lovelace" },
    });

  const exchangeCode = z
    .string({ error: issue("validation.code_required") })
    .min(1, issue("validation.code_required"))
    .max(128)
    .regex(/^[A-Za-z0-9_-]+$/, issue("validation.exchange_code_format"))
    .openapi({
      description: "The one-time code the callback added to redirect_to",
      example: "Xq3v9bT0kR7mYp2sLw8eZc4uNf6aHd1gJi5oQr0tUy8",
    });
  const VERIFIER_MESSAGE = issue("validation.code_verifier_format");
  const codeVerifier = z
    .string({ error: VERIFIER_MESSAGE })
    .min(43, VERIFIER_MESSAGE)
    .max(128, VERIFIER_MESSAGE)
    .regex(/^[A-Za-z0-9._~-]+$/, VERIFIER_MESSAGE)
    .openapi({ description: "The verifier of the code_challenge the app gave to start (RFC 7636)" });
  const EXAMPLE_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

  const ExchangeBody = z
    .object({ code: exchangeCode, code_verifier: codeVerifier })
    .openapi("OAuthExchangeRequest", { example: { code: "Xq3v9bT0kR7mYp2sLw8eZc4uNf6aHd1gJi5oQr0tUy8", code_verifier: EXAMPLE_VERIFIER } });

  /** The owner's proof for a change to the ways in (src/auth/ways-in.ts). */
  const ownerProof = {
    current_password: anyPasswordField.optional().openapi({
      description: "The account's current password (required when it has one; without one, a login within RECENT_AUTH_MAX_AGE)",
    }),
    mfa_code: mfaCodeField,
  };

  const LinkBody = z
    .object({ id_token: idToken.optional(), nonce, code: exchangeCode.optional(), code_verifier: codeVerifier.optional(), ...ownerProof })
    .refine((b) => (b.id_token === undefined) !== (b.code === undefined), {
      message: issue("validation.id_token_or_code"),
      path: ["id_token"],
    })
    .refine((b) => b.code === undefined || b.code_verifier !== undefined, { message: VERIFIER_MESSAGE, path: ["code_verifier"] })
    .openapi("LinkIdentityRequest", {
      example: { id_token: EXAMPLE_ID_TOKEN, nonce: "c0a8e1f6b2d94e7a8f3b5c1d2e4f6a7b", current_password: "correct horse battery staple" },
    });

  const UnlinkBody = z
    .object(ownerProof)
    .openapi("UnlinkIdentityRequest", { example: { current_password: "correct horse battery staple" } });

  /** The owner's proof fails: the codes confirmOwner and requireMfaCode answer. */
  const OWNER_PROOF_ERRORS = [
    "invalid_current_password",
    "password_reset_required",
    "mfa_code_required",
    "invalid_mfa_code",
    "mfa_code_used",
  ] as const satisfies readonly ErrorCode[];

  const SET_COOKIE = {
    description:
      "The flow's browser binding: `__Host-oauth-<id>=<random>; Max-Age=600; Path=/; HttpOnly; Secure; SameSite=Lax` " +
      "(`oauth-<id>` without Secure over plain http to localhost); the callback clears it",
    schema: { type: "string" as const, maxLength: 256, pattern: "^(__Host-)?oauth-[0-9a-f]{16}=" },
  };

  /** A 302 and where it points (and the browser-binding cookie it sets or clears). */
  const redirect = (description: string, location: string) => ({
    description,
    headers: {
      Location: { description: location, schema: { type: "string" as const, format: "uri", maxLength: 4096 } },
      "Set-Cookie": SET_COOKIE,
    },
  });

  const idTokenRoute = route({
    method: "post",
    path: "/oauth/{provider}/id-token",
    tags: TAGS,
    summary: "Sign in with a native app's Google or Apple ID token",
    description:
      "Verifies the ID token against the provider's published keys (iss, aud among the configured client ids, exp/iat, the nonce) " +
      "and signs in to the account of this identity: a known identity signs in to its account; a new one creates an account when no " +
      "account has its email, and is linked to an existing one only when the provider and the account both have the email verified " +
      '(else 409 account_exists_unverified_link). Answers like POST /login: tokens, or `status: "mfa_required"` on an account with ' +
      "two-factor sign-in. The session's amr is the provider's name.",
    limit: "RL_LOGIN",
    errors: [...TOKEN_ERRORS, ...SIGN_IN_ERRORS],
    request: { params: ProviderParams, body: jsonBody(IdTokenBody, "The ID token, the raw nonce and (Apple, first sign-in) the name") },
    responses: { 200: json(SignInResponseSchema, "Signed in (a session is started), or the second factor is needed next") },
  });

  const startRoute = route({
    method: "get",
    path: "/oauth/{provider}/start",
    tags: TAGS,
    summary: "Start the web redirect flow",
    description:
      "Binds the flow to this browser with a cookie (`__Host-oauth-…`, HttpOnly, SameSite=Lax; the callback must come back with it) and " +
      "to the app with its own PKCE pair: `code_challenge` (S256) is required, and the exchange code works only with its verifier. " +
      "`intent=sign_in` (default): open this URL in the browser (a navigation); the answer is a 302 to the provider. `intent=link`: " +
      "call it with the session's bearer token (fetch with `credentials: \"include\"`, on this API's own origin, so the cookie is kept); " +
      "the answer is JSON with `authorization_url`, to open in the same browser, and the exchange code only links, for this session " +
      "(POST /oauth/{provider}/link). Authorization code flow with PKCE S256, state and nonce, kept server-side for 10 minutes. " +
      "`redirect_to` must be exactly one of OAUTH_REDIRECT_ALLOWLIST. 404 when the provider or its web flow is not configured.",
    limit: "RL_LOGIN",
    optionalAuth: SESSION,
    errors: ["not_found", "oauth_redirect_not_allowed", "provider_unavailable", "unauthorized", "email_unverified"],
    request: {
      params: ProviderParams,
      query: z.object({
        redirect_to: z
          .string({ error: issue("validation.redirect_to_required") })
          .min(1, issue("validation.redirect_to_required"))
          .max(2048)
          .openapi({ description: "Where the browser returns with ?code= (or ?error=)", example: "https://app.example.com/oauth/done" }),
        code_challenge: z
          .string({ error: issue("validation.code_challenge_required") })
          .length(43, issue("validation.code_challenge_format"))
          .regex(/^[A-Za-z0-9_-]+$/, issue("validation.code_challenge_format"))
          .openapi({
            description: "BASE64URL(SHA-256(code_verifier)) of a verifier the app keeps for the exchange (RFC 7636, S256)",
            example: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
          }),
        intent: z
          .enum(INTENTS, { error: issue("validation.intent_invalid") })
          .default("sign_in")
          .openapi({ description: "`sign_in` (default), or `link` (bearer token required): what the exchange code may be used for" }),
      }),
    },
    responses: {
      200: json(
        z.object({ status: z.literal("success"), authorization_url: z.string().url().max(4096) }).openapi("OAuthLinkStart", {
          example: {
            status: "success",
            authorization_url: "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=web.apps.example&state=s-3f9a",
          },
        }),
        "intent=link: the provider's authorization URL, to open in this browser (the cookie is set)",
      ),
      302: redirect("intent=sign_in: to the provider's authorization page (the cookie is set)", "The provider's authorization URL"),
    },
  });

  /** What the provider sends back (query or form_post); everything else is ignored. */
  const callbackFields = {
    code: z.string().max(2048).optional(),
    state: z.string().max(512).optional(),
    error: z.string().max(256).optional(),
    error_description: z.string().max(1024).optional(),
    iss: z.string().max(512).optional(),
    user: z.string().max(4096).optional().openapi({ description: "Apple, first authorization only: the user's name as JSON" }),
  };
  const CallbackForm = z
    .object({
      ...callbackFields,
      [RESUBMIT_MARKER]: z
        .literal("1")
        .optional()
        .openapi({ description: "Set by this API's own re-posting page (never by the provider)" }),
    })
    .openapi("OAuthCallbackForm", { example: { code: "c.abc123", state: "s-3f9a" } });

  const CALLBACK_DESCRIPTION =
    "Where the provider sends the browser back (register it with the provider exactly: OAUTH_CALLBACK_BASE_URL or the API's origin, " +
    "then BASE_PATH/oauth/{provider}/callback; never under a web client's service-worker scope). The browser must bring the cookie " +
    "start set: without it nothing changes and the browser goes back to redirect_to with `error=oauth_browser_mismatch`. Then the " +
    "state is used up, the code is exchanged with the PKCE verifier and the ID token verified, and a 302 sends the browser to " +
    "redirect_to with `code` (a one-time exchange code, valid 60 s) or `error` (an error code). An unknown, used or expired state " +
    "answers 400 oauth_state_invalid (there is nowhere trusted to send the browser).";
  const callbackRedirect = redirect(
    "Back to redirect_to",
    "redirect_to with `code=<exchange code>` (POST it to /oauth/exchange) or `error=<error code>`",
  );

  const callbackGetRoute = route({
    method: "get",
    path: "/oauth/{provider}/callback",
    tags: TAGS,
    summary: "The provider's redirect back (Google: query parameters)",
    description: CALLBACK_DESCRIPTION,
    limit: "RL_LOGIN",
    errors: ["not_found", "oauth_state_invalid"],
    request: { params: ProviderParams, query: z.object(callbackFields) },
    responses: { 302: callbackRedirect },
  });

  const callbackPostRoute = route({
    method: "post",
    path: "/oauth/{provider}/callback",
    tags: TAGS,
    summary: "The provider's redirect back (Apple: a form_post)",
    description:
      `${CALLBACK_DESCRIPTION} Apple posts the form cross-site, and a SameSite=Lax cookie does not come with a cross-site POST: such a ` +
      "POST is answered with a small page (200, text/html, its own CSP) that posts the same fields again from this origin, with the " +
      "cookie; nothing is read or changed before that.",
    limit: "RL_LOGIN",
    errors: ["not_found", "oauth_state_invalid"],
    request: {
      params: ProviderParams,
      body: {
        content: { "application/x-www-form-urlencoded": { schema: CallbackForm } },
        required: true,
        description: "The provider's answer",
      },
    },
    responses: {
      200: {
        description: "A cross-site POST without the cookie: a page that posts the same fields again from this origin",
        headers: {
          "Content-Security-Policy": {
            description: "Only this page's own script may run",
            schema: { type: "string", maxLength: 512, pattern: "^default-src 'none'; script-src 'nonce-" },
          },
        },
        content: {
          "text/html": {
            schema: z
              .string()
              .max(16384)
              .regex(/^<!doctype html>/)
              .openapi({
                example:
                  '<!doctype html>…<form method="post"><input type="hidden" name="code" value="c.abc123"><input type="hidden" name="state" ' +
                  'value="s-3f9a"><input type="hidden" name="same_site" value="1">…</form><script nonce="…">document.forms[0].submit();</script>…',
              }),
          },
        },
      },
      302: callbackRedirect,
    },
  });

  const exchangeRoute = route({
    method: "post",
    path: "/oauth/exchange",
    tags: TAGS,
    summary: "Exchange the redirect flow's one-time code for the sign-in answer",
    description:
      "The code works once (of concurrent exchanges exactly one succeeds), for 60 seconds, with the verifier of the app's " +
      "code_challenge, and only if start was given intent=sign_in (a link code answers 400 oauth_intent_mismatch and stays as it was). " +
      'The account is resolved as for POST /oauth/{provider}/id-token; the answer is the same as POST /login (tokens, or `status: "mfa_required"`).',
    limit: "RL_LOGIN",
    errors: ["oauth_exchange_code_invalid", "oauth_intent_mismatch", ...SIGN_IN_ERRORS],
    request: { body: jsonBody(ExchangeBody, "The exchange code and the app's code_verifier") },
    responses: { 200: json(SignInResponseSchema, "Signed in (a session is started), or the second factor is needed next") },
  });

  const linkRoute = route({
    method: "post",
    path: "/oauth/{provider}/link",
    tags: TAGS,
    summary: "Link a Google or Apple identity to the signed-in account",
    description:
      "A credential change: needs a recent login (RECENT_AUTH_MAX_AGE), `current_password` (an account without a password: the " +
      "recent login alone), `mfa_code` when two-factor sign-in is on, and a verified email address (else 403 email_unverified). " +
      "Send the ID token (verified exactly as for sign-in, once) or an exchange code from a redirect flow this session started with " +
      "intent=link (and its code_verifier). Linking an identity already on this account changes nothing; one on another account is " +
      "refused. The account's address is told of every new link.",
    limit: "RL_LOGIN",
    auth: { ...SESSION, recentLogin: true },
    errors: [
      "not_found",
      ...TOKEN_ERRORS,
      "oauth_exchange_code_invalid",
      "oauth_intent_mismatch",
      "identity_already_linked",
      "email_unverified",
      ...OWNER_PROOF_ERRORS,
    ],
    request: {
      params: ProviderParams,
      body: jsonBody(LinkBody, "The identity (id_token and nonce, or code and code_verifier) and the owner's proof"),
    },
    responses: {
      200: json(
        z.object({ status: z.literal("success"), message: sentence(), identity: IdentitySchema }).openapi("LinkIdentityResponse", {
          example: { status: "success", message: t("en", "success.identity_linked", { provider: "Google" }), identity: EXAMPLE_IDENTITY },
        }),
        "Linked (or it already was)",
      ),
    },
  });

  const listRoute = route({
    method: "get",
    path: "/identities",
    tags: TAGS,
    summary: "The caller's linked Google and Apple identities",
    description: "Oldest first. `has_password`: the account also has a usable password (the other way to sign in).",
    limit: "RL_DEFAULT",
    auth: SESSION,
    errors: [],
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), has_password: z.boolean(), identities: z.array(IdentitySchema).max(100) })
          .openapi("IdentityList", { example: { status: "success", has_password: true, identities: [EXAMPLE_IDENTITY] } }),
        "The identities",
      ),
    },
  });

  const unlinkRoute = route({
    method: "delete",
    path: "/identities/{id}",
    tags: TAGS,
    summary: "Unlink one of the caller's identities",
    description:
      "A credential change: needs a recent login, `current_password` (an account without a password: the recent login alone) and " +
      "`mfa_code` when two-factor sign-in is on. Never removes the account's last way to sign in: without a usable password, the " +
      "last identity stays (409 last_sign_in_method; set a password with forgot-password first). Every session signed in with the " +
      "identity ends with it; the account's address is told.",
    limit: "RL_LOGIN",
    auth: { ...SESSION, recentLogin: true },
    errors: ["identity_not_found", "last_sign_in_method", ...OWNER_PROOF_ERRORS],
    request: {
      params: z.object({ id: uuid(issue("validation.identity_id")).openapi({ param: { name: "id", in: "path" } }) }),
      body: jsonBody(UnlinkBody, "The owner's proof"),
    },
    responses: { 200: json(MessageSchema, "Unlinked") },
  });

  function setBindingCookie(c: Context<AppEnv>, cookie: BindingCookie) {
    setCookie(c, cookie.name, cookie.value, { httpOnly: true, secure: cookie.secure, sameSite: "Lax", path: "/", maxAge: cookie.maxAge });
  }

  /** A callback, GET or POST: the redirect (with the cookie cleared), or the page that posts a form_post again from here. */
  async function callbackAnswer(c: Context<AppEnv>, req: Pick<CallbackRequest, "params" | "method">) {
    const outcome = await finishWebSignIn(c.get("deps"), c.get("meta"), c.req.param("provider") ?? "", {
      ...req,
      requestUrl: c.req.url,
      cookie: (name) => getCookie(c, name),
    });
    if (outcome.kind === "resubmit") {
      const { html, csp } = resubmitPage(req.params, c.get("meta").locale);
      return c.html(html, 200, { "Content-Security-Policy": csp });
    }
    if (outcome.cookie) setBindingCookie(c, outcome.cookie);
    return c.redirect(outcome.location, 302);
  }

  return new OpenAPIHono<AppEnv>()
    .openapi(idTokenRoute, async (c) => {
      const body = c.req.valid("json");
      const result = await signInWithIdToken(c.get("deps"), c.get("meta"), c.req.valid("param").provider, {
        idToken: body.id_token,
        nonce: body.nonce,
        fullName: body.full_name,
      });
      return c.json(signInAnswer(c, result), 200);
    })
    .openapi(startRoute, async (c) => {
      const q = c.req.valid("query");
      const { url, cookie } = await startWebSignIn(c.get("deps"), c.req.valid("param").provider, {
        redirectTo: q.redirect_to,
        codeChallenge: q.code_challenge,
        intent: q.intent,
        auth: c.get("auth"),
        requestUrl: c.req.url,
      });
      setBindingCookie(c, cookie);
      if (q.intent === "link") return c.json({ status: "success" as const, authorization_url: url }, 200);
      return c.redirect(url, 302);
    })
    .openapi(callbackGetRoute, async (c) =>
      callbackAnswer(c, { params: new URLSearchParams(c.req.valid("query") as Record<string, string>), method: "GET" }),
    )
    .openapi(callbackPostRoute, async (c) =>
      callbackAnswer(c, { params: new URLSearchParams(c.req.valid("form") as Record<string, string>), method: "POST" }),
    )
    .openapi(exchangeRoute, async (c) => {
      const body = c.req.valid("json");
      const result = await exchangeSignIn(c.get("deps"), c.get("meta"), { code: body.code, codeVerifier: body.code_verifier });
      return c.json(signInAnswer(c, result), 200);
    })
    .openapi(linkRoute, async (c) => {
      const body = c.req.valid("json");
      const name = c.req.valid("param").provider;
      const [deps, meta, auth] = [c.get("deps"), c.get("meta"), c.get("auth")];
      const proof = { currentPassword: body.current_password, mfaCode: body.mfa_code };
      const { identity, created } =
        body.code !== undefined
          ? await linkWithExchangeCode(deps, meta, auth, name, { code: body.code, codeVerifier: body.code_verifier! }, proof)
          : await linkWithIdToken(deps, meta, auth, name, { idToken: body.id_token!, nonce: body.nonce }, proof);
      const label = providerLabel(identity.provider);
      const message = say(c, created ? "success.identity_linked" : "success.identity_already_linked", { provider: label });
      return c.json({ status: "success" as const, message, identity: publicIdentity(identity) }, 200);
    })
    .openapi(listRoute, async (c) => {
      const { identities, hasPassword } = await listIdentities(c.get("deps"), c.get("auth"));
      return c.json({ status: "success" as const, has_password: hasPassword, identities: identities.map(publicIdentity) }, 200);
    })
    .openapi(unlinkRoute, async (c) => {
      const body = c.req.valid("json");
      const gone = await unlinkIdentity(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id, {
        currentPassword: body.current_password,
        mfaCode: body.mfa_code,
      });
      const label = providerLabel(gone.provider);
      return c.json({ status: "success" as const, message: say(c, "success.identity_unlinked", { provider: label }) }, 200);
    });
}
