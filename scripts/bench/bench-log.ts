// npm run bench:log: what one request log line (src/log.ts: JSON.stringify + console.log) costs
// in workerd itself, with no wrangler around it, and what attaching an inspector adds (wrangler
// dev keeps one attached to forward console output). The bench's "app without console.log"
// variant measures the line under wrangler dev; this separates the runtime's share from the
// inspector's. A deployed Worker has no inspector attached (unless someone runs `wrangler tail`
// or the dashboard's live logs); what Workers Logs costs there cannot be measured on this machine.
//
// workerd (the binary wrangler ships) serves bench/log-worker.js on a free port: /nolog answers,
// /log writes the request line first. Each is loaded with autocannon for a fixed number of
// requests; CPU per request comes from /proc (utime+stime of the workerd process).

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { freePort, ROOT } from "../stack/local-service.ts";
import { readStat } from "./proc-cpu.ts";

const REQUESTS = Number(process.env.BENCH_LOG_REQUESTS ?? 4000);
const ROUNDS = Number(process.env.BENCH_LOG_ROUNDS ?? 3);
const workerdBin = path.join(ROOT, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const WORKER = `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/log") {
      // The shape of the app's request line (src/log.ts).
      console.log(JSON.stringify({ level: "info", msg: "request", time: new Date().toISOString(),
        requestId: crypto.randomUUID(), method: request.method, route: url.pathname, status: 200, durationMs: 0 }));
    }
    return new Response("ok");
  },
};
`;

function config(port: number, dir: string) {
  fs.writeFileSync(path.join(dir, "log-worker.js"), WORKER);
  const file = path.join(dir, "config.capnp");
  fs.writeFileSync(
    file,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "log-worker.js") ],
  compatibilityDate = "2026-11-01",
);
`,
  );
  return file;
}

interface Server {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function start({ inspector }: { inspector: boolean }): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-auth-bench-log-"));
  const port = await freePort();
  const args = ["serve", config(port, dir)];
  let inspectorPort: number | undefined;
  if (inspector) {
    inspectorPort = await freePort();
    args.push(`--inspector-addr=127.0.0.1:${inspectorPort}`);
  }
  const child = spawn(workerdBin, args, { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr.on("data", () => {});
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/nolog`)).ok) break;
    } catch {}
    await sleep(100);
  }
  let ws: WebSocket | undefined;
  if (inspector) {
    // What wrangler dev does: attach and enable the Runtime domain (console events flow from then on).
    const list = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const socket = new WebSocket(list[0].webSocketDebuggerUrl);
    ws = socket;
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    socket.send(JSON.stringify({ id: 1, method: "Runtime.enable" }));
    socket.onmessage = () => {};
    await sleep(300);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      ws?.close();
      child.kill("SIGTERM");
      await sleep(200);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const cpuOf = (pid: number) => {
  const s = readStat(pid)!;
  return s.utime + s.stime;
};

async function perRequest(server: Server, route: string) {
  const r0 = cpuOf(server.pid);
  const t0 = performance.now();
  const res = await autocannon({ url: server.url + route, connections: 8, amount: REQUESTS });
  const seconds = (performance.now() - t0) / 1000;
  const r1 = cpuOf(server.pid);
  return { cpuMs: (r1 - r0) / res["2xx"], reqPerSec: res["2xx"] / seconds, ok: res["2xx"] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows: Record<string, unknown>[] = [];
for (const inspector of [false, true]) {
  const server = await start({ inspector });
  try {
    await perRequest(server, "/nolog"); // warm up
    const m: Record<string, number[]> = { nolog: [], log: [], nologRps: [], logRps: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const route of ["/nolog", "/log"]) {
        const r = await perRequest(server, route);
        m[route.slice(1)].push(r.cpuMs);
        m[`${route.slice(1)}Rps`].push(r.reqPerSec);
      }
    }
    const row = {
      setup: inspector ? "workerd with an inspector attached (Runtime.enable, as wrangler dev does)" : "workerd alone (no inspector)",
      nologCpuMs: median(m.nolog),
      logCpuMs: median(m.log),
      lineCpuMs: median(m.log) - median(m.nolog),
      nologRps: median(m.nologRps),
      logRps: median(m.logRps),
    };
    rows.push(row);
    console.log(
      `${row.setup}: ${row.nologCpuMs.toFixed(3)} ms/req without the line, ${row.logCpuMs.toFixed(3)} with it: ` +
        `the line costs ${row.lineCpuMs.toFixed(3)} ms of workerd CPU (${row.nologRps.toFixed(0)} vs ${row.logRps.toFixed(0)} req/s)`,
    );
  } finally {
    await server.stop();
  }
}
const out = path.join(ROOT, "bench-results");
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "log-cost.json"), JSON.stringify({ requests: REQUESTS, rounds: ROUNDS, rows }, null, 2));
console.log(`written: bench-results/log-cost.json (${REQUESTS} requests per measurement, median of ${ROUNDS})`);
