import type { MailMessage } from "./mailer";
import { escapeHtml, htmlDocument, utcTime } from "./templates";

/**
 * Notices about the account's second factor, so an owner who did not make the change learns at
 * once. They never carry a code or the secret.
 */
type Notice = { appName: string; to: string; at: Date };

export const notice = (input: Notice, subject: string, lines: string[], tag: string): MailMessage => {
  const html = htmlDocument(subject, lines.map((l) => `<p>${escapeHtml(l)}</p>`).join("\n"));
  return { to: input.to, subject, text: lines.join("\n\n"), html, tag };
};

export const TAKE_BACK =
  'If this wasn\'t you, reset your password now with "Forgot password" on the sign-in screen (that signs everyone out) and contact support.';

export function mfaEnabledMessage(input: Notice): MailMessage {
  return notice(
    input,
    `Two-factor sign-in is on for your ${input.appName} account`,
    [
      `Two-factor sign-in was turned on for your ${input.appName} account at ${utcTime(input.at)}. From now on, signing in needs a code from your authenticator app (or one of your recovery codes) after the password.`,
      "Keep your recovery codes somewhere safe: they are the way back in if you lose your phone.",
      TAKE_BACK,
    ],
    "mfa_enabled",
  );
}

export function mfaDisabledMessage(input: Notice): MailMessage {
  return notice(
    input,
    `Two-factor sign-in was turned off for your ${input.appName} account`,
    [
      `Two-factor sign-in was turned off for your ${input.appName} account at ${utcTime(input.at)}. Signing in now needs only the password, and your recovery codes no longer work.`,
      TAKE_BACK,
    ],
    "mfa_disabled",
  );
}

export function recoveryCodesRegeneratedMessage(input: Notice): MailMessage {
  return notice(
    input,
    `New recovery codes for your ${input.appName} account`,
    [
      `A new set of recovery codes was created for your ${input.appName} account at ${utcTime(input.at)}. The previous codes no longer work.`,
      TAKE_BACK,
    ],
    "mfa_recovery_codes_regenerated",
  );
}

export function recoveryCodeUsedMessage(input: Notice & { remaining: number }): MailMessage {
  const left =
    input.remaining === 0
      ? "You have no recovery codes left: create new ones in your security settings now."
      : `You have ${input.remaining} unused recovery code${input.remaining === 1 ? "" : "s"} left.`;
  return notice(
    input,
    `A recovery code was used on your ${input.appName} account`,
    [
      `One of the recovery codes of your ${input.appName} account was used at ${utcTime(input.at)}. It will not work again.`,
      left,
      TAKE_BACK,
    ],
    "mfa_recovery_code_used",
  );
}
