import type { Identity } from "../../db/schema";
import type { Deps } from "../../deps";
import { identityLinkedMessage, identityUnlinkedMessage } from "../../mail/identities";
import { providerLabel } from "./configured";

/** Mail about linked identities goes out in the background: the answer never waits for it. */
const input = (deps: Deps, to: string, identity: Pick<Identity, "provider" | "email">) => ({
  appName: deps.config.APP_NAME,
  to,
  at: deps.now(),
  provider: providerLabel(identity.provider),
  identityEmail: identity.email,
});

export const notifyIdentityLinked = (deps: Deps, to: string, identity: Pick<Identity, "provider" | "email">) =>
  deps.waitUntil(deps.mailer.send(identityLinkedMessage(input(deps, to, identity))));

export const notifyIdentityUnlinked = (deps: Deps, to: string, identity: Pick<Identity, "provider" | "email">) =>
  deps.waitUntil(deps.mailer.send(identityUnlinkedMessage(input(deps, to, identity))));
