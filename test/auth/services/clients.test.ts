import { beforeAll, describe, expect, it } from "vitest";
import { registerUser } from "../../support/accounts";
import { type AdminAccount, adminAccount, adminAuditRows, adminCall } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { dumpDatabase, withDb } from "../../support/db";
import { basic, serviceCall, serviceClient } from "../../support/services";
import { call, json } from "../../support/worker";

const clock = fakeClock();
let admin: AdminAccount;
beforeAll(async () => {
  admin = await adminAccount(clock);
});

const countClients = () => withDb(async (sql) => (await sql`select count(*)::int as n from auth_service_clients`)[0].n as number);

describe("service clients in the admin API", () => {
  it("created with its scopes; the secret is shown once and stored only as a keyed hash; audited", async () => {
    const res = await adminCall("/service-clients", admin.token, clock, {
      method: "POST",
      body: { name: "  Course service ", scopes: ["events:read", "tokens:introspect", "events:read"] },
    });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.client).toMatchObject({
      client_id: expect.stringMatching(/^svc_[A-Za-z0-9_-]{22}$/),
      name: "Course service",
      scopes: ["events:read", "tokens:introspect"],
      created_by: admin.user.user.id,
      revoked_at: null,
    });
    expect(body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const list = await json(await adminCall("/service-clients", admin.token, clock));
    const listed = list.clients.find((c: { id: string }) => c.id === body.client.id);
    expect(listed).toEqual(body.client);
    expect(JSON.stringify(list)).not.toContain(body.client_secret);
    expect(await dumpDatabase()).not.toContain(body.client_secret);
    const rows = (await adminAuditRows(admin.user.user.id)).filter(
      (r) => r.event.startsWith("service_client") || r.event.includes("service_clients"),
    );
    expect(rows.map((r) => [r.event, r.detail])).toEqual([
      ["service_client_created", { client_id: body.client.client_id, scopes: "events:read tokens:introspect" }],
      ["admin_service_clients_listed", { results: expect.any(Number) }],
    ]);
  });

  it("refuses an unknown scope, no scope, no name (400 with the field) and a caller that is not an admin; nothing is created", async () => {
    const before = await countClients();
    for (const [body, field] of [
      [{ name: "x", scopes: ["events:read", "users:write"] }, "scopes.1"],
      [{ name: "x", scopes: [] }, "scopes"],
      [{ name: "x" }, "scopes"],
      [{ name: " ", scopes: ["events:read"] }, "name"],
    ] as const) {
      const res = await adminCall("/service-clients", admin.token, clock, { method: "POST", body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = await json(res);
      expect(err.code).toBe("validation_failed");
      expect(err.issues.map((i: { path: string }) => i.path)).toContain(field);
    }
    const student = await registerUser();
    const refused = await call("/auth/admin/service-clients", {
      body: { name: "x", scopes: ["events:read"] },
      token: student.access_token,
    });
    expect([refused.status, (await json(refused)).code]).toEqual([403, "admin_required"]);
    expect(await countClients()).toBe(before);
  });
});

describe("HTTP Basic authentication of the service routes", () => {
  it("no credentials, a wrong secret, an unknown client or a user's bearer token: 401 invalid_client with WWW-Authenticate", async () => {
    const client = await serviceClient(admin, clock);
    const student = await registerUser();
    for (const authorization of [
      undefined,
      basic(client.client_id, `${client.secret}x`),
      basic(client.client_id, ""),
      basic("svc_unknown", client.secret),
      `Bearer ${student.access_token}`,
      "Basic not-base64!",
      `Basic ${btoa(client.client_id)}`,
    ]) {
      const res = await call("/auth/events?after=0", { headers: authorization ? { authorization } : {} });
      expect(res.status, authorization).toBe(401);
      expect((await json(res)).code).toBe("invalid_client");
      expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="services"/);
    }
    expect((await serviceCall(client, "/auth/events?after=0")).status).toBe(200);
  });

  it("a client without the route's scope gets 403 insufficient_scope", async () => {
    const readsUsers = await serviceClient(admin, clock, ["users:read"]);
    const student = await registerUser();
    const events = await serviceCall(readsUsers, "/auth/events?after=0");
    expect([events.status, (await json(events)).code]).toEqual([403, "insufficient_scope"]);
    const introspection = await serviceCall(readsUsers, "/auth/introspect", { body: { token: student.access_token } });
    expect([introspection.status, (await json(introspection)).code]).toEqual([403, "insufficient_scope"]);
    const user = await serviceCall(readsUsers, `/auth/users/${student.user.id}`);
    expect(user.status).toBe(200);
    expect((await json(user)).user).toMatchObject({ id: student.user.id, email: student.email, status: "active" });
    const unknown = await serviceCall(readsUsers, `/auth/users/${crypto.randomUUID()}`);
    expect([unknown.status, (await json(unknown)).code]).toEqual([404, "user_not_found"]);
  });

  it("rotation: the old secret stops at once; of 10 concurrent rotations exactly one secret works; revocation ends the client", async () => {
    const client = await serviceClient(admin, clock);
    const rotated = await adminCall(`/service-clients/${client.id}/rotate-secret`, admin.token, clock, { method: "POST" });
    expect(rotated.status).toBe(200);
    const { client_secret: second } = await json(rotated);
    expect((await serviceCall(client, "/auth/events?after=0")).status).toBe(401);
    expect((await serviceCall({ authorization: basic(client.client_id, second) }, "/auth/events?after=0")).status).toBe(200);

    const answers = await Promise.all(
      Array.from({ length: 10 }, () => adminCall(`/service-clients/${client.id}/rotate-secret`, admin.token, clock, { method: "POST" })),
    );
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    const secrets: string[] = await Promise.all(answers.map(async (r) => (await json(r)).client_secret));
    const works = await Promise.all(
      [second, ...secrets].map(
        async (s) => (await serviceCall({ authorization: basic(client.client_id, s) }, "/auth/events?after=0")).status,
      ),
    );
    expect(works.filter((s) => s === 200)).toHaveLength(1);
    expect(works.filter((s) => s === 401)).toHaveLength(10);
    const live = secrets[works.slice(1).indexOf(200)];

    const revoked = await adminCall(`/service-clients/${client.id}`, admin.token, clock, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect((await json(revoked)).client.revoked_at).toEqual(expect.any(String));
    expect((await serviceCall({ authorization: basic(client.client_id, live) }, "/auth/events?after=0")).status).toBe(401);
    for (const [method, path] of [
      ["DELETE", `/service-clients/${client.id}`],
      ["POST", `/service-clients/${client.id}/rotate-secret`],
      ["DELETE", `/service-clients/${crypto.randomUUID()}`],
    ] as const) {
      const res = await adminCall(path, admin.token, clock, { method });
      expect([res.status, (await json(res)).code]).toEqual([404, "service_client_not_found"]);
    }
    const events = (await adminAuditRows(admin.user.user.id)).filter((r) => r.detail?.client_id === client.client_id).map((r) => r.event);
    expect(events).toEqual(["service_client_created", ...Array(11).fill("service_client_secret_rotated"), "service_client_revoked"]);
  });
});
