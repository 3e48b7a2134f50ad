import type { Passkey } from "../../db/schema";
import type { Deps } from "../../deps";
import { passkeyAddedMessage, passkeyRemovedMessage } from "../../mail/passkeys";

/** Mail about passkeys goes out in the background: the answer never waits for it. */
const input = (deps: Deps, to: string, passkey: Pick<Passkey, "name">) => ({
  appName: deps.config.APP_NAME,
  to,
  at: deps.now(),
  name: passkey.name,
});

export const notifyPasskeyAdded = (deps: Deps, to: string, passkey: Pick<Passkey, "name">) =>
  deps.waitUntil(deps.mailer.send(passkeyAddedMessage(input(deps, to, passkey))));

export const notifyPasskeyRemoved = (deps: Deps, to: string, passkey: Pick<Passkey, "name">) =>
  deps.waitUntil(deps.mailer.send(passkeyRemovedMessage(input(deps, to, passkey))));
