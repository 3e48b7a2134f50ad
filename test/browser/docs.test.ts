import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The Worker as it really runs (`wrangler dev`: the [build] step that puts Scalar's bundle in the
 * static assets, the assets themselves, the Worker) seen from outside: over HTTP and in Debian's
 * Chromium. /openapi.json and /docs don't touch the database, so any Postgres URL will do.
 */
const ROOT = path.resolve(__dirname, "../..");
const ARTIFACTS = path.join(ROOT, "artifacts");

let wrangler: ChildProcess | undefined;
let output = "";
let base = "";
let stateDir = "";
let browser: BrowserContext | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until the Worker answers (or wrangler exits / the deadline passes). */
async function waitForWorker(url: string, deadlineMs: number) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (wrangler?.exitCode !== null && wrangler?.exitCode !== undefined) throw new Error(`wrangler dev exited:\n${output}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer ${url} in time:\n${output}`);
}

beforeAll(async () => {
  const [port, inspector] = [await freePort(), await freePort()];
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-docs-wrangler-"));
  base = `http://127.0.0.1:${port}`;
  wrangler = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspector),
      "--persist-to",
      stateDir,
      "--var",
      "ENVIRONMENT:development",
      "--log-level",
      "warn",
    ],
    {
      cwd: ROOT,
      detached: true, // its own process group: afterAll stops wrangler and workerd together
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: "postgres://docs:docs@127.0.0.1:1/docs",
      },
    },
  );
  wrangler.stdout?.on("data", (d) => (output += d));
  wrangler.stderr?.on("data", (d) => (output += d));
  await waitForWorker(`${base}/health/live`, 150_000);
});

afterAll(async () => {
  await browser?.close();
  if (wrangler?.pid && wrangler.exitCode === null) {
    const exited = new Promise((r) => wrangler!.once("exit", r));
    process.kill(-wrangler.pid, "SIGTERM");
    await exited;
  }
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

describe("the API document served by wrangler dev", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const res = await fetch(`${base}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, any>;
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/auth/login", "/auth/register", "/health", "/.well-known/jwks.json"]));
  });

  it("fails validation for a broken document (the validator really checks)", async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Record<string, any>;
    doc.paths["/auth/login"].post.responses = { "200": { content: {} } }; // a response without its required description
    const result = await new Validator().validate(doc);
    expect(result.valid).toBe(false);
  });

  it("serves Scalar's bundle for /docs from its own static assets", async () => {
    const res = await fetch(`${base}/docs/scalar.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);
  });
});

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// CI (.ci/run) installs Debian's chromium and always runs this test. On a developer machine
// without a Chromium, `npm test` still works and reports this one test as skipped, with why.
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`CI needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
if (!haveChromium) console.warn(`[docs browser test] skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

describe.runIf(haveChromium)("GET /docs in Chromium", () => {
  it("renders the endpoint list with try-it, within its CSP, and saves a screenshot", async () => {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "auth-docs-chromium-"));
    // A fresh profile (--user-data-dir) for every run.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1400, height: 900 },
    });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(String(e)));
      const offOrigin: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith(base) && !/^(data|blob):/.test(r.url())) offOrigin.push(r.url());
      });

      const res = await page.goto(`${base}/docs`);
      expect(res?.status()).toBe(200);
      // The endpoint list: operations of every area, by summary, and their paths.
      await page.getByText("Log in with email and password").first().waitFor({ timeout: 60_000 });
      await page.getByText("Create an account and start a session").first().waitFor();
      await page.waitForFunction(
        'document.body.innerText.includes("/auth/register") && document.body.innerText.includes("/auth/login")',
        undefined,
        { timeout: 30_000 },
      );
      // "Try it": Scalar's request button.
      await page
        .getByRole("button", { name: /test request/i })
        .first()
        .waitFor({ timeout: 30_000 });

      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, "docs.png") });
      expect(fs.statSync(path.join(ARTIFACTS, "docs.png")).size).toBeGreaterThan(10_000);

      // "Try it" really sends: open the client on GET /health/live and send the request.
      await page.goto(`${base}/docs#tag/system/GET/health/live`);
      const live = page.locator('[id$="tag/system/GET/health/live"]');
      await live
        .getByRole("button", { name: /test request/i })
        .first()
        .click();
      const sent = page.waitForResponse((r) => r.url() === `${base}/health/live`);
      await page.getByRole("button", { name: /^send/i }).first().click();
      expect((await sent).status()).toBe(200);
      await page.getByText("200 OK").first().waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, "docs-try-it.png") });

      expect(problems.filter((p) => /Content Security Policy|Refused to/i.test(p))).toEqual([]);
      expect(offOrigin).toEqual([]);
    } finally {
      await browser.close();
      browser = undefined;
      fs.rmSync(profile, { recursive: true, force: true });
    }
  });
});
