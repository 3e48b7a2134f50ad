import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Did this request write identity events? The outbox marks it when it writes (outbox.ts), and the
 * request's middleware, once the response is made (every transaction of the request has ended),
 * wakes the webhook dispatcher (src/auth/webhooks/queue.ts). A mark whose transaction then rolled
 * back only costs one wake-up that finds nothing; an event written where no request tracks
 * (an operator's command, the scheduled purge) is found by the dispatcher's sweep.
 */
const tracked = new AsyncLocalStorage<{ written: boolean }>();

/** Note that events were written (or are about to be, in the statement being built). */
export function noteEventsWritten(): void {
  const store = tracked.getStore();
  if (store) store.written = true;
}

/** Runs `fn`; true when it wrote events. */
export async function trackEventWrites(fn: () => Promise<void>): Promise<boolean> {
  const store = { written: false };
  await tracked.run(store, fn);
  return store.written;
}
