// The local stack: embedded PostgreSQL (migrated), mail capture, S3-compatible server and the
// Worker under `wrangler dev`. Used by `npm run dev` and `npm run bench`.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import { generateKeySet } from "../../src/auth/sessions/jwk.ts";
import {
  assertPortFree,
  displayPath,
  firstLine,
  isAlive,
  logError,
  ROOT,
  ServiceError,
  type SystemError,
  startService,
} from "./local-service.ts";
import { startMailCapture } from "./mail-capture.ts";
import { applyMigrations } from "./migrations.ts";
import { startOidcProvider } from "./oidc-provider.ts";
import { type LocalPostgres, startPostgres } from "./postgres.ts";
import { startS3 } from "./s3.ts";
import { startTurnstileStub } from "./turnstile-stub.ts";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev.ts";

function b64url(buf: Uint8Array) {
  return Buffer.from(buf).toString("base64url");
}

/** Secrets generated once per data folder, so restarts don't log anybody out. */
async function devSecrets(dataDir: string): Promise<Record<string, string>> {
  const file = path.join(dataDir, "dev-secrets.json");
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
  const secrets = { AUTH_SECRET: b64url(crypto.randomBytes(32)), JWT_PRIVATE_KEYS: JSON.stringify(await generateKeySet()) };
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/**
 * The settings the developer gave wrangler dev in the file it loads next to the config:
 * `.dev.vars`, or when there is none the `.env` files (wrangler's own rule). Values passed with
 * `--var` would override them, so the stack's own values skip these keys.
 */
function localSettingKeys(configDir: string): Set<string> {
  const devVars = path.join(configDir, ".dev.vars");
  const files = fs.existsSync(devVars)
    ? [devVars]
    : process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV === "false"
      ? []
      : [".env", ".env.local"].map((f) => path.join(configDir, f)).filter((f) => fs.existsSync(f));
  return new Set(files.flatMap((f) => Object.keys(parseEnv(fs.readFileSync(f, "utf8")))));
}

/**
 * One stack per data folder: a second start would stop the first one's servers as leftovers.
 * Returns release().
 */
function lockDataDir(dataDir: string): () => void {
  const lock = path.join(dataDir, "stack.pid");
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
      return () => {
        try {
          if (fs.readFileSync(lock, "utf8") === String(process.pid)) fs.rmSync(lock, { force: true });
        } catch {}
      };
    } catch (err) {
      if ((err as SystemError).code !== "EEXIST") throw err;
      const pid = Number(fs.readFileSync(lock, "utf8"));
      if (pid && pid !== process.pid && isAlive(pid))
        throw new ServiceError("the local stack", `another run (pid ${pid}) is using ${displayPath(dataDir)}`, {
          hint: "stop it first (Ctrl-C)",
        });
      fs.rmSync(lock, { force: true }); // left by a crashed run
    }
  }
}

/** Kill a wrangler process group left behind by a crashed run. */
function killLeftover(pidFile: string) {
  if (!fs.existsSync(pidFile)) return;
  const pgid = Number(fs.readFileSync(pidFile, "utf8"));
  if (pgid && isAlive(pgid)) {
    try {
      process.kill(-pgid, "SIGTERM");
    } catch {}
  }
  fs.rmSync(pidFile, { force: true });
}

/**
 * Client ids and web-flow settings for the local OpenID provider (which accepts any client in
 * its open mode), so Google and Apple sign-in work under `npm run dev`. Each group goes in whole
 * or not at all: a group the developer's .dev.vars touches is left to .dev.vars, so the settings'
 * cross-checks (the Services ID among the client ids, ...) never see a mix.
 */
function localSocialSignIn(localSettings: Set<string>): Record<string, string> {
  const apple = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" });
  const groups = [
    { GOOGLE_CLIENT_IDS: "local-dev-google-web", GOOGLE_CLIENT_SECRET: "local-dev-google-secret" },
    {
      APPLE_CLIENT_IDS: "local-dev.apple.web",
      APPLE_SERVICES_ID: "local-dev.apple.web",
      APPLE_TEAM_ID: "LOCALTEAM1",
      APPLE_KEY_ID: "LOCALKEY01",
      APPLE_PRIVATE_KEY: String(apple).trim().replace(/\n/g, "\\n"),
    },
    { OAUTH_REDIRECT_ALLOWLIST: "http://localhost:3000/oauth/done" },
  ];
  return Object.assign({}, ...groups.filter((g) => !Object.keys(g).some((k) => localSettings.has(k))));
}

