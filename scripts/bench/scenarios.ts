// What `npm run bench` measures, as data: one SCENARIOS entry per measured route, PAIRS of ours and
// the peer's (better-auth, bench/peers/better-auth/) reported as ratios, MIXED runs of two scenarios
// at once, and PROBES for what is not one answer per request. bench.ts runs them, report.ts renders
// them and checks the targets.
//
// Extension points, for the flows of the next batches:
//   - a request flow (passkey sign-in with a software authenticator in this process, token
//     introspection, ...): one SCENARIOS entry with `newFlow: true` (its workerd CPU one at a time
//     is then held to NEW_FLOW_CPU_MS in the targets; a case of it that is reported without that
//     target, one more entry with `noTarget` saying why), its single-use state made by a function in
//     flows.ts or a flows-<feature>.ts beside it, and its state's field in BenchContext below;
//   - a measurement that is not one answer per request (webhook delivery throughput through the
//     Queue to a local receiver, p99 from change to delivery): one PROBES entry, whose run() returns
//     its own figures and target rows (rendered as they come, after the scenarios).

import type { PeerRequest, PeerUser, peerRoutes } from "../../bench/peers/better-auth/runner.mjs";
import { startWebhookReceiver } from "../stack/webhook-receiver.ts";
import * as flows from "./flows.ts";
import { type CpuProbe, diffCpu } from "./proc-cpu.ts";
import type { ProbeResult } from "./results.ts";
import { createEndpoint, drained, measureDelivery, profileChanges, receiverControl } from "./webhook-delivery.ts";

export const PASSWORD = "Vivid-Quartz-Lantern-2026";
export const GOOGLE_CLIENT = "bench-google-native";
/**
 * The peer's default scrypt parameters (better-auth 1.7: N=2^14, r=16, p=1), ours for the "equal hash" rows.
 * BENCH_EQHASH_NO_SHED=1 also lifts our shedding there (HASH_QUEUE_MAX_WAIT 60 s instead of 5 s: a hash
 * that would wait longer answers 503 server_busy), to compare throughput with a peer that queues without limit.
 */
export const PEER_SCRYPT = {
  SCRYPT_LOG_N: "14",
  SCRYPT_R: "16",
  SCRYPT_P: "1",
  ...(process.env.BENCH_EQHASH_NO_SHED ? { HASH_QUEUE_MAX_WAIT: "60s" } : {}),
};
/** Every flow of the current batch costs at most this much workerd CPU per request, one at a time (issue 31). */
export const NEW_FLOW_CPU_MS = 20;

export interface Seed {
  id: string;
  email: string;
  access: string;
  refresh: string;
}

/** The peer as the scenarios use it: its requests and its seeded users, round robin. */
interface PeerState {
  routes: ReturnType<typeof peerRoutes>;
  user(): PeerUser;
}

/** The state the scenarios share: seeded users, pools of single-use state, and what the flows need. */
export interface BenchContext extends flows.FlowContext {
  apiUrl: string;
  refreshPool: string[];
  /** The next seeded user of our app (registered at its default hash parameters), round robin. */
  seed(): Seed;
  /** The next user seeded through our app at the peer's hash parameters (server "eqhash"). */
  eqSeed(): Seed;
  peer?: PeerState;
  googleClientId: string;
  /** Access tokens expire (ACCESS_TOKEN_TTL): every seed gets a fresh pair when its tokens are older than this. */
  freshSeeds(maxAgeMs: number): Promise<void>;
  verifyPool?: { email: string; code: string }[];
  mfaUsers?: flows.MfaUser[];
  mfaPool?: { mfa_token: string; code: string }[];
  admin?: flows.AdminSession;
  socialPool?: { id_token: string; nonce: string }[];
  socialAccounts?: { sub: string; email: string }[];
  /** Accounts that may ask for a sign-in code now; accounts that did (their code waits in the mail capture). */
  codeRequestPool?: string[];
  codeRequested?: { email: string; at: number }[];
  codeVerifyPool?: { email: string; code: string }[];
  /** Sign-in codes of accounts whose address is not verified yet (the code is their first proof of the mailbox). */
  codeVerifyFirstPool?: { email: string; code: string }[];
  passkeyDevices?: Awaited<ReturnType<typeof flows.passkeyDevices>>;
  passkeyPool?: Awaited<ReturnType<typeof flows.passkeyLoginBatch>>;
  /** Accounts the audited admin change toggles between student and instructor (not the seeds: a lowered role ends their sessions). */
  adminTargets?: { id: string; role: string }[];
  adminNext?: number;
  /** A service client's Authorization header (tokens:introspect). */
  introspector?: string;
  /** The app's processes' CPU (workerd, proxy, wrangler, PostgreSQL), for the probes; null without /proc. */
  appCpu: CpuProbe | null;
  /** A CF-Connecting-IP of its own for each request (the per-IP rate limits never trigger). */
  nextIp(): string;
}

