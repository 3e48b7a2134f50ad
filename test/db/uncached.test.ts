import { describe, expect, it } from "vitest";
import { PASSWORD, registerUser, uniqueEmail, wrongCode } from "../support/accounts";
import { adminAccount, adminCall } from "../support/admin";
import { fakeClock } from "../support/clock";
import { withDb } from "../support/db";
import { codeIn, latestCode, mailsTo } from "../support/mail";
import { exchangeCall, nativeToken, redirectResult, socialLogin, uniqueSub, webFlowUntilCallback } from "../support/oidc";
import { call, json, recordStatements } from "../support/worker";

/**
 * Nothing that decides access is ever read from Hyperdrive's query cache (src/db/client.ts
 * UNCACHED). Hyperdrive never caches mutating queries, nor queries using functions PostgreSQL
 * marks volatile or stable. This records every statement the Worker sends through the main flows
 * and checks each read of an access-deciding table is a write or selects a volatile function.
 * (Local Hyperdrive has no cache, so this checks the statements themselves.)
 */
const ACCESS_TABLES =
  /"?(users|auth_sessions|auth_refresh_tokens|auth_throttles|auth_one_time_codes|auth_identities|auth_oauth_states|auth_oauth_exchange_codes)"?/i;
const MUTATING = /^\s*(insert|update|delete)\b|\b(insert\s+into|update\s+"?\w+"?\s+(as\s+\w+\s+)?set|delete\s+from)\b/i;
const CONTROL = /^\s*(begin|commit|rollback|savepoint|release|set\s)/i;

describe("Hyperdrive's query cache", () => {
  it("clock_timestamp() is volatile (pg_proc), so a query selecting it is never cached", async () => {
    const [row] = await withDb((sql) => sql`select provolatile from pg_proc where proname = 'clock_timestamp'`);
    expect(row.provolatile).toBe("v");
  });

  it("every read of login state, throttles, sessions, refresh tokens, codes and accounts is a write or uncacheable", async () => {
    const statements = await recordStatements(async () => {
      const u = await registerUser();
      expect((await call("/auth/login", { body: { email: u.email, password: "Wrong-Password-1x" } })).status).toBe(401);
      const logged = await json(await call("/auth/login", { body: { email: u.email, password: PASSWORD } }));
      expect((await call("/auth/me", { token: logged.access_token })).status).toBe(200);
      expect((await call("/auth/sessions", { token: logged.access_token })).status).toBe(200);
      const refreshed = await json(await call("/auth/refresh", { body: { refresh_token: logged.refresh_token } }));
      expect((await call("/auth/forgot-password", { body: { email: u.email } })).status).toBe(200);
      const otp = await latestCode(u.email, /reset/);
      await call("/auth/reset-password", { body: { email: u.email, otp: wrongCode(otp), new_password: "Fresh-Passw0rd-One!" } });
      await call("/auth/reset-password", { body: { email: u.email, otp, new_password: "Fresh-Passw0rd-One!" } });
      await call("/auth/reset-password", { body: { email: u.email, otp, new_password: "Fresh-Passw0rd-Two!" } }); // used
      const again = await json(await call("/auth/login", { body: { email: u.email, password: "Fresh-Passw0rd-One!" } }));
      await call("/auth/change-password", {
        token: again.access_token,
        body: { current_password: "Fresh-Passw0rd-One!", new_password: "Fresh-Passw0rd-Three!" },
      });
      const form = new FormData();
      form.set("full_name", "Renamed");
      await call("/auth/update-profile", { method: "POST", body: form, token: refreshed.access_token });
      await call("/auth/logout", { method: "POST", token: again.access_token });
    });
    const reads = statements.filter((q) => ACCESS_TABLES.test(q) && !MUTATING.test(q) && !CONTROL.test(q));
    expect(statements.length).toBeGreaterThan(20);
    expect(reads.length).toBeGreaterThan(3);
    const cacheable = reads.filter((q) => !/clock_timestamp\(\)/i.test(q));
    expect(cacheable, "reads that Hyperdrive could answer from its cache").toEqual([]);
  });
  it("so is every read of social sign-in: identities, states, exchange codes, the accounts they lead to", async () => {
    const statements = await recordStatements(async () => {
      const email = uniqueEmail("uncached-social");
      const first = await socialLogin("google", { sub: uniqueSub("uc"), email });
      await socialLogin("google", { sub: uniqueSub("uc"), email }); // a second identity, linked by verified email
      const owner = await registerUser();
      const session = await json(await call("/auth/login", { body: { email: owner.email, password: PASSWORD } }));
      await call("/auth/oauth/apple/link", {
        token: session.access_token,
        body: await nativeToken("apple", { sub: uniqueSub("uc"), email }),
      });
      await call("/auth/identities", { token: first.access_token });
      const [one] = (await json(await call("/auth/identities", { token: first.access_token }))).identities;
      await call(`/auth/identities/${one.id}`, { method: "DELETE", token: first.access_token });
      const { callback } = await webFlowUntilCallback(
        "google",
        { sub: uniqueSub("uc"), email: uniqueEmail("uc-web") },
        { redirect_to: "https://app.test/oauth/done" },
      );
      await exchangeCall({ code: redirectResult(callback, "https://app.test/oauth/done").code });
    });
    const reads = statements.filter((q) => ACCESS_TABLES.test(q) && !MUTATING.test(q) && !CONTROL.test(q));
    expect(reads.filter((q) => /auth_identities/.test(q)).length).toBeGreaterThan(2);
    expect(
      reads.filter((q) => !/clock_timestamp\(\)/i.test(q)),
      "reads that Hyperdrive could answer from its cache",
    ).toEqual([]);
  });

  it("so is every read of the admin API, account deletion, restore and export", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const statements = await recordStatements(async () => {
      const u = await registerUser({}, { now: clock.now });
      expect((await adminCall(`/users?q=${encodeURIComponent(u.email)}`, admin.token, clock)).status).toBe(200);
      expect((await adminCall(`/users/${u.user.id}`, admin.token, clock)).status).toBe(200);
      expect((await adminCall(`/users/${u.user.id}`, admin.token, clock, { method: "PATCH", body: { role: "instructor" } })).status).toBe(
        200,
      );
      expect((await adminCall(`/users/${u.user.id}/revoke-sessions`, admin.token, clock, { method: "POST" })).status).toBe(200);
      const again = await json(await call("/auth/login", { body: { email: u.email, password: PASSWORD }, now: clock.now }));
      expect((await call("/auth/account/export", { token: again.access_token, now: clock.now })).status).toBe(200);
      const del = await call("/auth/account", {
        method: "DELETE",
        token: again.access_token,
        body: { current_password: PASSWORD },
        now: clock.now,
      });
      expect(del.status).toBe(202);
      const code = codeIn((await mailsTo(u.email, "account_deletion"))[0]);
      expect((await call("/auth/account/restore", { body: { email: u.email, code }, now: clock.now })).status).toBe(200);
    });
    const reads = statements.filter((q) => ACCESS_TABLES.test(q) && !MUTATING.test(q) && !CONTROL.test(q));
    expect(reads.length).toBeGreaterThan(5);
    const cacheable = reads.filter((q) => !/clock_timestamp\(\)/i.test(q));
    expect(cacheable, "reads that Hyperdrive could answer from its cache").toEqual([]);
  });
});
