import type { Deps } from "../../deps";
import { mfaDisabledMessage, mfaEnabledMessage, recoveryCodesRegeneratedMessage, recoveryCodeUsedMessage } from "../../mail/mfa";

/** Mail about the second factor goes out in the background: the answer never waits for it. */
const send = (deps: Deps, message: Parameters<Deps["mailer"]["send"]>[0]) => deps.waitUntil(deps.mailer.send(message));

export const notifyMfaEnabled = (deps: Deps, to: string) =>
  send(deps, mfaEnabledMessage({ appName: deps.config.APP_NAME, to, at: deps.now() }));

export const notifyMfaDisabled = (deps: Deps, to: string) =>
  send(deps, mfaDisabledMessage({ appName: deps.config.APP_NAME, to, at: deps.now() }));

export const notifyRecoveryCodeUsed = (deps: Deps, to: string, remaining: number) =>
  send(deps, recoveryCodeUsedMessage({ appName: deps.config.APP_NAME, to, at: deps.now(), remaining }));

export const notifyRecoveryCodesRegenerated = (deps: Deps, to: string) =>
  send(deps, recoveryCodesRegeneratedMessage({ appName: deps.config.APP_NAME, to, at: deps.now() }));