interface RequestSpec {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * The Workers a scenario can be answered by, each under the same wrangler dev, frozen, on the same
 * PostgreSQL server:
 *   app           the app as configured (wrangler.toml)
 *   logall        the same bundle with REQUEST_LOG=all (a request line for every request)
 *   nolog         the same bundle with console.log silenced (no line at all, whatever REQUEST_LOG says)
 *   eqhash        the same bundle at the peer's scrypt parameters (PEER_SCRYPT), with its own seeded users
 *   bare          a bare Hono app with one constant route and the app's [assets] (the floor)
 *   bareNoAssets  the same without [assets]
 *   peer          better-auth (bench/peers/better-auth/), its own database on the same server
 */
export type ServerName = "app" | "logall" | "nolog" | "eqhash" | "bare" | "bareNoAssets" | "peer";

// Scenarios: one entry per measured route; a new flow is one more entry here.
//   server     which Worker answers (ServerName; default "app")
//   request    (ctx) => { method, path, headers?, body? } for each request
//   onResponse (status, bodyText, ctx) after each answer (e.g. put a rotated token back)
//   prepare    async (ctx, { connections, requests }) before each load run (e.g. enough live refresh
//              tokens); requests: how many the run will send (the batch, or serial), else null
//   batch      single-use state (codes, mfa_tokens): each load run sends exactly this many requests
//              (prepared just before it) instead of running for a fixed time
//   hashBound  answers wait for a password hash: the run lasts longer by the queue's fill time
//   serial     how many requests the one-at-a-time CPU measurement sends
//   newFlow    a flow of the current batch (issue 31): held to NEW_FLOW_CPU_MS of workerd CPU one at a time
//   noTarget   with newFlow: a case of such a flow that is reported but not held to that target, and why
//              (e.g. a sign-in by code that is also the account's first proof of its mailbox)
export interface Scenario {
  id: string;
  title: string;
  server?: ServerName;
  request(ctx: BenchContext): RequestSpec;
  onResponse?(status: number, body: string, ctx: BenchContext): void;
  prepare?(ctx: BenchContext, run: { connections: number; requests: number | null }): Promise<void>;
  batch?: number;
  hashBound?: boolean;
  serial: number;
  newFlow?: true;
  noTarget?: string;
}

const get = (p: string, headers: Record<string, string> = {}): RequestSpec => ({ method: "GET", path: p, headers });
const post = (p: string, body: unknown, headers: Record<string, string> = {}): RequestSpec => ({ method: "POST", path: p, body, headers });
const bearer = (ctx: BenchContext) => ({ authorization: `Bearer ${ctx.seed().access}` });
const keepRefresh = (status: number, body: string, ctx: BenchContext) => {
  if (status === 200 && ctx.refreshPool.length < 4096) ctx.refreshPool.push(JSON.parse(body).refresh_token);
};
/** Seeded access tokens live ACCESS_TOKEN_TTL (15 min); a run that uses them gets fresh ones after 10. */
const freshTokens = (ctx: BenchContext) => ctx.freshSeeds(10 * 60_000);
const peerOf = (ctx: BenchContext): PeerState => {
  if (!ctx.peer) throw new Error("the peer is not running (--skip-peer)");
  return ctx.peer;
};
/** The peer's requests in our shape (the same fields; its POSTs carry Origin, as a browser's do). */
const asSpec = (r: PeerRequest): RequestSpec => r;
const register = (ctx: BenchContext, kind: string) =>
  post("/auth/register", {
    full_name: "Bench Register",
    email: `bench-${ctx.runId}-${kind}${ctx.seq++}@example.com`,
    password: PASSWORD,
    role: "student",
  });

export const SCENARIOS: Scenario[] = [
  // Floors and the constant route.
  { id: "bare", server: "bare", title: "GET /health/live, bare Hono app (floor)", request: () => get("/health/live"), serial: 200 },
  {
    id: "bare-noassets",
    server: "bareNoAssets",
    title: "GET /health/live, bare Hono app without [assets]",
    request: () => get("/health/live"),
    serial: 200,
  },
  { id: "live", title: "GET /health/live (constant route)", request: () => get("/health/live"), serial: 200 },
  {
    id: "live-logall",
    server: "logall",
    title: "GET /health/live, REQUEST_LOG=all",
    request: () => get("/health/live"),
    serial: 200,
  },
  {
    id: "live-nolog",
    server: "nolog",
    title: "GET /health/live, app without console.log",
    request: () => get("/health/live"),
    serial: 200,
  },
  { id: "select1", title: "GET /health (select 1 floor)", request: () => get("/health"), serial: 200 },
  { id: "jwks", title: "GET /.well-known/jwks.json", request: () => get("/.well-known/jwks.json"), serial: 200 },
  // The session check.
  { id: "me", title: "GET /auth/me", prepare: freshTokens, request: (ctx) => get("/auth/me", bearer(ctx)), serial: 200 },
  {
    id: "me-logall",
    server: "logall",
    title: "GET /auth/me, REQUEST_LOG=all",
    prepare: freshTokens,
    request: (ctx) => get("/auth/me", bearer(ctx)),
    serial: 200,
  },
  {
    id: "me-nolog",
    server: "nolog",
    title: "GET /auth/me, app without console.log",
    prepare: freshTokens,
    request: (ctx) => get("/auth/me", bearer(ctx)),
    serial: 200,
  },
  // Password flows, at our parameters and at the peer's.
  {
    id: "login",
    title: "POST /auth/login",
    hashBound: true,
    request: (ctx) => post("/auth/login", { email: ctx.seed().email, password: PASSWORD }),
    onResponse: keepRefresh,
    serial: 20,
  },
  {
    id: "login-eqhash",
    server: "eqhash",
    title: "POST /auth/login at the peer's hash (r=16, p=1)",
    hashBound: true,
    request: (ctx) => post("/auth/login", { email: ctx.eqSeed().email, password: PASSWORD }),
    serial: 20,
  },
  {
    id: "refresh",
    title: "POST /auth/refresh",
    // Each refresh consumes its token; the successor goes back to the pool (a chain per session).
    prepare: async (ctx, { connections }) => {
      const need = connections * 2 - ctx.refreshPool.length;
      for (let i = 0; i < need; i++) {
        const r = await ctx.api("POST", "/auth/login", { email: ctx.seed().email, password: PASSWORD });
        if (r.status === 200) ctx.refreshPool.push(r.data.refresh_token);
      }
    },
    request: (ctx) => post("/auth/refresh", { refresh_token: ctx.refreshPool.shift() ?? "exhausted-pool" }),
    onResponse: keepRefresh,
    serial: 100,
  },
  { id: "register", title: "POST /auth/register", hashBound: true, request: (ctx) => register(ctx, "r"), serial: 20 },
  {
    id: "register-eqhash",
    server: "eqhash",
    title: "POST /auth/register at the peer's hash (r=16, p=1)",
    hashBound: true,
    request: (ctx) => register(ctx, "re"),
    serial: 20,
  },
  // The flows of issue 19.
  {
    id: "verify-email",
    title: "POST /auth/verify-email",
    // Each code works once: a batch of new accounts (registered, their codes read from the mail capture).
    batch: 96,
    prepare: async (ctx, { requests }) => {
      ctx.verifyPool = await flows.verifyEmailBatch(ctx, requests!);
    },
    request: (ctx) => post("/auth/verify-email", ctx.verifyPool?.shift() ?? { email: "exhausted@example.com", code: "000000" }),
    serial: 32,
  },
  {
    id: "mfa-verify",
    title: "POST /auth/mfa/verify (TOTP)",
    // A TOTP step works once per account: each run, every MFA account logs in (mfa_token) and
    // sends the code of a step it has not used yet.
    batch: 96,
    prepare: async (ctx, { requests }) => {
      ctx.mfaUsers ??= await flows.mfaUsers(ctx, 96);
      ctx.mfaPool = await flows.mfaVerifyBatch(ctx, ctx.mfaUsers.slice(0, requests!));
    },
    request: (ctx) => post("/auth/mfa/verify", ctx.mfaPool?.shift() ?? { mfa_token: "exhausted", code: "000000" }),
    serial: 32,
  },
  {
    id: "admin-users",
    title: "GET /auth/admin/users (first page)",
    prepare: async (ctx) => {
      ctx.admin = await flows.adminSession(ctx, ctx.admin);
    },
    request: (ctx) => get("/auth/admin/users", { authorization: `Bearer ${ctx.admin!.access}` }),
    serial: 100,
  },
  {
    id: "id-token",
    title: "POST /auth/oauth/google/id-token",
    // Native sign-in of 64 existing social accounts. An ID token is accepted once: each run gets a
    // batch of fresh tokens (minted just before it, each with its own nonce).
    batch: 96,
    prepare: async (ctx, { requests }) => {
      ctx.socialAccounts ??= await flows.socialAccounts(ctx, 64, ctx.googleClientId);
      ctx.socialPool = await flows.socialSignInBatch(ctx, ctx.socialAccounts, requests!, ctx.googleClientId);
    },
    request: (ctx) => post("/auth/oauth/google/id-token", ctx.socialPool?.shift() ?? { id_token: "exhausted.x.y", nonce: "exhausted" }),
    serial: 32,
  },
  // The flows of issue 31's batch.
  {
    id: "sign-in-code",
    title: "POST /auth/sign-in/code (request a code)",
    newFlow: true,
    // One code per account per back-off (OTP_RESEND_INTERVAL): a batch of new accounts per run, their
    // address verified (as for the common sign-in by code; their codes go to the verify row below). The
    // code is issued and mailed after the answer (waitUntil), inside the measured CPU.
    batch: 96,
    prepare: async (ctx, { requests }) => {
      ctx.codeRequestPool = await flows.newVerifiedAccounts(ctx, requests!, "code");
    },
    request: (ctx) => {
      const email = ctx.codeRequestPool?.shift();
      if (email) {
        ctx.codeRequested ??= [];
        ctx.codeRequested.push({ email, at: Date.now() });
      }
      return post("/auth/sign-in/code", { email: email ?? "exhausted@example.com" });
    },
    serial: 32,
  },
  {
    id: "sign-in-code-verify",
    title: "POST /auth/sign-in/code/verify (address verified)",
    newFlow: true,
    // The common sign-in by code: an account whose address is already verified (through POST
    // /auth/verify-email, as a user does). Each code works once: the accounts that asked for one in
    // the run above (else new verified ones), their codes read from the mail capture.
    batch: 96,
    prepare: async (ctx, { requests }) => {
      // Codes live SIGN_IN_CODE_TTL (10 minutes): only those asked for in the last 8.
      const requested = (ctx.codeRequested ?? []).filter((r) => Date.now() - r.at < 8 * 60_000);
      ctx.codeRequested = requested.slice(requests!);
      const emails = requested.slice(0, requests!).map((r) => r.email);
      ctx.codeVerifyPool = await flows.signInCodeBatch(ctx, emails, requests!, { verified: true });
    },
    request: (ctx) => post("/auth/sign-in/code/verify", ctx.codeVerifyPool?.shift() ?? { email: "exhausted@example.com", code: "000000" }),
    serial: 32,
  },
  {
    id: "sign-in-code-verify-first",
    title: "POST /auth/sign-in/code/verify (first proof of the mailbox)",
    newFlow: true,
    noTarget: "once per account: the change of owner (src/auth/account/owner.ts) runs before the session",
    // Accounts registered and never verified: the code is also the first proof of the mailbox, so
    // the change of owner runs in its transaction (every session and pending step ended, the ways in
    // added before it removed, the outbox events) before the session starts. A new batch each run.
    batch: 96,
    prepare: async (ctx, { requests }) => {
      ctx.codeVerifyFirstPool = await flows.signInCodeBatch(ctx, [], requests!, { verified: false });
    },
    request: (ctx) =>
      post("/auth/sign-in/code/verify", ctx.codeVerifyFirstPool?.shift() ?? { email: "exhausted@example.com", code: "000000" }),
    serial: 32,
  },
  {
    id: "admin-change",
    title: "PATCH /auth/admin/users/{id} (audited change + outbox)",
    newFlow: true,
    // The admin's session must be recent (RECENT_AUTH_MAX_AGE); each change moves one of 64 accounts
    // of its own between student and instructor: the row locked and updated, the audit row and the
    // outbox events (user.updated, role.changed) written in the same transaction; a lowered role also
    // ends the account's sessions (none after the first time).
    prepare: async (ctx) => {
      ctx.admin = await flows.adminSession(ctx, ctx.admin, { recent: true });
      ctx.adminTargets ??= await flows.newAccountIds(ctx, 64, "target");
    },
    request: (ctx) => {
      ctx.adminNext = (ctx.adminNext ?? 0) + 1;
      const target = ctx.adminTargets![ctx.adminNext % ctx.adminTargets!.length];
      target.role = target.role === "student" ? "instructor" : "student";
      return {
        method: "PATCH",
        path: `/auth/admin/users/${target.id}`,
        headers: { authorization: `Bearer ${ctx.admin!.access}` },
        body: { role: target.role, reason: "bench" },
      };
    },
    serial: 100,
  },
  {
    id: "passkey-options",
    title: "POST /auth/passkeys/login/options",
    newFlow: true,
    request: () => post("/auth/passkeys/login/options", {}),
    serial: 100,
  },
  {
    id: "passkey-login",
    title: "POST /auth/passkeys/login/verify (ES256)",
    newFlow: true,
    // A challenge works once: each run, every passkey account's device answers fresh login options
    // (the software authenticator in this process), and the run sends those answers.
    batch: 96,
    prepare: async (ctx, { requests }) => {
      // npm run dev's relying party: localhost, with this API's own origin (scripts/stack/stack.ts).
      ctx.passkeyDevices ??= await flows.passkeyDevices(ctx, 96, ctx.apiUrl.replace("127.0.0.1", "localhost"));
      ctx.passkeyPool = await flows.passkeyLoginBatch(ctx, ctx.passkeyDevices.slice(0, requests!));
    },
    request: (ctx) => post("/auth/passkeys/login/verify", ctx.passkeyPool?.shift() ?? { challenge_token: "exhausted", response: {} }),
    serial: 32,
  },
  {
    id: "introspect",
    title: "POST /auth/introspect (service client)",
    newFlow: true,
    // A service client with tokens:introspect (made through the admin API, docs/services.md) asks
    // about the seeded users' access tokens, round robin (RFC 7662, JSON body).
    prepare: async (ctx) => {
      await freshTokens(ctx);
      if (!ctx.introspector) {
        ctx.admin = await flows.adminSession(ctx, ctx.admin, { recent: true });
        ctx.introspector = await flows.serviceClient(ctx, ctx.admin, ["tokens:introspect"]);
      }
    },
    request: (ctx) => post("/auth/introspect", { token: ctx.seed().access }, { authorization: ctx.introspector! }),
    serial: 200,
  },
  // The peer (better-auth): its counterparts of our constant route, session check, sign-in and sign-up.
  {
    id: "peer-live",
    server: "peer",
    title: "better-auth's Worker: GET /health/live (a raw Response before better-auth)",
    request: (ctx) => asSpec(peerOf(ctx).routes.live()),
    serial: 200,
  },
  {
    id: "peer-ok",
    server: "peer",
    title: "better-auth: GET /api/auth/ok",
    request: (ctx) => asSpec(peerOf(ctx).routes.ok()),
    serial: 200,
  },
  {
    id: "peer-session",
    server: "peer",
    title: "better-auth: GET /api/auth/get-session",
    request: (ctx) => asSpec(peerOf(ctx).routes.session(peerOf(ctx).user())),
    serial: 200,
  },
  {
    id: "peer-sign-in",
    server: "peer",
    title: "better-auth: POST /api/auth/sign-in/email",
    hashBound: true,
    request: (ctx) => asSpec(peerOf(ctx).routes.signIn(peerOf(ctx).user())),
    serial: 20,
  },
  {
    id: "peer-sign-up",
    server: "peer",
    title: "better-auth: POST /api/auth/sign-up/email",
    hashBound: true,
    request: (ctx) => asSpec(peerOf(ctx).routes.signUp({ email: `peer-${ctx.runId}-su${ctx.seq++}@example.com`, password: PASSWORD })),
    serial: 20,
  },
];

/** Ours against the peer's, as ratios (req/s at each concurrency, CPU per request one at a time); `target`: the least ratio of req/s. */
export interface Pair {
  id: string;
  title: string;
  ours: string;
  theirs: string;
  target: number | null;
}

export const PAIRS: Pair[] = [
  { id: "session", title: "session check (GET /auth/me vs get-session)", ours: "me", theirs: "peer-session", target: 1.2 },
  {
    id: "sign-in-equal",
    title: "sign-in at equal hash parameters (ours at N=2^14, r=16, p=1)",
    ours: "login-eqhash",
    theirs: "peer-sign-in",
    target: 1.2,
  },
  {
    id: "sign-in-defaults",
    title: "sign-in at each one's defaults (ours r=8, p=5: 2.5× the work)",
    ours: "login",
    theirs: "peer-sign-in",
    target: null,
  },
  { id: "sign-up-equal", title: "sign-up at equal hash parameters", ours: "register-eqhash", theirs: "peer-sign-up", target: 1.0 },
  // better-auth's own constant route (`ok`, through its handler), as ours goes through our app. Their
  // Worker's /health/live answers before better-auth is reached: the workerd floor, reported beside.
  {
    id: "constant",
    title: "constant route (GET /health/live vs better-auth's GET /api/auth/ok)",
    ours: "live",
    theirs: "peer-ok",
    target: 1.0,
  },
  {
    id: "constant-floor",
    title: "our constant route vs their Worker's raw Response (no better-auth code)",
    ours: "live",
    theirs: "peer-live",
    target: null,
  },
];

/** Two scenarios at once on the app: the foreground at each concurrency, the background at a fixed one. */
export const MIXED = [{ id: "me+login", foreground: "me", background: "login", backgroundConnections: 8 }];

/** A measurement that is not one answer per request: it runs once and reports its own figures and targets. */
export interface Probe {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<ProbeResult>;
}

/** Webhook delivery probe sizes: changes under load (BENCH_WEBHOOK_CHANGES), their accounts, connections, and changes one at a time. */
const WEBHOOK = {
  changes: Number(process.env.BENCH_WEBHOOK_CHANGES ?? 500),
  users: 50,
  connections: 16,
  serial: 30,
};

/**
 * Webhook delivery through the Queue (the measurement of `npm run bench:webhooks`, its part 1, on
 * this run's stack): a local receiver verifying every delivery, one endpoint for user.updated,
 * profile changes spread over new accounts. Under load: events delivered per second and the delay
 * from change to delivery. One at a time: each change waits for its delivery before the next, and
 * the app's workerd CPU per event (its change and its delivery) is compared with the same changes
 * once the endpoint is gone (the change alone): the difference is the delivery's.
 */
const webhookProbe: Probe = {
  id: "webhooks",
  title: `Webhook delivery through the Queue to a local receiver (${WEBHOOK.changes} profile changes, ${WEBHOOK.connections} at a time)`,
  async run(ctx) {
    const receiver = await startWebhookReceiver({ port: 0 });
    try {
      ctx.admin = await flows.adminSession(ctx, ctx.admin, { recent: true });
      const adminAuth = { authorization: `Bearer ${ctx.admin.access}` };
      const endpoint = await createEndpoint({ api: ctx.api, adminAuth, receiverUrl: receiver.url, hook: "bench" });
      const tokens = await flows.newSessions(ctx, WEBHOOK.users, "hook");
      const { delivery } = await measureDelivery({
        apiUrl: ctx.apiUrl,
        receiverUrl: receiver.url,
        hook: "bench",
        tokens,
        changes: WEBHOOK.changes,
        connections: WEBHOOK.connections,
        nextIp: ctx.nextIp,
      });
      const control = receiverControl(receiver.url);
      /** Workerd and PostgreSQL CPU per change, `n` changes one at a time, each followed by `after` (minus the idle processes' CPU). */
      const oneAtATime = async (n: number, after: (i: number) => Promise<unknown>) => {
        const cpu = ctx.appCpu;
        if (!cpu) return null;
        await new Promise((r) => setTimeout(r, 3000));
        const i0 = cpu();
        const it = performance.now();
        await new Promise((r) => setTimeout(r, 1000));
        const idle = diffCpu(cpu(), i0);
        const idleMs = performance.now() - it;
        const c0 = cpu();
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const [r] = await profileChanges({ apiUrl: ctx.apiUrl, tokens, n: 1, connections: 1, label: `Serial ${i}`, nextIp: ctx.nextIp });
          if (r.status !== 200) throw new Error(`a profile change answered ${r.status}`);
          await after(i);
        }
        const elapsed = performance.now() - t0;
        const d = diffCpu(cpu(), c0);
        const one = (k: "workerd" | "postgres") => Math.max(0, d[k] - (idle[k] * elapsed) / idleMs) / n;
        return { workerd: one("workerd"), postgres: one("postgres"), wallMs: elapsed / n };
      };
      const withDelivery = await oneAtATime(WEBHOOK.serial, (i) => drained(control, "bench", WEBHOOK.changes + i + 1, 60_000));
      await ctx.api("DELETE", `/auth/admin/webhooks/${endpoint.id}`, undefined, adminAuth);
      // The change alone: no endpoint, the Queue's consumer still woken (it finds nothing to send); as long per change.
      const alone = await oneAtATime(
        WEBHOOK.serial,
        () => new Promise((r) => setTimeout(r, withDelivery ? Math.max(0, withDelivery.wallMs - 50) : 0)),
      );
      const deliveryCpu = withDelivery && alone ? Math.max(0, withDelivery.workerd - alone.workerd) : null;
      const d = delivery.changeToDeliveryMs;
      return {
        id: "webhooks",
        title: webhookProbe.title,
        rows: [
          { label: "events delivered per second (first change to last delivery)", value: delivery.eventsPerSecond, unit: "events/s" },
          { label: "changes per second (the requests)", value: delivery.changesPerSecond, unit: "req/s" },
          { label: "change to delivery p50", value: d.p50, unit: "ms" },
          { label: "change to delivery p90", value: d.p90, unit: "ms" },
          { label: "change to delivery p99", value: d.p99, unit: "ms" },
          { label: "change to delivery max", value: d.max, unit: "ms" },
          { label: "last delivery after the last change", value: delivery.drainAfterLastChangeMs, unit: "ms" },
          { label: "delivery requests (repeats included)", value: delivery.requests, unit: "" },
          { label: "deliveries not verified by standardwebhooks", value: delivery.unverified, unit: "" },
          { label: "accounts whose events came out of order", value: delivery.accountsOutOfOrder, unit: "" },
          {
            label: `workerd CPU per event, change + delivery, one at a time (${WEBHOOK.serial})`,
            value: withDelivery?.workerd ?? null,
            unit: "ms",
          },
          { label: "PostgreSQL CPU per event, change + delivery, one at a time", value: withDelivery?.postgres ?? null, unit: "ms" },
          { label: "wall time per event, change to its delivery, one at a time", value: withDelivery?.wallMs ?? null, unit: "ms" },
          { label: "workerd CPU per change with no endpoint (the change alone)", value: alone?.workerd ?? null, unit: "ms" },
          { label: "workerd CPU of the delivery (the difference)", value: deliveryCpu, unit: "ms" },
        ],
        targets: [
          {
            target: `webhook delivery: ≤ ${NEW_FLOW_CPU_MS} ms of workerd CPU per delivered event one at a time (with the change: minus the same change with no endpoint); every delivery verified and in order`,
            ok:
              deliveryCpu != null ? deliveryCpu <= NEW_FLOW_CPU_MS && delivery.unverified === 0 && delivery.accountsOutOfOrder === 0 : null,
            detail: `the delivery ${deliveryCpu?.toFixed(2) ?? "n/a"} ms (change + delivery ${withDelivery ? withDelivery.workerd.toFixed(2) : "n/a"} ms, the change alone ${alone ? alone.workerd.toFixed(2) : "n/a"} ms); ${delivery.eventsPerSecond} events/s delivered under load, change to delivery p99 ${d.p99} ms; ${delivery.unverified} unverified, ${delivery.accountsOutOfOrder} accounts out of order`,
          },
        ],
      };
    } finally {
      await receiver.stop();
    }
  },
};

