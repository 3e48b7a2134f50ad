import { expect } from "vitest";
import type { AdminAccount } from "./admin";
import { adminCall } from "./admin";
import type { fakeClock } from "./clock";
import { type CallOptions, call, json } from "./worker";

type Clock = ReturnType<typeof fakeClock>;

/** HTTP Basic credentials (RFC 7617). */
export const basic = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`;

export interface TestServiceClient {
  id: string;
  client_id: string;
  scopes: string[];
  secret: string;
  /** The Authorization header of its calls. */
  authorization: string;
}

const ALL_SCOPES = ["events:read", "tokens:introspect", "users:read"];

/** A service client made through the admin API. */
export async function serviceClient(
  admin: AdminAccount,
  clock: Clock,
  scopes = ALL_SCOPES,
  name = "Test service",
): Promise<TestServiceClient> {
  const res = await adminCall("/service-clients", admin.token, clock, { method: "POST", body: { name, scopes } });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = await json(res);
  return { ...body.client, secret: body.client_secret, authorization: basic(body.client.client_id, body.client_secret) };
}

/** A call of a service route with the client's credentials. */
export const serviceCall = (client: Pick<TestServiceClient, "authorization">, path: string, opts: CallOptions = {}) =>
  call(path, { ...opts, headers: { authorization: client.authorization, ...opts.headers } });

/** POST /auth/introspect (JSON) that must answer 200: the body. */
export async function introspect(client: Pick<TestServiceClient, "authorization">, token: string, opts: CallOptions = {}) {
  const res = await serviceCall(client, "/auth/introspect", { body: { token }, ...opts });
  expect(res.status, await res.clone().text()).toBe(200);
  return json(res);
}

/** GET /auth/events from `after` that must answer 200: the body. */
export async function feed(client: Pick<TestServiceClient, "authorization">, after: number, limit = 1000, opts: CallOptions = {}) {
  const res = await serviceCall(client, `/auth/events?after=${after}&limit=${limit}`, opts);
  expect(res.status, await res.clone().text()).toBe(200);
  return json<{ status: string; events: { id: string; type: string; position: number; timestamp: string; data: any }[]; next: number }>(
    res,
  );
}
