import type { MailMessage } from "./mailer";
import { type Block, type CodeInput, codeMail, type Envelope, mailWriter } from "./templates";

/**
 * The mails of email verification and email change (src/auth/account/email-verification.ts,
 * src/auth/account/change-email.ts). Each code mail shows the code and when it expires in both bodies;
 * no subject carries a code (lock-screen previews).
 */

/** The code that verifies the account's address (after registration, on request, after a refused login). */
export const verificationCodeMessage = (e: Envelope, input: CodeInput) => codeMail(e, "email_verification", input);

/** The code that signs in without a password (POST /auth/sign-in/code). */
export const signInCodeMessage = (e: Envelope, input: CodeInput) => codeMail(e, "sign_in_code", input);

/** The code that confirms a new address, sent to that address. */
export const emailChangeCodeMessage = (e: Envelope, input: CodeInput) => codeMail(e, "email_change", input);

/** How the owner of the address being left can take the change back. */
export type RevertHint =
  /** A fresh undo code. */
  | { code: string; expiresAt: Date; ttlSeconds: number }
  /** The undo code of an earlier mail about this account still works (now until `expiresAt`). */
  | { earlier: true; expiresAt: Date }
  /** The undo code went to the account's earlier address; this one can only act on the account. */
  | null;

function revertBlocks(w: ReturnType<typeof mailWriter>, revert: RevertHint): Block[] {
  if (!revert) return [w.p("mail.common.revert_reset")];
  const moment = w.moment(revert.expiresAt);
  if ("earlier" in revert) return [w.p("mail.common.revert_earlier", { moment })];
  return [
    w.p("mail.common.revert_code"),
    w.code("mail.common.revert_code_label", revert.code),
    w.p("mail.common.revert_expires", { duration: w.validFor(revert.ttlSeconds), moment }, { strong: ["duration"] }),
  ];
}

/** A notice to the address being left: what happened, and the way back (the revert code). */
function noticeWithRevert(
  e: Envelope,
  tag: "email_change_notice" | "email_changed",
  input: { newEmail: string; at: Date; revert: RevertHint },
) {
  const w = mailWriter(e);
  return w.mail(tag, [
    w.p(`mail.${tag}.body`, { moment: w.moment(input.at), email: input.newEmail }),
    w.p("mail.common.nothing_to_do"),
    ...revertBlocks(w, input.revert),
  ]);
}

/** To the address being left, when a change is requested: what is happening, and the way back. */
export const emailChangeNoticeMessage = (e: Envelope, input: { newEmail: string; at: Date; revert: RevertHint }): MailMessage =>
  noticeWithRevert(e, "email_change_notice", input);

/** To the address that was left, once the change is confirmed. */
export const emailChangedMessage = (e: Envelope, input: { newEmail: string; at: Date; revert: RevertHint }): MailMessage =>
  noticeWithRevert(e, "email_changed", input);

/** To the restored address, after an undo. */
export function emailRevertedMessage(e: Envelope, input: { at: Date }): MailMessage {
  const w = mailWriter(e);
  return w.mail("email_reverted", [w.p("mail.email_reverted.body", { moment: w.moment(input.at) }), w.p("mail.email_reverted.next")]);
}
