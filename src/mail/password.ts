import type { MailMessage } from "./mailer";
import { type Envelope, mailWriter } from "./templates";

/**
 * The password-reset mail: the code and when it expires (a duration and a clock time in
 * MAIL_TIME_ZONE), in a plain-text and an HTML body. The subject says what it is but does not
 * carry the code (lock-screen previews).
 */
export function resetCodeMessage(e: Envelope, input: { code: string; ttlSeconds: number; expiresAt: Date }): MailMessage {
  const w = mailWriter(e);
  return w.mail("password_reset", [
    w.p("mail.password_reset.intro"),
    w.code("mail.password_reset.code_label", input.code),
    w.p("mail.common.expires", { duration: w.validFor(input.ttlSeconds), time: w.clock(input.expiresAt) }, { strong: ["duration"] }),
    w.note("mail.password_reset.outro", "mail.common.never_share"),
  ]);
}

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
