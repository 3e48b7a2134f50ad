import { describe, expect, it } from "vitest";
import { createAdmin } from "../../../scripts/ops/create-admin-db.ts";
import { loginAs, PASSWORD, registerUser, uniqueEmail, verifyAndLogIn } from "../../support/accounts";
import { adminCall } from "../../support/admin";
import { DAY, fakeClock } from "../../support/clock";
import { auditRows, db, userRow } from "../../support/db";
import { base32Decode, codeAt, mfaToken, verify } from "../../support/mfa";
import { call, json } from "../../support/worker";

/**
 * The first admin: `npm run create-admin` (the same code, scripts/ops/create-admin-db.ts, run here
 * against the test database) makes the account and prints a setup token; the setup then happens
 * over HTTP: set the password with the token, log in (enrollment only), enroll MFA, log in with it.
 */
const ADMIN_PASSWORD = "An admin's long passphrase 42";

async function runCreateAdmin(options: Parameters<typeof createAdmin>[1]) {
  const sql = db();
  try {
    return await createAdmin(sql, options);
  } finally {
    await sql.end();
  }
}

describe("first admin setup", () => {
  it("create-admin, then set the password with the token, enroll MFA and reach the admin API", async () => {
    const clock = fakeClock();
    const email = uniqueEmail("first-admin");
    const made = await runCreateAdmin({ email, name: "First Admin", now: clock.now() });
    expect(made).toMatchObject({ created: true, email });
    expect(made.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const row = await userRow(made.id);
    expect(row).toMatchObject({ role: "admin", status: "active", full_name: "First Admin" });
    // No password works before the setup.
    expect((await loginAs(email, "")).status).toBe(400);
    expect((await loginAs(email, "!")).status).toBe(401);

    const setup = (token: string, new_password = ADMIN_PASSWORD) =>
      call("/auth/account/setup", { body: { token, new_password }, now: clock.now });
    expect((await setup(made.token, "password")).status).toBe(400); // too common: the token is not spent
    const done = await setup(made.token);
    expect(done.status, await done.clone().text()).toBe(200);
    // Works once.
    const again = await setup(made.token);
    expect(again.status).toBe(400);
    expect((await json(again)).code).toBe("setup_token_invalid");

    // The first session may only enroll (REQUIRE_MFA_ROLES includes admin).
    const first = await json(await loginAs(email, ADMIN_PASSWORD, { now: clock.now }));
    const refused = await adminCall("/users", first.access_token, clock);
    expect((await json(refused)).code).toBe("mfa_enrollment_required");
    const enroll = await json(await call("/auth/mfa/totp/enroll", { method: "POST", token: first.access_token, now: clock.now }));
    const secret = base32Decode(enroll.secret);
    const confirmed = await call("/auth/mfa/totp/confirm", {
      body: { code: await codeAt(secret, clock), current_password: ADMIN_PASSWORD },
      token: first.access_token,
      now: clock.now,
    });
    expect(confirmed.status).toBe(200);
    clock.advance(30_000);
    const token = await mfaToken(email, clock, ADMIN_PASSWORD);
    const signedIn = await json(await verify({ mfa_token: token, code: await codeAt(secret, clock) }, clock));
    const list = await adminCall("/users?limit=1", signedIn.access_token, clock);
    expect(list.status).toBe(200);

    const events = (await auditRows(made.id)).map((r) => [r.event, r.outcome]);
    expect(events).toEqual(
      expect.arrayContaining([
        ["admin_granted", "success"],
        ["admin_setup_completed", "success"],
      ]),
    );
    const granted = (await auditRows(made.id)).find((r) => r.event === "admin_granted");
    expect(granted?.detail).toEqual({ via: "create-admin", created: true, role_from: null, reactivated: false });
  });

  it("promotes an existing account only when its address is verified and --existing is passed", async () => {
    const clock = fakeClock();
    const squatted = await registerUser({ role: "student" }, { now: clock.now });
    // Whoever registered an address first may not own the mailbox: never promoted, with or without --existing.
    await expect(runCreateAdmin({ email: squatted.email, now: clock.now() })).rejects.toThrow(/never verified.*--existing/);
    await expect(runCreateAdmin({ email: squatted.email, existing: true, now: clock.now() })).rejects.toThrow(/never verified/);
    expect((await userRow(squatted.user.id)).role).toBe("student");
    await verifyAndLogIn(squatted, { now: clock.now });
    await expect(runCreateAdmin({ email: squatted.email, now: clock.now() })).rejects.toThrow(/run again with --existing/);
    expect((await userRow(squatted.user.id)).role).toBe("student");
    expect(await runCreateAdmin({ email: squatted.email, existing: true, now: clock.now() })).toMatchObject({ created: false });
    expect((await userRow(squatted.user.id)).role).toBe("admin");
  });

  it("promotes an existing account; its setup token expires, and a wrong or used one is refused", async () => {
    const clock = fakeClock();
    const user = await registerUser({ role: "instructor" }, { now: clock.now });
    await verifyAndLogIn(user, { now: clock.now });
    const made = await runCreateAdmin({ email: user.email.toUpperCase(), existing: true, now: clock.now(), ttlSeconds: 3600 });
    expect(made).toMatchObject({ created: false, id: user.user.id, previousRole: "instructor" });
    expect((await userRow(user.user.id)).role).toBe("admin");
    // Its password still works; the next request must enroll MFA.
    const session = await json(await loginAs(user.email, PASSWORD, { now: clock.now }));
    expect((await json(await adminCall("/users", session.access_token, clock))).code).toBe("mfa_enrollment_required");

    const wrong = await call("/auth/account/setup", { body: { token: "A".repeat(43), new_password: ADMIN_PASSWORD }, now: clock.now });
    expect((await json(wrong)).code).toBe("setup_token_invalid");
    clock.advance(DAY);
    const late = await call("/auth/account/setup", { body: { token: made.token, new_password: ADMIN_PASSWORD }, now: clock.now });
    expect(late.status).toBe(400);
    expect((await json(late)).code).toBe("setup_token_invalid");
    expect((await loginAs(user.email, ADMIN_PASSWORD, { now: clock.now })).status).toBe(401);
  });

  it("the token works exactly once when sent many times at once", async () => {
    const clock = fakeClock();
    const made = await runCreateAdmin({ email: uniqueEmail("race"), now: clock.now() });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call("/auth/account/setup", { body: { token: made.token, new_password: `${ADMIN_PASSWORD} ${i}` }, now: clock.now }),
      ),
    );
    const ok = results.flatMap((r, i) => (r.status === 200 ? [i] : []));
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => r.status === 400)).toHaveLength(19);
    // The password set is the winner's.
    expect((await loginAs(made.email, `${ADMIN_PASSWORD} ${ok[0]}`, { now: clock.now })).status).toBe(200);
  });

  it("a new token replaces the previous one, and an account being deleted cannot be made admin", async () => {
    const clock = fakeClock();
    const email = uniqueEmail("twice");
    const one = await runCreateAdmin({ email, now: clock.now() });
    const two = await runCreateAdmin({ email, now: clock.now() });
    expect(two.id).toBe(one.id);
    const old = await call("/auth/account/setup", { body: { token: one.token, new_password: ADMIN_PASSWORD }, now: clock.now });
    expect((await json(old)).code).toBe("setup_token_invalid");
    expect((await call("/auth/account/setup", { body: { token: two.token, new_password: ADMIN_PASSWORD }, now: clock.now })).status).toBe(
      200,
    );

    const leaving = await registerUser({}, { now: clock.now });
    const sql = db();
    await sql`update users set status = 'deletion_pending' where id = ${leaving.user.id}`;
    await sql.end();
    await expect(runCreateAdmin({ email: leaving.email })).rejects.toThrow(/being deleted/);
    expect((await userRow(leaving.user.id)).role).toBe("student");
  });
});
