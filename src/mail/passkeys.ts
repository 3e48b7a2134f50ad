import type { MailMessage } from "./mailer";
import { type CodeInput, codeMail, type Envelope, mailWriter } from "./templates";

/**
 * Notices about the account's passkeys: each is a way in, so an owner who did not add (or remove)
 * one learns at once. They name the passkey as the account shows it; never a key or a credential id.
 */
type PasskeyNotice = { at: Date; name: string };

export function passkeyAddedMessage(e: Envelope, input: PasskeyNotice): MailMessage {
  const w = mailWriter(e);
  return w.mail("passkey_added", [
    w.p("mail.passkey_added.body", { name: input.name, moment: w.moment(input.at) }),
    w.p("mail.passkey_added.take_back"),
  ]);
}

export function passkeyRemovedMessage(e: Envelope, input: PasskeyNotice): MailMessage {
  const w = mailWriter(e);
  return w.mail("passkey_removed", [
    w.p("mail.passkey_removed.body", { name: input.name, moment: w.moment(input.at) }),
    w.p("mail.common.mfa_take_back"),
  ]);
}

/**
 * Passkey-first sign-up (POST /passkeys/signup/options): the code that proves the mailbox before
 * the account exists, in the request's language (or the `locale` the sign-up sent). The subject
 * never carries the code.
 */
export const passkeySignUpCodeMessage = (e: Envelope, input: CodeInput): MailMessage => codeMail(e, "passkey_sign_up_code", input);
