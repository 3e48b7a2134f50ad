import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { login, loginAs, PASSWORD, type Registered, registerUser, uniqueEmail, wrongCode } from "../../support/accounts";
import { fakeClock, SEC } from "../../support/clock";
import { auditRows, userRow } from "../../support/db";
import { codeIn, latestCode, mailsTo, tagOf } from "../../support/mail";
import { type CallOptions, call, json } from "../../support/worker";

// Email change and its undo, through the real Worker, Postgres and the local mail capture.

const change = (token: string, new_email: string, current_password = PASSWORD, opts: CallOptions = {}) =>
  call("/auth/change-email", { body: { new_email, current_password }, token, ...opts });
const confirm = (token: string, code: string, opts: CallOptions = {}) =>
  call("/auth/change-email/confirm", { body: { code }, token, ...opts });
const revert = (email: string, code: string, opts: CallOptions = {}) =>
  call("/auth/change-email/revert", { body: { email, code }, ...opts });
const changeCode = (to: string) => latestCode(to, /Confirm your new/);
const undoCode = async (to: string) => codeIn((await mailsTo(to, "email_change_notice"))[0]);
const HOUR = 3600 * SEC;
/** Past the send throttle's first wait (OTP_RESEND_INTERVAL, 60 s). */
const PAST_RESEND = 61 * SEC;

const CHANGE_REQUESTED = { status: "success", message: "We have sent a code to the new address. Enter it to confirm the change." };

/** A user with a second session (logged in elsewhere). */
async function userWithTwoSessions(
  opts: CallOptions = {},
): Promise<Registered & { other: { access_token: string; refresh_token: string } }> {
  const u = await registerUser({}, opts);
  return { ...u, other: await login(u.email, PASSWORD, opts) };
}

