import { describe, expect, it } from "vitest";
import { settingsSchema } from "../../../src/config";
import { codeOf } from "../../support/oidc";
import { call, testEnv } from "../../support/worker";

// The social sign-in settings' own checks (src/config.ts), read when the Worker reads its settings.

const problems = (env: Record<string, unknown>) => {
  const r = settingsSchema.safeParse({ ...testEnv, ...env });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("social sign-in settings", () => {
  it("the test bindings are valid, and a provider is off with no client ids", () => {
    expect(problems({})).toEqual([]);
    const off = { GOOGLE_CLIENT_IDS: "", GOOGLE_WEB_CLIENT_ID: "", APPLE_CLIENT_IDS: "", APPLE_SERVICES_ID: "" };
    expect(problems({ ...off, APPLE_TEAM_ID: "", APPLE_KEY_ID: "", APPLE_PRIVATE_KEY: "" })).toEqual([]);
    const parsed = settingsSchema.parse({ ...testEnv, GOOGLE_CLIENT_IDS: " a.apps , b.apps ,", GOOGLE_WEB_CLIENT_ID: "" });
    expect(parsed.GOOGLE_CLIENT_IDS).toEqual(["a.apps", "b.apps"]);
  });

  it("defaults: the real providers' discovery documents", () => {
    const parsed = settingsSchema.parse({ ...testEnv, GOOGLE_DISCOVERY_URL: "", APPLE_DISCOVERY_URL: "" });
    expect(parsed.GOOGLE_DISCOVERY_URL).toBe("https://accounts.google.com/.well-known/openid-configuration");
    expect(parsed.APPLE_DISCOVERY_URL).toBe("https://appleid.apple.com/.well-known/openid-configuration");
  });

  it("the web client must be one of the accepted client ids", () => {
    expect(problems({ GOOGLE_WEB_CLIENT_ID: "another.apps" })).toEqual(["GOOGLE_WEB_CLIENT_ID: must be one of GOOGLE_CLIENT_IDS"]);
    expect(problems({ APPLE_SERVICES_ID: "com.other.web" })).toEqual(["APPLE_SERVICES_ID: must be one of APPLE_CLIENT_IDS"]);
  });

  it("Apple's four web settings come together or not at all", () => {
    expect(problems({ APPLE_KEY_ID: "", APPLE_PRIVATE_KEY: "" }).map((p) => p.split(":")[0])).toEqual([
      "APPLE_KEY_ID",
      "APPLE_PRIVATE_KEY",
    ]);
  });

  it("discovery over plain http only to this machine", () => {
    expect(problems({ GOOGLE_DISCOVERY_URL: "http://accounts.google.com/.well-known/openid-configuration" })).toEqual([
      "GOOGLE_DISCOVERY_URL: must be an https URL (plain http only to localhost)",
    ]);
    expect(problems({ APPLE_DISCOVERY_URL: "not a url" })).not.toEqual([]);
  });

  it("redirect targets: https, an app's own scheme or http to localhost; never script, data or file URLs", () => {
    expect(
      problems({ OAUTH_REDIRECT_ALLOWLIST: "https://app.example.com/done, com.example.app:/oauth, http://localhost:3000/cb" }),
    ).toEqual([]);
    for (const bad of ["javascript:alert(1)", "data:text/html;hi", "file:///etc/passwd", "http://app.example.com/done", "/relative"])
      expect(problems({ OAUTH_REDIRECT_ALLOWLIST: bad }), bad).toEqual([
        expect.stringMatching(/^OAUTH_REDIRECT_ALLOWLIST: .* is not an allowed address/),
      ]);
    expect(problems({ OAUTH_CALLBACK_BASE_URL: "http://api.example.com" })).toHaveLength(1);
  });

  it("a misconfigured provider answers every request 500, as any configuration error does", async () => {
    const res = await call("/health/live", { env: { GOOGLE_WEB_CLIENT_ID: "another.apps" } });
    expect([res.status, await codeOf(res)]).toEqual([500, "internal_error"]);
  });
});
