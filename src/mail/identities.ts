import type { MailMessage } from "./mailer";
import { notice, TAKE_BACK } from "./mfa";
import { utcTime } from "./templates";

/**
 * Notices about the Google and Apple identities linked to an account: each is a way in, so an
 * owner who did not link (or unlink) one learns at once. They name the provider and, when the
 * provider gave one, the identity's email; never a token.
 */
type IdentityNotice = { appName: string; to: string; at: Date; provider: string; identityEmail: string | null };

const which = (n: IdentityNotice) => (n.identityEmail ? `${n.provider} account ${n.identityEmail}` : `a ${n.provider} account`);

export function identityLinkedMessage(input: IdentityNotice): MailMessage {
  return notice(
    input,
    `${input.provider} sign-in was added to your ${input.appName} account`,
    [
      `Signing in with ${which(input)} was added to your ${input.appName} account at ${utcTime(input.at)}. It can now sign in to your account.`,
      `If this wasn't you, reset your password now with "Forgot password" on the sign-in screen (that signs everyone out), remove this sign-in method from your security settings, and contact support.`,
    ],
    "identity_linked",
  );
}

export function identityUnlinkedMessage(input: IdentityNotice): MailMessage {
  return notice(
    input,
    `${input.provider} sign-in was removed from your ${input.appName} account`,
    [
      `Signing in with ${which(input)} was removed from your ${input.appName} account at ${utcTime(input.at)}, and its sessions were signed out.`,
      TAKE_BACK,
    ],
    "identity_unlinked",
  );
}
