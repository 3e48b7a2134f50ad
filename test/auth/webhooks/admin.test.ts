import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookUrlProblem } from "../../../src/auth/webhooks/endpoints";
import { type Config, getConfig, settingsSchema } from "../../../src/config";
import { registerUser } from "../../support/accounts";
import { type AdminAccount, adminAccount, adminAuditRows, adminCall, adminGet } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { dumpDatabase, withDb } from "../../support/db";
import { eventsOf } from "../../support/events";
import { createHook, deleteHook, type TestHook, untilDelivered } from "../../support/webhooks";
import { call, json, testEnv } from "../../support/worker";

const clock = fakeClock();
let admin: AdminAccount;
const hooks: TestHook[] = [];
beforeAll(async () => {
  admin = await adminAccount(clock);
});
afterAll(async () => {
  for (const h of hooks) await deleteHook(admin, clock, h);
});

const countEndpoints = () => withDb(async (db) => (await db`select count(*)::int as n from auth_webhook_endpoints`)[0].n as number);
const webhookAudit = async () =>
  (await adminAuditRows(admin.user.user.id)).filter((r) => r.event.includes("webhook") || r.event === "admin_deliveries_viewed");
/** A URL nothing listens on: these endpoints are only managed, never delivered to. */
const receiverHook = (name: string = crypto.randomUUID()) => `http://127.0.0.1:9/hooks/${name}`;

