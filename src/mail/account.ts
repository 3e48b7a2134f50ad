import type { MailMessage } from "./mailer";
import { escapeHtml, htmlDocument, minutes, utcTime } from "./templates";

const days = (seconds: number) => {
  const d = Math.max(1, Math.round(seconds / 86400));
  return `${d} day${d === 1 ? "" : "s"}`;
};

/**
 * After DELETE /auth/account: when the account will be deleted and the code that cancels it
 * (POST /auth/account/restore), in plain text and HTML. The subject never carries the code.
 */
export function deletionScheduledMessage(input: {
  appName: string;
  to: string;
  code: string;
  graceSeconds: number;
  dueAt: Date;
}): MailMessage {
  const { appName, code } = input;
  const within = days(input.graceSeconds);
  const due = utcTime(input.dueAt);
  const subject = `Your ${appName} account will be deleted`;
  const text = [
    `Your ${appName} account is scheduled for deletion, as you asked. You have been signed out everywhere and can no longer sign in.`,
    "",
    `It will be deleted for good at ${due} (in ${within}). Until then you can keep it: restore it with this address and your restore code.`,
    "",
    `Your restore code is: ${code}`,
    "",
    `The code expires at ${due}, when the account is deleted. If you did not ask for this, restore the account now and change your password.`,
  ].join("\n");
  const html = htmlDocument(
    subject,
    `<p>Your ${escapeHtml(appName)} account is scheduled for deletion, as you asked. You have been signed out everywhere and can no longer sign in.</p>
<p>It will be deleted for good at <strong>${escapeHtml(due)}</strong> (in ${escapeHtml(within)}). Until then you can keep it: restore it with this address and your restore code.</p>
<p>Your restore code is:</p>
<p style="font-size:28px;font-weight:700;letter-spacing:6px;font-family:ui-monospace,Menlo,Consolas,monospace">${escapeHtml(code)}</p>
<p>The code expires at ${escapeHtml(due)}, when the account is deleted.</p>
<p style="color:#666">If you did not ask for this, restore the account now and change your password.</p>`,
  );
  return { to: input.to, subject, text, html, tag: "account_deletion" };
}

/**
 * DELETE /auth/account of an account without a password: the code that confirms it is the owner
 * asking. The subject never carries the code.
 */
export function deletionCodeMessage(input: {
  appName: string;
  to: string;
  code: string;
  ttlSeconds: number;
  expiresAt: Date;
}): MailMessage {
  const { appName, code } = input;
  const validFor = minutes(input.ttlSeconds);
  const until = utcTime(input.expiresAt);
  const subject = `Confirm the deletion of your ${appName} account`;
  const text = [
    `Someone signed in to your ${appName} account asked to delete it. To confirm, enter this code where you asked:`,
    "",
    `Your deletion code is: ${code}`,
    "",
    `It expires in ${validFor} (at ${until}) and works only once.`,
    "",
    "If you did not ask for this, ignore this email (nothing is deleted without the code), and sign out of devices you do not recognise.",
    "Never share this code with anyone.",
  ].join("\n");
  const html = htmlDocument(
    subject,
    `<p>Someone signed in to your ${escapeHtml(appName)} account asked to delete it. To confirm, enter this code where you asked:</p>
<p>Your deletion code is:</p>
<p style="font-size:28px;font-weight:700;letter-spacing:6px;font-family:ui-monospace,Menlo,Consolas,monospace">${escapeHtml(code)}</p>
<p>It expires in <strong>${escapeHtml(validFor)}</strong> (at ${escapeHtml(until)}) and works only once.</p>
<p style="color:#666">If you did not ask for this, ignore this email (nothing is deleted without the code), and sign out of devices you do not recognise. Never share this code with anyone.</p>`,
  );
  return { to: input.to, subject, text, html, tag: "account_deletion_code" };
}
