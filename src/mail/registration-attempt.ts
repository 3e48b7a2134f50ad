import type { MailMessage } from "./mailer";
import { type Envelope, mailWriter } from "./templates";

/**
 * REGISTER_ENUMERATION_SAFE: the mail to the owner of an email someone tried to register with.
 * The registration answers the same as a success, so the owner is told here instead.
 */
export function registrationAttemptMessage(e: Envelope): MailMessage {
  const w = mailWriter(e);
  return w.mail("registration_attempt", [
    w.p("mail.registration_attempt.intro"),
    w.p("mail.registration_attempt.if_you"),
    w.p("mail.registration_attempt.if_not", {}, { muted: true }),
  ]);
}