/** The stand-in's own widget under `npm run dev`: its tokens are minted by POST /__tokens (docs/bot-defence.md). */
const LOCAL_TURNSTILE = { siteKey: "local-dev-site-key", secret: "local-dev-secret-key" } as const;

/**
 * Passkeys under `npm run dev`: the RP ID `localhost` and its origins (a page on http://localhost
 * is a secure context): this API's own port and the web app's (the port OAUTH_REDIRECT_ALLOWLIST
 * names). Left to .dev.vars as one group, like the social settings.
 */
function localPasskeys(port: number, localSettings: Set<string>): Record<string, string> {
  const group = {
    WEBAUTHN_RP_ID: "localhost",
    WEBAUTHN_ORIGINS: [`http://localhost:${port}`, `http://127.0.0.1:${port}`, "http://localhost:3000"].join(","),
  };
  return Object.keys(group).some((k) => localSettings.has(k)) ? {} : group;
}

export interface LocalStack {
  apiUrl: string;
  dbUrl: string;
  mailUrl: string;
  s3Endpoint: string;
  oidcUrl: string;
  /** The local siteverify stand-in TURNSTILE_VERIFY_URL points at (scripts/stack/turnstile-stub.ts). */
  turnstileUrl: string;
  logDir: string;
  /** The settings the developer's .dev.vars (or .env) gives, which the stack leaves alone. */
  localSettings: string[];
  /** The `wrangler dev` process (its own process group). */
  wrangler: WranglerDev["child"];
  pg: LocalPostgres;
  stop(): Promise<void>;
  /** Another Worker config (a variant of the app) under wrangler dev with the same settings, secrets and database. */
  startWorker(opts: { config: string; port: number; extraArgs?: string[] }): Promise<WranglerDev>;
}

/**
 * Start everything. `dataDir` keeps Postgres data, S3 objects, dev secrets and logs/.
 * `vars` are passed to the Worker as given; the stack's own values (mail capture, S3, dev
 * secrets, ENVIRONMENT) yield to the developer's `.dev.vars`. Any start-up failure stops what
 * was started and throws a ServiceError (one-line message; detail in logs/).
 */
