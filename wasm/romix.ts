// scrypt's ROMix (RFC 7914 §5) in AssemblyScript with 128-bit SIMD, compiled to src/auth/password/romix.wasm
// by `npm run build:wasm`. JavaScript (src/auth/password/scrypt-wasm.ts) does the two PBKDF2 steps and
// calls `fill` and `mix` a slice at a time, so the isolate can serve other requests in between.
//
// Memory: X (the working block, 128·r bytes) at 0, a second working block after it, V (128·r·N)
// after that. Each 64-byte Salsa chunk is kept in diagonal lane order
//   (x0 x5 x10 x15 | x4 x9 x14 x3 | x8 x13 x2 x7 | x12 x1 x6 x11)
// so that every Salsa20 quarter-round works on four words at once; `toLanes` and `fromLanes`
// convert a block in X. x0 stays at word 0, so Integerify reads the same place in either order.

@inline function rotl(x: v128, n: i32): v128 {
  return v128.or(i32x4.shl(x, n), i32x4.shr_u(x, 32 - n));
}

/**
 * out = BlockMix(in xor in2) (in2 only when `xor2`), in lane order, in and out distinct: chunk i
 * of the result goes to out[i/2] (even i) or out[r + i/2] (odd i). The running chunk T stays in
 * registers, so nothing is copied in between.
 */
@inline function blockMix(input: usize, in2: usize, xor2: bool, out: usize, r: i32): void {
  const bs = <usize>(128 * r);
  const last = bs - 64;
  let t0 = v128.load(input + last);
  let t1 = v128.load(input + last, 16);
  let t2 = v128.load(input + last, 32);
  let t3 = v128.load(input + last, 48);
  if (xor2) {
    t0 = v128.xor(t0, v128.load(in2 + last));
    t1 = v128.xor(t1, v128.load(in2 + last, 16));
    t2 = v128.xor(t2, v128.load(in2 + last, 32));
    t3 = v128.xor(t3, v128.load(in2 + last, 48));
  }
  for (let i = 0; i < 2 * r; i++) {
    const at = <usize>(i * 64);
    let a = v128.xor(t0, v128.load(input + at));
    let b = v128.xor(t1, v128.load(input + at, 16));
    let c = v128.xor(t2, v128.load(input + at, 32));
    let d = v128.xor(t3, v128.load(input + at, 48));
    if (xor2) {
      a = v128.xor(a, v128.load(in2 + at));
      b = v128.xor(b, v128.load(in2 + at, 16));
      c = v128.xor(c, v128.load(in2 + at, 32));
      d = v128.xor(d, v128.load(in2 + at, 48));
    }
    const a0 = a;
    const b0 = b;
    const c0 = c;
    const d0 = d;
    // Salsa20/8: 8 rounds, alternately columns and rows; rotating the lanes of b, c, d between
    // rounds turns the one into the other (the same code serves both).
    for (let k = 0; k < 8; k++) {
      b = v128.xor(b, rotl(i32x4.add(a, d), 7));
      c = v128.xor(c, rotl(i32x4.add(b, a), 9));
      d = v128.xor(d, rotl(i32x4.add(c, b), 13));
      a = v128.xor(a, rotl(i32x4.add(d, c), 18));
      const t = v128.shuffle<i32>(d, d, 1, 2, 3, 0);
      c = v128.shuffle<i32>(c, c, 2, 3, 0, 1);
      d = v128.shuffle<i32>(b, b, 3, 0, 1, 2);
      b = t;
    }
    t0 = i32x4.add(a, a0);
    t1 = i32x4.add(b, b0);
    t2 = i32x4.add(c, c0);
    t3 = i32x4.add(d, d0);
    const o = out + <usize>((i & 1 ? r + (i >> 1) : i >> 1) * 64);
    v128.store(o, t0);
    v128.store(o, t1, 16);
    v128.store(o, t2, 32);
    v128.store(o, t3, 48);
  }
}

/**
 * ROMix step 2, BlockMix calls [from, to) of N: V[0] = X, V[i+1] = BlockMix(V[i]), and the last
 * one writes X (at 0) for step 3.
 */