describe("change-email → confirm", () => {
  it("changes the address: verified, other sessions ended, old address notified with an undo code", async () => {
    const clock = fakeClock(Date.UTC(2031, 4, 17, 13, 50, 0));
    const opts = { now: clock.now };
    const u = await userWithTwoSessions(opts);
    const newEmail = uniqueEmail("new");
    const res = await change(u.access_token, newEmail.toUpperCase(), PASSWORD, opts);
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual(CHANGE_REQUESTED);

    const [codeMail] = await mailsTo(newEmail, "email_change");
    const code = codeIn(codeMail);
    expect(codeMail.subject).not.toContain(code);
    // 14:05 UTC in MAIL_TIME_ZONE (default Asia/Kolkata, UTC+5:30).
    expect(codeMail.text).toContain("expires in 15 minutes (at 7:35 pm IST)");
    expect(codeMail.html).toContain(`>${code}</p>`);
    expect(codeMail.html).toContain("<strong>15 minutes</strong> (at 7:35 pm IST)");
    const [notice] = await mailsTo(u.email, "email_change_notice");
    const undo = codeIn(notice);
    expect(notice.subject).not.toContain(undo);
    expect(notice.text).toContain(newEmail);
    expect(notice.text).toContain("expires in 72 hours (at 7:20 pm IST on 20 May 2031)");
    expect(notice.html).toContain(`>${undo}</p>`);
    expect(notice.html).toContain("<strong>72 hours</strong> (at 7:20 pm IST on 20 May 2031)");
    // Nothing changed yet.
    expect((await userRow(u.user.id)).email).toBe(u.email);

    const done = await confirm(u.access_token, code, opts);
    expect(done.status).toBe(200);
    expect(await json(done)).toEqual({
      status: "success",
      message: "Your email address has been changed. Every other session was signed out.",
      user: { ...u.user, email: newEmail, email_verified: true },
    });

    // This session goes on; the other one is over, refresh token included.
    expect((await json(await call("/auth/me", { token: u.access_token, ...opts }))).user.email).toBe(newEmail);
    expect((await call("/auth/me", { token: u.other.access_token, ...opts })).status).toBe(401);
    expect((await call("/auth/refresh", { body: { refresh_token: u.other.refresh_token }, ...opts })).status).toBe(401);
    // Log in with the new address only; fresh tokens carry it, verified.
    expect((await loginAs(u.email, PASSWORD, opts)).status).toBe(401);
    const fresh = await login(newEmail, PASSWORD, opts);
    expect(decodeJwt(fresh.access_token)).toMatchObject({ email: newEmail, email_verified: true });

    // The old address is told it happened, and pointed at the undo code it already has.
    const [changed] = await mailsTo(u.email, "email_changed");
    expect(changed.text).toContain(newEmail);
    expect(changed.text).toContain("until 7:20 pm IST on 20 May 2031");
    expect(changed.text).not.toMatch(/\d{6}/);

    const rows = await auditRows(u.user.id);
    expect(rows.filter((r) => r.event === "email_changed").map((r) => [r.outcome, r.detail])).toEqual([["success", { sessions_ended: 1 }]]);
    for (const r of rows) expect(JSON.stringify(r.detail ?? {})).not.toMatch(new RegExp(`${code}|${undo}`));
    // Single use.
    expect((await json(await confirm(u.access_token, code, opts))).code).toBe("otp_used");
  });

  it("a code mailed to the old address before the change stops working with it", async () => {
    const u = await registerUser();
    expect((await call("/auth/forgot-password", { body: { email: u.email } })).status).toBe(200);
    const resetCode = await latestCode(u.email, /reset/);
    const newEmail = uniqueEmail("new");
    await change(u.access_token, newEmail);
    expect((await confirm(u.access_token, await changeCode(newEmail))).status).toBe(200);
    const res = await call("/auth/reset-password", { body: { email: newEmail, otp: resetCode, new_password: "Stolen-Reset-Pw-42" } });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("invalid_otp");
    expect((await loginAs(newEmail, PASSWORD)).status).toBe(200);
  });

  it("checks the current password through the login throttle; a wrong one mails nothing", async () => {
    const u = await registerUser();
    const newEmail = uniqueEmail("new");
    const env = { LOGIN_THROTTLE_FREE_FAILURES: "1" };
    for (let i = 0; i < 2; i++) {
      const wrong = await change(u.access_token, newEmail, "Not-The-Password-1", { env });
      expect(wrong.status).toBe(401);
      expect((await json(wrong)).code).toBe("invalid_current_password");
    }
    // The same per-account throttle as login: the owner's next login waits too.
    const login = await loginAs(u.email, PASSWORD, { env });
    expect(login.status).toBe(429);
    expect(await mailsTo(newEmail)).toHaveLength(0);
    expect(await mailsTo(u.email, "email_change_notice")).toHaveLength(0);
  });

  it("refuses the current address as the new one", async () => {
    const u = await registerUser();
    const res = await change(u.access_token, u.email.toUpperCase());
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: "validation_failed", issues: [{ path: "new_email" }] });
  });

  it("needs a session, and the confirm code of one account does nothing for another", async () => {
    expect((await change("", uniqueEmail())).status).toBe(401);
    const a = await registerUser();
    const b = await registerUser();
    const newEmail = uniqueEmail("new");
    await change(a.access_token, newEmail);
    const code = await changeCode(newEmail);
    const res = await confirm(b.access_token, code);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("invalid_otp");
    expect((await userRow(b.user.id)).email).toBe(b.email);
    expect((await confirm(a.access_token, code)).status).toBe(200);
  });
});

