import { AsyncLocalStorage } from "node:async_hooks";
import type { Config } from "../../config";
import { apiError } from "../../errors";

/**
 * Overload sheds, never hangs. An isolate runs its password hashes one at a time, in the order they
 * ask (src/auth/password/scrypt-wasm.ts), so under a burst a request would wait behind every hash queued
 * before it: 64 registrations at once took up to 12.6 s each on a quiet machine, and a busy one left
 * requests without an answer for 20 s. Instead, a request that is going to hash is admitted first,
 * before it writes anything (no account, no throttle count, no consumed code): when the wait for
 * its hash would exceed HASH_QUEUE_MAX_WAIT it answers at once 503 server_busy with Retry-After and
 * has changed nothing. docs/abuse.md#overload has the figures.
 *
 * The wait is estimated, isolate-local, as the hashes still owed by the requests admitted before
 * (each admission says how many hashes it runs; one is counted off as each finishes) times the
 * time the queue takes per hash now: a moving average of what the isolate's recent hashes took
 * (hashFinished), in wall time, since the queue drains at one hash per that time whatever runs
 * between their slices. It grows when the isolate is busy or the machine is slow, and the queue
 * admitted shrinks with it. A burst that arrives all at once is judged by what the queue took
 * before it, which is why a hash that ran alone counts as BUSY_FACTOR times its duration. On
 * deployed Workers Date.now() advances at each I/O event, which includes the timer between two
 * slices, so the measure holds there too.
 *
 * An admission ends when its work returns or throws. A request cancelled mid-way never returns:
 * its admission stops counting once it is older than HASH_QUEUE_MAX_WAIT plus its own hashes'
 * estimated time (an admitted request has started its hashes by then), so a client that
 * disconnects cannot fill the queue for good. Nested admissions (change-password's confirmation of
 * the current password inside its own two-hash admission) count once, as the outer one.
 */
interface Admission {
  /** Hashes this request may still run. */
  owed: number;
  /** After this (ms since the epoch) it no longer counts: its request is gone or very late. */
  countsUntil: number;
}

const admitted = new Set<Admission>();
const current = new AsyncLocalStorage<Admission>();

/** Weight of the newest sample in the moving averages: about the last eight hashes count. */
const SMOOTHING = 0.25;
/**
 * What a busy queue takes per hash, as a multiple of a hash that ran alone: between the slices of
 * the queue's hashes run the admitted requests' own work (the breached-password lookup, database
 * round trips, token signatures, mail). Bursts of 64 requests at once at the production cost,
 * measured on a 2-core machine, were served one per 1.5-2.2 isolated hashes (registrations) and
 * 2.1-2.8 (logins, whose database work comes before the hash); see BENCHMARKS.md, Finding 13.
 */
const BUSY_FACTOR = 3;
/** ms of queue time per unit of scrypt work (N·r·p), across sizes; before any hash is measured, ~790 ms at ln=14 r=8 p=5. */
let msPerUnit = 0.0012;
/** ms of queue time per hash, by its work (N·r·p): memory cost per unit is not the same at every size. */
const msPerHash = new Map<number, number>();
/** When the isolate's last hash finished (ms since the epoch). */
let lastFinished = 0;

const workOf = (c: Pick<Config, "SCRYPT_LOG_N" | "SCRYPT_R" | "SCRYPT_P">) => 2 ** c.SCRYPT_LOG_N * c.SCRYPT_R * c.SCRYPT_P;

/** The estimated queue time of one hash at the configured parameters, in ms (a size not measured yet: scaled from the others). */
function hashEstimateMs(c: Pick<Config, "SCRYPT_LOG_N" | "SCRYPT_R" | "SCRYPT_P">): number {
  const work = workOf(c);
  return msPerHash.get(work) ?? msPerUnit * work;
}

/**
 * A hash of `work` units (N·r·p) that got its turn at `startedAt` finished now. The moving
 * estimate learns what the queue took for it: when it had waited in line (since `queuedAt`), the
 * time since the hash before it finished, or since it joined the line if that was later (a hash
 * whose request was cancelled never finishes): the queue was busy all along, so this is its
 * service time, the other requests' work between slices included. When it found the queue empty,
 * its own duration times BUSY_FACTOR (what it would have cost in a busy queue). The request's
 * admission counts it off.
 */
export function hashFinished(work: number, startedAt: number, queuedAt: number | null): void {
  const now = Date.now();
  const sample = queuedAt !== null ? now - Math.max(lastFinished, queuedAt) : (now - startedAt) * BUSY_FACTOR;
  lastFinished = now;
  if (work > 0 && sample >= 0) {
    const before = msPerHash.get(work);
    if (before === undefined && msPerHash.size >= 16) msPerHash.clear(); // a few sizes are in use; never a growing map
    msPerHash.set(work, before === undefined ? sample : before + SMOOTHING * (sample - before));
    msPerUnit += SMOOTHING * (sample / work - msPerUnit);
  }
  const mine = current.getStore();
  if (mine && mine.owed > 0) mine.owed--;
}

/** Hashes owed by the admissions that still count, at `now`. */
function owedAt(now: number): number {
  let owed = 0;
  for (const a of admitted) {
    if (a.countsUntil < now) admitted.delete(a);
    else owed += a.owed;
  }
  return owed;
}

/**
 * Run `work`, which runs up to `hashes` password hashes, once admitted to the isolate's hash queue;
 * or throw 503 server_busy (Retry-After: the queue's estimated wait) without running it. Call it
 * before the first write of the request, around everything up to its last hash.
 */
export async function withHashAdmission<T>(config: Config, hashes: number, work: () => Promise<T>): Promise<T> {
  if (current.getStore()) return work();
  const now = Date.now();
  const perHash = hashEstimateMs(config);
  const waitMs = owedAt(now) * perHash;
  const maxMs = config.HASH_QUEUE_MAX_WAIT * 1000;
  if (waitMs > maxMs) throw apiError("server_busy", { retryAfter: Math.min(60, waitMs / 1000) });
  const admission: Admission = { owed: hashes, countsUntil: now + maxMs + hashes * perHash + 1000 };
  admitted.add(admission);
  try {
    return await current.run(admission, work);
  } finally {
    admitted.delete(admission);
  }
}