describe("webhook endpoints in the admin API", () => {
  it("created with its events; the secret (whsec_) is shown once and never stored in clear; listed without it; audited", async () => {
    const before = (await webhookAudit()).length;
    const url = receiverHook();
    const res = await adminCall("/webhooks", admin.token, clock, {
      method: "POST",
      body: { url, events: ["user.suspended", "session.revoked", "user.suspended"], description: "  Course service " },
    });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.endpoint).toMatchObject({
      url,
      description: "Course service",
      events: ["user.suspended", "session.revoked"],
      status: "active",
      disabled_reason: null,
      failure_streak: 0,
      created_by: admin.user.user.id,
      secret_rotated_at: null,
      previous_secret_expires_at: null,
    });
    // Standard Webhooks: whsec_ and the base64 of 32 random bytes.
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(body.secret.slice(6))).toHaveLength(32);
    const list = await adminGet("/webhooks", admin.token, clock);
    expect(list.endpoints.find((e: { id: string }) => e.id === body.endpoint.id)).toEqual(body.endpoint);
    expect(JSON.stringify(list)).not.toContain(body.secret.slice(6, 30));
    const dump = await dumpDatabase();
    expect(dump).not.toContain(body.secret.slice(6, 30));
    expect((await webhookAudit()).slice(before).map((r) => [r.event, r.user_id, r.detail])).toEqual([
      [
        "webhook_created",
        null,
        { webhook_id: body.endpoint.id, url_origin: new URL(url).origin, events: "user.suspended session.revoked" },
      ],
      ["admin_webhooks_listed", null, { results: expect.any(Number) }],
    ]);
    await adminCall(`/webhooks/${body.endpoint.id}`, admin.token, clock, { method: "DELETE" });
  });

  it("refuses unknown event types, bad URLs and credentials in URLs (400 naming the field); nothing is created", async () => {
    const before = await countEndpoints();
    const url = receiverHook();
    for (const [body, field] of [
      [{ url, events: ["user.suspended", "user.exploded"] }, "events.1"],
      [{ url, events: [] }, "events"],
      [{ url }, "events"],
      [{ events: ["user.suspended"] }, "url"],
      [{ url: "not a url", events: ["user.suspended"] }, "url"],
      [{ url: "ftp://hooks.example.com/x", events: ["user.suspended"] }, "url"],
      // Plain http only to this machine outside production.
      [{ url: "http://hooks.example.com/x", events: ["user.suspended"] }, "url"],
      [{ url: "https://svc:hunter2@hooks.example.com/x", events: ["user.suspended"] }, "url"],
      [{ url: "https://token@hooks.example.com/x", events: ["user.suspended"] }, "url"],
      [{ url: "https://hooks.example.com/x#frag", events: ["user.suspended"] }, "url"],
    ] as const) {
      const res = await adminCall("/webhooks", admin.token, clock, { method: "POST", body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = await json(res);
      expect(err.code).toBe("validation_failed");
      expect(err.issues.map((i: { path: string }) => i.path)).toContain(field);
      expect(JSON.stringify(err)).not.toContain("hunter2");
    }
    expect(await countEndpoints()).toBe(before);
  });

  it("only https to a public address in production; plain http to localhost elsewhere", () => {
    const base = getConfig(testEnv);
    const production = { ...base, ENVIRONMENT: "production" } as Config;
    const development = settingsSchema.parse({ ...testEnv, ENVIRONMENT: "development" });
    for (const ok of ["https://hooks.example.com/auth", "https://8.8.8.8/hook", "https://hooks.example.com:8443/a?b=c"])
      expect(webhookUrlProblem(production, ok), ok).toBeNull();
    for (const refused of [
      "http://hooks.example.com/auth",
      "http://localhost:8027/hooks/x",
      "https://localhost/hooks",
      "https://api.localhost/hooks",
      "https://127.0.0.1/hooks",
      "https://10.1.2.3/hooks",
      "https://192.168.0.10/hooks",
      "https://169.254.169.254/latest",
      "https://[::1]/hooks",
      "https://[fd00::1]/hooks",
    ])
      expect(webhookUrlProblem(production, refused), refused).toMatch(/https|public/);
    for (const ok of ["http://localhost:8027/hooks/x", "http://127.0.0.1:8027/hooks/x", "http://[::1]:8027/h"])
      expect(webhookUrlProblem(development, ok), ok).toBeNull();
    expect(webhookUrlProblem(development, "http://hooks.example.com/x")).toMatch(/https/);
  });

  it("a caller that is not an admin is refused (403) and changes nothing", async () => {
    const before = await countEndpoints();
    const u = await registerUser();
    const res = await call("/auth/admin/webhooks", { token: u.access_token, body: { url: receiverHook(), events: ["user.suspended"] } });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe("admin_required");
    expect((await call("/auth/admin/webhooks", { token: u.access_token })).status).toBe(403);
    expect(await countEndpoints()).toBe(before);
  });

  it("updated (URL, events, description), disabled and enabled again, its secret rotated, deleted: each audited", async () => {
    const created = await json(
      await adminCall("/webhooks", admin.token, clock, { method: "POST", body: { url: receiverHook(), events: ["user.suspended"] } }),
    );
    const id = created.endpoint.id;
    const before = (await webhookAudit()).length;
    const patch = (body: unknown) => adminCall(`/webhooks/${id}`, admin.token, clock, { method: "PATCH", body });

    const newUrl = receiverHook("moved");
    const updated = await patch({ url: newUrl, events: ["user.deleted", "role.changed"], description: "Moved" });
    expect(updated.status).toBe(200);
    expect((await json(updated)).endpoint).toMatchObject({ url: newUrl, events: ["user.deleted", "role.changed"], description: "Moved" });
    const badUrl = await patch({ url: "https://user:pass@hooks.example.com/" });
    expect(badUrl.status).toBe(400);
    expect((await json(badUrl)).issues.map((i: { path: string }) => i.path)).toContain("url");
    const badEvents = await patch({ events: ["user.nothing"] });
    expect((await json(badEvents)).issues.map((i: { path: string }) => i.path)).toContain("events.0");
    expect((await patch({})).status).toBe(400);

    const disabled = await json(await patch({ enabled: false }));
    expect(disabled.endpoint).toMatchObject({ status: "disabled", disabled_reason: "admin", disabled_at: clock.now().toISOString() });
    const enabled = await json(await patch({ enabled: true }));
    expect(enabled.endpoint).toMatchObject({ status: "active", disabled_reason: null, disabled_at: null });

    const rotated = await adminCall(`/webhooks/${id}/rotate-secret`, admin.token, clock, { method: "POST" });
    expect(rotated.status).toBe(200);
    const r = await json(rotated);
    expect(r.secret).toMatch(/^whsec_/);
    expect(r.secret).not.toBe(created.secret);
    expect(r.endpoint).toMatchObject({
      secret_rotated_at: clock.now().toISOString(),
      previous_secret_expires_at: new Date(clock.now().getTime() + 24 * 3600_000).toISOString(),
    });
    expect(await dumpDatabase()).not.toContain(r.secret.slice(6, 30));

    const deleted = await adminCall(`/webhooks/${id}`, admin.token, clock, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect((await json(deleted)).endpoint.id).toBe(id);
    const again = await adminCall(`/webhooks/${id}`, admin.token, clock, { method: "DELETE" });
    expect(again.status).toBe(404);
    expect((await json(again)).code).toBe("webhook_not_found");
    expect((await patch({ enabled: false })).status).toBe(404);
    expect((await adminCall(`/webhooks/${id}/rotate-secret`, admin.token, clock, { method: "POST" })).status).toBe(404);

    const rows = (await webhookAudit()).slice(before);
    expect(rows.filter((x) => x.outcome === "success").map((x) => [x.event, x.detail])).toEqual([
      [
        "webhook_updated",
        {
          webhook_id: id,
          fields: "url events description",
          url_origin: new URL(newUrl).origin,
          status_from: "active",
          status_to: "active",
        },
      ],
      [
        "webhook_updated",
        { webhook_id: id, fields: "enabled", url_origin: new URL(newUrl).origin, status_from: "active", status_to: "disabled" },
      ],
      [
        "webhook_updated",
        { webhook_id: id, fields: "enabled", url_origin: new URL(newUrl).origin, status_from: "disabled", status_to: "active" },
      ],
      ["webhook_secret_rotated", { webhook_id: id, grace_seconds: 86400 }],
      ["webhook_deleted", { webhook_id: id, url_origin: new URL(newUrl).origin }],
    ]);
  });

  it("the deliveries of an endpoint, newest first, paged and by status; unknown ids answer 404", async () => {
    const h = await createHook(admin, clock, ["user.updated"]);
    hooks.push(h);
    const u = await registerUser();
    for (const name of ["First Name", "Second Name", "Third Name"]) {
      const body = new FormData();
      body.append("full_name", name);
      expect((await call("/auth/update-profile", { body, token: u.access_token })).status).toBe(200);
    }
    const ids = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated").map((e) => e.id);
    await untilDelivered(h.name, ids);
    const path = `/webhooks/${h.endpoint.id}/deliveries`;
    const first = await adminGet(`${path}?limit=2`, admin.token, clock);
    expect(first.deliveries.map((d: { event_id: string }) => d.event_id)).toEqual([ids[2], ids[1]]);
    expect(first.deliveries[0]).toMatchObject({
      event_type: "user.updated",
      user_id: u.user.id,
      attempts: expect.any(Number),
      latency_ms: expect.any(Number),
      last_attempt_at: expect.any(String),
    });
    expect(first.next_cursor).toMatch(/^\d+$/);
    const second = await adminGet(`${path}?limit=2&cursor=${first.next_cursor}`, admin.token, clock);
    expect(second.deliveries.map((d: { event_id: string }) => d.event_id)).toEqual([ids[0]]);
    expect(second.next_cursor).toBeNull();
    expect((await adminGet(`${path}?status=failed`, admin.token, clock)).deliveries).toEqual([]);
    const bad = await adminCall(`${path}?cursor=abc`, admin.token, clock);
    expect(bad.status).toBe(400);
    expect((await json(bad)).issues.map((i: { path: string }) => i.path)).toContain("cursor");

    const unknown = crypto.randomUUID();
    expect((await adminCall(`/webhooks/${unknown}/deliveries`, admin.token, clock)).status).toBe(404);
    const noDelivery = await adminCall(`${path}/${unknown}/retry`, admin.token, clock, { method: "POST" });
    expect(noDelivery.status).toBe(404);
    expect((await json(noDelivery)).code).toBe("webhook_delivery_not_found");
    const viewed = (await webhookAudit()).filter((r) => r.event === "admin_deliveries_viewed");
    expect(viewed.at(-1)?.detail).toMatchObject({ webhook_id: h.endpoint.id, status: "failed", page: "first", results: 0 });
  });
});