describe("a new address that belongs to another account", () => {
  it("answers 202 exactly as for a free address, mails nothing to it, and confirming fails like a wrong code", async () => {
    const clock = fakeClock();
    const opts = { now: clock.now };
    const u = await registerUser({}, opts);
    const other = await registerUser({}, opts);
    const freeEmail = uniqueEmail("free");
    const free = await change(u.access_token, freeEmail, PASSWORD, opts);
    const freeCode = await changeCode(freeEmail);
    clock.advance(PAST_RESEND);
    const taken = await change(u.access_token, other.email.toUpperCase(), PASSWORD, opts);
    expect(taken.status).toBe(202);
    expect(await taken.text()).toBe(await free.text());
    // Nothing reaches the taken address but its own registration mail; the current address is told both times.
    expect((await mailsTo(other.email)).map(tagOf)).toEqual(["email_verification"]);
    expect(await mailsTo(u.email, "email_change_notice")).toHaveLength(2);
    // The pending code for the free address was replaced, as by any new request, and the code for
    // the taken address went to no one: every guess is a wrong code.
    for (const guess of [freeCode, wrongCode(freeCode)]) {
      const res = await confirm(u.access_token, guess, opts);
      expect(res.status).toBe(400);
      expect((await json(res)).code).toBe("invalid_otp");
    }
    expect((await userRow(u.user.id)).email).toBe(u.email);
    expect((await userRow(other.user.id)).email).toBe(other.email);
    const rows = await auditRows(u.user.id);
    expect(rows.filter((r) => r.event === "email_change_requested" && r.detail?.purpose === "email_change").map((r) => r.detail)).toEqual([
      { purpose: "email_change", mail: "sent", mail_attempts: 1 },
      { purpose: "email_change", reason: "address_taken" },
    ]);
  });

  it("taken between request and confirm: the right code answers invalid_otp and nothing changes (the unique index decides)", async () => {
    const u = await userWithTwoSessions();
    const newEmail = uniqueEmail("race");
    await change(u.access_token, newEmail);
    const code = await changeCode(newEmail);
    const squatter = await registerUser({ email: newEmail });
    const res = await confirm(u.access_token, code);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("invalid_otp");
    expect((await userRow(u.user.id)).email).toBe(u.email);
    expect((await userRow(squatter.user.id)).email).toBe(newEmail);
    expect((await call("/auth/me", { token: u.other.access_token })).status).toBe(200);
    const rows = await auditRows(u.user.id);
    expect(rows.filter((r) => r.event === "email_change_failed").map((r) => r.detail)).toEqual([
      { purpose: "email_change", reason: "address_taken" },
    ]);
  });

  it("two accounts confirming the same new address at once: exactly one gets it", async () => {
    const [a, b] = [await registerUser(), await registerUser()];
    const target = uniqueEmail("contested");
    expect((await change(a.access_token, target)).status).toBe(202);
    expect((await change(b.access_token, target)).status).toBe(202);
    const [codeB, codeA] = (await mailsTo(target, "email_change")).map(codeIn); // newest first
    const answers = await Promise.all([confirm(a.access_token, codeA), confirm(b.access_token, codeB)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
    const loser = answers.find((r) => r.status === 400)!;
    expect((await json(loser)).code).toBe("invalid_otp");
    const emails = [(await userRow(a.user.id)).email, (await userRow(b.user.id)).email];
    expect(emails.filter((e) => e === target)).toHaveLength(1);
    expect(emails).toContain(answers[0].status === 200 ? b.email : a.email);
  });
});

describe("undo (revert) with the code sent to the previous address", () => {
  /** x -> new, confirmed, on a controlled clock: the user, the new address and the undo code. */
  async function changed(clock: ReturnType<typeof fakeClock>) {
    const opts = { now: clock.now };
    const u = await userWithTwoSessions(opts);
    const newEmail = uniqueEmail("new");
    expect((await change(u.access_token, newEmail, PASSWORD, opts)).status).toBe(202);
    const undo = await undoCode(u.email);
    expect((await confirm(u.access_token, await changeCode(newEmail), opts)).status).toBe(200);
    return { u, newEmail, undo, opts };
  }

  it("within 72 h restores the previous address, verified, and ends every session", async () => {
    const clock = fakeClock();
    const { u, newEmail, undo, opts } = await changed(clock);
    clock.advance(72 * HOUR - SEC);
    const res = await revert(u.email.toUpperCase(), undo, opts);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      status: "success",
      message: "Your previous email address is restored and every session was signed out. Reset your password now.",
    });
    const row = await userRow(u.user.id);
    expect(row.email).toBe(u.email);
    expect(row.email_verified_at).toBeInstanceOf(Date);
    expect((await call("/auth/me", { token: u.access_token, ...opts })).status).toBe(401);
    expect((await loginAs(newEmail, PASSWORD, opts)).status).toBe(401);
    expect((await loginAs(u.email, PASSWORD, opts)).status).toBe(200);
    const [restored] = await mailsTo(u.email, "email_reverted");
    expect(restored.text).toMatch(/reset it now/);
    const rows = await auditRows(u.user.id);
    expect(rows.filter((r) => r.event === "email_change_reverted").map((r) => r.detail)).toEqual([
      { sessions_ended: 1, ways_in_removed: 0 },
    ]);
    expect((await json(await revert(u.email, undo, opts))).code).toBe("otp_used");
  });

  it("after 72 h fails and changes nothing", async () => {
    const clock = fakeClock();
    const { u, newEmail, undo, opts } = await changed(clock);
    clock.advance(72 * HOUR);
    const res = await revert(u.email, undo, opts);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("otp_expired");
    expect((await userRow(u.user.id)).email).toBe(newEmail);
    expect((await loginAs(newEmail, PASSWORD, opts)).status).toBe(200);
  });

  it("before the confirm, cancels the pending change", async () => {
    const u = await registerUser();
    const newEmail = uniqueEmail("new");
    await change(u.access_token, newEmail);
    const code = await changeCode(newEmail);
    expect((await revert(u.email, await undoCode(u.email))).status).toBe(200);
    expect((await call("/auth/me", { token: u.access_token })).status).toBe(401);
    const again = await login(u.email);
    const res = await confirm(again.access_token, code);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("invalid_otp");
    expect((await userRow(u.user.id)).email).toBe(u.email);
  });

  it("survives later changes and wrong guesses: whoever changes the address cannot take the way back away", async () => {
    const clock = fakeClock();
    const { u, newEmail, undo, opts } = await changed(clock);
    // A further change from the new address: no undo code goes to it; the first one is kept and extended.
    clock.advance(48 * HOUR);
    const session = await login(newEmail, PASSWORD, opts);
    const third = uniqueEmail("third");
    expect((await change(session.access_token, third, PASSWORD, opts)).status).toBe(202);
    const [toCurrent] = await mailsTo(newEmail, "email_change_notice");
    expect(toCurrent.text).not.toMatch(/code is:/);
    const [toFirst] = await mailsTo(u.email, "email_change_notice");
    expect(toFirst.text).toContain(third);
    expect(toFirst.text).not.toMatch(/code is:/);
    expect(toFirst.text).toMatch(/earlier email .* now works until/);
    expect((await confirm(session.access_token, await changeCode(third), opts)).status).toBe(200);
    // Wrong guesses (waiting out each account delay) do not end it either.
    for (let i = 1; i <= 8; i++) {
      const res = await revert(u.email, wrongCode(undo, i), opts);
      expect(res.status, `guess ${i}`).toBe(400);
      expect((await json(res)).code).toBe("invalid_otp");
      clock.advance(20 * 60 * SEC);
    }
    // 48 h after the first change, plus the guesses, is past its first 72 h: extended by the later request.
    clock.advance(24 * HOUR);
    expect((await revert(u.email, undo, opts)).status).toBe(200);
    expect((await userRow(u.user.id)).email).toBe(u.email);
  });

  it("when the previous address was taken meanwhile: 409 email_revert_conflict, nothing changes, and the code works once it is free", async () => {
    const clock = fakeClock();
    const { u, newEmail, undo, opts } = await changed(clock);
    const squatter = await registerUser({ email: u.email }, opts);
    const res = await revert(u.email, undo, opts);
    expect(res.status).toBe(409);
    expect((await json(res)).code).toBe("email_revert_conflict");
    expect((await userRow(u.user.id)).email).toBe(newEmail);
    expect((await call("/auth/me", { token: u.access_token, ...opts })).status).toBe(200);
    // Support (or the squatter) frees the address; the same undo code then works. (The send
    // throttle is the address's: u's request from it a moment ago still counts.)
    clock.advance(PAST_RESEND);
    const elsewhere = uniqueEmail("elsewhere");
    expect((await change(squatter.access_token, elsewhere, PASSWORD, opts)).status).toBe(202);
    expect((await confirm(squatter.access_token, await changeCode(elsewhere), opts)).status).toBe(200);
    expect((await revert(u.email, undo, opts)).status).toBe(200);
    expect((await userRow(u.user.id)).email).toBe(u.email);
    const rows = await auditRows(u.user.id);
    expect(rows.filter((r) => r.event === "email_change_revert_failed").map((r) => r.detail)).toEqual([
      { purpose: "email_change_revert", reason: "address_taken" },
    ]);
  });

  it("an address with no undo code is answered like a wrong code", async () => {
    const res = await revert(uniqueEmail("nobody"), "123456");
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("invalid_otp");
  });
});

