import type { MailMessage } from "./mailer";
import { type CodeInput, codeMail, type Envelope, mailWriter } from "./templates";

/**
 * The password-reset mail: the code and when it expires (a duration and a clock time in
 * MAIL_TIME_ZONE), in a plain-text and an HTML body. The subject says what it is but does not
 * carry the code (lock-screen previews).
 */
export const resetCodeMessage = (e: Envelope, input: CodeInput): MailMessage => codeMail(e, "password_reset", input);

/**
 * "Your password was changed": after a reset and after a change, so an owner who did not do it
 * learns at once. Never carries the password or a code; tells the owner how to take the account
 * back (a reset, which ends every session).
 */
export function passwordChangedMessage(e: Envelope, input: { at: Date; how: "reset" | "change" }): MailMessage {
  const w = mailWriter(e);
  return w.mail("password_changed", [
    w.p("mail.password_changed.body", { how: input.how, moment: w.moment(input.at) }),
    w.p("mail.common.nothing_to_do"),
    w.p("mail.password_changed.take_back"),
  ]);
}
