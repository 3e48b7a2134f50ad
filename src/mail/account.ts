import type { MailMessage } from "./mailer";
import { escapeHtml, htmlDocument, utcTime } from "./templates";

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
