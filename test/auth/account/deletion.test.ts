import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { login, loginAs, me, PASSWORD, refresh, registerUser, uniqueEmail, wrongCode } from "../../support/accounts";
import { file, fixture, listKeys, upload } from "../../support/avatars";
import { DAY, fakeClock, MIN } from "../../support/clock";
import { auditRows, userRow, withDb } from "../../support/db";
import { codeIn, mailsTo } from "../../support/mail";
import { codeAt, loginWithMfa, mfaAccount, mfaToken, verify } from "../../support/mfa";
import { socialLogin, uniqueSub } from "../../support/oidc";
import { type CallOptions, call, json, runScheduled } from "../../support/worker";

type Clock = ReturnType<typeof fakeClock>;

/** Another service's table with a foreign key to users.id, as the platform's services have. */
const OTHER = `other_service_enrollments_${crypto.randomUUID().slice(0, 8)}`;
beforeAll(() =>
  withDb((sql) => sql.unsafe(`create table ${OTHER} (id bigserial primary key, user_id uuid not null references users(id))`)),
);
afterAll(() => withDb((sql) => sql.unsafe(`drop table ${OTHER}`)));

const deleteAccount = (token: string, body: Record<string, unknown>, opts: CallOptions = {}) =>
  call("/auth/account", { method: "DELETE", token, body, ...opts });

/** The restore code of the newest deletion mail to `email`. */
async function restoreCode(email: string) {
  const [mail] = await mailsTo(email, "account_deletion");
  expect(mail, `a deletion mail to ${email}`).toBeDefined();
  expect(mail.subject).not.toMatch(/\d{6}/);
  return codeIn(mail);
}

const restore = (email: string, code: string, clock: Clock) => call("/auth/account/restore", { body: { email, code }, now: clock.now });

