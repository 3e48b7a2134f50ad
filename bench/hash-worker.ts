/**
 * Bench-only Worker (bench/wrangler.toml), started by `npm run bench` under `wrangler dev`:
 * runs scrypt in workerd with each implementation so scripts/bench/bench.ts can time it from outside.
 * Timing is taken by the caller (wall clock around the request, and the workerd process's CPU
 * from /proc): inside workerd, Date.now() only advances across I/O, so in-Worker timers cannot
 * measure a synchronous hash.
 *
 *   GET /noop                                   baseline request
 *   GET /hash?impl=&n=&logN=&r=&p=              n hashes (16-byte salt, 32-byte key), last one in PHC form
 *   GET /verify?impl=&n=&stored=                n verifications of `stored` (must succeed)
 *   GET /blocking?impl=&n=&logN=&r=&p=          n hashes beside a setTimeout(0) heartbeat: the longest gap
 *                                               between beats is the longest time the hash held the thread
 *   GET /probe?logN=&r=&p=                      one native scrypt: does this runtime accept these params?
 *   GET /logline?console=0|1&n=                 n request log lines (src/log.ts): built only, or also written
 *                                               with console.log; microseconds per line (wrangler dev keeps an
 *                                               inspector attached, which is what console.log costs here)
 *   GET /inproc?target=app|bare&console=0|1&n=  n GET /health/live requests handed straight to the app's fetch
 *                                               (src/index.ts) or to a bare Hono app, inside this isolate: the
 *                                               per-request cost of the middleware chain without network or proxy
 * impl: native (node:crypto), noble-async (scryptAsync), noble-sync (scrypt), wasm (src/auth/password/scrypt-wasm.ts),
 * app (hashPassword/verifyPassword)
 *
 * The heartbeat reads Date.now(), which advances while JavaScript runs under local workerd (not on
 * deployed Workers, where it moves only across I/O): this measurement is local by nature.
 */

import * as nodeCrypto from "node:crypto";
import { scrypt as nobleScrypt, scryptAsync as nobleScryptAsync } from "@noble/hashes/scrypt.js";
import { Hono } from "hono";
import { hashPassword, type ScryptParams, verifyPassword } from "../src/auth/password/hash";
import { scryptWasm } from "../src/auth/password/scrypt-wasm";
import worker from "../src/index";
import { fromB64, randomBytes, timingSafeEqual, utf8 } from "../src/lib/encoding";
import { log } from "../src/log";

const BENCH_PASSWORD = "Bench-Password-Correct-9";

type Impl = (pw: Uint8Array, salt: Uint8Array, p: ScryptParams) => Promise<Uint8Array>;
const opts = (p: ScryptParams) => ({ N: 2 ** p.logN, r: p.r, p: p.p, dkLen: 32 });
const nativeScrypt: Impl = (pw, salt, p) =>
  new Promise((resolve, reject) =>
    nodeCrypto.scrypt(pw, salt, 32, { ...opts(p), maxmem: 256 * 2 ** p.logN * p.r }, (err, key) =>
      err ? reject(err) : resolve(new Uint8Array(key)),
    ),
  );
const IMPLS: Record<string, Impl | undefined> = {
  native: nativeScrypt,
  // noble's default asyncTick (10 ms)
  "noble-async": (pw, salt, p) => nobleScryptAsync(pw, salt, { ...opts(p), maxmem: 2 ** 32 }),
  "noble-sync": async (pw, salt, p) => nobleScrypt(pw, salt, { ...opts(p), maxmem: 2 ** 32 }),
  wasm: (pw, salt, p) => scryptWasm(pw, salt, opts(p)),
};

const b64 = (u8: Uint8Array) => btoa(String.fromCharCode(...u8)).replace(/=+$/, "");
const PHC = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function params(url: URL): ScryptParams {
  const n = (k: string, d: number) => Number(url.searchParams.get(k) ?? d);
  return { logN: n("logN", 14), r: n("r", 8), p: n("p", 5) };
}

async function hashWith(impl: string, p: ScryptParams): Promise<string> {
  if (impl === "app") return hashPassword(BENCH_PASSWORD, p);
  const fn = IMPLS[impl];
  if (!fn) throw new Error(`unknown or unavailable impl: ${impl}`);
  const salt = randomBytes(16);
  const key = await fn(utf8(BENCH_PASSWORD.normalize("NFKC")), salt, p);
  return `$scrypt$ln=${p.logN},r=${p.r},p=${p.p}$${b64(salt)}$${b64(key)}`;
}

