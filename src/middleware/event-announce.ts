import type { MiddlewareHandler } from "hono";
import { trackEventWrites } from "../auth/events/written";
import { announceEvents } from "../auth/webhooks/queue";
import type { AppEnv } from "../context";

/**
 * After a request that wrote identity events (its transactions have ended by now), wake the
 * webhook dispatcher through the Queue, after the response (waitUntil): delivering is never on
 * the request's path, so a receiver that hangs or fails never slows a request.
 */
export const announceEventWrites: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (await trackEventWrites(next)) {
    const deps = c.get("deps");
    deps.waitUntil(announceEvents(deps));
  }
};
