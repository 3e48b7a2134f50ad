// npm run bench:webhooks: webhook delivery through the Queue, end to end, on this machine.
//
//   The local stack (embedded Postgres + the Worker, built once and served frozen under wrangler
//   dev, whose Queue emulation runs the Worker's own queue() handler) on free ports in a temporary
//   folder, and the local receiver (scripts/stack/webhook-receiver.ts), which verifies every
//   delivery with the `standardwebhooks` library. An admin creates one endpoint for `user.updated`;
//   `--users` accounts are registered; then `--changes` profile changes (each one `user.updated`)
//   are sent, `--connections` at a time, spread over the accounts.
//
//   1. delivery under load: events delivered per second (from the first change to the last event's
//      first acknowledged delivery), and the delay from each change (the event's timestamp) to its
//      delivery (p50, p90, p99, max), while the changes are being made; every delivery verified,
//      every account's events in order;
//   2. a backlog: a second endpoint is given the same events at once (its cursor set back in the
//      database: the bench's only write besides promoting its admin) and one change wakes the
//      dispatcher: events delivered per second with no request load beside;
//   3. the request path: the changes' latency while the receiver answers at once, and again while
//      it hangs on every delivery (delivery is never on the request path: they should match).
//
// Options (flags or env): --changes=1000 (BENCH_WEBHOOK_CHANGES), --users=50 (BENCH_WEBHOOK_USERS),
// --connections=16 (BENCH_WEBHOOK_CONNECTIONS), --hang-changes=200 (BENCH_WEBHOOK_HANG_CHANGES),
// --out=bench-results (BENCH_OUT: webhooks.json and webhooks.md there). Everything started is
// stopped at the end, on failure and on Ctrl-C.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { freePort, ROOT } from "../stack/local-service.ts";
import { startStack } from "../stack/stack.ts";
import { startWebhookReceiver } from "../stack/webhook-receiver.ts";
import { freezeWorker } from "../stack/wrangler-dev.ts";
import { cleanupOnExit } from "./cleanup.ts";
import * as flows from "./flows.ts";
import {
  createEndpoint,
  drained as drainedHook,
  measureDelivery,
  outOfOrder,
  profileChanges,
  receiverControl,
  summary,
} from "./webhook-delivery.ts";

const argv = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1], m[2] ?? "true"];
  }),
);
const opt = (name: string, env: string, fallback: string | number) => argv[name] ?? process.env[env] ?? fallback;
const options = {
  changes: Number(opt("changes", "BENCH_WEBHOOK_CHANGES", 1000)),
  users: Number(opt("users", "BENCH_WEBHOOK_USERS", 50)),
  connections: Number(opt("connections", "BENCH_WEBHOOK_CONNECTIONS", 16)),
  hangChanges: Number(opt("hang-changes", "BENCH_WEBHOOK_HANG_CHANGES", 200)),
  out: path.resolve(ROOT, String(opt("out", "BENCH_OUT", "bench-results"))),
};
const PASSWORD = "Vivid-Quartz-Lantern-2026";

const log = (msg: string) => console.log(msg);

const { cleanups, cleanup } = cleanupOnExit(log);

// Every request from its own CF-Connecting-IP: the per-IP rate limits stay as in production and never trigger.
let ipCounter = 0;
const nextIp = () => {
  ipCounter = (ipCounter + 1) % 16_000_000;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
};

async function pool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k], k);
      }
    }),
  );
  return out;
}