async function verifyWith(impl: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored);
  if (!m) throw new Error("stored hash is not a $scrypt$ string");
  const p = { logN: +m[1], r: +m[2], p: +m[3] };
  if (impl === "app") return (await verifyPassword(BENCH_PASSWORD, stored, p)).ok;
  const fn = IMPLS[impl];
  if (!fn) throw new Error(`unknown or unavailable impl: ${impl}`);
  const key = await fn(utf8(BENCH_PASSWORD.normalize("NFKC")), fromB64(m[4]), p);
  return timingSafeEqual(key, fromB64(m[5]));
}

const bare = new Hono().get("/health/live", (c) => c.json({ status: "ok" }));
// The app's settings without secrets (development mode needs none; /health/live touches no binding).
const appEnv = { ENVIRONMENT: "development" } as unknown as Parameters<typeof worker.fetch>[1];

export default {
  async fetch(request: Request, _env: unknown, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    const impl = url.searchParams.get("impl") ?? "native";
    const n = Math.max(0, Math.min(url.pathname === "/logline" ? 100_000 : 100, Number(url.searchParams.get("n") ?? 1)));
    try {
      switch (url.pathname) {
        case "/noop":
          return Response.json({ ok: true });
        case "/hash": {
          let last = "";
          for (let i = 0; i < n; i++) last = await hashWith(impl, params(url));
          return Response.json({ ok: true, n, stored: last });
        }
        case "/verify": {
          const stored = url.searchParams.get("stored") ?? "";
          for (let i = 0; i < n; i++)
            if (!(await verifyWith(impl, stored))) return Response.json({ ok: false, error: "mismatch" }, { status: 500 });
          return Response.json({ ok: true, n });
        }
        case "/blocking": {
          let done = false;
          const gaps: number[] = [];
          const beat = (async () => {
            while (!done) {
              const t = Date.now();
              await new Promise((r) => setTimeout(r, 0));
              gaps.push(Date.now() - t);
            }
          })();
          for (let i = 0; i < n; i++) await hashWith(impl, params(url));
          done = true;
          await beat;
          gaps.sort((a, b) => a - b);
          const q = (f: number) => gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * f))];
          return Response.json({ ok: true, n, beats: gaps.length, maxMs: gaps[gaps.length - 1], p99Ms: q(0.99), p50Ms: q(0.5) });
        }
        case "/logline": {
          const fields = { requestId: crypto.randomUUID(), method: "GET", route: "/health/live", status: 200, durationMs: 1.2 };
          const write = console.log;
          if (url.searchParams.get("console") !== "1") console.log = () => {};
          try {
            const t0 = performance.now(); // advances while JavaScript runs under local workerd only
            for (let i = 0; i < n; i++) log("info", "request", fields);
            return Response.json({ ok: true, n, usPerLine: ((performance.now() - t0) * 1000) / n });
          } finally {
            console.log = write;
          }
        }
        case "/inproc": {
          const target = url.searchParams.get("target");
          const write = console.log;
          if (url.searchParams.get("console") !== "1") console.log = () => {};
          try {
            const t0 = performance.now(); // advances while JavaScript runs under local workerd only
            for (let i = 0; i < n; i++) {
              const req = new Request("http://bench.local/health/live", { headers: { "cf-connecting-ip": "10.0.0.1" } });
              const res = target === "bare" ? await bare.fetch(req) : await worker.fetch(req as never, appEnv, ctx);
              if (res.status !== 200) return Response.json({ ok: false, error: `status ${res.status}` }, { status: 500 });
              await res.arrayBuffer();
            }
            return Response.json({ ok: true, n, usPerRequest: ((performance.now() - t0) * 1000) / n });
          } finally {
            console.log = write;
          }
        }
        case "/probe": {
          await nativeScrypt(utf8("probe"), randomBytes(16), params(url));
          return Response.json({ ok: true });
        }
      }
      return Response.json({ ok: false, error: "not found" }, { status: 404 });
    } catch (err) {
      return Response.json({ ok: false, error: String((err as Error)?.message ?? err) }, { status: 500 });
    }
  },
};
