import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DUMMY_TOKEN, startTurnstileStub, TEST_SECRETS, type TurnstileStub } from "../../scripts/stack/turnstile-stub.ts";

// The local siteverify itself: it must answer what Cloudflare's answers (server-side validation
// and testing pages of the Turnstile docs), or the Worker's tests against it would prove nothing.
const SITE = "0x4AAAAAAAstubSite";
const SECRET = "0x4AAAAAAAstubSecret";
let stub: TurnstileStub;

beforeAll(async () => {
  stub = await startTurnstileStub({ widgets: { [SITE]: SECRET, other: "other-secret" } });
});
afterAll(() => stub?.stop());

type Answer = { success: boolean; "error-codes": string[]; hostname?: string; action?: string; challenge_ts?: string; metadata?: object };

const verify = async (fields: Record<string, string>, as: "json" | "form" = "form"): Promise<Answer> => {
  const res = await fetch(stub.verifyUrl, {
    method: "POST",
    headers: { "content-type": as === "json" ? "application/json" : "application/x-www-form-urlencoded" },
    body: as === "json" ? JSON.stringify(fields) : new URLSearchParams(fields),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  return res.json() as Promise<Answer>;
};

const mint = async (fields: Record<string, unknown> = {}) => {
  const res = await fetch(`${stub.url}/__tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hostname: "app.test", action: "login", ...fields }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; id: string };
};

describe("Cloudflare's test secrets", () => {
  it("1x passes the dummy token (again and again), flagged as a testing-key answer; any other token fails", async () => {
    for (let i = 0; i < 2; i++)
      expect(await verify({ secret: TEST_SECRETS.pass, response: DUMMY_TOKEN })).toMatchObject({
        success: true,
        "error-codes": [],
        hostname: "example.com",
        metadata: { result_with_testing_key: true },
      });
    expect(await verify({ secret: TEST_SECRETS.pass, response: (await mint()).token })).toMatchObject({
      success: false,
      "error-codes": ["invalid-input-response"],
    });
  });

  it("2x always fails; 3x always answers timeout-or-duplicate", async () => {
    expect(await verify({ secret: TEST_SECRETS.fail, response: DUMMY_TOKEN })).toMatchObject({
      success: false,
      "error-codes": ["invalid-input-response"],
    });
    expect(await verify({ secret: TEST_SECRETS.spent, response: DUMMY_TOKEN }, "json")).toMatchObject({
      success: false,
      "error-codes": ["timeout-or-duplicate"],
    });
  });
});

describe("a widget's tokens", () => {
  it("verify once with hostname, action and challenge_ts; the second time: timeout-or-duplicate", async () => {
    const { token } = await mint({ action: "register", cdata: "c1" });
    const first = await verify({ secret: SECRET, response: token, remoteip: "203.0.113.9" }, "json");
    expect(first).toMatchObject({ success: true, "error-codes": [], hostname: "app.test", action: "register", cdata: "c1" });
    expect(Date.parse(first.challenge_ts ?? "")).not.toBeNaN();
    expect(await verify({ secret: SECRET, response: token })).toEqual(expect.objectContaining({ "error-codes": ["timeout-or-duplicate"] }));
  });

  it("the same idempotency_key gets the first answer again; another key or none does not", async () => {
    const { token } = await mint();
    const key = randomUUID();
    const first = await verify({ secret: SECRET, response: token, idempotency_key: key });
    expect(first.success).toBe(true);
    expect(await verify({ secret: SECRET, response: token, idempotency_key: key })).toEqual(first);
    expect((await verify({ secret: SECRET, response: token, idempotency_key: randomUUID() }))["error-codes"]).toEqual([
      "timeout-or-duplicate",
    ]);
    expect((await verify({ secret: SECRET, response: token }))["error-codes"]).toEqual(["timeout-or-duplicate"]);
  });

  it("refuse: an expired token, another widget's, a forged one; an unknown, a missing secret; no token; a key that is not a UUID", async () => {
    expect((await verify({ secret: SECRET, response: (await mint({ ageSeconds: 300 })).token }))["error-codes"]).toEqual([
      "timeout-or-duplicate",
    ]);
    expect((await verify({ secret: SECRET, response: (await mint({ sitekey: "other" })).token }))["error-codes"]).toEqual([
      "invalid-input-response",
    ]);
    expect((await verify({ secret: SECRET, response: "forged" }))["error-codes"]).toEqual(["invalid-input-response"]);
    expect((await verify({ secret: "nope", response: "x" }))["error-codes"]).toEqual(["invalid-input-secret"]);
    expect((await verify({ response: "x" }))["error-codes"]).toEqual(["missing-input-secret"]);
    expect((await verify({ secret: SECRET }))["error-codes"]).toEqual(["missing-input-response"]);
    const { token } = await mint();
    expect((await verify({ secret: SECRET, response: token, idempotency_key: "not-a-uuid" }))["error-codes"]).toEqual(["bad-request"]);
    // That refusal did not spend it.
    expect((await verify({ secret: SECRET, response: token })).success).toBe(true);
  });

  it("hang: no answer, and the stand-in records when the client gives up; unreachable: the connection is cut", async () => {
    const hung = await mint({ behaviour: "hang" });
    const gaveUp = await fetch(stub.verifyUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ secret: SECRET, response: hung.token }),
      signal: AbortSignal.timeout(300),
    }).catch((e: Error) => e.name);
    expect(gaveUp).toBe("TimeoutError");
    await expect.poll(() => stub.log.find((v) => v.id === hung.id)?.outcome).toBe("abandoned");

    const cut = await mint({ behaviour: "unreachable" });
    const failed = await verify({ secret: SECRET, response: cut.token }).catch((e: Error) => e.name);
    expect(failed).toBe("TypeError");
    expect(stub.log.find((v) => v.id === cut.id)?.outcome).toBe("unreachable");
    // The log never holds a token or a secret.
    expect(JSON.stringify(stub.log)).not.toContain(hung.token);
    expect(JSON.stringify(stub.log)).not.toContain(SECRET);
  });
});
