#!/usr/bin/env node
// Print a private JWK set for JWT_PRIVATE_KEYS, using Web Crypto (Node 22).
//   npm exec -- node scripts/generate-jwk.mjs [EdDSA|ES256]        -> {"keys":[<new key>]}
//   npm exec -- node scripts/generate-jwk.mjs EdDSA current.json   -> {"keys":[<new key>, ...keys of current.json]}
// The second form is key rotation: the new key goes first (it signs), the old ones keep verifying.
import fs from "node:fs";

const alg = process.argv[2] ?? "EdDSA";
const params = { EdDSA: { name: "Ed25519" }, ES256: { name: "ECDSA", namedCurve: "P-256" } }[alg];
if (!params) {
  console.error(`usage: node scripts/generate-jwk.mjs [EdDSA|ES256] [current-set.json]`);
  process.exit(2);
}
const pair = await crypto.subtle.generateKey(params, true, ["sign", "verify"]);
const { key_ops: _ops, ext: _ext, ...jwk } = await crypto.subtle.exportKey("jwk", pair.privateKey);
const stamp = new Date().toISOString().slice(0, 10);
const rand = Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString("hex");
const key = { ...jwk, kid: `${alg.toLowerCase()}-${stamp}-${rand}`, alg, use: "sig" };
const current = process.argv[3] ? JSON.parse(fs.readFileSync(process.argv[3], "utf8")).keys : [];
process.stdout.write(`${JSON.stringify({ keys: [key, ...current] })}\n`);