describe("code attack limits for email change", () => {
  it("40 confirm guesses in flight at once: at most OTP_MAX_ATTEMPTS are compared", async () => {
    const env = { OTP_FREE_FAILURES: "50" };
    const u = await registerUser({}, { env });
    const newEmail = uniqueEmail("new");
    await change(u.access_token, newEmail, PASSWORD, { env });
    const code = await changeCode(newEmail);
    const position = 23;
    const guesses = Array.from({ length: 40 }, (_, i) => (i === position ? code : wrongCode(code, i + 1)));
    const answers = await Promise.all(guesses.map((g) => confirm(u.access_token, g, { env })));
    const rows = (await auditRows(u.user.id)).filter((r) => r.event === "email_change_failed" || r.event === "email_changed");
    expect(rows).toHaveLength(40);
    const compared = rows.filter((r) => r.detail?.attempt !== undefined);
    expect(compared.length).toBeLessThanOrEqual(5);
    expect(new Set(compared.map((r) => r.detail.attempt)).size).toBe(compared.length);
    const won = answers[position].status === 200;
    expect(answers.filter((a) => a.status === 200)).toHaveLength(won ? 1 : 0);
    expect((await userRow(u.user.id)).email).toBe(won ? newEmail : u.email);
  });

  it("undo codes are not ended by wrong guesses in flight at once, and the per-account budget still applies", async () => {
    const env = { OTP_FREE_FAILURES: "50" };
    const u = await registerUser({}, { env });
    await change(u.access_token, uniqueEmail("new"), PASSWORD, { env });
    const undo = await undoCode(u.email);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => revert(u.email, wrongCode(undo, i + 1), { env })));
    for (const a of answers) expect((await json(a)).code).toBe("invalid_otp");
    const rows = (await auditRows(u.user.id)).filter((r) => r.event === "email_change_revert_failed");
    expect(rows.map((r) => r.detail.attempt).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((await revert(u.email, undo, { env })).status).toBe(200);
    // With the default budget (5 free failures) the next wrong guess must wait.
    const v = await registerUser();
    await change(v.access_token, uniqueEmail("new"));
    const code = await undoCode(v.email);
    for (let i = 1; i <= 5; i++) expect((await revert(v.email, wrongCode(code, i))).status).toBe(400);
    const early = await revert(v.email, code);
    expect(early.status).toBe(429);
    expect((await userRow(v.user.id)).email).toBe(v.email);
  });
});
