import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/context";
import { requestContext } from "../../src/middleware/request";
import { call, testEnv } from "../support/worker";

/**
 * The headers every answer carries (src/middleware/response-headers.ts), written once the answer is
 * made: the same security headers on a success, on an error, on the answer made without the app
 * (a configuration error, src/index.ts), and on an answer whose headers are read-only.
 */
const SECURITY_HEADERS = {
  "cross-origin-resource-policy": "same-site",
  "cross-origin-opener-policy": "same-origin",
  "origin-agent-cluster": "?1",
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "x-dns-prefetch-control": "off",
  "x-download-options": "noopen",
  "x-frame-options": "DENY",
  "x-permitted-cross-domain-policies": "none",
  "x-xss-protection": "0",
};

const headersOf = (res: Response) => Object.fromEntries(res.headers);

describe("response headers", () => {
  it("every answer: the security headers, no-store, its request id, its language and Vary", async () => {
    const answers: [string, Response][] = [
      ["200", await call("/health/live")],
      ["401", await call("/auth/me")],
      ["404", await call("/auth/no-such-route", { headers: { "accept-language": "hi" } })],
      ["405", await call("/auth/login", { method: "GET" })],
      ["500", await call("/auth/login", { body: {}, env: { ENVIRONMENT: "production", AUTH_SECRET: "" } })],
    ];
    for (const [status, res] of answers) {
      expect(String(res.status), status).toBe(status);
      expect(headersOf(res), status).toMatchObject({
        ...SECURITY_HEADERS,
        "cache-control": "no-store",
        "content-language": status === "404" ? "hi" : "en",
        vary: "Origin, Accept-Language",
        "x-request-id": expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
    }
  });

  it("a route's own Cache-Control and Content-Language are kept", async () => {
    const jwks = await call("/.well-known/jwks.json");
    expect(jwks.headers.get("cache-control")).toMatch(/^public, max-age=\d+/);
    const spec = await call("/openapi.json", { headers: { "accept-language": "hi" } });
    expect(spec.headers.get("content-language")).toBe("en");
    expect(headersOf(spec)).toMatchObject(SECURITY_HEADERS);
  });

  it("an answer with read-only headers (Response.redirect) is copied once and gets them too", async () => {
    const app = new Hono<AppEnv>().use("*", requestContext({})).get("/away", () => Response.redirect("https://example.com/", 302));
    const res = await app.request("/away", {}, testEnv);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://example.com/");
    expect(headersOf(res)).toMatchObject({ ...SECURITY_HEADERS, "cache-control": "no-store", vary: "Origin, Accept-Language" });
  });
});