export async function startStack({
  dataDir,
  persistent = true,
  port = Number(process.env.PORT ?? 8787),
  dbPort = Number(process.env.DB_PORT ?? 54329),
  mailPort = Number(process.env.MAIL_CAPTURE_PORT ?? 8025),
  s3Port = Number(process.env.S3_PORT ?? 4569),
  oidcPort = Number(process.env.OIDC_PORT ?? 8026),
  turnstilePort = Number(process.env.TURNSTILE_PORT ?? 0),
  bucket = process.env.S3_BUCKET ?? "avatars",
  vars = {},
  config = "wrangler.toml",
  wranglerArgs = [],
  inheritOutput = true,
}: {
  dataDir: string;
  /** false: the database is deleted when the stack stops (the bench). */
  persistent?: boolean;
  port?: number;
  dbPort?: number;
  mailPort?: number;
  s3Port?: number;
  oidcPort?: number;
  /** 0: a free port (nothing but the Worker needs to find it). */
  turnstilePort?: number;
  bucket?: string;
  vars?: Record<string, string>;
  config?: string;
  wranglerArgs?: string[];
  /** wrangler's output on this terminal too (npm run dev), not only in logs/. */
  inheritOutput?: boolean;
}): Promise<LocalStack> {
  fs.mkdirSync(dataDir, { recursive: true });
  const logDir = path.join(dataDir, "logs");
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = (name: string) => path.join(logDir, `${name}.log`);
  const release = lockDataDir(dataDir);
  const stops: (() => unknown)[] = [release];
  const stop = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch {}
    }
    stops.length = 0;
  };
  try {
    const pidFile = path.join(dataDir, "wrangler.pgid");
    killLeftover(pidFile);
    const settings = { PORT: port, DB_PORT: dbPort, MAIL_CAPTURE_PORT: mailPort, S3_PORT: s3Port, OIDC_PORT: oidcPort };
    const byPort = new Map<number, string>();
    for (const [name, p] of Object.entries(settings)) {
      if (byPort.has(p))
        throw new ServiceError("the local stack", `${byPort.get(p)} and ${name} are both ${p}`, { hint: "give each its own port" });
      byPort.set(p, name);
    }
    await assertPortFree("wrangler dev", port, "PORT", logFile("wrangler"));
    await assertPortFree("mail capture", mailPort, "MAIL_CAPTURE_PORT", logFile("mail-capture"));
    await assertPortFree("S3 (s3rver)", s3Port, "S3_PORT", logFile("s3"));
    await assertPortFree("OpenID provider", oidcPort, "OIDC_PORT", logFile("oidc-provider"));

    const pg = await startPostgres({
      dataDir: path.join(dataDir, "postgres"),
      port: dbPort,
      persistent,
      database: "auth",
      portEnv: "DB_PORT",
      logFile: logFile("postgres"),
    });
    stops.push(() => pg.stop());
    try {
      await applyMigrations(pg.url);
    } catch (err) {
      logError(logFile("migrations"), err);
      throw new ServiceError("database migrations", firstLine(err), {
        logFile: logFile("migrations"),
        cause: err,
      });
    }

    const own: Record<string, string> = { ENVIRONMENT: "development", ...(await devSecrets(dataDir)) };

    const mail = await startService(
      "mail capture",
      { port: mailPort, envName: "MAIL_CAPTURE_PORT", logFile: logFile("mail-capture") },
      () => startMailCapture({ port: mailPort }),
    );
    stops.push(() => mail.stop());
    Object.assign(own, { RESEND_BASE_URL: mail.url, RESEND_API_KEY: "re_local_dev", MAIL_FROM: "Edge Auth <no-reply@localhost>" });
    const s3 = await startService("S3 (s3rver)", { port: s3Port, envName: "S3_PORT", logFile: logFile("s3") }, () =>
      startS3({ port: s3Port, dir: path.join(dataDir, "s3"), bucket }),
    );
    stops.push(() => s3.stop());
    Object.assign(own, {
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: "us-east-1",
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      S3_FORCE_PATH_STYLE: "true",
    });
    // Google and Apple stand-in: a local OpenID provider accepting any client on loopback.
    const oidc = await startOidcProvider({ port: oidcPort, open: true });
    stops.push(() => oidc.stop());
    Object.assign(own, { GOOGLE_DISCOVERY_URL: oidc.google.discoveryUrl, APPLE_DISCOVERY_URL: oidc.apple.discoveryUrl });
    // Turnstile's siteverify: Cloudflare's test keys and one local widget (docs/bot-defence.md). Nothing is
    // challenged until .dev.vars sets TURNSTILE_SECRET_KEY.
    const turnstile = await startService(
      "Turnstile stand-in",
      { port: turnstilePort, envName: "TURNSTILE_PORT", logFile: logFile("turnstile-stub") },
      () => startTurnstileStub({ port: turnstilePort, widgets: { [LOCAL_TURNSTILE.siteKey]: LOCAL_TURNSTILE.secret } }),
    );
    stops.push(() => turnstile.stop());
    own.TURNSTILE_VERIFY_URL = turnstile.verifyUrl;
    // wrangler dev: [vars] < .dev.vars < --var. The developer's .dev.vars must win over the
    // stack's stand-ins, so those keys are left to .dev.vars; explicit `vars` still win.
    const localSettings = localSettingKeys(path.dirname(path.resolve(ROOT, config)));
    Object.assign(own, localSocialSignIn(localSettings), localPasskeys(port, localSettings));
    const devVars = { ...Object.fromEntries(Object.entries(own).filter(([k]) => !localSettings.has(k))), ...vars };

    const varArgs = Object.entries(devVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
    const { child: wrangler, url: apiUrl } = await startWranglerDev({
      config,
      port,
      portEnv: "PORT",
      logFile: logFile("wrangler"),
      readyPath: "/health/live",
      env: { CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: pg.url },
      extraArgs: [...varArgs, ...wranglerArgs],
      inheritOutput,
      // Recorded at once, so a crash during start-up still leaves a group the next run can stop.
      onSpawn: (child) => fs.writeFileSync(pidFile, String(child.pid)),
      onStarting: (stopIt) =>
        stops.push(async () => {
          await stopIt();
          fs.rmSync(pidFile, { force: true });
        }),
    });
    // Another Worker config (a variant of the app) under wrangler dev with the same settings, secrets and database.
    const startWorker: LocalStack["startWorker"] = ({ config: otherConfig, port: otherPort, extraArgs = [] }) =>
      startWranglerDev({
        config: otherConfig,
        port: otherPort,
        readyPath: "/health/live",
        logFile: logFile(`wrangler-${otherPort}`),
        env: { CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: pg.url },
        extraArgs: [...varArgs, ...extraArgs],
      });
    return {
      apiUrl,
      dbUrl: pg.url,
      mailUrl: mail.url,
      s3Endpoint: s3.endpoint,
      oidcUrl: oidc.url,
      turnstileUrl: turnstile.url,
      logDir,
      localSettings: [...localSettings],
      wrangler,
      pg,
      stop,
      startWorker,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
