import { exports } from "cloudflare:workers";
import * as nodeCrypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { scryptWasm } from "../../../src/auth/password/scrypt-wasm";
import { hex, utf8 } from "../../../src/lib/encoding";
import { PASSWORD } from "../../support/accounts";

/**
 * Requests that go away in the middle of a password hash (a phone that loses its connection
 * during login) must not stall the hashes of the isolate's other requests. Each request here is a
 * real request of its own (the Worker's default export through the loopback binding), so a
 * cancelled one is torn down by workerd with everything it was waiting on. With the hashes
 * chained as promises (before the fix) the first round already left every later hash of the
 * isolate waiting forever.
 */
let n = 0;
const ip = () => `10.77.${Math.floor(++n / 250)}.${n % 250}`;

/** The Worker's own default export (the loopback binding; the generated types do not name it). */
const worker = (exports as unknown as { default: Fetcher }).default;

function send(path: string, body: unknown, signal?: AbortSignal) {
  return worker.fetch(`http://auth.test${path}`, {
    method: "POST",
    signal,
    headers: { "content-type": "application/json", "cf-connecting-ip": ip() },
    body: JSON.stringify(body),
  });
}

const newEmail = () => `cancelled-${Date.now().toString(36)}-${++n}@example.com`;
const register = (email: string, signal?: AbortSignal) =>
  send("/auth/register", { full_name: "Gone Midway", email, password: PASSWORD, role: "student" }, signal);
/** The status, or the error's name when the request never got an answer. */
const outcome = (p: Promise<Response>) =>
  p.then(
    (r) => r.status,
    (e) => String((e as Error)?.name),
  );

const params = { N: 2 ** 10, r: 8, p: 1, dkLen: 32 };
/** A hash in this test's own request, bounded: an answer or "stalled", never a wait without end. */
const hashNow = (i: number) =>
  Promise.race([
    scryptWasm(utf8(`pw-${i}`), utf8(`salt-${i}`), params).then((out) => hex(out)),
    new Promise<string>((resolve) => setTimeout(() => resolve("stalled"), 10_000)),
  ]);
const expected = (i: number) =>
  nodeCrypto.scryptSync(`pw-${i}`, `salt-${i}`, 32, { N: params.N, r: params.r, p: params.p }).toString("hex");

describe("password hashing when requests are cancelled", () => {
  it("registrations cancelled while hashing, or waiting to, leave the isolate's next hash unaffected and correct", async () => {
    // Eight at once: one hashing, the others queued behind it. The last four are cancelled
    // while queued or in the middle of their hash, at a different moment each round.
    for (const [round, afterMs] of [30, 60, 90, 150].entries()) {
      const emails = Array.from({ length: 8 }, newEmail);
      const controllers = emails.map(() => new AbortController());
      const inFlight = emails.map((email, i) => outcome(register(email, controllers[i].signal)));
      await new Promise((r) => setTimeout(r, afterMs));
      for (const c of controllers.slice(4)) c.abort();
      // Their answers do not matter here (a cancelled request may also leave its database
      // connection behind in local workerd); what follows them does.
      await Promise.all(inFlight);
      // The next hash gets its turn and is right (the memory it shares was not left half-used).
      expect(await hashNow(round)).toBe(expected(round));
    }
  }, 120_000);
});
