// Print a private JWK set for JWT_PRIVATE_KEYS (the same generator the Worker uses in development).
//   npm exec -- node scripts/ops/generate-jwk.ts [EdDSA|ES256]        -> {"keys":[<new key>]}
//   npm exec -- node scripts/ops/generate-jwk.ts EdDSA current.json   -> {"keys":[<new key>, ...keys of current.json]}
// The second form is key rotation: the new key goes first (it signs), the old ones keep verifying.
import fs from "node:fs";
import { generateKeySet } from "../../src/auth/sessions/jwk.ts";

const alg = process.argv[2] ?? "EdDSA";
if (alg !== "EdDSA" && alg !== "ES256") {
  console.error(`usage: node scripts/ops/generate-jwk.ts [EdDSA|ES256] [current-set.json]`);
  process.exit(2);
}
const { keys } = await generateKeySet(alg);
const current = process.argv[3] ? JSON.parse(fs.readFileSync(process.argv[3], "utf8")).keys : [];
process.stdout.write(`${JSON.stringify({ keys: [...keys, ...current] })}\n`);
