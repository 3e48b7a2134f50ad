/**
 * What a bench script started, stopped once at the end, or on SIGINT/SIGTERM (then it exits 130).
 * Every caller waits for the same cleanup: a signal and the failure it causes in the main flow both
 * exit only after it.
 */
export function cleanupOnExit(log: (msg: string) => void) {
  const cleanups: (() => unknown)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch {}
      }
    })();
    return cleaning;
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.on(sig, async () => {
      log(`\n${sig}: stopping everything the bench started...`);
      await cleanup();
      process.exit(130);
    });
  return { cleanups, cleanup };
}
