export type AsymAlg = "EdDSA" | "ES256";
/** A private JWK set with one new key (see jwk.mjs). */
export function generateKeySet(alg?: AsymAlg): Promise<{ keys: (JsonWebKey & { kid: string })[] }>;
