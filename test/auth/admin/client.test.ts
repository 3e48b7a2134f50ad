import { describe, expect, it } from "vitest";
import { createClient } from "../../../src/client";
import { PASSWORD, registerUser } from "../../support/accounts";
import { adminAccount } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { call } from "../../support/worker";

/** The typed client (src/client.ts) reaches the admin and account routes with checked paths, bodies and answers. */
describe("typed client: admin and account routes", () => {
  it("lists, suspends and reads an account as an admin; the account deletes itself", async () => {
    const clock = fakeClock();
    const viaWorker: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      const url = new URL(req.url);
      const body = req.body ? await req.text() : undefined;
      return call(`${url.pathname}${url.search}`, { method: req.method, headers: Object.fromEntries(req.headers), body, now: clock.now });
    };
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const api = createClient("http://auth.test", { fetch: viaWorker, token: admin.token });

    const list = await api.auth.admin.users.$get({ query: { q: user.email, limit: "5" } });
    expect(list.status).toBe(200);
    if (list.status !== 200) throw new Error("list failed");
    const page = await list.json();
    expect(page.users.map((u) => u.id)).toEqual([user.user.id]);
    expect(page.next_cursor).toBeNull();

    const patched = await api.auth.admin.users[":id"].$patch({ param: { id: user.user.id }, json: { status: "suspended" } });
    expect(patched.status).toBe(200);
    if (patched.status !== 200) throw new Error("patch failed");
    expect((await patched.json()).user.status).toBe("suspended");
    const back = await api.auth.admin.users[":id"].$patch({ param: { id: user.user.id }, json: { status: "active" } });
    expect(back.status).toBe(200);

    const detail = await api.auth.admin.users[":id"].$get({ param: { id: user.user.id } });
    if (detail.status !== 200) throw new Error("detail failed");
    expect((await detail.json()).user.status).toBe("active");

    const audit = await api.auth.admin.audit.$get({ query: { user_id: user.user.id, type: "admin_user_updated" } });
    if (audit.status !== 200) throw new Error("audit failed");
    expect((await audit.json()).events.map((e) => e.detail?.status_to)).toEqual(["active", "suspended"]);

    const login = await call("/auth/login", { body: { email: user.email, password: PASSWORD }, now: clock.now });
    const own = createClient("http://auth.test", { fetch: viaWorker, token: (await login.json<{ access_token: string }>()).access_token });
    const exported = await own.auth.account.export.$get();
    if (exported.status !== 200) throw new Error("export failed");
    expect((await exported.json()).profile.id).toBe(user.user.id);
    const deleted = await own.auth.account.$delete({ json: { current_password: PASSWORD } });
    expect(deleted.status).toBe(202);
    if (deleted.status !== 202) throw new Error("delete failed");
    expect((await deleted.json()).deletion_due_at).toEqual(expect.any(String));
  });
});
