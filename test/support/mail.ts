import { expect, inject } from "vitest";

/** The local mail capture server (scripts/stack/mail-capture.ts) the real `resend` SDK sends to. */
const mailUrl = () => inject("mailUrl");

export interface Mail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  tags?: { name: string; value: string }[];
  created_at: string;
}

/** Messages captured for one address, newest first; with `tag`, only that kind (MailMessage.tag, e.g. "password_reset"). */
export async function mailsTo(email: string, tag?: string): Promise<Mail[]> {
  const res = await fetch(`${mailUrl()}/emails?to=${encodeURIComponent(email)}`);
  expect(res.status).toBe(200);
  const all = (await res.json<{ data: Mail[] }>()).data;
  return tag === undefined ? all : all.filter((m) => tagOf(m) === tag);
}

/** The kind of a captured message (the mailer sends MailMessage.tag as the Resend tag "category"). */
export const tagOf = (m: Mail) => m.tags?.find((t) => t.name === "category")?.value;

/** The 6-digit code in a mail's text: the line that ends with it, after its label ("Your … code is:", "… OTP:"), in any language. */
export function codeIn(mail: Mail): string {
  const m = /:\s*(\d{6})\s*$/m.exec(mail.text);
  if (!m) throw new Error(`no code in mail: ${mail.subject}`);
  return m[1];
}

/** The code from the newest mail to `email` whose subject matches. */
export async function latestCode(email: string, subject: RegExp = /code/i): Promise<string> {
  const mail = (await mailsTo(email)).find((m) => subject.test(m.subject));
  expect(mail, `a mail to ${email} matching ${subject}`).toBeDefined();
  return codeIn(mail!);
}

/** The next `count` sends fail with `status` (or are stored and answered after `delayMs`). */
export async function failNextSends(count: number, status = 500, delayMs = 0) {
  const res = await fetch(`${mailUrl()}/_control/fail`, { method: "POST", body: JSON.stringify({ count, status, delayMs }) });
  expect(res.status).toBe(200);
}

export async function captureStats(): Promise<{ received: number; failRemaining: number }> {
  return (await fetch(`${mailUrl()}/_control`)).json();
}