describe("DELETE /auth/account", () => {
  it("needs a recent login and the current password", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    clock.advance(11 * MIN);
    const stale = await deleteAccount(u.access_token, { current_password: PASSWORD }, { now: clock.now });
    expect(stale.status).toBe(403);
    expect((await json(stale)).code).toBe("recent_login_required");
    const fresh = await login(u.email, PASSWORD, { now: clock.now });
    const none = await deleteAccount(fresh.access_token, {}, { now: clock.now });
    expect(none.status).toBe(400);
    expect((await json(none)).issues[0].path).toBe("current_password");
    const wrong = await deleteAccount(fresh.access_token, { current_password: "Not-the-password-1" }, { now: clock.now });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).code).toBe("invalid_current_password");
    expect((await userRow(u.user.id)).status).toBe("active");
    expect(await me(fresh.access_token, { now: clock.now })).toBe(200);
  });

  it("an account without a password (social sign-in only) confirms with a code mailed to its address, never with a fresh session alone", async () => {
    const clock = fakeClock();
    const opts = { now: clock.now };
    const email = uniqueEmail("social-delete");
    const signedIn = await socialLogin("google", { sub: uniqueSub("del"), email, email_verified: true }, opts);
    const id = signedIn.user.id;
    const token = signedIn.access_token;
    expect((await userRow(id)).password).toMatch(/^!/);
    // A session a minute old, as a stolen token would be: it only gets a code mailed to the owner.
    const first = await deleteAccount(token, {}, opts);
    expect(first.status).toBe(403);
    expect((await json(first)).code).toBe("deletion_code_required");
    const mails = await mailsTo(email, "account_deletion_code");
    expect(mails).toHaveLength(1);
    expect(mails[0].subject).not.toMatch(/\d{6}/);
    const code = codeIn(mails[0]);
    // Asked again at once: the send throttle of every mailed code, and no second mail.
    const again = await deleteAccount(token, {}, opts);
    expect(again.status).toBe(429);
    expect(again.headers.get("retry-after")).toMatch(/^\d+$/);
    // A wrong code deletes nothing.
    const wrong = await deleteAccount(token, { code: wrongCode(code) }, opts);
    expect((await json(wrong)).code).toBe("invalid_otp");
    expect((await userRow(id)).status).toBe("active");
    expect(await me(token, opts)).toBe(200);
    // The mailed code schedules the deletion, once.
    const ok = await deleteAccount(token, { code }, opts);
    expect(ok.status).toBe(202);
    expect((await userRow(id)).status).toBe("deletion_pending");
    expect(await restoreCode(email)).toMatch(/^\d{6}$/);
    expect(await me(token, opts)).toBe(401);
    const events = (await auditRows(id)).map((r) => [r.event, r.outcome, r.detail?.reason ?? null]);
    expect(events).toEqual(
      expect.arrayContaining([
        ["deletion_code_requested", "success", null],
        ["deletion_code_failed", "failure", "wrong_code"],
        ["account_deletion_requested", "success", null],
      ]),
    );
  });

  it("with MFA on, also a second-factor code; an MFA step started before the deletion is refused after it", async () => {
    const clock = fakeClock();
    const account = await mfaAccount(clock);
    const session = await loginWithMfa(account, clock);
    const pendingStep = await mfaToken(account.user.email, clock);
    const noCode = await deleteAccount(session.access_token, { current_password: PASSWORD }, { now: clock.now });
    expect((await json(noCode)).code).toBe("mfa_code_required");
    const ok = await deleteAccount(
      session.access_token,
      { current_password: PASSWORD, mfa_code: await codeAt(account.secret, clock) },
      { now: clock.now },
    );
    expect(ok.status).toBe(202);
    clock.advance(30_000);
    const res = await verify({ mfa_token: pendingStep, code: await codeAt(account.secret, clock) }, clock);
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe("account_deletion_pending");
  });

  it("ends every session, refuses sign-in, restores within the grace period, and anonymises after it", async () => {
    const clock = fakeClock();
    const u = await registerUser({ full_name: "Dana Delete" }, { now: clock.now });
    const image = await fixture({ kind: "photo", format: "png", width: 16, height: 16 });
    const uploaded = await upload(u.access_token, file(image, "me.png"), { now: clock.now });
    expect(uploaded.status).toBe(200);
    const avatarKeys = await listKeys(`avatars/${u.user.id}/`);
    expect(avatarKeys.length).toBeGreaterThan(0);
    const second = await login(u.email, PASSWORD, { now: clock.now, headers: { "user-agent": "Dana's Phone" } });
    await withDb((sql) => sql.unsafe(`insert into ${OTHER} (user_id) values ($1)`, [u.user.id]));

    // Request: 202, every session over, sign-in refused (after the password check only).
    const res = await deleteAccount(u.access_token, { current_password: PASSWORD }, { now: clock.now });
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body.deletion_due_at).toBe(new Date(clock.now().getTime() + 14 * DAY).toISOString());
    for (const t of [u.access_token, second.access_token]) expect(await me(t, { now: clock.now })).toBe(401);
    for (const t of [u.refresh_token, second.refresh_token]) expect((await refresh(t, { now: clock.now })).status).toBe(401);
    const refused = await loginAs(u.email, PASSWORD, { now: clock.now });
    expect(refused.status).toBe(403);
    expect((await json(refused)).code).toBe("account_deletion_pending");
    expect((await loginAs(u.email, "Not-the-password-1", { now: clock.now })).status).toBe(401);
    expect(await userRow(u.user.id)).toMatchObject({ status: "deletion_pending" });

    // Restore within the grace period (a wrong code first).
    const code = await restoreCode(u.email);
    const wrong = await restore(u.email, String((Number(code) + 1) % 1_000_000).padStart(6, "0"), clock);
    expect((await json(wrong)).code).toBe("invalid_otp");
    clock.advance(13 * DAY);
    expect((await restore(u.email, code, clock)).status).toBe(200);
    expect(await userRow(u.user.id)).toMatchObject({ status: "active", deletion_due_at: null });
    expect((await restore(u.email, code, clock)).status).toBe(400); // used
    const back = await login(u.email, PASSWORD, { now: clock.now });

    // Delete again and let the grace period pass: the purge anonymises the row.
    expect((await deleteAccount(back.access_token, { current_password: PASSWORD }, { now: clock.now })).status).toBe(202);
    const code2 = await restoreCode(u.email);
    const beforeRow = await userRow(u.user.id);
    // A linked Google identity (social sign-in) must not stay a way back into the account.
    await withDb(
      (sql) => sql`insert into auth_identities (id, provider, subject, user_id, email, email_verified, created_at, last_used_at)
        values (${crypto.randomUUID()}, 'google', ${`sub-${u.user.id}`}, ${u.user.id}, ${u.email}, true, now(), now())`,
    );
    // The sweep of unreferenced avatars only takes objects older than 30 days here: the purge's own delete is what is tested.
    const env = { AVATAR_ORPHAN_MIN_AGE: "30d" };
    clock.advance(14 * DAY - MIN);
    await runScheduled({ now: clock.now, env });
    expect((await userRow(u.user.id)).status).toBe("deletion_pending");
    clock.advance(2 * MIN);
    await runScheduled({ now: clock.now, env });

    const row = await userRow(u.user.id);
    expect(row).toMatchObject({
      id: u.user.id,
      email: `deleted+${u.user.id}@invalid`,
      full_name: "Deleted user",
      avatar: null,
      email_verified_at: null,
      status: "deleted",
      role: beforeRow.role,
      created_at: beforeRow.created_at,
    });
    expect(row.password).toMatch(/^!/);
    expect(row.password).not.toBe(beforeRow.password);
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
    const left = await withDb(
      (sql) => sql`select
        (select count(*)::int from auth_sessions where user_id = ${u.user.id}) as sessions,
        (select count(*)::int from auth_one_time_codes where user_id = ${u.user.id}) as codes,
        (select count(*)::int from auth_mfa_factors where user_id = ${u.user.id}) as factors,
        (select count(*)::int from auth_mfa_recovery_codes where user_id = ${u.user.id}) as recovery,
        (select count(*)::int from auth_identities where user_id = ${u.user.id}) as identities`,
    );
    expect(left[0]).toEqual({ sessions: 0, codes: 0, factors: 0, recovery: 0, identities: 0 });
    // Another service's reference still resolves, to the anonymised row.
    const joined = await withDb((sql) =>
      sql.unsafe(`select u.email from ${OTHER} o join users u on u.id = o.user_id where o.user_id = $1`, [u.user.id]),
    );
    expect(joined).toEqual([{ email: `deleted+${u.user.id}@invalid` }]);
    // Its audit rows keep the id and the history, without address, device or personal details.
    const audit = await auditRows(u.user.id);
    expect(audit.length).toBeGreaterThan(5);
    expect(audit.filter((r) => r.ip !== null || r.user_agent !== null)).toEqual([]);
    expect(audit.map((r) => r.event)).toEqual(
      expect.arrayContaining(["registered", "account_deletion_requested", "account_restored", "account_anonymised"]),
    );
    const dump = JSON.stringify(audit);
    expect(dump).not.toContain("Dana");
    expect(dump).not.toContain(u.email);

    // Nothing signs in to it, and its restore code is gone with its address.
    expect((await loginAs(u.email, PASSWORD, { now: clock.now })).status).toBe(401);
    expect((await restore(u.email, code2, clock)).status).toBe(400);
    // The address is free for a new account.
    expect((await registerUser({ email: u.email }, { now: clock.now })).user.id).not.toBe(u.user.id);
  });

  it("a restore code after the grace period has expired, even before the purge ran", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    await deleteAccount(u.access_token, { current_password: PASSWORD }, { now: clock.now });
    const code = await restoreCode(u.email);
    clock.advance(14 * DAY + MIN);
    const late = await restore(u.email, code, clock);
    expect((await json(late)).code).toBe("otp_expired");
    expect((await userRow(u.user.id)).status).toBe("deletion_pending");
  });
});
