import { execFileSync } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as realEcc from "@peculiar/asn1-ecc";
import * as realSchema from "@peculiar/asn1-schema";
import { describe, expect, it } from "vitest";
import { readWranglerConfig } from "../../scripts/stack/wrangler-config.ts";
import * as shim from "../../src/shims/webauthn-asn1";

// The Worker imports @simplewebauthn/server's ASN.1 and certificate-attestation packages through
// src/shims/webauthn-asn1.ts, and its attestation verifiers and root certificates through
// src/shims/webauthn-attestation.ts (wrangler.toml [alias], read by vitest.config.ts too). This
// keeps the shims honest when the library changes: every name the bundled code imports from an
// aliased module is there, the aliased paths are the library's alone, the certificate classes
// refuse to be used, the object identifiers are the real ones, and the one parser kept reads
// ECDSA signatures exactly as the real one does.

const ROOT = path.resolve(__dirname, "../..");
const LIBRARY = path.join(ROOT, "node_modules/@simplewebauthn/server");
const aliasesTo = (file: string) =>
  Object.entries(readWranglerConfig().alias as Record<string, string>)
    .filter(([, target]) => target === file)
    .map(([name]) => name);
const aliased = aliasesTo("./src/shims/webauthn-asn1.ts");
const attestation = aliasesTo("./src/shims/webauthn-attestation.ts");

/** Every ESM file of a package folder. */
function esmFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return esmFiles(p);
    return /\.js$/.test(e.name) ? [p] : [];
  });
}

/** `import { a, b as c } from "<specifier>"` in the library's ESM build, for the given specifiers: specifier -> names (and the importing files). */
function namedImports(specifiers: string[]): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const file of esmFiles(path.join(LIBRARY, "esm"))) {
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/g)) {
      if (!specifiers.includes(m[2])) continue;
      if (m[2].startsWith(".") && !fs.existsSync(path.resolve(path.dirname(file), m[2]))) continue;
      const names = m[1]
        .split(",")
        .map((n) => n.trim().replace(/^type\s+/, ""))
        .filter((n) => n && !m[0].includes(`type ${n}`))
        .map((n) => n.split(/\s+as\s+/)[0]);
      const set = found.get(m[2]) ?? new Set<string>();
      for (const n of names) set.add(n);
      found.set(m[2], set);
    }
  }
  return found;
}

describe("the shims of @simplewebauthn/server's ASN.1 and attestation code", () => {
  it("stands in for the ASN.1 and attestation packages, in wrangler.toml", () => {
    expect(aliased.sort()).toEqual(
      [
        "@peculiar/asn1-android",
        "@peculiar/asn1-ecc",
        "@peculiar/asn1-rsa",
        "@peculiar/asn1-schema",
        "@peculiar/asn1-x509",
        "@peculiar/asn1-x509-post-quantum",
        "@peculiar/x509",
        "reflect-metadata",
      ].sort(),
    );
  });

  it("exports every name the library imports from them", () => {
    const imports = namedImports(aliased);
    expect(imports.size).toBeGreaterThan(3);
    const missing = [...imports].flatMap(([pkg, names]) => [...names].filter((n) => !(n in shim)).map((n) => `${pkg}: ${n}`));
    expect(missing).toEqual([]);
  });

  it("its attestation verifiers and root certificates, by their paths inside the library: imported there alone, every name there", () => {
    expect(attestation.length).toBe(10);
    // Every other file that imports one of these paths (any package, any build) would get the shim too.
    const importers = execFileSync(
      "grep",
      [
        "-rlF",
        "--include=*.js",
        "--include=*.mjs",
        "--include=*.cjs",
        ...attestation.flatMap((a) => ["-e", `'${a}'`, "-e", `"${a}"`]),
        "node_modules",
      ],
      {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    )
      .trim()
      .split("\n");
    expect(importers.filter((f) => !f.startsWith("node_modules/@simplewebauthn/server/"))).toEqual([]);
    // Each path still exists where the library imports it (a renamed file would silently be bundled again).
    const imports = namedImports(attestation);
    expect([...imports.keys()].sort()).toEqual([...attestation].sort());
    const attestationShim = fs.readFileSync(path.join(ROOT, "src/shims/webauthn-attestation.ts"), "utf8");
    const missing = [...imports].flatMap(([spec, names]) =>
      [...names].filter((n) => !new RegExp(`export const ${n}\\b`).test(attestationShim)).map((n) => `${spec}: ${n}`),
    );
    expect(missing).toEqual([]);
  });

  it("the certificate classes throw when used; the object identifiers are the real ones", async () => {
    const classes = { ...shim } as Record<string, unknown>;
    for (const name of ["X509Certificate", "Certificate", "KeyDescription", "RSAPublicKey", "OctetString", "ECParameters"])
      expect(() => new (classes[name] as new () => unknown)(), name).toThrow(/not bundled/);
    expect(() => shim.AsnParser.parse(new Uint8Array(2), shim.Certificate)).toThrow(/not bundled/);
    const real: Record<string, unknown> = {
      ...realEcc,
      ...(await import("@peculiar/asn1-x509")),
      ...(await import("@peculiar/asn1-rsa")),
      ...(await import("@peculiar/asn1-android")),
      ...(await import("@peculiar/asn1-x509-post-quantum")),
    };
    const oids = Object.entries(shim).filter(([k]) => k.startsWith("id_"));
    expect(oids.length).toBeGreaterThan(10);
    for (const [k, v] of oids) expect(v, k).toBe(real[k]);
  });

  it("reads ECDSA signatures (P-256, P-384, P-521) as @peculiar/asn1-schema does", () => {
    for (const namedCurve of ["P-256", "P-384", "P-521"]) {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve });
      for (let i = 0; i < 40; i++) {
        const der = sign("sha256", Buffer.from(`message ${i}`), privateKey); // DER, as WebAuthn carries it
        const ours = shim.AsnParser.parse(new Uint8Array(der), shim.ECDSASigValue);
        const theirs = realSchema.AsnParser.parse(new Uint8Array(der), realEcc.ECDSASigValue);
        expect(new Uint8Array(ours.r)).toEqual(new Uint8Array(theirs.r));
        expect(new Uint8Array(ours.s)).toEqual(new Uint8Array(theirs.s));
      }
    }
  });

  it("refuses what is not one SEQUENCE of two INTEGERs", () => {
    const bad = [
      [],
      [0x30],
      [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01], // truncated
      [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00], // trailing byte
      [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // a SET
      [0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01], // an OCTET STRING
      [0x30, 0x03, 0x02, 0x01, 0x01], // one INTEGER
      [0x30, 0x04, 0x02, 0x00, 0x02, 0x00], // empty INTEGERs
      [0x30, 0x80, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00], // indefinite length
    ];
    for (const bytes of bad) expect(() => shim.AsnParser.parse(new Uint8Array(bytes), shim.ECDSASigValue), JSON.stringify(bytes)).toThrow();
  });
});
