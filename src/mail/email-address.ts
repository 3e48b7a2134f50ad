import type { MailMessage } from "./mailer";
import { escapeHtml, htmlDocument, minutes, utcTime } from "./templates";

/**
 * The mails of email verification and email change (src/auth/account/email-verification.ts,
 * src/auth/account/change-email.ts). Each code mail shows the code and when it expires in both bodies;
 * no subject carries a code (lock-screen previews).
 */

const CODE_STYLE = "font-size:28px;font-weight:700;letter-spacing:6px;font-family:ui-monospace,Menlo,Consolas,monospace";

/** "15 minutes", "72 hours". */
const validFor = (seconds: number) => (seconds >= 7200 && seconds % 3600 === 0 ? `${seconds / 3600} hours` : minutes(seconds));

interface CodeMail {
  appName: string;
  to: string;
  code: string;
  ttlSeconds: number;
  expiresAt: Date;
}

function codeMessage(input: CodeMail & { subject: string; intro: string; label: string; outro: string; tag: string }): MailMessage {
  const { code, subject } = input;
  const valid = validFor(input.ttlSeconds);
  const until = utcTime(input.expiresAt);
  const text = [
    input.intro,
    "",
    `Your ${input.label} is: ${code}`,
    "",
    `It expires in ${valid} (at ${until}) and works only once.`,
    "",
    input.outro,
    "Never share this code with anyone.",
  ].join("\n");
  const html = htmlDocument(
    subject,
    `<p>${escapeHtml(input.intro)}</p>
<p>Your ${escapeHtml(input.label)} is:</p>
<p style="${CODE_STYLE}">${escapeHtml(code)}</p>
<p>It expires in <strong>${escapeHtml(valid)}</strong> (at ${escapeHtml(until)}) and works only once.</p>
<p style="color:#666">${escapeHtml(input.outro)} Never share this code with anyone.</p>`,
  );
  return { to: input.to, subject, text, html, tag: input.tag };
}

/** The code that verifies the account's address (after registration, on request, after a refused login). */
export function verificationCodeMessage(input: CodeMail): MailMessage {
  return codeMessage({
    ...input,
    subject: `Your ${input.appName} verification code`,
    intro: `Enter this code in ${input.appName} to verify your email address.`,
    label: "verification code",
    outro: `If you did not create a ${input.appName} account with this address, ignore this email.`,
    tag: "email_verification",
  });
}

/** The code that signs in without a password (POST /auth/sign-in/code). */
export function signInCodeMessage(input: CodeMail): MailMessage {
  return codeMessage({
    ...input,
    subject: `Your ${input.appName} sign-in code`,
    intro: `Someone asked to sign in to your ${input.appName} account with a code sent to this address.`,
    label: "sign-in code",
    outro: "If you did not ask for this, ignore this email: nobody can sign in without the code.",
    tag: "sign_in_code",
  });
}

/** The code that confirms a new address, sent to that address. */
export function emailChangeCodeMessage(input: CodeMail): MailMessage {
  return codeMessage({
    ...input,
    subject: `Confirm your new ${input.appName} email address`,
    intro: `Someone asked to make this the email address of a ${input.appName} account. Enter this code to confirm it.`,
    label: "confirmation code",
    outro: "If you did not ask for this, ignore this email: nothing changes without the code.",
    tag: "email_change",
  });
}

/** How the owner of the address being left can take the change back. */
export type RevertHint =
  /** A fresh undo code. */
  | { code: string; expiresAt: Date; ttlSeconds: number }
  /** The undo code of an earlier mail about this account still works (now until `expiresAt`). */
  | { earlier: true; expiresAt: Date }
  /** The undo code went to the account's earlier address; this one can only act on the account. */
  | null;