/** The probes: measurements that are not one answer per request. */
export const PROBES: Probe[] = [webhookProbe];

/**
 * The order the bench measures scenarios in: SCENARIOS' order, with each peer scenario moved to
 * just after ours in the first pair (PAIRS' order) that names it and whose ours is measured. The two sides of a ratio are then
 * measured a minute apart instead of ten: this machine's speed drifts over a run (the same route
 * served 30% fewer requests from one run to the next on an idle machine), and a slow phase must
 * not fall on one side of a pair only.
 */
export function measuringOrder<T extends { id: string }>(scenarios: T[], pairs: Pick<Pair, "ours" | "theirs">[] = PAIRS): T[] {
  const measured = new Set(scenarios.map((s) => s.id));
  // Each peer scenario's place: after ours of the first pair naming it, when that one is measured.
  const besideOurs = new Map<string, string>();
  for (const p of pairs) if (!besideOurs.has(p.theirs) && measured.has(p.ours)) besideOurs.set(p.theirs, p.ours);
  return scenarios.flatMap((s) => (besideOurs.has(s.id) ? [] : [s, ...scenarios.filter((theirs) => besideOurs.get(theirs.id) === s.id)]));
}

/** Names for sets of scenario ids in --only: `pairs` (ours and the peer's, what `npm run bench:peer` runs), `new-flows`. */
const GROUPS: Record<string, string[]> = {
  pairs: [...new Set(PAIRS.flatMap((p) => [p.ours, p.theirs]))],
  "new-flows": [...SCENARIOS.filter((s) => s.newFlow).map((s) => s.id), ...PROBES.map((p) => p.id)],
};

/** The ids --only names, with its groups expanded. */
export const expandOnly = (only: string[] | null) => only && [...new Set(only.flatMap((id) => GROUPS[id] ?? [id]))];
