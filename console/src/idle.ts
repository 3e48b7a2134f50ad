/**
 * Signs out after `seconds` without a key press, pointer press or scroll (CONSOLE_IDLE_TIMEOUT).
 * Returns stop().
 */
export function watchIdle(seconds: number, onIdle: () => void): () => void {
  const EVENTS = ["keydown", "pointerdown", "wheel", "touchstart"] as const;
  let timer = setTimeout(onIdle, seconds * 1000);
  const reset = () => {
    clearTimeout(timer);
    timer = setTimeout(onIdle, seconds * 1000);
  };
  for (const e of EVENTS) addEventListener(e, reset, { capture: true, passive: true });
  return () => {
    clearTimeout(timer);
    for (const e of EVENTS) removeEventListener(e, reset, { capture: true });
  };
}

/** The console's public settings, written next to it at build time (console/build.ts). */
export async function loadConfig(): Promise<{ idleTimeoutSeconds: number }> {
  try {
    const res = await fetch("./config.json", { credentials: "omit" });
    const body = (await res.json()) as { idle_timeout_seconds?: unknown };
    const n = body.idle_timeout_seconds;
    if (typeof n === "number" && Number.isInteger(n) && n >= 60) return { idleTimeoutSeconds: n };
  } catch {}
  return { idleTimeoutSeconds: 15 * 60 };
}
