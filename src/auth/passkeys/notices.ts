import type { Passkey, User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { passkeyAddedMessage, passkeyRemovedMessage } from "../../mail/passkeys";
import { envelope } from "../../mail/templates";
import { mailLocale } from "../account/users";

/** Mail about passkeys goes out in the background (the answer never waits for it), in the account's language. */
const input = (deps: Deps, passkey: Pick<Passkey, "name">) => ({ at: deps.now(), name: passkey.name });
const to = (deps: Deps, meta: RequestMeta, user: Pick<User, "email" | "locale">) =>
  envelope(deps.config, user.email, mailLocale(user, meta));

export const notifyPasskeyAdded = (deps: Deps, meta: RequestMeta, user: Pick<User, "email" | "locale">, passkey: Pick<Passkey, "name">) =>
  deps.waitUntil(deps.mailer.send(passkeyAddedMessage(to(deps, meta, user), input(deps, passkey))));

export const notifyPasskeyRemoved = (deps: Deps, meta: RequestMeta, user: Pick<User, "email" | "locale">, passkey: Pick<Passkey, "name">) =>
  deps.waitUntil(deps.mailer.send(passkeyRemovedMessage(to(deps, meta, user), input(deps, passkey))));
