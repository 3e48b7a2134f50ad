// A CPU profile of the Worker while it serves load, taken through wrangler dev's inspector
// (Chrome DevTools protocol: Profiler.start / Profiler.stop), summarised by origin through the
// bundle's source map. Sampling adds its own cost: read the shares, not the absolute times.
import WebSocket from "ws";
import { type CpuProfile, profileByOrigin, type SelfTime } from "./static.ts";

/** An answer of the inspector (Chrome DevTools protocol). */
interface InspectorMessage {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message: string };
}

async function connect(inspectorPort: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${inspectorPort}`);
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const pending = new Map<number, (m: InspectorMessage) => void>();
  ws.on("message", (data) => {
    const m: InspectorMessage = JSON.parse(String(data));
    // wrangler's inspector proxy answers some commands with an echo of the command, no `result`.
    if (m.id && pending.has(m.id)) {
      pending.get(m.id)!(m);
      pending.delete(m.id);
    }
  });
  // A command that gets no answer in time fails (once, a Profiler.stop never answered and the run hung).
  const send = (method: string, params: Record<string, unknown> = {}, timeoutMs = 60_000) =>
    new Promise<Record<string, any>>((resolve, reject) => {
      const i = ++id;
      const timer = setTimeout(() => {
        pending.delete(i);
        reject(new Error(`${method}: no answer from the inspector in ${timeoutMs / 1000} s`));
      }, timeoutMs);
      pending.set(i, (m) => {
        clearTimeout(timer);
        if (m.error) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m.result ?? {});
      });
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  return { send, close: () => ws.terminate() };
}

/**
 * Profile the Worker while `work()` runs. Returns total sampled ms, the share that is idle, and
 * self time by origin (npm package, src/ file, runtime) and by function.
 */
export interface Profile<T> {
  sampledMs: number;
  idleMs: number;
  byOrigin: SelfTime[];
  byFunction: SelfTime[];
  /** The profile as the inspector gave it (open it in Chrome DevTools, with the bundle's source map). */
  raw: CpuProfile;
  workResult: T;
}

export async function profileWhile<T>({
  inspectorPort,
  sourceMap,
  intervalUs = 200,
  work,
}: {
  inspectorPort: number;
  sourceMap: string;
  intervalUs?: number;
  work: () => Promise<T>;
}): Promise<Profile<T>> {
  const insp = await connect(inspectorPort);
  try {
    await insp.send("Profiler.enable");
    await insp.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await insp.send("Profiler.start");
    const workResult = await work();
    const { profile } = (await insp.send("Profiler.stop")) as { profile: CpuProfile & { samples: number[]; timeDeltas: number[] } };
    await insp.send("Profiler.disable");
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    let total = 0;
    let idle = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
      total += dt;
      if (byId.get(profile.samples[i])?.callFrame.functionName === "(idle)") idle += dt;
    }
    return {
      sampledMs: total,
      idleMs: idle,
      byOrigin: profileByOrigin(profile, sourceMap, { top: 14 }),
      byFunction: profileByOrigin(profile, sourceMap, { top: 25, byFunction: true }),
      raw: profile,
      workResult,
    };
  } finally {
    insp.close();
  }
}
