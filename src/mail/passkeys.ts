import type { MailMessage } from "./mailer";
import { notice, TAKE_BACK } from "./mfa";
import { utcTime } from "./templates";

/**
 * Notices about the account's passkeys: each is a way in, so an owner who did not add (or remove)
 * one learns at once. They name the passkey as the account shows it; never a key or a credential id.
 */
type PasskeyNotice = { appName: string; to: string; at: Date; name: string };

export function passkeyAddedMessage(input: PasskeyNotice): MailMessage {
  return notice(
    input,
    `A passkey was added to your ${input.appName} account`,
    [
      `A passkey ("${input.name}") was added to your ${input.appName} account at ${utcTime(input.at)}. It can now sign in to your account.`,
      `If this wasn't you, reset your password now with "Forgot password" on the sign-in screen (that signs everyone out), remove this passkey from your security settings, and contact support.`,
    ],
    "passkey_added",
  );
}

export function passkeyRemovedMessage(input: PasskeyNotice): MailMessage {
  return notice(
    input,
    `A passkey was removed from your ${input.appName} account`,
    [
      `The passkey "${input.name}" was removed from your ${input.appName} account at ${utcTime(input.at)}. It can no longer sign in.`,
      TAKE_BACK,
    ],
    "passkey_removed",
  );
}