function revertParts(revert: RevertHint): { text: string[]; html: string } {
  if (!revert)
    return {
      text: [
        'If this wasn\'t you, someone knows your password: reset it now with "Forgot password" on the sign-in screen, which signs everyone out.',
      ],
      html: `<p><strong>If this wasn't you</strong>, someone knows your password: reset it now with “Forgot password” on the sign-in screen, which signs everyone out.</p>`,
    };
  const until = utcTime(revert.expiresAt);
  if ("earlier" in revert)
    return {
      text: [`If this wasn't you, undo it with the code from our earlier email about this account: it now works until ${until}.`],
      html: `<p><strong>If this wasn't you</strong>, undo it with the code from our earlier email about this account: it now works until ${escapeHtml(until)}.</p>`,
    };
  const valid = validFor(revert.ttlSeconds);
  return {
    text: [
      'If this wasn\'t you, undo it: enter this address and this code under "Undo email change".',
      "",
      `Your undo code is: ${revert.code}`,
      "",
      `It expires in ${valid} (at ${until}). Undoing restores this address, signs everyone out, and you should then reset your password.`,
    ],
    html: `<p><strong>If this wasn't you</strong>, undo it: enter this address and this code under “Undo email change”.</p>
<p>Your undo code is:</p>
<p style="${CODE_STYLE}">${escapeHtml(revert.code)}</p>
<p>It expires in <strong>${escapeHtml(valid)}</strong> (at ${escapeHtml(until)}). Undoing restores this address, signs everyone out, and you should then reset your password.</p>`,
  };
}

/** To the address being left, when a change is requested: what is happening, and the way back. */
export function emailChangeNoticeMessage(input: {
  appName: string;
  to: string;
  newEmail: string;
  at: Date;
  revert: RevertHint;
}): MailMessage {
  const { appName, newEmail } = input;
  const lead = `At ${utcTime(input.at)} someone signed in to the ${appName} account of this address asked to change its email address to ${newEmail}. The change happens once the code sent to the new address is entered.`;
  return noticeWithRevert(input.to, `Your ${appName} email address is being changed`, lead, input.revert, "email_change_notice");
}

/** To the address that was left, once the change is confirmed. */
export function emailChangedMessage(input: { appName: string; to: string; newEmail: string; at: Date; revert: RevertHint }): MailMessage {
  const { appName, newEmail } = input;
  const lead = `At ${utcTime(input.at)} the email address of your ${appName} account was changed to ${newEmail}, and every other signed-in session was signed out. Mail about the account now goes to the new address.`;
  return noticeWithRevert(input.to, `Your ${appName} email address was changed`, lead, input.revert, "email_changed");
}

/** A notice to the address being left: what happened, and the way back (the revert code). */
function noticeWithRevert(to: string, subject: string, lead: string, hint: RevertHint, tag: string): MailMessage {
  const revert = revertParts(hint);
  const text = [lead, "", "If this was you, there is nothing more to do.", ...revert.text].join("\n");
  const html = htmlDocument(
    subject,
    `<p>${escapeHtml(lead)}</p>
<p>If this was you, there is nothing more to do.</p>
${revert.html}`,
  );
  return { to, subject, text, html, tag };
}

/** To the restored address, after an undo. */
export function emailRevertedMessage(input: { appName: string; to: string; at: Date }): MailMessage {
  const { appName } = input;
  const when = utcTime(input.at);
  const subject = `Your ${appName} email address was restored`;
  const lead = `At ${when} this address was restored as the email address of your ${appName} account, and every session was signed out.`;
  const next =
    'Whoever changed it knew your password: reset it now with "Forgot password" on the sign-in screen (the code comes to this address).';
  const text = [lead, "", next].join("\n");
  const html = htmlDocument(
    subject,
    `<p>${escapeHtml(lead)}</p>
<p><strong>Whoever changed it knew your password</strong>: reset it now with “Forgot password” on the sign-in screen (the code comes to this address).</p>`,
  );
  return { to: input.to, subject, text, html, tag: "email_reverted" };
}
