import type { MailMessage } from "./mailer";
import { escapeHtml, htmlDocument } from "./templates";

/**
 * REGISTER_ENUMERATION_SAFE: the mail to the owner of an email someone tried to register with.
 * The registration answers the same as a success, so the owner is told here instead.
 */
export function registrationAttemptMessage(input: { appName: string; to: string }): MailMessage {
  const { appName } = input;
  const subject = `Someone tried to create a ${appName} account with your email`;
  const text = [
    `Someone just tried to create a new ${appName} account with this email address, which already has an account.`,
    "",
    "If it was you: you already have an account. Log in, or reset your password if you have forgotten it.",
    "If it was not you: you can ignore this email. Your account and password are unchanged.",
  ].join("\n");
  const a = escapeHtml(appName);
  const html = htmlDocument(
    subject,
    `<p>Someone just tried to create a new ${a} account with this email address, which already has an account.</p>
<p>If it was you: you already have an account. Log in, or reset your password if you have forgotten it.</p>
<p style="color:#666">If it was not you: you can ignore this email. Your account and password are unchanged.</p>`,
  );
  return { to: input.to, subject, text, html, tag: "registration_attempt" };
}
