import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { accountRoutes } from "./account";
import { adminRoutes } from "./admin";
import { emailRoutes } from "./email";
import { mfaRoutes } from "./mfa";
import { oauthRoutes } from "./oauth";
import { passkeyRoutes } from "./passkeys";
import { passwordRoutes } from "./password";
import { profileRoutes } from "./profile";
import { serviceClientRoutes } from "./service-clients";
import { serviceRoutes } from "./services";
import { sessionRoutes } from "./sessions";
import { signInRoutes } from "./sign-in";
import { systemRoutes } from "./system";
import { webhookRoutes } from "./webhooks";

/**
 * The API's route groups, each declared once: where it is mounted (under the base path, or at the
 * root) and the function that builds its routes. A group's schemas and routes are built when that
 * function runs, not at import: the Worker builds the one group a request needs on its first
 * request (src/lazy-app.ts), the document builds them all (src/app.ts). A new group goes here, in
 * createApp's chain (for the typed client) and, through `npm run build:routes`, in the manifest.
 */
export const ROUTE_GROUPS = {
  account: { at: "base", routes: accountRoutes },
  "sign-in": { at: "base", routes: signInRoutes },
  sessions: { at: "base", routes: sessionRoutes },
  password: { at: "base", routes: passwordRoutes },
  email: { at: "base", routes: emailRoutes },
  profile: { at: "base", routes: profileRoutes },
  mfa: { at: "base", routes: mfaRoutes },
  oauth: { at: "base", routes: oauthRoutes },
  passkeys: { at: "base", routes: passkeyRoutes },
  admin: { at: "base", routes: adminRoutes },
  "service-clients": { at: "base", routes: serviceClientRoutes },
  webhooks: { at: "base", routes: webhookRoutes },
  services: { at: "base", routes: serviceRoutes },
  system: { at: "root", routes: systemRoutes },
} as const satisfies Record<string, { at: "base" | "root"; routes: () => OpenAPIHono<AppEnv> }>;

export type RouteGroup = keyof typeof ROUTE_GROUPS;

/** Where a group is mounted for a base path. */
export const mountOf = (group: RouteGroup, basePath: string) => (ROUTE_GROUPS[group].at === "root" ? "/" : basePath);

/**
 * A group's operations as `METHOD /path` (Hono's path syntax, relative to where it is mounted),
 * built for the purpose: what src/routes/manifest.ts must say (test/routes/lazy-groups.test.ts,
 * scripts/build/routes.ts).
 */
export function operationsOf(group: RouteGroup): string[] {
  const seen = new Set<string>();
  for (const r of ROUTE_GROUPS[group].routes().routes) if (r.method !== "ALL") seen.add(`${r.method} ${r.path}`);
  return [...seen];
}
