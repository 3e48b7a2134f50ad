// CPU time of the processes behind the local stack, read from /proc (Linux only), so the bench
// can divide the CPU a scenario cost by the requests it served.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

let tick: number | undefined;
/** Clock ticks per second of /proc/<pid>/stat times (usually 100). */
function ticksPerSecond() {
  if (tick) return tick;
  try {
    tick = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    tick = 100;
  }
  return tick;
}

export const procAvailable = () => fs.existsSync("/proc/self/stat");

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  pgrp: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

/** Fields of /proc/<pid>/stat, times in ms; null when the process is gone. */
export function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // comm is in parentheses and may contain spaces: split after the last ')'.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const f = text.slice(close + 2).split(" "); // f[0] is field 3 (state)
  const ms = (v: string) => (Number(v) * 1000) / ticksPerSecond();
  return {
    pid,
    comm,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    utime: ms(f[11]),
    stime: ms(f[12]),
    cutime: ms(f[13]),
    cstime: ms(f[14]),
  };
}

function cmdline(pid: number) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

function allStats() {
  const out: ProcStat[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** CPU ms per class of process (see cpuProbe). */
export interface CpuMs {
  workerd: number;
  proxy: number;
  wrangler: number;
  postgres: number;
}

export type CpuProbe = () => CpuMs;

/**
 * A function that returns the CPU ms consumed so far, per class of process:
 *   workerd   the workerd running the Worker (wrangler dev's user worker)
 *   proxy     wrangler dev's proxy workerd on the public port (absent in production)
 *   wrangler  the rest of the wrangler process group (node, esbuild)
 *   postgres  the postmaster, its live children and the children it has reaped
 *             (a backend per connection exits and is counted in the postmaster's cutime)
 * Diff two readings to get the CPU of what ran in between.
 */
export function cpuProbe({
  wranglerPgid,
  publicPort,
  postmasterPid,
}: {
  wranglerPgid?: number;
  publicPort: number;
  postmasterPid?: number;
}): CpuProbe {
  const classes = new Map<number, "workerd" | "proxy" | "wrangler">(); // pid -> class, cached (cmdline does not change)
  const classify = (s: ProcStat) => {
    let c = classes.get(s.pid);
    if (!c) {
      const cmd = cmdline(s.pid);
      if (/workerd/.test(s.comm) || /\/workerd serve/.test(cmd)) c = cmd.includes(`entry=127.0.0.1:${publicPort} `) ? "proxy" : "workerd";
      else c = "wrangler";
      classes.set(s.pid, c);
    }
    return c;
  };
  return () => {
    const totals: CpuMs = { workerd: 0, proxy: 0, wrangler: 0, postgres: 0 };
    for (const s of allStats()) {
      if (wranglerPgid && s.pgrp === wranglerPgid) totals[classify(s)] += s.utime + s.stime;
      else if (postmasterPid && s.pid === postmasterPid) totals.postgres += s.utime + s.stime + s.cutime + s.cstime;
      else if (postmasterPid && s.ppid === postmasterPid) totals.postgres += s.utime + s.stime;
    }
    return totals;
  };
}

export function diffCpu(after: CpuMs, before: CpuMs): CpuMs {
  const out = { ...after };
  for (const k of Object.keys(after) as (keyof CpuMs)[]) out[k] = after[k] - (before[k] ?? 0);
  return out;
}

/** PID of the postmaster of a data directory (first line of postmaster.pid). */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    return Number(fs.readFileSync(`${dataDir}/postmaster.pid`, "utf8").split("\n")[0]) || undefined;
  } catch {
    return undefined;
  }
}