async function main() {
  fs.mkdirSync(options.out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "edge-auth-bench-webhooks-"));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));

  log("building the Worker (wrangler deploy --dry-run)...");
  const frozen = await freezeWorker({ config: "wrangler.toml", outdir: path.join(tmp, "dist") });
  cleanups.push(() => frozen.remove());
  const receiver = await startWebhookReceiver({ port: 0 });
  cleanups.push(() => receiver.stop());
  log("starting the local stack (Postgres, wrangler dev with the Queue emulation)...");
  const stack = await startStack({
    dataDir: path.join(tmp, "stack"),
    persistent: false,
    port: await freePort(),
    dbPort: await freePort(),
    mailPort: await freePort(),
    s3Port: await freePort(),
    oidcPort: await freePort(),
    // Production webhook settings except the retry delays, which only matter if the receiver fails.
    vars: { BREACHED_PASSWORD_CHECK: "off" },
    config: frozen.config,
    wranglerArgs: ["--no-bundle"],
    inheritOutput: false,
  });
  cleanups.push(() => stack.stop());

  const api = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<flows.ApiAnswer> => {
    const res = await fetch(stack.apiUrl + p, {
      method,
      headers: { "content-type": "application/json", "cf-connecting-ip": nextIp(), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data: unknown = text;
    try {
      data = JSON.parse(text);
    } catch {}
    return { status: res.status, data };
  };
  const ctx: flows.FlowContext = {
    api,
    pool,
    runId: Date.now().toString(36),
    seq: 0,
    mailUrl: stack.mailUrl,
    oidcUrl: stack.oidcUrl,
    dbUrl: stack.dbUrl,
    password: PASSWORD,
  };

  log("an admin, the endpoint (user.updated) and its receiver...");
  const adminSession = await flows.adminSession(ctx, undefined, { recent: true });
  const admin = { authorization: `Bearer ${adminSession.access}` };
  const created = await createEndpoint({ api, adminAuth: admin, receiverUrl: receiver.url, hook: "bench" });
  const endpointId = created.id;
  const control = receiverControl(receiver.url);
  const drained = (hook: string, count: number) => drainedHook(control, hook, count);

  log(`registering ${options.users} accounts...`);
  const accounts = await pool(Array.from({ length: options.users }), 4, async (_, i) => {
    const email = `bench-${ctx.runId}-hook-${i}@example.com`;
    const r = await api("POST", "/auth/register", { full_name: `Bench Hook ${i}`, email, password: PASSWORD, role: "student" });
    if (r.status !== 201) throw new Error(`register answered ${r.status}`);
    return { id: r.data.user.id as string, token: r.data.access_token as string };
  });
  const tokens = accounts.map((a) => a.token);
  /** `n` profile changes, `connections` at a time: each request's latency (ms) and status. */
  const changes = (n: number, label: string) =>
    profileChanges({ apiUrl: stack.apiUrl, tokens, n, connections: options.connections, label, nextIp });

  // 1. Delivery throughput and delay.
  log(`delivery: ${options.changes} changes, ${options.connections} at a time...`);
  const t0 = Date.now();
  const run = await measureDelivery({
    apiUrl: stack.apiUrl,
    receiverUrl: receiver.url,
    hook: "bench",
    tokens,
    changes: options.changes,
    connections: options.connections,
    nextIp,
  });
  const { answered, delivered, delivery } = run;
  const { unverified, accountsOutOfOrder: disordered, changeToDeliveryMs: delay } = delivery;
  log(
    `  ${delivery.eventsPerSecond} events/s delivered (changes ${delivery.changesPerSecond}/s); change -> delivery p50 ${delay.p50} ms, p90 ${delay.p90} ms, p99 ${delay.p99} ms, max ${delay.max} ms; ${unverified} unverified, ${disordered} accounts out of order`,
  );

  // 2. A backlog: the same events for a second endpoint, all at once.
  log(`backlog: the same ${options.changes} events for a second endpoint at once...`);
  const second = await api("POST", "/auth/admin/webhooks", { url: `${receiver.url}/hooks/backlog`, events: ["user.updated"] }, admin);
  if (second.status !== 201) throw new Error(`creating the second endpoint answered ${second.status}`);
  await control({ secrets: { current: second.data.secret } }, "backlog");
  const firstPosition = Math.min(...delivered.map((d) => d.payload?.position ?? 0));
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`update auth_webhook_endpoints set cursor = ${firstPosition - 1} where id = ${second.data.endpoint.id}`;
  } finally {
    await sql.end();
  }
  const tWake = Date.now();
  await changes(1, "Wake");
  const backlogRun = await drained("backlog", options.changes + 1);
  const backlog = {
    events: options.changes + 1,
    eventsPerSecond:
      Math.round(((options.changes + 1) / ((Math.max(...backlogRun.delivered.map((d) => d.receivedAt)) - tWake) / 1000)) * 10) / 10,
    unverified: backlogRun.all.filter((d) => !d.verified.current).length,
    accountsOutOfOrder: outOfOrder(backlogRun.delivered),
  };
  log(
    `  ${backlog.eventsPerSecond} events/s delivered; ${backlog.unverified} unverified, ${backlog.accountsOutOfOrder} accounts out of order`,
  );
  await api("DELETE", `/auth/admin/webhooks/${second.data.endpoint.id}`, undefined, admin);

  // 3. The request path while the receiver hangs on every delivery.
  const healthy = summary(answered.map((a) => a.ms));
  let hanging: ReturnType<typeof summary> | null = null;
  if (options.hangChanges > 0) {
    log(`the request path with a hanging receiver: ${options.hangChanges} changes...`);
    await control({ secrets: { current: created.secret }, hang: 1_000_000 });
    const held = await changes(options.hangChanges, "Held");
    if (held.some((a) => a.status !== 200)) throw new Error("changes failed while the receiver hung");
    hanging = summary(held.map((a) => a.ms));
    log(
      `  change latency p50 ${hanging.p50.toFixed(1)} ms, p99 ${hanging.p99.toFixed(1)} ms (receiver answering: p50 ${healthy.p50.toFixed(1)}, p99 ${healthy.p99.toFixed(1)})`,
    );
    await api("DELETE", `/auth/admin/webhooks/${endpointId}`, undefined, admin);
  }

  const round = (s: ReturnType<typeof summary>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 10) / 10]));
  const results = {
    startedAt: new Date(t0).toISOString(),
    command: `npm run bench:webhooks${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine: { nproc: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "unknown", loadavg: os.loadavg() },
    delivery,
    backlog,
    changeLatencyMs: { receiverAnswering: round(healthy), receiverHanging: hanging && round(hanging) },
  };
  fs.writeFileSync(path.join(options.out, "webhooks.json"), `${JSON.stringify(results, null, 2)}\n`);
  const md = [
    "# Webhook delivery (npm run bench:webhooks)",
    "",
    `${results.startedAt}, ${results.machine.nproc} x ${results.machine.cpuModel}, load ${results.machine.loadavg.map((x) => x.toFixed(2)).join(" ")}`,
    "",
    `${delivery.events} profile changes (\`user.updated\`) over ${delivery.accounts} accounts, ${delivery.connections} at a time, one endpoint, a local receiver verifying each delivery with \`standardwebhooks\`.`,
    "",
    "| measure | value |",
    "| --- | --- |",
    `| events delivered per second (first change to last delivery) | ${delivery.eventsPerSecond} |`,
    `| changes per second (the requests) | ${delivery.changesPerSecond} |`,
    `| change to delivery p50 / p90 / p99 / max (ms) | ${delay.p50} / ${delay.p90} / ${delay.p99} / ${delay.max} |`,
    `| last delivery after the last change (ms) | ${delivery.drainAfterLastChangeMs} |`,
    `| delivery requests (repeats) / unverified / accounts out of order | ${delivery.requests} (${delivery.repeats}) / ${unverified} / ${disordered} |`,
    `| a backlog of ${backlog.events} events: delivered per second / unverified / accounts out of order | ${backlog.eventsPerSecond} / ${backlog.unverified} / ${backlog.accountsOutOfOrder} |`,
    `| change latency p50 / p99 (ms), receiver answering | ${healthy.p50.toFixed(1)} / ${healthy.p99.toFixed(1)} |`,
    hanging ? `| change latency p50 / p99 (ms), receiver hanging | ${hanging.p50.toFixed(1)} / ${hanging.p99.toFixed(1)} |` : "",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(options.out, "webhooks.md"), md);
  log(`results: ${path.relative(ROOT, path.join(options.out, "webhooks.md"))}`);
}

main()
  .then(cleanup)
  .catch(async (err) => {
    console.error(`bench:webhooks failed: ${(err as Error)?.stack ?? err}`);
    await cleanup();
    process.exit(1);
  });
