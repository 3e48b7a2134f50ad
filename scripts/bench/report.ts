// Render bench results (scripts/bench/bench.ts) as markdown (tables, ratios, targets) and SVG charts.
import { horizontalBars, verticalBars } from "./charts.ts";
import type { BenchResults, LoadResult } from "./results.ts";
import { NEW_FLOW_CPU_MS } from "./scenarios.ts";

type Maybe = number | null | undefined;
const f = (x: Maybe, d = 1) => (x == null || Number.isNaN(x) ? "n/a" : Number(x).toFixed(d));
const pct = (x: Maybe) => (x == null || Number.isNaN(x) ? "n/a" : `${(x * 100).toFixed(0)}%`);
/** a ÷ b, or undefined when either is missing. */
const ratio = (a: Maybe, b: Maybe) => (a == null || b == null ? undefined : a / b);
const verdict = (ok: boolean | null) => (ok == null ? "n/a" : ok ? "**met**" : "**missed**");
const errorsOf = (r: LoadResult | undefined) => (r ? r.non2xx + r.errors + r.timeouts : null);

/** Derived figures: ceilings, ratios and the target checks. */
function analyse(res: BenchResults) {
  const by = (name: string, c: number) => res.scenarios?.find((s) => s.name === name && s.connections === c);
  const native = res.hash?.rows.find((r) => r.impl === "native");
  const app = res.hash?.rows.find((r) => r.impl === "app");
  const serial = (name: string) => res.serial?.find((s) => s.name === name)?.msPerRequest;
  const sLogin = serial("login");
  const sLive = serial("live");
  const serialLogin = sLogin
    ? {
        workerd: sLogin.workerd,
        postgres: sLogin.postgres,
        beyondHash: app ? sLogin.workerd - app.verifyCpuMs : null,
        beyondHashAndFloor: app && sLive ? sLogin.workerd - app.verifyCpuMs - sLive.workerd : null,
      }
    : null;
  // The native hash-bound ceiling: one thread runs the Worker's JavaScript and its hashes, so at
  // most 1 ÷ (native verify time) logins per second.
  const ceiling = native ? 1000 / native.verifyMs : null;
  const ceilingCpu = native ? 1000 / native.verifyCpuMs : null;
  const conns = res.options.connections;
  const rows = conns.map((c) => {
    const login = by("login", c);
    const me = by("me", c);
    const sel = by("select1", c);
    const live = by("live", c);
    const bare = by("bare", c);
    const mixed = res.mixed?.find((m) => m.id === "me+login" && m.connections === c);
    const loginCpu = login?.cpu?.msPerRequest;
    // CPU per login beside /auth/me: the window's workerd CPU, minus what /auth/me costs alone
    // (same concurrency) for the /auth/me answers of the window, ÷ the logins of the window.
    let loginCpuUnderMe: number | null = null;
    if (mixed?.me.cpu && me?.cpu && mixed.login.reqPerSec > 0) {
      const w = mixed.me.cpu.windowMs / 1000;
      loginCpuUnderMe =
        (mixed.me.cpu.windowCpuMs.workerd - mixed.me.reqPerSec * w * me.cpu.msPerRequest.workerd) / (mixed.login.reqPerSec * w);
    }
    return {
      connections: c,
      loginRps: login?.reqPerSec ?? null,
      loginRatio: login && ceiling ? login.reqPerSec / ceiling : null,
      loginRatioCpu: login && ceilingCpu ? login.reqPerSec / ceilingCpu : null,
      loginErrors: errorsOf(login),
      loginWorkerdCpu: loginCpu?.workerd ?? null,
      loginBeyondHash: loginCpu && app ? loginCpu.workerd - app.verifyCpuMs : null,
      loginBeyondHashAndFloor: loginCpu && app && live?.cpu ? loginCpu.workerd - app.verifyCpuMs - live.cpu.msPerRequest.workerd : null,
      loginPostgresCpu: loginCpu?.postgres ?? null,
      liveRps: live?.reqPerSec ?? null,
      bareRps: bare?.reqPerSec ?? null,
      liveRatio: live && bare ? live.reqPerSec / bare.reqPerSec : null,
      liveErrors: errorsOf(live),
      meRps: me?.reqPerSec ?? null,
      select1Rps: sel?.reqPerSec ?? null,
      meRatio: me && sel ? me.reqPerSec / sel.reqPerSec : null,
      meErrors: errorsOf(me),
      meP99: me?.latency.p99 ?? null,
      meP99UnderLogin: mixed?.me.latency.p99 ?? null,
      meP99Ratio: mixed && me ? mixed.me.latency.p99 / me.latency.p99 : null,
      meRpsUnderLogin: mixed?.me.reqPerSec ?? null,
      loginRpsUnderMe: mixed?.login.reqPerSec ?? null,
      loginRatioUnderMe: mixed && ceiling ? mixed.login.reqPerSec / ceiling : null,
      loginCpuUnderMe,
      mixedErrors: mixed ? errorsOf(mixed.me)! + errorsOf(mixed.login)! : null,
    };
  });
  type Row = (typeof rows)[number];
  const all = (key: keyof Row, pred: (r: Row) => boolean) => (rows.some((r) => r[key] == null) ? null : rows.every(pred));
  const perC = (fn: (r: Row) => string) => rows.map((r) => `c=${r.connections}: ${fn(r)}`).join("; ");
  const nativeBlock = native?.blocking;
  const appBlock = app?.blocking;
  // Ours against the peer's (PAIRS): req/s at each concurrency and CPU per request one at a time.
  const pairs = (res.pairs ?? []).map((p) => {
    const at = conns.map((c) => {
      const ours = by(p.ours, c);
      const theirs = by(p.theirs, c);
      return { connections: c, ours, theirs, ratio: ratio(ours?.reqPerSec, theirs?.reqPerSec) };
    });
    const cpuOurs = serial(p.ours);
    const cpuTheirs = serial(p.theirs);
    return {
      ...p,
      at,
      cpuOurs,
      cpuTheirs,
      workerdRatio: ratio(cpuOurs?.workerd, cpuTheirs?.workerd),
      totalRatio: ratio(cpuOurs?.total, cpuTheirs?.total),
      ok: at.some((x) => x.ratio == null) || p.target == null ? null : at.every((x) => x.ratio! >= p.target! && errorsOf(x.ours) === 0),
    };
  });
  // The rows held to the new flows' CPU target, and the cases of those flows reported without it (`noTarget`).
  const newFlows = (res.serial ?? []).filter((s) => s.newFlow && !s.noTarget);
  const newFlowsUnjudged = (res.serial ?? []).filter((s) => s.newFlow && s.noTarget);
  const startupOk = (limit: number) => (res.startup?.activeMedianMs != null ? res.startup.activeMedianMs <= limit : null);
  const startupDetail = res.startup
    ? `median ${f(res.startup.activeMedianMs)} ms, min ${f(res.startup.activeMinMs)} ms over ${res.startup.runs.length} runs (bare Hono: median ${f(res.startupEmpty?.activeMedianMs)} ms)`
    : "not measured";
  // Issue 31's targets, in its order.
  const targets = [
    ...pairs
      .filter((p) => p.target != null)
      .map((p) => ({
        target: `${p.title}: ≥ ${f(p.target, 1)}× better-auth's req/s, c=${conns.join(" and c=")}, zero errors`,
        ok: p.ok,
        detail: [
          ...p.at.map(
            (x) =>
              `c=${x.connections}: ${f(x.ours?.reqPerSec)} vs ${f(x.theirs?.reqPerSec)} req/s = ${f(x.ratio, 2)}×, ${errorsOf(x.ours) ?? "n/a"} errors`,
          ),
          `workerd CPU one at a time ${f(p.cpuOurs?.workerd, 2)} vs ${f(p.cpuTheirs?.workerd, 2)} ms`,
        ].join("; "),
      })),
    {
      target: "/auth/me ≥ 90% of the select-1 floor, zero errors",
      ok: all("meRatio", (r) => r.meRatio! >= 0.9 && r.meErrors === 0),
      detail: perC((r) => `${f(r.meRps)} vs ${f(r.select1Rps)} req/s = ${pct(r.meRatio)}, ${r.meErrors ?? "n/a"} errors`),
    },
    {
      target: `every new flow of the batch ≤ ${NEW_FLOW_CPU_MS} ms of workerd CPU one at a time`,
      ok: newFlows.length ? newFlows.every((s) => s.msPerRequest.workerd <= NEW_FLOW_CPU_MS && s.ok === s.n) : null,
      detail: [
        newFlows.length
          ? newFlows.map((s) => `${s.title}: ${f(s.msPerRequest.workerd, 2)} ms (${s.ok}/${s.n} 2xx)`).join("; ")
          : "not measured",
        ...newFlowsUnjudged.map(
          (s) => `not judged, reported: ${s.title}: ${f(s.msPerRequest.workerd, 2)} ms (${s.ok}/${s.n} 2xx; ${s.noTarget})`,
        ),
      ].join("; "),
    },
    { target: "startup ≤ 80 ms (active CPU in the startup profile, median)", ok: startupOk(80), detail: startupDetail },
    {
      target: "gzip bundle ≤ 400 KiB",
      ok: res.bundle?.wranglerGzipKiB != null ? res.bundle.wranglerGzipKiB <= 400 : null,
      detail: res.bundle ? `${f(res.bundle.wranglerGzipKiB)} KiB gzip (${f(res.bundle.wranglerTotalKiB)} KiB raw)` : "not measured",
    },
    {
      target: "/auth/me p99 while 8 connections log in ≤ 3× its p99 alone, c=8 and c=32, zero errors",
      ok: all("meP99Ratio", (r) => r.meP99Ratio! <= 3 && r.mixedErrors === 0),
      detail: perC(
        (r) => `${f(r.meP99UnderLogin, 0)} ms vs ${f(r.meP99, 0)} ms alone = ${f(r.meP99Ratio, 2)}×, ${r.mixedErrors ?? "n/a"} errors`,
      ),
    },
    ...(res.probes ?? []).flatMap((p) => p.targets),
  ];
  // Targets of earlier issues (12-19), kept to catch a regression.
  const earlier = [
    {
      target: "fair hashing: a hash holds the isolate's thread ≤ 15 ms at a time (the aim; app's hash CPU ÷ its blocks)",
      ok: appBlock?.cpuPerBlockMs != null ? appBlock.cpuPerBlockMs <= 15 : null,
      detail: appBlock
        ? `${f(appBlock.cpuPerBlockMs, 1)} ms CPU per block (${f(appBlock.beats / appBlock.hashes, 0)} blocks per hash; longest heartbeat gap ${f(appBlock.maxMs, 0)} ms wall); native: ${f(nativeBlock?.cpuPerBlockMs, 0)} ms, longest gap ${f(nativeBlock?.maxMs, 0)} ms`
        : "not measured",
    },
    {
      target: "login alone ≥ 90% of the native hash-bound ceiling, zero errors (workerd CPU per login)",
      ok: all("loginRatio", (r) => r.loginRatio! >= 0.9 && r.loginErrors === 0),
      detail:
        `ceiling ${f(ceiling)}/s; ` +
        perC((r) => `${f(r.loginRps)}/s = ${pct(r.loginRatio)}, ${r.loginErrors ?? "n/a"} errors, ${f(r.loginWorkerdCpu)} ms CPU/login`),
    },
    {
      target: "login with /auth/me beside it ≥ 40% of the native ceiling (workerd CPU per login)",
      ok: all("loginRatioUnderMe", (r) => r.loginRatioUnderMe! >= 0.4),
      detail: perC(
        (r) =>
          `/auth/me c=${r.connections} + login c=8: ${f(r.loginRpsUnderMe)}/s = ${pct(r.loginRatioUnderMe)}, ≈${f(r.loginCpuUnderMe)} ms CPU/login`,
      ),
    },
    {
      target: "GET /health/live ≥ 85% of the bare-Hono floor's req/s",
      ok: all("liveRatio", (r) => r.liveRatio! >= 0.85 && r.liveErrors === 0),
      detail: perC((r) => `${f(r.liveRps)} vs ${f(r.bareRps)} req/s = ${pct(r.liveRatio)}`),
    },
    {
      target: "login CPU beyond the hash ≤ 5 ms (one at a time: workerd CPU per login − CPU of one app verify)",
      ok: serialLogin?.beyondHash != null ? serialLogin.beyondHash <= 5 : null,
      detail: serialLogin
        ? `${f(serialLogin.workerd)} − ${f(app?.verifyCpuMs)} = ${f(serialLogin.beyondHash)} ms (also minus the constant route's ${f(sLive?.workerd, 2)} ms: ${f(serialLogin.beyondHashAndFloor)} ms)`
        : "not measured",
    },
  ];
  return { ceiling, ceilingCpu, native, app, rows, targets, earlier, pairs, serialLogin };
}

