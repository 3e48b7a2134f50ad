import { describe, expect, it } from "vitest";
import { registerUser, uniqueEmail, wrongCode } from "../../support/accounts";
import { fakeClock, MIN, SEC } from "../../support/clock";
import { withDb } from "../../support/db";
import { latestCode, mailsTo } from "../../support/mail";
import { type CallOptions, call, json } from "../../support/worker";

// The shared one-time-code rules (src/auth/codes/one-time-codes.ts), through password reset: the
// per-code attempt limit and the per-account guess budget under requests really in flight at
// once, and the growing wait between codes with its daily cap.

const forgot = (email: string, opts: CallOptions = {}) => call("/auth/forgot-password", { body: { email }, ...opts });
const reset = (email: string, otp: string, new_password: string, opts: CallOptions = {}) =>
  call("/auth/reset-password", { body: { email, otp, new_password }, ...opts });

/** The reset_failed / reset_completed audit rows of a user, as the guesses left them. */
const guessRows = (userId: string) =>
  withDb(
    (sql) =>
      sql<{ event: string; detail: { reason?: string; attempt?: number } }[]>`
        select event, detail from auth_audit_events
         where user_id = ${userId} and event in ('reset_failed', 'reset_completed') order by id`,
  );

describe("per-code attempt limit", () => {
  it("40 guesses in flight at once, the right one among them, repeated 20 times: at most OTP_MAX_ATTEMPTS are ever compared", {
    timeout: 180_000,
  }, async () => {
    // A generous account budget, so what limits the burst is the code's own attempt count.
    const env = { OTP_FREE_FAILURES: "50" };
    for (let round = 0; round < 20; round++) {
      const u = await registerUser();
      expect((await forgot(u.email, { env })).status).toBe(200);
      const code = await latestCode(u.email, /reset/);
      const position = (round * 2) % 40;
      const guesses = Array.from({ length: 40 }, (_, i) => (i === position ? code : wrongCode(code, i + 1)));
      const answers = await Promise.all(guesses.map((g, i) => reset(u.email, g, `Round-${round}-Guess-${i}-Pw!`, { env })));
      const statuses = answers.map((a) => a.status);
      const rows = await guessRows(u.user.id);
      expect(rows).toHaveLength(40);
      const compared = rows.filter((r) => r.detail.attempt !== undefined);
      const refused = rows.filter((r) => r.detail.attempt === undefined);
      // Each compared guess has its own attempt number, none above the limit.
      expect(compared.length).toBeLessThanOrEqual(5);
      expect(new Set(compared.map((r) => r.detail.attempt)).size).toBe(compared.length);
      for (const r of compared) expect(r.detail.attempt).toBeLessThanOrEqual(5);
      for (const r of refused) expect(r.detail.reason).toBe("not_evaluated");
      // The right code works only if it was one of the compared guesses.
      const won = statuses[position] === 200;
      expect(statuses.filter((s) => s === 200)).toHaveLength(won ? 1 : 0);
      if (won) {
        expect(rows.filter((r) => r.event === "reset_completed")).toHaveLength(1);
      } else {
        expect(statuses[position]).toBe(400);
        expect((await json(answers[position])).code).toBe("otp_attempts_exceeded");
      }
      for (const [i, a] of answers.entries()) if (i !== position) expect(a.status).toBe(400);
    }
  });
});

