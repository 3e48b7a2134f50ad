import { describe, expect, it } from "vitest";
import { settingsSchema } from "../../../src/config";
import { call, testEnv } from "../../support/worker";

// WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS are checked when the Worker reads its settings: a bad origin
// is a configuration error at once, not a refused passkey ceremony (or a 500) on every sign-in.

const problems = (env: Record<string, unknown>) => {
  const r = settingsSchema.safeParse({ ...testEnv, ...env });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("passkey settings", () => {
  it("the test bindings are valid; unset, passkeys are off", () => {
    expect(problems({})).toEqual([]);
    expect(problems({ WEBAUTHN_RP_ID: "", WEBAUTHN_ORIGINS: "" })).toEqual([]);
    expect(settingsSchema.parse({ ...testEnv, WEBAUTHN_RP_ID: "", WEBAUTHN_ORIGINS: "" }).WEBAUTHN_RP_ID).toBeUndefined();
  });

  it("accepts https origins on the RP ID or a subdomain, localhost and 127.0.0.1 over http, and Android apps", () => {
    const ok = [
      { WEBAUTHN_RP_ID: "example.com", WEBAUTHN_ORIGINS: "https://example.com, https://app.example.com:8443" },
      { WEBAUTHN_RP_ID: "localhost", WEBAUTHN_ORIGINS: "http://localhost:8787,http://127.0.0.1:8787,https://localhost" },
      { WEBAUTHN_RP_ID: "example.com", WEBAUTHN_ORIGINS: "android:apk-key-hash:7bueE1LcZEYLD1yF8C384su_vu0AMpWExf2ULNwCfdk" },
    ];
    for (const env of ok) expect(problems(env), JSON.stringify(env)).toEqual([]);
  });

  it("refuses what a browser would never send, other sites, plain http elsewhere, and a bad RP ID", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ WEBAUTHN_ORIGINS: "https://app.test/" }, /not an origin as a browser sends it/],
      [{ WEBAUTHN_ORIGINS: "https://app.test/login" }, /not an origin/],
      [{ WEBAUTHN_ORIGINS: "https://APP.test" }, /not an origin/],
      [{ WEBAUTHN_ORIGINS: "https://other.test" }, /not on WEBAUTHN_RP_ID/],
      [{ WEBAUTHN_ORIGINS: "https://evilapp.test" }, /not on WEBAUTHN_RP_ID/],
      [{ WEBAUTHN_ORIGINS: "http://app.test" }, /plain http only on localhost/],
      [{ WEBAUTHN_ORIGINS: "ftp://app.test" }, /https, http on localhost/],
      [{ WEBAUTHN_ORIGINS: "android:apk-key-hash:short" }, /not an origin/],
      [{ WEBAUTHN_ORIGINS: "" }, /at least one origin/],
      [{ WEBAUTHN_RP_ID: "https://app.test" }, /must be a lower-case host name/],
      [{ WEBAUTHN_RP_ID: "", WEBAUTHN_ORIGINS: "https://app.test" }, /WEBAUTHN_RP_ID: must be set/],
    ];
    for (const [env, expected] of bad) expect(problems(env).join("; "), JSON.stringify(env)).toMatch(expected);
  });

  it("the tests run the library as bundled: its attestation code is the shims of wrangler.toml [alias]", async () => {
    const { SettingsService } = await import("@simplewebauthn/server");
    expect(SettingsService.getRootCertificates({ identifier: "apple" })).toEqual(["(root certificate not bundled)"]);
  });

  it("a bad setting answers 500 (configuration error) on every request", async () => {
    const res = await call("/auth/passkeys/login/options", { body: {}, env: { WEBAUTHN_ORIGINS: "https://app.test/" } });
    expect(res.status).toBe(500);
  });
});