/** The two charts: req/s per route against its floors, and /auth/me latency alone vs during logins. */
export function renderCharts(res: BenchResults): Record<string, string> {
  const conns = res.options.connections;
  const titles = [...new Map((res.scenarios ?? []).map((s) => [s.name, s])).values()];
  const charts: Record<string, string> = {};
  if (titles.length)
    charts["rps.svg"] = horizontalBars({
      title: "req/s per route, against its floors (same run, same wrangler dev)",
      subtitle: `${res.startedAt.slice(0, 10)}; grey = floors (bare Hono app, select 1); sustained req/s; other load median ${f(res.machine.otherCoresBusy?.median, 2)} of ${res.machine.nproc} cores`,
      unit: "req/s",
      series: conns.map((c, i) => ({
        label: `c=${c}`,
        color: ["#3b82f6", "#1e3a8a", "#60a5fa"][i % 3],
        floorColor: ["#9ca3af", "#4b5563", "#d1d5db"][i % 3],
      })),
      rows: titles.map((t) => ({
        label: t.title,
        floor: t.name === "bare" || t.name === "bare-noassets" || t.name === "select1",
        values: conns.map((c) => res.scenarios?.find((s) => s.name === t.name && s.connections === c)?.reqPerSec ?? null),
      })),
    });
  const me = (c: number) => res.scenarios?.find((s) => s.name === "me" && s.connections === c);
  const mixed = (c: number) => res.mixed?.find((m) => m.id === "me+login" && m.connections === c);
  if (res.mixed?.length)
    charts["me-latency.svg"] = verticalBars({
      title: "GET /auth/me latency: alone vs while 8 connections log in",
      subtitle: `${res.startedAt.slice(0, 10)}; autocannon percentiles, ms; other load median ${f(res.machine.otherCoresBusy?.median, 2)} of ${res.machine.nproc} cores`,
      unit: "ms",
      series: [
        { label: "/auth/me alone", color: "#3b82f6" },
        { label: "/auth/me during logins", color: "#f97316" },
      ],
      groups: conns.flatMap((c) =>
        (["p50", "p90", "p99"] as const).map((q) => ({
          label: `c=${c} ${q}`,
          values: [me(c)?.latency[q] ?? null, mixed(c)?.me.latency[q] ?? null],
        })),
      ),
    });
  return charts;
}

