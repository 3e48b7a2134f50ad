// Render bench results (scripts/bench.mjs) as markdown: tables, ratios and targets.

const f = (x, d = 1) => (x == null || Number.isNaN(x) ? "n/a" : Number(x).toFixed(d));
const pct = (x) => (x == null || Number.isNaN(x) ? "n/a" : `${(x * 100).toFixed(0)}%`);
const verdict = (ok) => (ok == null ? "n/a" : ok ? "**met**" : "**missed**");
const errorsOf = (r) => (r ? r.non2xx + r.errors + r.timeouts : null);

/** Derived figures: ceilings, ratios and the target checks. */
export function analyse(res) {
  const by = (name, c) => res.scenarios?.find((s) => s.name === name && s.connections === c);
  const app = res.hash?.rows.find((r) => r.impl === "app");
  const serial = (name) => res.serial?.find((s) => s.name === name)?.msPerRequest;
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
  const ceiling = app ? 1000 / app.verifyMs : null; // one thread runs the Worker's JS and its scrypt
  const ceilingCpu = app ? 1000 / app.verifyCpuMs : null;
  const conns = res.options.connections;
  const rows = conns.map((c) => {
    const login = by("login", c);
    const me = by("me", c);
    const sel = by("select1", c);
    const live = by("live", c);
    const mixed = res.mixed?.find((m) => m.connections === c);
    const loginCpu = login?.cpu?.msPerRequest;
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
      meRps: me?.reqPerSec ?? null,
      select1Rps: sel?.reqPerSec ?? null,
      meRatio: me && sel ? me.reqPerSec / sel.reqPerSec : null,
      meErrors: errorsOf(me),
      meP99: me?.latency.p99 ?? null,
      meP99UnderLogin: mixed?.me.latency.p99 ?? null,
      meRpsUnderLogin: mixed?.me.reqPerSec ?? null,
      loginRpsUnderMe: mixed?.login.reqPerSec ?? null,
      mixedErrors: mixed ? errorsOf(mixed.me) + errorsOf(mixed.login) : null,
    };
  });
  const all = (xs, pred) => (xs.some((x) => x == null) ? null : xs.every(pred));
  const targets = [
    {
      target: "login ≥ 90% of the hash-bound ceiling, zero errors",
      ok: all(
        rows.map((r) => (r.loginRatio == null ? null : r)),
        (r) => r.loginRatio >= 0.9 && r.loginErrors === 0,
      ),
      detail: rows.map((r) => `c=${r.connections}: ${pct(r.loginRatio)}, ${r.loginErrors ?? "n/a"} errors`).join("; "),
    },
    {
      target: "login CPU beyond the hash ≤ 5 ms (workerd CPU per login, one at a time, − CPU of one verify)",
      ok: serialLogin?.beyondHash != null ? serialLogin.beyondHash <= 5 : null,
      detail: serialLogin
        ? `${f(serialLogin.workerd)} − ${f(app?.verifyCpuMs)} = ${f(serialLogin.beyondHash)} ms (also minus the constant route's ${f(sLive?.workerd, 2)} ms: ${f(serialLogin.beyondHashAndFloor)} ms); under load: ` +
          rows.map((r) => `c=${r.connections}: ${f(r.loginBeyondHash)} ms`).join(", ")
        : "not measured",
    },
    {
      target: "/auth/me ≥ 70% of the select-1 floor, zero errors",
      ok: all(
        rows.map((r) => (r.meRatio == null ? null : r)),
        (r) => r.meRatio >= 0.7 && r.meErrors === 0,
      ),
      detail: rows.map((r) => `c=${r.connections}: ${pct(r.meRatio)}, ${r.meErrors ?? "n/a"} errors`).join("; "),
    },
    {
      target: "gzip bundle ≤ 350 KiB",
      ok: res.bundle?.wranglerGzipKiB != null ? res.bundle.wranglerGzipKiB <= 350 : null,
      detail: res.bundle ? `${f(res.bundle.wranglerGzipKiB)} KiB gzip (${f(res.bundle.wranglerTotalKiB)} KiB raw)` : "not measured",
    },
    {
      target: "startup ≤ 50 ms (active CPU in the startup profile, median)",
      ok: res.startup?.activeMedianMs != null ? res.startup.activeMedianMs <= 50 : null,
      detail: res.startup
        ? `median ${f(res.startup.activeMedianMs)} ms, min ${f(res.startup.activeMinMs)} ms over ${res.startup.runs.length} runs`
        : "not measured",
    },
  ];
  return { ceiling, ceilingCpu, app, rows, targets, serialLogin };
}

