import type { MailMessage } from "./mailer";
import { type Envelope, mailWriter } from "./templates";

/**
 * Notices about the account's second factor, so an owner who did not make the change learns at
 * once. They never carry a code or the secret.
 */
export function mfaEnabledMessage(e: Envelope, input: { at: Date }): MailMessage {
  const w = mailWriter(e);
  return w.mail("mfa_enabled", [
    w.p("mail.mfa_enabled.body", { moment: w.moment(input.at) }),
    w.p("mail.mfa_enabled.keep_codes"),
    w.p("mail.common.mfa_take_back"),
  ]);
}

export function mfaDisabledMessage(e: Envelope, input: { at: Date }): MailMessage {
  const w = mailWriter(e);
  return w.mail("mfa_disabled", [w.p("mail.mfa_disabled.body", { moment: w.moment(input.at) }), w.p("mail.common.mfa_take_back")]);
}

export function recoveryCodesRegeneratedMessage(e: Envelope, input: { at: Date }): MailMessage {
  const w = mailWriter(e);
  return w.mail("mfa_recovery_codes_regenerated", [
    w.p("mail.mfa_recovery_codes_regenerated.body", { moment: w.moment(input.at) }),
    w.p("mail.common.mfa_take_back"),
  ]);
}

/** How many recovery codes are left, in words ("no recovery codes left", "1 unused recovery code left"). */
export function recoveryCodeUsedMessage(e: Envelope, input: { at: Date; remaining: number }): MailMessage {
  const w = mailWriter(e);
  return w.mail("mfa_recovery_code_used", [
    w.p("mail.mfa_recovery_code_used.body", { moment: w.moment(input.at) }),
    w.p("mail.mfa_recovery_code_used.left", { remaining: input.remaining }),
    w.p("mail.common.mfa_take_back"),
  ]);
}
