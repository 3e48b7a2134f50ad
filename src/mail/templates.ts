import type { MailMessage } from "./mailer";

/** Escape text for HTML element content and attribute values. */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** The HTML document every message uses around its body. */
export const htmlDocument = (subject: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;line-height:1.5">
${body}
</body></html>`;

const minutes = (seconds: number) => {
  const m = Math.max(1, Math.round(seconds / 60));
  return `${m} minute${m === 1 ? "" : "s"}`;
};

/** "14:05 UTC on 17 Nov 2026": unambiguous for any reader. */
export const utcTime = (d: Date) =>
  `${d.toISOString().slice(11, 16)} UTC on ${d.getUTCDate()} ${
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()]
  } ${d.getUTCFullYear()}`;

/**
 * The password-reset mail: the code and when it expires, in a plain-text and an HTML body.
 * The subject says what it is but does not carry the code (lock-screen previews).
 */
export function resetCodeMessage(input: { appName: string; to: string; code: string; ttlSeconds: number; expiresAt: Date }): MailMessage {
  const { appName, code } = input;
  const validFor = minutes(input.ttlSeconds);
  const until = utcTime(input.expiresAt);
  const subject = `Your ${appName} password reset code`;
  const text = [
    `Someone asked to reset the password of your ${appName} account.`,
    "",
    `Your password reset code is: ${code}`,
    "",
    `It expires in ${validFor} (at ${until}) and works only once.`,
    "",
    "If you did not ask for this, ignore this email: your password stays unchanged.",
    "Never share this code with anyone.",
  ].join("\n");
  const a = escapeHtml(appName);
  const html = htmlDocument(
    subject,
    `<p>Someone asked to reset the password of your ${a} account.</p>
<p>Your password reset code is:</p>
<p style="font-size:28px;font-weight:700;letter-spacing:6px;font-family:ui-monospace,Menlo,Consolas,monospace">${escapeHtml(code)}</p>
<p>It expires in <strong>${escapeHtml(validFor)}</strong> (at ${escapeHtml(until)}) and works only once.</p>
<p style="color:#666">If you did not ask for this, ignore this email: your password stays unchanged. Never share this code with anyone.</p>`,
  );
  return { to: input.to, subject, text, html, tag: "password_reset" };
}

/**
 * "Your password was changed": after a reset and after a change, so an owner who did not do it
 * learns at once. Never carries the password or a code; tells the owner how to take the account
 * back (a reset, which ends every session).
 */
export function passwordChangedMessage(input: { appName: string; to: string; at: Date; how: "reset" | "change" }): MailMessage {
  const { appName } = input;
  const when = utcTime(input.at);
  const what = input.how === "reset" ? "reset with a code sent to this address" : "changed from a signed-in session";
  const subject = `Your ${appName} password was changed`;
  const text = [
    `The password of your ${appName} account was ${what} at ${when}. Every session that was signed in before has been signed out.`,
    "",
    "If this was you, there is nothing more to do.",
    'If this wasn\'t you, reset your password now with "Forgot password" on the sign-in screen: that signs everyone else out again.',
  ].join("\n");
  const a = escapeHtml(appName);
  const html = htmlDocument(
    subject,
    `<p>The password of your ${a} account was ${escapeHtml(what)} at ${escapeHtml(when)}. Every session that was signed in before has been signed out.</p>
<p>If this was you, there is nothing more to do.</p>
<p><strong>If this wasn't you</strong>, reset your password now with “Forgot password” on the sign-in screen: that signs everyone else out again.</p>`,
  );
  return { to: input.to, subject, text, html, tag: "password_changed" };
}