export function renderMarkdown(res: BenchResults, { chartsDir = "." }: { chartsDir?: string } = {}): string {
  const a = analyse(res);
  const L: string[] = [];
  const m = res.machine;
  L.push(`## Run of ${res.startedAt}`, "");
  L.push(
    `Command: \`${res.command}\` (${res.options.duration} s per run, concurrency ${res.options.connections.join(" and ")}, ${res.options.users} seeded users; took ${f(res.elapsedS, 0)} s)`,
    "",
  );
  L.push(`Machine: ${m.nproc} × ${m.cpuModel}, ${m.ramGiB} GiB RAM, ${m.kernel}.`);
  L.push(
    `Load average at start ${m.loadavgStart.map((x) => x.toFixed(2)).join(" / ")}, at end ${m.loadavgEnd?.map((x) => x.toFixed(2)).join(" / ") ?? "n/a"}` +
      (m.otherCoresBusy
        ? `; cores busy with other work during the measured windows: median ${f(m.otherCoresBusy.median, 2)} (min ${f(m.otherCoresBusy.min, 2)}, max ${f(m.otherCoresBusy.max, 2)}) of ${m.nproc}.`
        : "."),
    "",
  );
  const v = res.versions;
  L.push(
    `Versions: Node ${v.node}, wrangler ${v.wrangler}, workerd ${v.workerdWranglerDev} (wrangler dev; ${v.workerdVitest} in the tests), ${v.postgres?.split(" on ")[0] ?? "postgres n/a"}, autocannon ${v.autocannon}, @noble/hashes ${v.noble}, hono ${v.hono}.`,
    "",
  );
  L.push(
    `scrypt parameters: ln=${res.scrypt.logN} (N=${2 ** res.scrypt.logN}), r=${res.scrypt.r}, p=${res.scrypt.p}. Rate limits: ${res.rateLimits}.`,
    "",
  );

  if (res.versions.peer)
    L.push(
      `Peer: better-auth ${res.versions.peer["better-auth"]} (better-call ${res.versions.peer["better-call"]}, kysely ${res.versions.peer.kysely}, pg ${res.versions.peer.pg}), email and password, its rate limiter ${res.peerSettings?.rateLimit ?? "n/a"}, one instance per ${res.peerSettings?.authScope ?? "n/a"} (bench/peers/better-auth/README.md).`,
      "",
    );
  const met = a.targets.filter((t) => t.ok === true).length;
  L.push(
    "### Targets (issue 31)",
    "",
    `${met} of ${a.targets.length} met${a.targets.some((t) => t.ok == null) ? ` (${a.targets.filter((t) => t.ok == null).length} not measured in this run)` : ""}.`,
    "",
    "| Target | Result | Measured |",
    "|---|---|---|",
  );
  for (const t of a.targets) L.push(`| ${t.target} | ${verdict(t.ok)} | ${t.detail} |`);
  L.push("", "Earlier targets (issues 12–19), kept to catch a regression:", "", "| Target | Result | Measured |", "|---|---|---|");
  for (const t of a.earlier) L.push(`| ${t.target} | ${verdict(t.ok)} | ${t.detail} |`);
  L.push("");

  if (a.pairs.length) {
    const conns = res.options.connections;
    L.push(
      "### Ours and better-auth, side by side",
      "",
      "Same run, same embedded PostgreSQL, same wrangler dev and workerd, same load generator. req/s sustained; ratio = ours ÷ theirs (above 1: ours serves more). CPU one request at a time (exact count); ratio = ours ÷ theirs (below 1: ours costs less). *All servers* adds wrangler's proxy and its Node process and PostgreSQL to workerd.",
      "",
      `| Pair | ours | theirs | ${conns.map((c) => `req/s c=${c} (ours / theirs = ratio)`).join(" | ")} | target | workerd CPU ms/req (ours / theirs = ratio) | all servers CPU ms/req (ours / theirs = ratio) |`,
      `|---|---|---|${conns.map(() => "---").join("|")}|---|---|---|`,
    );
    const titleOf = (id: string) => res.scenarios?.find((s) => s.name === id)?.title ?? id;
    for (const p of a.pairs)
      L.push(
        `| ${p.title} | ${titleOf(p.ours)} | ${titleOf(p.theirs)} | ${p.at.map((x) => `${f(x.ours?.reqPerSec)} / ${f(x.theirs?.reqPerSec)} = **${f(x.ratio, 2)}×**`).join(" | ")} | ${p.target == null ? "–" : `≥ ${f(p.target, 1)}× (${verdict(p.ok).replace(/\*/g, "")})`} | ${f(p.cpuOurs?.workerd, 2)} / ${f(p.cpuTheirs?.workerd, 2)} = ${f(p.workerdRatio, 2)} | ${f(p.cpuOurs?.total, 2)} / ${f(p.cpuTheirs?.total, 2)} = ${f(p.totalRatio, 2)} |`,
      );
    L.push("");
  }

  // Headline: every route, its req/s and what it costs the Worker (workerd CPU: what Workers bills).
  if (res.scenarios?.length) {
    const conns = res.options.connections;
    const ids = [...new Map(res.scenarios.map((s) => [s.name, s])).values()];
    const floorOf: Record<string, string> = {
      live: "bare",
      "live-logall": "bare",
      "live-nolog": "bare",
      me: "select1",
      "me-logall": "select1",
      "me-nolog": "select1",
      jwks: "bare",
    };
    L.push(
      "### Per route",
      "",
      "req/s sustained (c ÷ mean latency × share of 2xx); workerd CPU ms per request one at a time (exact count) and under load at the first concurrency; ÷ floor = req/s ÷ the floor's req/s at the same concurrency.",
      "",
      `| Route | ${conns.map((c) => `req/s c=${c}`).join(" | ")} | ${conns.map((c) => `p99 ms c=${c}`).join(" | ")} | **workerd CPU ms/req** (one at a time) | workerd CPU ms/req (c=${conns[0]}) | all-server CPU ms/req (one at a time) | ÷ floor |`,
      `|---|${conns.map(() => "---").join("|")}|${conns.map(() => "---").join("|")}|---|---|---|---|`,
    );
    for (const t of ids) {
      const at = (c: number) => res.scenarios!.find((s) => s.name === t.name && s.connections === c);
      const ser = res.serial?.find((s) => s.name === t.name)?.msPerRequest;
      const fl = floorOf[t.name];
      const floorRps = (c: number) => res.scenarios!.find((s) => s.name === fl && s.connections === c)?.reqPerSec;
      let vsFloor = "";
      if (fl)
        vsFloor = `${conns.map((c) => pct(ratio(at(c)?.reqPerSec, floorRps(c)))).join(" / ")} of ${fl === "bare" ? "bare Hono" : "select 1"}`;
      else if (t.name === "login" && a.ceiling)
        vsFloor = `${conns.map((c) => pct(ratio(at(c)?.reqPerSec, a.ceiling))).join(" / ")} of the native hash ceiling`;
      L.push(
        `| ${t.title} | ${conns.map((c) => f(at(c)?.reqPerSec)).join(" | ")} | ${conns.map((c) => f(at(c)?.latency.p99, 0)).join(" | ")} | **${f(ser?.workerd, 2)}** | ${f(at(conns[0])?.cpu?.msPerRequest.workerd, 2)} | ${f(ser?.total, 2)} | ${vsFloor} |`,
      );
    }
    L.push("");
  }
  const charts = renderCharts(res);
  if (charts["rps.svg"]) L.push(`![req/s per route against its floors](${chartsDir}/rps.svg)`, "");
  if (charts["me-latency.svg"]) L.push(`![/auth/me latency alone vs during logins](${chartsDir}/me-latency.svg)`, "");

  L.push("### Ratios", "");
  if (a.native)
    L.push(
      `Native hash-bound login ceiling = 1 thread ÷ ${f(a.native.verifyMs)} ms per native (node:crypto) verify (wall) = **${f(a.ceiling)} logins/s** (from CPU time: ${f(a.native.verifyCpuMs)} ms → ${f(a.ceilingCpu)}/s). The app verifies with scrypt-wasm: ${f(a.app?.verifyMs)} ms wall, ${f(a.app?.verifyCpuMs)} ms CPU.`,
      "",
    );
  L.push(
    "| Concurrency | login req/s | ÷ ceiling (wall) | ÷ ceiling (CPU) | workerd CPU/login | beyond the hash | /health/live ÷ bare Hono | /auth/me req/s | select-1 req/s | me ÷ select-1 | me p99 alone | me p99 during logins | ratio | me req/s during logins | login req/s during me | ÷ ceiling | CPU/login during me (est.) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of a.rows)
    L.push(
      `| ${r.connections} | ${f(r.loginRps)} | ${pct(r.loginRatio)} | ${pct(r.loginRatioCpu)} | ${f(r.loginWorkerdCpu)} ms | ${f(r.loginBeyondHash)} ms | ${pct(r.liveRatio)} | ${f(r.meRps)} | ${f(r.select1Rps)} | ${pct(r.meRatio)} | ${f(r.meP99, 0)} ms | ${f(r.meP99UnderLogin, 0)} ms | ${f(r.meP99Ratio, 2)}× | ${f(r.meRpsUnderLogin)} | ${f(r.loginRpsUnderMe)} | ${pct(r.loginRatioUnderMe)} | ${f(r.loginCpuUnderMe)} ms |`,
    );
  L.push("");

  if (res.scenarios?.length) {
    L.push("### Load (autocannon, one request per connection at a time)", "");
    L.push(
      "req/s (sustained): Little's law for a closed loop, c ÷ mean latency × share of 2xx (hash-bound routes first fill a queue of c requests and answer in bursts; they also run longer by that fill time). 2xx ÷ s: autocannon's plain average over the whole run. CPU columns: process CPU from /proc between 20% and 90% of the run ÷ (sustained req/s × that time); a flow with single-use state (a verification code, an mfa_token) runs a fixed batch instead (*s* is then the time the batch took), measured over the whole run ÷ its 2xx. *workerd* runs the Worker; *proxy* is wrangler dev's own proxy workerd (absent in production); *postgres* includes the backend forked per connection.",
      "",
    );
    L.push(
      "| Scenario | c | s | req/s (sustained) | 2xx ÷ s | p50 ms | p99 ms | 2xx | non-2xx | errors | CPU ms/req workerd | proxy | postgres | wrangler | all server | load gen | other load (cores) |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const s of res.scenarios) {
      const c = s.cpu?.msPerRequest;
      L.push(
        `| ${s.title} | ${s.connections} | ${f(s.durationS, 0)} | ${f(s.reqPerSec)} | ${f(s.rawReqPerSec)} | ${f(s.latency.p50, 0)} | ${f(s.latency.p99, 0)} | ${s.ok} | ${s.non2xx} | ${s.errors + s.timeouts} | ${f(c?.workerd, 2)} | ${f(c?.proxy, 2)} | ${f(c?.postgres, 2)} | ${f(c?.wrangler, 2)} | ${f(c?.total, 2)} | ${f(c?.loadGenerator, 2)} | ${f(s.cpu?.otherCores, 2)} |`,
      );
    }
    L.push("");
  }
  if (res.serial?.length) {
    L.push(
      "### CPU per request, one request at a time (exact count)",
      "",
      "n requests in sequence; process CPU from /proc before and after, minus the idle CPU over the same time, ÷ 2xx.",
      "",
      "| Route | n (2xx) | workerd ms | proxy ms | postgres ms | wrangler ms | all server ms | wall ms/req |",
      "|---|---|---|---|---|---|---|---|",
    );
    for (const s of res.serial) {
      const c = s.msPerRequest;
      L.push(
        `| ${s.title} | ${s.n} (${s.ok}) | ${f(c.workerd, 2)} | ${f(c.proxy, 2)} | ${f(c.postgres, 2)} | ${f(c.wrangler, 2)} | ${f(c.total, 2)} | ${f(s.wallMsPerRequest, 1)} |`,
      );
    }
    L.push("");
  }
  if (res.mixed?.length) {
    L.push(
      "### /auth/me while logins run",
      "",
      "CPU per login beside /auth/me is estimated: the window's workerd CPU minus what /auth/me costs alone at the same concurrency, ÷ logins in the window.",
      "",
      "| me c | me req/s | me p50 | me p90 | me p99 | me errors | login c | login req/s | login p99 | login errors | workerd CPU in window (ms/s) | CPU/login (est.) | other load (cores) |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const x of res.mixed) {
      const r = a.rows.find((y) => y.connections === x.connections);
      L.push(
        `| ${x.connections} | ${f(x.me.reqPerSec)} | ${f(x.me.latency.p50, 0)} ms | ${f(x.me.latency.p90, 0)} ms | ${f(x.me.latency.p99, 0)} ms | ${errorsOf(x.me)} | ${x.login.connections} | ${f(x.login.reqPerSec)} | ${f(x.login.latency.p99, 0)} ms | ${errorsOf(x.login)} | ${x.me.cpu ? f((x.me.cpu.windowCpuMs.workerd * 1000) / x.me.cpu.windowMs, 0) : "n/a"} | ${f(r?.loginCpuUnderMe)} ms | ${f(x.me.cpu?.otherCores, 2)} |`,
      );
    }
    L.push("");
  }
  for (const p of res.probes ?? []) {
    L.push(`### ${p.title}`, "", "| Figure | Value |", "|---|---|");
    for (const r of p.rows) L.push(`| ${r.label} | ${f(r.value, 2)} ${r.unit} |`);
    L.push("");
  }
  if (res.hash) {
    L.push(
      `### Password hashing inside workerd (scrypt ln=${res.hash.params.logN}, r=${res.hash.params.r}, p=${res.hash.params.p}; bench/hash-worker.ts under wrangler dev)`,
      "",
      "Wall: request time minus an empty request, per hash (median of rounds). CPU: the Worker's workerd process, from /proc (10 ms ticks). Longest block: the longest gap of a setTimeout(0) heartbeat running beside the hashes inside the Worker, i.e. the longest time one hash kept every other request of the isolate waiting (local workerd advances Date.now() while JavaScript runs; deployed Workers do not); on a busy machine it includes time the OS did not run the thread at all. CPU per block: a hash's CPU ÷ the blocks it ran in (heartbeat beats per hash, at least one), which other load does not inflate.",
      "",
      "| Implementation | hash ms (wall) | verify ms (wall) | hash ms (CPU) | verify ms (CPU) | longest block ms (wall) | p50 block ms | CPU per block ms | hashes per round × rounds |",
      "|---|---|---|---|---|---|---|---|---|",
    );
    for (const r of res.hash.rows)
      L.push(
        `| ${r.label} | ${f(r.hashMs)} | ${f(r.verifyMs)} | ${f(r.hashCpuMs)} | ${f(r.verifyCpuMs)} | ${f(r.blocking?.maxMs, 0)} | ${f(r.blocking?.p50Ms, 0)} | ${f(r.blocking?.cpuPerBlockMs, 1)} | ${r.n} × ${r.rounds} |`,
      );
    L.push(
      "",
      "Native scrypt cost probe in the local workerd (N·r·p):",
      "",
      "| ln | r | p | N·r·p | accepted | error |",
      "|---|---|---|---|---|---|",
    );
    for (const p of res.hash.probes) L.push(`| ${p.logN} | ${p.r} | ${p.p} | ${p.cost} | ${p.ok ? "yes" : "no"} | ${p.error ?? ""} |`);
    L.push("");
    if (res.hash.perRequest)
      L.push(
        `GET /health/live handed straight to the Worker's fetch inside the isolate (no network, no wrangler proxy; fastest of 5 rounds): bare Hono app **${f(res.hash.perRequest.bareUs, 1)} µs**, the app with console.log silenced **${f(res.hash.perRequest.appUs, 1)} µs**, the app as it is **${f(res.hash.perRequest.appWithConsoleUs, 1)} µs** per request.`,
        "",
      );
    if (res.hash.logLine)
      L.push(
        `One request log line (src/log.ts, same Worker under wrangler dev, in a loop): built (JSON.stringify, redaction, timestamp) **${f(res.hash.logLine.buildUs, 1)} µs**; built and written with console.log **${f(res.hash.logLine.writeUs, 1)} µs** (wrangler dev keeps an inspector session on the Worker, so every console call is serialised and shipped to the wrangler process; deployed Workers have no such session unless someone tails the logs).`,
        "",
      );
  }
  if (res.profile) {
    L.push(
      "### Where a request's CPU goes (workerd CPU profile through the inspector, c=8)",
      "",
      "Self time by origin and by function (source-mapped), sampled every 200 µs while the route was under load. The profiler adds cost of its own: compare shares, not absolute times.",
      "",
    );
    for (const p of Object.values(res.profile)) {
      const busy = p.sampledMs - p.idleMs;
      L.push(
        `**${p.title}**: ${f(p.reqPerSec)} req/s under the profiler (other load ${f(p.otherCores, 2)} cores), ${f(busy, 0)} ms busy of ${f(p.sampledMs, 0)} ms sampled = ${f(busy / Math.max(1, p.requests), 2)} ms busy per request.`,
        "",
        "| Origin | self ms | share of busy |",
        "|---|---|---|",
        ...p.byOrigin.map((o) => `| ${o.what} | ${f(o.ms)} | ${pct(o.ms / busy)} |`),
        "",
        "| Function (file:line) | self ms | share of busy |",
        "|---|---|---|",
        ...p.byFunction.slice(0, 15).map((o) => `| ${o.what.replace(/\|/g, "\\|")} | ${f(o.ms)} | ${pct(o.ms / busy)} |`),
        "",
      );
    }
  }
  if (res.bundle) {
    L.push("### Bundle and startup", "");
    L.push(
      `\`${res.bundle.command}\`: **${f(res.bundle.wranglerTotalKiB, 2)} KiB, gzip ${f(res.bundle.wranglerGzipKiB, 2)} KiB** (our own count of the written modules: ${f(res.bundle.ourRawKiB)} KiB, gzip -9 ${f(res.bundle.ourGzipKiB)} KiB).`,
      "",
    );
    if (res.bundle.contributors?.length)
      L.push(
        "Largest contributors (esbuild metafile, KiB before gzip): " +
          res.bundle.contributors.map((c) => `${c.pkg} ${f(c.kib)}`).join(", ") +
          ".",
        "",
      );
  }
  if (res.startup) {
    L.push(`\`${res.startup.command}\` (${res.startup.runs.length} runs):`, "");
    L.push("| Run | profile window ms | sampled ms | active ms | of which GC ms | idle ms | samples |", "|---|---|---|---|---|---|---|");
    res.startup.runs.forEach((r, i) => {
      L.push(
        `| ${i + 1} | ${f(r.windowMs)} | ${f(r.sampledMs)} | ${f(r.activeMs)} | ${f(r.gcMs)} | ${f(r.idleMs)} | ${r.samples ?? "n/a"} |`,
      );
    });
    if (res.startupEmpty)
      L.push(
        "",
        `Floor: the same command on a bare Hono app with the same compatibility settings (bench/wrangler.empty.toml): active ${res.startupEmpty.runs.map((r) => f(r.activeMs)).join(" / ")} ms, profile window ${res.startupEmpty.runs.map((r) => f(r.windowMs)).join(" / ")} ms.`,
      );
    const top = res.startup.runs[0]?.top;
    if (top?.length)
      L.push(
        "",
        "Startup self time by origin (run 1, mapped through the bundle's source map): " +
          top.map((t) => `${t.what} ${f(t.ms)} ms`).join(", ") +
          ".",
      );
    L.push("", "What `wrangler check startup` printed (run 1):", "", "```", res.startup.runs[0]?.output ?? "", "```", "");
  }
  return L.join("\n");
}
