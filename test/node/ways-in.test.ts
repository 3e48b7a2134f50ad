import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ACR_VALUES, assess, isWayIn, WAYS_IN } from "../../src/auth/sign-in/ways-in";

/**
 * The ways-in registry (src/auth/sign-in/ways-in.ts) against the code that uses it: every sign-in
 * method the domain names must be declared there, so that the rules reading the registry (the
 * session's assurance, the admin gate, REQUIRE_MFA_ROLES, the last way in, a change of owner) see it.
 */
const ROOT = path.resolve(__dirname, "../..");

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sources(rel);
    return rel.endsWith(".ts") ? [rel] : [];
  });
}

/** Every place the domain names a way in: `method: "<name>"`, `amrOf("<name>")`, `secondFactor: { method: "<name>" }`. */
function namedMethods(): { file: string; line: number; name: string }[] {
  const found: { file: string; line: number; name: string }[] = [];
  for (const file of sources("src/auth")) {
    const lines = fs.readFileSync(path.join(ROOT, file), "utf8").split("\n");
    lines.forEach((text, i) => {
      for (const m of text.matchAll(/(?<![\w.])(?:method:\s*|amrOf\()"([a-z0-9_]+)"(?=\s*[,})\n]|$)/g))
        found.push({ file, line: i + 1, name: m[1] });
    });
  }
  return found;
}

describe("ways in: one registry", () => {
  it("every way in the domain names is declared in WAYS_IN", () => {
    const named = namedMethods();
    expect(named.length).toBeGreaterThan(3);
    const undeclared = named.filter((n) => !isWayIn(n.name)).map((n) => `${n.file}:${n.line}: "${n.name}" is not in WAYS_IN`);
    expect(undeclared).toEqual([]);
  });

  it("the scan finds an undeclared method (the check can fail)", () => {
    const text = 'completeSignIn(deps, meta, user, { method: "magic_link" })';
    const names = [...text.matchAll(/(?<![\w.])(?:method:\s*|amrOf\()"([a-z0-9_]+)"(?=\s*[,})\n]|$)/g)].map((m) => m[1]);
    expect(names).toEqual(["magic_link"]);
    expect(isWayIn("magic_link")).toBe(false);
  });

  it("declares, for each way in, amr values in RFC 8176 form with the factor kinds they prove", () => {
    for (const [name, w] of Object.entries(WAYS_IN)) {
      const values = Object.entries(w.amr);
      expect(values.length, name).toBeGreaterThan(0);
      for (const [value, kinds] of values) {
        expect(value, name).toMatch(/^[a-z]{2,8}$/);
        expect(kinds.length, `${name}.${value}`).toBeGreaterThan(0);
      }
      expect(["first", "second", "either"]).toContain(w.use);
    }
  });

  it("otp is only ever a second factor: a way in that can start a sign-in never records it", () => {
    for (const [name, w] of Object.entries(WAYS_IN)) if (w.use === "first") expect(Object.keys(w.amr), name).not.toContain("otp");
  });

  it("assurance is computed from the registry: kinds, multi-factor, acr; an undeclared amr value throws", () => {
    expect(assess(["pwd"])).toMatchObject({ multiFactor: false, acr: "single-factor" });
    expect(assess(["email"])).toMatchObject({ multiFactor: false, acr: "single-factor" });
    expect(assess(["pwd", "otp"])).toMatchObject({ multiFactor: true, phishingResistant: false, acr: "multi-factor" });
    expect(assess(["google", "otp"])).toMatchObject({ multiFactor: true, acr: "multi-factor" });
    expect(assess(["email", "otp"])).toMatchObject({ multiFactor: true, acr: "multi-factor" });
    // Two proofs of the same kind are still one factor.
    expect(assess(["pwd", "email"])).toMatchObject({ multiFactor: false, acr: "single-factor" });
    expect(() => assess(["pwd", "magic"])).toThrow(/not declared/);
    expect([...ACR_VALUES]).toEqual(["single-factor", "multi-factor", "phishing-resistant"]);
  });

  it("docs/mfa.md lists every way in of the registry, and nothing else", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/mfa.md"), "utf8");
    const section = doc.split(/^## /m).find((s) => s.startsWith("Ways in"));
    expect(section, "docs/mfa.md has a '## Ways in' section").toBeDefined();
    const rows = [...(section ?? "").matchAll(/^\| `([a-z_]+)`\s+\|/gm)].map((m) => m[1]);
    expect(rows.sort()).toEqual(Object.keys(WAYS_IN).sort());
  });
});
