import { describe, expect, it } from "vitest";
import { loginFailures, PASSWORD, uniqueEmail } from "../../support/accounts";
import { withDb } from "../../support/db";
import { call, json } from "../../support/worker";

/**
 * Overload sheds, never hangs (src/auth/password/hash-admission.ts): a burst of password hashes larger than
 * an isolate can serve within HASH_QUEUE_MAX_WAIT is answered at once with 503 server_busy and
 * Retry-After, and a refused request has changed nothing; every other request waits at most about
 * that long for its hash.
 *
 * At the production scrypt cost (N=2^14, r=8, p=5: ~175 ms a hash on a quiet 2-core machine) 64
 * hashes take 11 s or more, so with HASH_QUEUE_MAX_WAIT=1s shedding is certain. The bound the
 * contract gives, HASH_QUEUE_MAX_WAIT + 2 s = 3 s from the burst's start, is measured here (the
 * client). An admitted request waits at most about 1 s for its turn, then runs its own hash and
 * two database round trips; a refused one only parses and validates its body. Measured on this
 * 2-core machine: the slowest answer 0.5 s quiet, 0.7-1.1 s with two busy processes beside the
 * suite, 2.6 s before the estimate counted an isolated hash as three (docs/abuse.md#overload): the
 * 2 s beyond the setting leave room for a machine several times slower than that.
 */
const PRODUCTION_COST = { SCRYPT_LOG_N: "14", SCRYPT_R: "8", SCRYPT_P: "5" };
const MAX_WAIT_S = 1;
const env = { ...PRODUCTION_COST, HASH_QUEUE_MAX_WAIT: `${MAX_WAIT_S}s` };
const BOUND_MS = (MAX_WAIT_S + 2) * 1000;
const BURST = 64;

/** Sends every request at once; each answer with the time it took, measured when the Worker handed it back. */
async function burst(send: (i: number, onResponse: (res: Response) => void) => Promise<Response>) {
  const started = Date.now();
  const took: number[] = [];
  const answers = await Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      send(i, () => {
        took[i] = Date.now() - started;
      }),
    ),
  );
  return Promise.all(
    answers.map(async (res, i) => ({ status: res.status, retryAfter: res.headers.get("retry-after"), body: await json(res), ms: took[i] })),
  );
}

/** Every answer is `admitted` or 503 server_busy with a Retry-After in whole seconds; both kinds occur. */
function expectShedding(answers: Awaited<ReturnType<typeof burst>>, admitted: number) {
  for (const a of answers) {
    expect([admitted, 503], JSON.stringify(a.body)).toContain(a.status);
    if (a.status === 503) {
      expect(a.body.code).toBe("server_busy");
      expect(a.retryAfter).toMatch(/^[1-9]\d*$/);
    }
  }
  const counts = { admitted: answers.filter((a) => a.status === admitted).length, shed: answers.filter((a) => a.status === 503).length };
  expect(counts.admitted, "at least the first request is admitted").toBeGreaterThanOrEqual(1);
  expect(counts.shed, "64 production hashes never fit in 1 s: some are shed").toBeGreaterThanOrEqual(1);
  // The figures of the run, for a failure's message (and docs/abuse.md#overload).
  const figures = JSON.stringify({ ...counts, ms: answers.map((a) => `${a.status}:${a.ms}`) });
  expect(Math.max(...answers.map((a) => a.ms)), figures).toBeLessThanOrEqual(BOUND_MS);
  return counts;
}

describe("a burst of password hashes beyond what the isolate serves in HASH_QUEUE_MAX_WAIT", () => {
  it("64 registrations at once: each answers 201 or 503 server_busy within the bound, and exactly the 201s' accounts exist", {
    timeout: 120_000,
  }, async () => {
    // One hash at this cost first, so the isolate's estimate knows it (as a deployed isolate soon does).
    expect((await call("/auth/register", { body: registration(uniqueEmail("warm")), env })).status).toBe(201);
    const emails = Array.from({ length: BURST }, () => uniqueEmail("burst"));
    const answers = await burst((i, onResponse) => call("/auth/register", { body: registration(emails[i]), env, onResponse }));
    expectShedding(answers, 201);
    const created = answers.flatMap((a, i) => (a.status === 201 ? [emails[i]] : []));
    const stored = await withDb((sql) => sql`select email from users where email in ${sql(emails)}`);
    expect(stored.map((r) => r.email).sort()).toEqual(created.sort());
  });

  it("64 logins at once: each answers 401 or 503 server_busy within the bound, and only the 401s count a failed attempt", {
    timeout: 120_000,
  }, async () => {
    // Unknown addresses: each verifies against the dummy hash at the production cost, and each has its own throttle key.
    expect((await call("/auth/login", { body: { email: uniqueEmail("warm"), password: PASSWORD }, env })).status).toBe(401);
    const emails = Array.from({ length: BURST }, () => uniqueEmail("login-burst"));
    const answers = await burst((i, onResponse) =>
      call("/auth/login", { body: { email: emails[i], password: PASSWORD }, env, onResponse }),
    );
    expectShedding(answers, 401);
    const failures = await Promise.all(emails.map(loginFailures));
    expect(failures).toEqual(answers.map((a) => (a.status === 401 ? 1 : 0)));
  });
});

const registration = (email: string) => ({ full_name: "Burst", email, password: PASSWORD, role: "student" });
