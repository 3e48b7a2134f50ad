// scrypt's ROMix (RFC 7914 §5) in AssemblyScript with 128-bit SIMD, compiled to src/auth/romix.wasm
// by `npm run build:wasm`. JavaScript (src/auth/scrypt-wasm.ts) does the two PBKDF2 steps and
// calls `fill` and `mix` a slice at a time, so the isolate can serve other requests in between.
//
// Memory: X (the working block, 128·r bytes) at 0, Y (scratch, 128·r) after it, V (128·r·N)
// after that. Each 64-byte Salsa chunk is kept in diagonal lane order
//   (x0 x5 x10 x15 | x4 x9 x14 x3 | x8 x13 x2 x7 | x12 x1 x6 x11)
// so that every Salsa20 quarter-round works on four words at once; `toLanes` and `fromLanes`
// convert a block in X. x0 stays at word 0, so Integerify reads the same place in either order.

@inline function rotl(x: v128, n: i32): v128 {
  return v128.or(i32x4.shl(x, n), i32x4.shr_u(x, 32 - n));
}

/** out = Salsa20/8(p xor q), one 64-byte chunk, all in lane order. */
@inline function salsa8Xor(p: usize, q: usize, out: usize): void {
  let a = v128.xor(v128.load(p), v128.load(q));
  let b = v128.xor(v128.load(p, 16), v128.load(q, 16));
  let c = v128.xor(v128.load(p, 32), v128.load(q, 32));
  let d = v128.xor(v128.load(p, 48), v128.load(q, 48));
  const a0 = a;
  const b0 = b;
  const c0 = c;
  const d0 = d;
  // 8 rounds, alternately columns and rows; rotating the lanes of b, c, d between rounds turns
  // the one into the other (the same code serves both).
  for (let i = 0; i < 8; i++) {
    b = v128.xor(b, rotl(i32x4.add(a, d), 7));
    c = v128.xor(c, rotl(i32x4.add(b, a), 9));
    d = v128.xor(d, rotl(i32x4.add(c, b), 13));
    a = v128.xor(a, rotl(i32x4.add(d, c), 18));
    const t = v128.shuffle<i32>(d, d, 1, 2, 3, 0);
    c = v128.shuffle<i32>(c, c, 2, 3, 0, 1);
    d = v128.shuffle<i32>(b, b, 3, 0, 1, 2);
    b = t;
  }
  v128.store(out, i32x4.add(a, a0));
  v128.store(out, i32x4.add(b, b0), 16);
  v128.store(out, i32x4.add(c, c0), 32);
  v128.store(out, i32x4.add(d, d0), 48);
}

/** X = BlockMix(X): chunk i goes to Y[i/2] (even i) or Y[r + i/2] (odd i); Y is scratch. */
@inline function blockMix(r: i32): void {
  const bs = <usize>(128 * r);
  let prev = bs - 64; // the last chunk of X
  for (let i = 0; i < 2 * r; i++) {
    const out = bs + <usize>((i & 1 ? r + (i >> 1) : i >> 1) * 64);
    salsa8Xor(prev, <usize>(i * 64), out);
    prev = out;
  }
  memory.copy(0, bs, bs);
}

/** ROMix step 2 for i in [from, to): V[i] = X; X = BlockMix(X). */
export function fill(r: i32, from: i32, to: i32): void {
  const bs = <usize>(128 * r);
  for (let i = from; i < to; i++) {
    memory.copy(2 * bs + <usize>i * bs, 0, bs);
    blockMix(r);
  }
}

/** ROMix step 3, `count` times: X = BlockMix(X xor V[Integerify(X) mod N]). */
export function mix(r: i32, N: i32, count: i32): void {
  const bs = <usize>(128 * r);
  for (let i = 0; i < count; i++) {
    const v: usize = 2 * bs + <usize>(load<u32>(bs - 64) & <u32>(N - 1)) * bs;
    for (let k: usize = 0; k < bs; k += 16) v128.store(k, v128.xor(v128.load(k), v128.load(v + k)));
    blockMix(r);
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
