/**
 * Values computed once per isolate and shared by later requests (imported keys, the dummy
 * hash). Only a settled value is shared, never a pending promise: workerd delivers a promise's
 * continuations to the request that awaits it only while the request that created it is alive,
 * so a promise left pending by a cancelled request (a client gone mid-login) would never settle
 * for anyone after it, and every later request of the isolate would wait on it for good
 * (test/auth/password/scrypt-cancelled.test.ts). Requests that arrive before the first value is stored
 * compute their own; the first value stored is the one everybody gets from then on. A failure
 * is not stored: the next request tries again.
 */
export function isolateMemo<A, V>(compute: (arg: A) => Promise<V>, keyOf: (arg: A) => unknown = (arg) => arg): (arg: A) => Promise<V> {
  const values = new Map<unknown, V>();
  return async (arg) => {
    const key = keyOf(arg);
    if (values.has(key)) return values.get(key) as V;
    const value = await compute(arg);
    if (!values.has(key)) values.set(key, value);
    return values.get(key) as V;
  };
}

/**
 * Wait for work another request started, but at most `ms` on this request's own timer: if that
 * request was cancelled its promise never settles here, and the caller does the work itself.
 */
export async function awaitShared<T>(shared: Promise<T>, ms: number): Promise<{ settled: true; value: T } | { settled: false }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<{ settled: false }>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
  });
  try {
    return await Promise.race([shared.then((value) => ({ settled: true as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