export function renderMarkdown(res) {
  const a = analyse(res);
  const L = [];
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

  L.push("### Targets", "", "| Target | Result | Measured |", "|---|---|---|");
  for (const t of a.targets) L.push(`| ${t.target} | ${verdict(t.ok)} | ${t.detail} |`);
  L.push("");

  L.push("### Ratios", "");
  if (a.app)
    L.push(
      `Hash-bound login ceiling = 1 thread ÷ ${f(a.app.verifyMs)} ms per verify (wall) = **${f(a.ceiling)} logins/s** (from CPU time: ${f(a.app.verifyCpuMs)} ms → ${f(a.ceilingCpu)}/s).`,
      "",
    );
  L.push(
    "| Concurrency | login req/s | ÷ ceiling (wall) | ÷ ceiling (CPU) | workerd CPU/login | beyond the hash | beyond hash and constant floor | /auth/me req/s | select-1 req/s | me ÷ select-1 | me p99 alone | me p99 during logins | me req/s during logins | login req/s during me |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of a.rows)
    L.push(
      `| ${r.connections} | ${f(r.loginRps)} | ${pct(r.loginRatio)} | ${pct(r.loginRatioCpu)} | ${f(r.loginWorkerdCpu)} ms | ${f(r.loginBeyondHash)} ms | ${f(r.loginBeyondHashAndFloor)} ms | ${f(r.meRps)} | ${f(r.select1Rps)} | ${pct(r.meRatio)} | ${f(r.meP99, 0)} ms | ${f(r.meP99UnderLogin, 0)} ms | ${f(r.meRpsUnderLogin)} | ${f(r.loginRpsUnderMe)} |`,
    );
  L.push("");

  if (res.scenarios?.length) {
    L.push("### Load (autocannon, one request per connection at a time)", "");
    L.push(
      "req/s (sustained): Little's law for a closed loop, c ÷ mean latency × share of 2xx (hash-bound routes first fill a queue of c requests and answer in bursts; they also run longer by that fill time). 2xx ÷ s: autocannon's plain average over the whole run. CPU columns: process CPU from /proc between 20% and 90% of the run ÷ (sustained req/s × that time). *workerd* runs the Worker; *proxy* is wrangler dev's own proxy workerd (absent in production); *postgres* includes the backend forked per connection.",
      "",
    );
    L.push(
      "| Scenario | c | s | req/s (sustained) | 2xx ÷ s | p50 ms | p99 ms | 2xx | non-2xx | errors | CPU ms/req workerd | proxy | postgres | wrangler | all server | load gen |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const s of res.scenarios) {
      const c = s.cpu?.msPerRequest;
      L.push(
        `| ${s.title} | ${s.connections} | ${f(s.durationS, 0)} | ${f(s.reqPerSec)} | ${f(s.rawReqPerSec)} | ${f(s.latency.p50, 0)} | ${f(s.latency.p99, 0)} | ${s.ok} | ${s.non2xx} | ${s.errors + s.timeouts} | ${f(c?.workerd, 2)} | ${f(c?.proxy, 2)} | ${f(c?.postgres, 2)} | ${f(c?.wrangler, 2)} | ${f(c?.total, 2)} | ${f(c?.loadGenerator, 2)} |`,
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
      "| me c | me req/s | me p50 | me p99 | me errors | login c | login req/s | login p99 | login errors |",
      "|---|---|---|---|---|---|---|---|---|",
    );
    for (const x of res.mixed)
      L.push(
        `| ${x.connections} | ${f(x.me.reqPerSec)} | ${f(x.me.latency.p50, 0)} ms | ${f(x.me.latency.p99, 0)} ms | ${errorsOf(x.me)} | ${x.login.connections} | ${f(x.login.reqPerSec)} | ${f(x.login.latency.p99, 0)} ms | ${errorsOf(x.login)} |`,
      );
    L.push("");
  }
  if (res.hash) {
    L.push(
      `### Password hashing inside workerd (scrypt ln=${res.hash.params.logN}, r=${res.hash.params.r}, p=${res.hash.params.p}; bench/hash-worker.ts under wrangler dev)`,
      "",
      "Wall: request time minus an empty request, per hash (median of rounds). CPU: the Worker's workerd process, from /proc (10 ms ticks).",
      "",
      "| Implementation | hash ms (wall) | verify ms (wall) | hash ms (CPU) | verify ms (CPU) | hashes per round × rounds |",
      "|---|---|---|---|---|---|",
    );
    for (const r of res.hash.rows)
      L.push(`| ${r.label} | ${f(r.hashMs)} | ${f(r.verifyMs)} | ${f(r.hashCpuMs)} | ${f(r.verifyCpuMs)} | ${r.n} × ${r.rounds} |`);
    L.push(
      "",
      "Native scrypt cost probe in the local workerd (N·r·p):",
      "",
      "| ln | r | p | N·r·p | accepted | error |",
      "|---|---|---|---|---|---|",
    );
    for (const p of res.hash.probes) L.push(`| ${p.logN} | ${p.r} | ${p.p} | ${p.cost} | ${p.ok ? "yes" : "no"} | ${p.error ?? ""} |`);
    L.push("");
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
        `Floor: the same command on an empty Worker with the same compatibility settings (bench/wrangler.empty.toml): active ${res.startupEmpty.runs.map((r) => f(r.activeMs)).join(" / ")} ms, profile window ${res.startupEmpty.runs.map((r) => f(r.windowMs)).join(" / ")} ms.`,
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
