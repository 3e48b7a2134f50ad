// What the database holds: never a TOTP secret or a recovery code in clear, in any encoding.
import { describe, expect, it } from "vitest";
import { b64url, hex } from "../../../src/lib/encoding";
import { PASSWORD, registerUser, verifyAndLogIn } from "../../support/accounts";
import { DAY, fakeClock, MIN } from "../../support/clock";
import { dumpDatabase, withDb } from "../../support/db";
import { codeAt, loginWithMfa, mfaAccount, mfaToken } from "../../support/mfa";
import { call, json, runScheduled } from "../../support/worker";

/** Every way a secret's bytes could be written down. */
function spellings(bytes: Uint8Array, base32: string): string[] {
  const raw = String.fromCharCode(...bytes);
  const b64 = btoa(raw);
  return [
    raw,
    base32,
    base32.toLowerCase(),
    hex(bytes),
    hex(bytes).toUpperCase(),
    b64,
    b64.replace(/=+$/, ""),
    b64url(bytes),
    `\\x${hex(bytes)}`,
  ];
}

describe("MFA storage", () => {
  it("the database never holds the secret or a recovery code in clear", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    // Use a code, replace the set, and keep the new one too: all of it goes through the tables.
    const session = await loginWithMfa(a, clock);
    const res = await call("/auth/mfa/recovery-codes", {
      body: { code: await codeAt(a.secret, clock), current_password: PASSWORD },
      token: session.access_token,
      now: clock.now,
    });
    const fresh: string[] = (await json(res)).recovery_codes;
    expect(fresh).toHaveLength(10);

    const dump = await dumpDatabase();
    expect(dump).toContain(a.user.user.id); // the dump does cover this account's rows
    expect(dump).toMatch(/auth_mfa_factors: .*v1\./);
    const lower = dump.toLowerCase();
    for (const s of spellings(a.secret, a.secretBase32)) expect(dump.includes(s), `secret as ${s}`).toBe(false);
    for (const code of [...a.recoveryCodes, ...fresh]) {
      for (const s of [code, code.replace(/-/g, "")]) expect(lower.includes(s), `recovery code ${s}`).toBe(false);
    }

    // What is stored: an AES-GCM sealed secret and 64-hex-digit keyed hashes.
    const [factor] = await withDb((sql) => sql`select secret from auth_mfa_factors where user_id = ${a.user.user.id}`);
    expect(factor.secret).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    const hashes = await withDb((sql) => sql`select code_hash from auth_mfa_recovery_codes where user_id = ${a.user.user.id}`);
    expect(hashes).toHaveLength(10);
    for (const h of hashes) expect(h.code_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("the purge removes used and expired mfa_tokens and enrollments never confirmed, and keeps active factors", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    await loginWithMfa(a, clock); // a used challenge
    await mfaToken(a.user.email, clock); // one left to expire
    const pending = await registerUser({}, { now: clock.now });
    await verifyAndLogIn(pending, { now: clock.now });
    expect((await call("/auth/mfa/totp/enroll", { method: "POST", token: pending.access_token, now: clock.now })).status).toBe(200);
    const count = () =>
      withDb(
        async (sql) =>
          (
            await sql`select (select count(*)::int from auth_mfa_challenges where user_id = ${a.user.user.id}) as challenges,
                             (select count(*)::int from auth_mfa_factors where user_id = ${a.user.user.id}) as active,
                             (select count(*)::int from auth_mfa_factors where user_id = ${pending.user.id}) as pending`
          )[0],
      );
    expect(await count()).toEqual({ challenges: 2, active: 1, pending: 1 });
    clock.advance(6 * MIN);
    await runScheduled({ now: clock.now });
    expect(await count()).toEqual({ challenges: 0, active: 1, pending: 1 });
    clock.advance(DAY);
    await runScheduled({ now: clock.now });
    expect(await count()).toEqual({ challenges: 0, active: 1, pending: 0 });
  });
});
