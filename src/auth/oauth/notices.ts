import type { Identity, User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { identityLinkedMessage, identityUnlinkedMessage } from "../../mail/identities";
import { envelope } from "../../mail/templates";
import { mailLocale } from "../account/users";
import { providerLabel } from "./configured";

/** Mail about linked identities goes out in the background (the answer never waits for it), in the account's language. */
const input = (deps: Deps, identity: Pick<Identity, "provider" | "email">) => ({
  at: deps.now(),
  provider: providerLabel(identity.provider),
  identityEmail: identity.email,
});
const to = (deps: Deps, meta: RequestMeta, user: Pick<User, "email" | "locale">) =>
  envelope(deps.config, user.email, mailLocale(user, meta));

export const notifyIdentityLinked = (
  deps: Deps,
  meta: RequestMeta,
  user: Pick<User, "email" | "locale">,
  identity: Pick<Identity, "provider" | "email">,
) => deps.waitUntil(deps.mailer.send(identityLinkedMessage(to(deps, meta, user), input(deps, identity))));

export const notifyIdentityUnlinked = (
  deps: Deps,
  meta: RequestMeta,
  user: Pick<User, "email" | "locale">,
  identity: Pick<Identity, "provider" | "email">,
) => deps.waitUntil(deps.mailer.send(identityUnlinkedMessage(to(deps, meta, user), input(deps, identity))));
