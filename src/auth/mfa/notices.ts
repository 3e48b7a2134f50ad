import type { User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { mfaDisabledMessage, mfaEnabledMessage, recoveryCodesRegeneratedMessage, recoveryCodeUsedMessage } from "../../mail/mfa";
import { envelope } from "../../mail/templates";
import { mailLocale } from "../account/users";

/** Mail about the second factor goes out in the background (the answer never waits for it), in the account's language. */
const send = (deps: Deps, message: Parameters<Deps["mailer"]["send"]>[0]) => deps.waitUntil(deps.mailer.send(message));
const to = (deps: Deps, meta: RequestMeta, user: Pick<User, "email" | "locale">) =>
  envelope(deps.config, user.email, mailLocale(user, meta));

export const notifyMfaEnabled = (deps: Deps, meta: RequestMeta, user: User) =>
  send(deps, mfaEnabledMessage(to(deps, meta, user), { at: deps.now() }));

export const notifyMfaDisabled = (deps: Deps, meta: RequestMeta, user: User) =>
  send(deps, mfaDisabledMessage(to(deps, meta, user), { at: deps.now() }));

export const notifyRecoveryCodeUsed = (deps: Deps, meta: RequestMeta, user: Pick<User, "email" | "locale">, remaining: number) =>
  send(deps, recoveryCodeUsedMessage(to(deps, meta, user), { at: deps.now(), remaining }));

export const notifyRecoveryCodesRegenerated = (deps: Deps, meta: RequestMeta, user: User) =>
  send(deps, recoveryCodesRegeneratedMessage(to(deps, meta, user), { at: deps.now() }));