describe("per-account guess budget", () => {
  it("after 5 wrong guesses (across fresh codes) an early guess gets 429 and is not compared, even the right code; the delays double and cap at 15 min", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    // Ten guesses per code, so fewer codes are needed to walk the delays up to the cap.
    const env = { OTP_MAX_ATTEMPTS: "10" };
    const opts = { env, now: clock.now };
    let code = "";
    let guessesOnCode = 0;
    let issuedAt = 0;
    const newCode = async () => {
      // The next code may need its own wait (the send throttle): take whatever it says.
      for (;;) {
        const res = await forgot(u.email, opts);
        if (res.status === 200) break;
        expect(res.status).toBe(429);
        clock.advance(Number(res.headers.get("retry-after")) * SEC);
      }
      code = await latestCode(u.email, /reset/);
      guessesOnCode = 0;
      issuedAt = clock.now().getTime();
    };
    await newCode();
    const delays: number[] = [];
    for (let failure = 1; failure <= 16; failure++) {
      if (guessesOnCode >= 10 || clock.now().getTime() - issuedAt > 9 * MIN) await newCode();
      const wrong = await reset(u.email, wrongCode(code), "Never-Set-Passw0rd!", opts);
      expect(wrong.status, `guess ${failure}`).toBe(400);
      guessesOnCode++;
      if (failure < 5) continue;
      // Right after the 5th and every later failure, even the right code is turned away.
      const early = await reset(u.email, code, "Never-Set-Passw0rd!", opts);
      expect(early.status).toBe(429);
      expect((await json(early)).code).toBe("too_many_requests");
      const wait = Number(early.headers.get("retry-after"));
      delays.push(wait);
      clock.advance(wait * SEC);
    }
    expect(delays).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    // After the delay the owner's right code works: delayed, never locked out.
    if (guessesOnCode >= 10 || clock.now().getTime() - issuedAt > 9 * MIN) await newCode();
    expect((await reset(u.email, code, "Finally-Mine-Passw0rd!", opts)).status).toBe(200);
    const rows = await guessRows(u.user.id);
    expect(rows.filter((r) => r.detail.reason === "guess_delayed")).toHaveLength(12);
  });

  it("an unknown email gets the same 429 after the same guesses (the budget is keyed by the email, not the account)", async () => {
    const clock = fakeClock();
    const nobody = uniqueEmail("nobody");
    const known = await registerUser();
    await forgot(known.email, { now: clock.now });
    const code = await latestCode(known.email, /reset/);
    const answers: string[] = [];
    for (const email of [known.email, nobody]) {
      for (let i = 1; i <= 5; i++)
        expect((await reset(email, wrongCode(code, i), "Never-Set-Passw0rd!", { now: clock.now })).status).toBe(400);
      const early = await reset(email, "123456", "Never-Set-Passw0rd!", { now: clock.now });
      answers.push(`${early.status} ${early.headers.get("retry-after")} ${await early.text()}`);
    }
    expect(answers[0]).toBe(answers[1]);
    expect(answers[0]).toMatch(/^429 1 /);
  });
});

describe("sending codes", () => {
  it("the wait between codes grows from 60 s, doubling up to 1 h, and at most 10 codes go out in 24 h; unknown emails alike", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    const nobody = uniqueEmail("nobody");
    for (const email of [u.email, nobody]) {
      const dayEnds = clock.now().getTime() + 24 * 3600_000;
      const waits: number[] = [];
      for (let n = 1; n <= 10; n++) {
        expect((await forgot(email, { now: clock.now })).status, `code ${n}`).toBe(200);
        const early = await forgot(email, { now: clock.now });
        expect(early.status).toBe(429);
        waits.push(Number(early.headers.get("retry-after")));
        if (n < 10) clock.advance(waits[n - 1] * SEC);
      }
      // 60 s doubling, capped at 1 h; after the 10th code, until 24 h after the first one.
      expect(waits.slice(0, 9)).toEqual([60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
      expect(waits[9]).toBe(Math.ceil((dayEnds - clock.now().getTime()) / 1000));
      clock.set(dayEnds - SEC);
      expect((await forgot(email, { now: clock.now })).status).toBe(429);
      clock.set(dayEnds);
      expect((await forgot(email, { now: clock.now })).status).toBe(200);
      clock.advance(2 * 3600_000);
    }
    expect(await mailsTo(nobody)).toHaveLength(0);
    expect((await mailsTo(u.email)).filter((m) => /reset/i.test(m.subject))).toHaveLength(11);
  });
});
