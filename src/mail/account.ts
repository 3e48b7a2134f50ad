import type { MailMessage } from "./mailer";
import { type CodeInput, codeMail, type Envelope, mailWriter } from "./templates";

/**
 * After DELETE /auth/account: when the account will be deleted and the code that cancels it
 * (POST /auth/account/restore), in plain text and HTML. The subject never carries the code.
 */
export function deletionScheduledMessage(e: Envelope, input: { code: string; graceSeconds: number; dueAt: Date }): MailMessage {
  const w = mailWriter(e);
  const moment = w.moment(input.dueAt);
  return w.mail("account_deletion", [
    w.p("mail.account_deletion.intro"),
    w.p("mail.account_deletion.due", { moment, duration: w.days(input.graceSeconds) }, { strong: ["moment"] }),
    w.code("mail.account_deletion.code_label", input.code),
    w.p("mail.account_deletion.expires", { moment }),
    w.p("mail.account_deletion.outro", {}, { muted: true }),
  ]);
}

/**
 * DELETE /auth/account of an account without a password: the code that confirms it is the owner
 * asking. The subject never carries the code.
 */
export const deletionCodeMessage = (e: Envelope, input: CodeInput): MailMessage => codeMail(e, "account_deletion_code", input);