export function fill(r: i32, N: i32, from: i32, to: i32): void {
  const bs = <usize>(128 * r);
  const V: usize = 2 * bs;
  if (from === 0) memory.copy(V, 0, bs);
  for (let i = from; i < to; i++) {
    const out: usize = i === N - 1 ? 0 : V + <usize>(i + 1) * bs;
    blockMix(V + <usize>i * bs, 0, false, out, r);
  }
}

/**
 * ROMix step 3, steps [from, from + count) of N: X = BlockMix(X xor V[Integerify(X) mod N]), X
 * alternating between the two working blocks (even steps read the one at 0; N is even, so the
 * result ends there).
 */
export function mix(r: i32, N: i32, from: i32, count: i32): void {
  const bs = <usize>(128 * r);
  const V: usize = 2 * bs;
  for (let i = from; i < from + count; i++) {
    const x: usize = i & 1 ? bs : 0;
    const y: usize = i & 1 ? 0 : bs;
    const v: usize = V + <usize>(load<u32>(x + bs - 64) & <u32>(N - 1)) * bs;
    blockMix(x, v, true, y, r);
  }
}

// Lane order of word k: (0 5 10 15 4 9 14 3 8 13 2 7 12 1 6 11)[k]. Written out: static data
// would sit in linear memory, where X lives.

/** X from word order (as PBKDF2 wrote it) to lane order. */
export function toLanes(r: i32): void {
  const bs = <usize>(128 * r);
  for (let c: usize = 0; c < bs; c += 64) {
    memory.copy(bs, c, 64);
    store<u32>(c, load<u32>(bs, 0), 0);
    store<u32>(c, load<u32>(bs, 20), 4);
    store<u32>(c, load<u32>(bs, 40), 8);
    store<u32>(c, load<u32>(bs, 60), 12);
    store<u32>(c, load<u32>(bs, 16), 16);
    store<u32>(c, load<u32>(bs, 36), 20);
    store<u32>(c, load<u32>(bs, 56), 24);
    store<u32>(c, load<u32>(bs, 12), 28);
    store<u32>(c, load<u32>(bs, 32), 32);
    store<u32>(c, load<u32>(bs, 52), 36);
    store<u32>(c, load<u32>(bs, 8), 40);
    store<u32>(c, load<u32>(bs, 28), 44);
    store<u32>(c, load<u32>(bs, 48), 48);
    store<u32>(c, load<u32>(bs, 4), 52);
    store<u32>(c, load<u32>(bs, 24), 56);
    store<u32>(c, load<u32>(bs, 44), 60);
  }
}

/** X from lane order back to word order. */
export function fromLanes(r: i32): void {
  const bs = <usize>(128 * r);
  for (let c: usize = 0; c < bs; c += 64) {
    memory.copy(bs, c, 64);
    store<u32>(c, load<u32>(bs, 0), 0);
    store<u32>(c, load<u32>(bs, 4), 20);
    store<u32>(c, load<u32>(bs, 8), 40);
    store<u32>(c, load<u32>(bs, 12), 60);
    store<u32>(c, load<u32>(bs, 16), 16);
    store<u32>(c, load<u32>(bs, 20), 36);
    store<u32>(c, load<u32>(bs, 24), 56);
    store<u32>(c, load<u32>(bs, 28), 12);
    store<u32>(c, load<u32>(bs, 32), 32);
    store<u32>(c, load<u32>(bs, 36), 52);
    store<u32>(c, load<u32>(bs, 40), 8);
    store<u32>(c, load<u32>(bs, 44), 28);
    store<u32>(c, load<u32>(bs, 48), 48);
    store<u32>(c, load<u32>(bs, 52), 4);
    store<u32>(c, load<u32>(bs, 56), 24);
    store<u32>(c, load<u32>(bs, 60), 44);
  }
}

/** Zero everything the last hash wrote (X, Y and V). */
export function wipe(r: i32, N: i32): void {
  memory.fill(0, 0, <usize>(128 * r) * (<usize>N + 2));
}
