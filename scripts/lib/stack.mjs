// The local stack: embedded PostgreSQL (migrated), mail capture, S3-compatible server and the
// Worker under `wrangler dev`. Used by `npm run dev` and `npm run bench`.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { applyMigrations } from "./migrate.mjs";
import { freePort, isAlive, portInUse, startPostgres } from "./postgres.mjs";
import { ROOT, startWranglerDev } from "./wrangler-dev.mjs";

export { ROOT };

function b64url(buf) {
  return Buffer.from(buf).toString("base64url");
}

/** Ed25519 private JWK set, as JWT_PRIVATE_KEYS expects. */
export async function generateJwkSet() {
  const { privateKey } = await crypto.webcrypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const jwk = await crypto.webcrypto.subtle.exportKey("jwk", privateKey);
  return { keys: [{ ...jwk, kid: `dev-${Date.now().toString(36)}`, alg: "EdDSA" }] };
}

/** Secrets generated once per data folder, so restarts don't log anybody out. */
async function devSecrets(dataDir) {
  const file = path.join(dataDir, "dev-secrets.json");
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
  const secrets = { AUTH_SECRET: b64url(crypto.randomBytes(32)), JWT_PRIVATE_KEYS: JSON.stringify(await generateJwkSet()) };
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** Kill a wrangler process group left behind by a crashed run. */
function killLeftover(pidFile) {
  if (!fs.existsSync(pidFile)) return;
  const pgid = Number(fs.readFileSync(pidFile, "utf8"));
  if (pgid && isAlive(pgid)) {
    try {
      process.kill(-pgid, "SIGTERM");
    } catch {}
  }
  fs.rmSync(pidFile, { force: true });
}

async function optionalImport(file) {
  const full = path.join(ROOT, "scripts/lib", file);
  return fs.existsSync(full) ? import(full) : null;
}

/**
 * Start everything. `dataDir` keeps Postgres data, S3 objects and dev secrets.
 * Returns { apiUrl, dbUrl, mailUrl, s3Endpoint, stop, wrangler }.
 */
export async function startStack({
  dataDir,
  persistent = true,
  port = Number(process.env.PORT ?? 8787),
  dbPort = Number(process.env.DB_PORT ?? 54329),
  mailPort = Number(process.env.MAIL_CAPTURE_PORT ?? 8025),
  s3Port = Number(process.env.S3_PORT ?? 4569),
  bucket = process.env.S3_BUCKET ?? "avatars",
  vars = {},
  config = "wrangler.toml",
  wranglerArgs = [],
  inheritOutput = true,
}) {
  fs.mkdirSync(dataDir, { recursive: true });
  const stops = [];
  const stop = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch {}
    }
  };
  try {
    const pidFile = path.join(dataDir, "wrangler.pgid");
    killLeftover(pidFile);
    for (const [name, p] of [
      ["PORT", port],
      ["MAIL_CAPTURE_PORT", mailPort],
      ["S3_PORT", s3Port],
    ])
      if (await portInUse(p)) throw new Error(`port ${p} (${name}) is in use by another program; set ${name} to another port`);

    const pg = await startPostgres({ dataDir: path.join(dataDir, "postgres"), port: dbPort, persistent, database: "auth" });
    stops.push(() => pg.stop());
    await applyMigrations(pg.url);

    const secrets = await devSecrets(dataDir);
    const devVars = { ENVIRONMENT: "development", ...secrets };

    const mail = await optionalImport("mail-capture.mjs");
    let mailUrl;
    if (mail) {
      const m = await mail.startMailCapture({ port: mailPort });
      stops.push(() => m.stop());
      mailUrl = m.url;
      Object.assign(devVars, { RESEND_BASE_URL: m.url, RESEND_API_KEY: "re_local_dev", MAIL_FROM: "Edge Auth <no-reply@localhost>" });
    }
    const s3 = await optionalImport("s3.mjs");
    let s3Endpoint;
    if (s3) {
      const s = await s3.startS3({ port: s3Port, dir: path.join(dataDir, "s3"), bucket });
      stops.push(() => s.stop());
      s3Endpoint = s.endpoint;
      Object.assign(devVars, {
        S3_ENDPOINT: s.endpoint,
        S3_REGION: "us-east-1",
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: "S3RVER",
        S3_SECRET_ACCESS_KEY: "S3RVER",
        S3_FORCE_PATH_STYLE: "true",
      });
    }
    Object.assign(devVars, vars);

    const varArgs = Object.entries(devVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
    const { child: wrangler, url: apiUrl } = await startWranglerDev({
      config,
      port,
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
    const startWorker = ({ config: otherConfig, port: otherPort, extraArgs = [] }) =>
      startWranglerDev({
        config: otherConfig,
        port: otherPort,
        readyPath: "/health/live",
        env: { CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: pg.url },
        extraArgs: [...varArgs, ...extraArgs],
      });
    return { apiUrl, dbUrl: pg.url, mailUrl, s3Endpoint, wrangler, pg, stop, startWorker };
  } catch (err) {
    await stop();
    throw err;
  }
}

export { freePort };
