import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hashFinished } from "./hash-admission";
import romixModule from "./romix.wasm";

/**
 * scrypt whose memory-hard core (ROMix) runs in WebAssembly a slice at a time, with a macrotask
 * between slices: a login's hash never holds the isolate's one thread for more than a slice, so
 * token checks and profile reads keep being served while logins hash. Same output as any
 * standard scrypt, byte for byte (test/password.test.ts).
 *
 * Why not the alternatives (measured, BENCHMARKS.md "Fair hashing"):
 * - node:crypto scrypt is one synchronous native call (~150 ms at our parameters).
 * - @noble/hashes scryptAsync yields when Date.now() has moved by `asyncTick` ms; on deployed
 *   Workers the clock does not advance while JavaScript runs (only across I/O), so it would
 *   never yield there; and it costs 2-2.5x the CPU of native.
 * - hash-wasm compiles its WebAssembly from bytes at run time, which workerd forbids.
 * This module's SIMD ROMix costs about what native does and is sliced by work (BlockMix calls),
 * not by a clock.
 */

interface Romix {
  memory: WebAssembly.Memory;
  fill(r: number, N: number, from: number, to: number): void;
  mix(r: number, N: number, from: number, count: number): void;
  toLanes(r: number): void;
  fromLanes(r: number): void;
  wipe(r: number, N: number): void;
}

/**
 * Salsa20/8 cores per slice. One BlockMix is 2r cores; at r=8 this is 8192 BlockMix calls, about
 * 10 ms of CPU on the machine of BENCHMARKS.md, inside the 15 ms aim. The size is the trade-off:
 * a quarter of it (2.5 ms) kept /auth/me's p99 during logins at 1.1x its p99 alone but left logins
 * 26-38% of their rate; this size gives them 29-49% at 1.6-1.7x (BENCHMARKS.md, Finding 8). A pause
 * costs ~15 us, nothing next to a slice.
 */
export const SALSA_CORES_PER_SLICE = 131_072;

/** Lets whatever else the isolate has ready (requests, I/O completions) run. A macrotask: a microtask would not. */
const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * WebAssembly memory never shrinks: the instance kept for the isolate serves hashes up to this
 * size (the configured parameters: config.ts allows at most 64 MiB); a larger one (an old stored
 * hash with unusual parameters) gets an instance of its own, freed with it.
 */
const KEPT_BYTES = 64 * 1024 * 1024 + 2 * 128 * 64;

let kept: Romix | undefined;
function instance(bytes: number): Romix {
  const fresh = () => new WebAssembly.Instance(romixModule, {}).exports as unknown as Romix;
  if (bytes <= KEPT_BYTES) kept ??= fresh();
  const wasm = bytes <= KEPT_BYTES && kept ? kept : fresh();
  const have = wasm.memory.buffer.byteLength;
  if (have < bytes) wasm.memory.grow(Math.ceil((bytes - have) / 65_536));
  return wasm;
}

/**
 * The instance's memory is shared: one hash at a time per isolate (this also bounds memory to one
 * hash's), in the order they ask, so that no request waits longer than the hashes queued before it
 * (src/auth/password/hash-admission.ts bounds that queue). Each hash waits and runs on its own request's
 * timers, never on another request's promise: workerd runs a continuation in the request that
 * created it, so a queue of chained promises stalls every later hash of the isolate for good when
 * one queued request is cancelled (a client that disconnects mid-login), which
 * test/auth/password/scrypt-cancelled.test.ts reproduces. For the same reason a cancelled hash or waiter
 * never tells anyone it is gone: the next in line notices that it stopped moving and passes it.
 */
interface Turn {
  /** Slices done so far: a waiter that sees no progress over STALE_WAKES of its own wakes takes over. */
  progress: number;
  /** When it joined the line, if it waited there (the queue was busy) rather than finding the queue empty. */
  queuedAt: number | null;
}
let running: Turn | null = null;

