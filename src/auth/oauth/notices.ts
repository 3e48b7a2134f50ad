import type { Identity } from "../../db/schema";
import type { Deps } from "../../deps";
import { identityLinkedMessage, identityUnlinkedMessage } from "../../mail/identities";

/** Mail about linked identities goes out in the background: the answer never waits for it. */
const LABEL: Record<string, string> = { google: "Google", apple: "Apple" };

const input = (deps: Deps, to: string, identity: Pick<Identity, "provider" | "email">) => ({
  appName: deps.config.APP_NAME,
  to,
  at: deps.now(),
  provider: LABEL[identity.provider] ?? identity.provider,
  identityEmail: identity.email,
});

export const notifyIdentityLinked = (deps: Deps, to: string, identity: Pick<Identity, "provider" | "email">) =>
  deps.waitUntil(deps.mailer.send(identityLinkedMessage(input(deps, to, identity))));

export const notifyIdentityUnlinked = (deps: Deps, to: string, identity: Pick<Identity, "provider" | "email">) =>
  deps.waitUntil(deps.mailer.send(identityUnlinkedMessage(input(deps, to, identity))));