/** A hash waiting for its turn; `wakes` counts its own wakes, so the waiter behind it can tell it is still there. */
interface Waiter {
  wakes: number;
}
/** Waiting hashes, first come first served. */
const line: Waiter[] = [];

/**
 * How many of a waiter's wakes without a single slice of the running hash (or a single wake of the
 * waiter at the head of the line) mean that request is gone (a live hash does a slice every turn of
 * the event loop in which its timer fires, and timers fire in order, so a waiter wakes about once
 * per slice; a live waiter wakes once per turn as well).
 */
const STALE_WAKES = 64;

function take(queuedAt: number | null): Turn {
  const turn: Turn = { progress: 0, queuedAt };
  running = turn;
  return turn;
}

async function acquire(): Promise<Turn> {
  if (running === null && line.length === 0) return take(null);
  const me: Waiter = { wakes: 0 };
  const queuedAt = Date.now();
  line.push(me);
  let watched: Turn | Waiter | null = null;
  let seen = -1;
  let idleWakes = 0;
  for (;;) {
    await pause();
    me.wakes++;
    if (!line.includes(me)) line.push(me); // passed over as gone by a waiter behind: back in line
    const head = line[0];
    if (running === null && head === me) {
      line.shift();
      return take(queuedAt);
    }
    // Whom this waiter waits for: the running hash, else the waiter at the head of the line.
    const blocker: Turn | Waiter = running ?? head;
    const moved = running ? running.progress : head.wakes;
    if (blocker !== watched || moved !== seen) {
      watched = blocker;
      seen = moved;
      idleWakes = 0;
    } else if (++idleWakes >= STALE_WAKES) {
      // Its request was cancelled: it will never move again.
      if (running === blocker) running = null;
      else line.splice(line.indexOf(blocker as Waiter), 1);
      watched = null;
      idleWakes = 0;
    }
  }
}

export async function scryptWasm(
  password: Uint8Array,
  salt: Uint8Array,
  params: { N: number; r: number; p: number; dkLen: number },
  slice: number = SALSA_CORES_PER_SLICE,
): Promise<Uint8Array> {
  const turn = await acquire();
  const started = Date.now();
  try {
    const key = await derive(password, salt, params, slice, turn);
    hashFinished(params.N * params.r * params.p, started, turn.queuedAt);
    return key;
  } finally {
    if (running === turn) running = null;
  }
}

async function derive(
  password: Uint8Array,
  salt: Uint8Array,
  { N, r, p, dkLen }: { N: number; r: number; p: number; dkLen: number },
  slice: number,
  turn: Turn,
): Promise<Uint8Array> {
  /** After each pause: still this hash's turn? (If another took over, the memory is no longer ours.) */
  const resume = async () => {
    await pause();
    if (running !== turn) throw new Error("scrypt: another hash took over the shared memory");
    turn.progress++;
  };
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1) throw new RangeError("scrypt: N must be a power of 2 > 1, r and p >= 1");
  const bs = 128 * r;
  const wasm = instance(bs * (N + 2));
  const steps = Math.max(1, Math.floor(slice / (2 * r))); // BlockMix calls per slice
  const B = pbkdf2(sha256, password, salt, { c: 1, dkLen: bs * p });
  try {
    for (let block = 0; block < p; block++) {
      new Uint8Array(wasm.memory.buffer, 0, bs).set(B.subarray(block * bs, (block + 1) * bs));
      wasm.toLanes(r);
      for (let i = 0; i < N; i += steps) {
        wasm.fill(r, N, i, Math.min(N, i + steps));
        await resume();
      }
      for (let i = 0; i < N; i += steps) {
        wasm.mix(r, N, i, Math.min(steps, N - i));
        await resume();
      }
      wasm.fromLanes(r);
      B.set(new Uint8Array(wasm.memory.buffer, 0, bs), block * bs);
    }
    return pbkdf2(sha256, password, B, { c: 1, dkLen });
  } finally {
    // Wiped by the hash that owns it: one that lost its turn leaves the memory to the new owner.
    if (running === turn) wasm.wipe(r, N);
    B.fill(0);
  }
}
