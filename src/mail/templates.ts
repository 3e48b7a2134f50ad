import type { Config } from "../config";
import type { Locale } from "../i18n/locales";
import { type MessageKey, type MessageParams, mailMoment, t } from "../i18n/messages";
import type { MailMessage } from "./mailer";

/**
 * Every kind of mail, declared once: its tag (logs, the Resend category) names its messages in
 * the catalogs, `mail.<tag>.subject` and the rest of `mail.<tag>.*` (shared sentences are
 * `mail.common.*`). A mail is written in its recipient's locale from those messages only
 * (docs/languages.md); test/node/i18n.test.ts renders every one in every locale.
 */
export const MAIL_TAGS = [
  "password_reset",
  "password_changed",
  "email_verification",
  "sign_in_code",
  "email_change",
  "email_change_notice",
  "email_changed",
  "email_reverted",
  "account_deletion",
  "account_deletion_code",
  "registration_attempt",
  "mfa_enabled",
  "mfa_disabled",
  "mfa_recovery_code_used",
  "mfa_recovery_codes_regenerated",
  "identity_linked",
  "identity_unlinked",
  "passkey_added",
  "passkey_removed",
  "passkey_sign_up_code",
  "webhook_disabled",
] as const;
export type MailTag = (typeof MAIL_TAGS)[number];

/** Who a mail goes to and how it is written: the locale, the product name and the time zone of its times. */
export interface Envelope {
  to: string;
  locale: Locale;
  appName: string;
  /** MAIL_TIME_ZONE: workerd's own zone is UTC. */
  timeZone: string;
}

export const envelope = (config: Pick<Config, "APP_NAME" | "MAIL_TIME_ZONE">, to: string, locale: Locale): Envelope => ({
  to,
  locale,
  appName: config.APP_NAME,
  timeZone: config.MAIL_TIME_ZONE,
});

/** Escape text for HTML element content and attribute values. */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** The HTML document every message uses around its body, in the mail's language. */
const htmlDocument = (locale: Locale, subject: string, body: string) => `<!doctype html>
<html lang="${locale}"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;line-height:1.5">
${body}
</body></html>`;

const CODE_STYLE = "font-size:28px;font-weight:700;letter-spacing:6px;font-family:ui-monospace,Menlo,Consolas,monospace";
const MUTED_STYLE = "color:#666";

/** The mails whose point is a code: each has `mail.<tag>.intro`, `.code_label` and `.outro`. */
type CodeMailTag =
  | "password_reset"
  | "email_verification"
  | "sign_in_code"
  | "email_change"
  | "account_deletion_code"
  | "passkey_sign_up_code";
export interface CodeInput {
  code: string;
  ttlSeconds: number;
  expiresAt: Date;
}

/**
 * A code mail: what it is for, the code (in both bodies, never in the subject), when it expires
 * (a duration and a clock time in MAIL_TIME_ZONE), what to do if it was not you, and never to share it.
 */
export function codeMail(e: Envelope, tag: CodeMailTag, input: CodeInput): MailMessage {
  const w = mailWriter(e);
  return w.mail(tag, [
    w.p(`mail.${tag}.intro`),
    w.code(`mail.${tag}.code_label`, input.code),
    w.p("mail.common.expires", { duration: w.validFor(input.ttlSeconds), time: w.clock(input.expiresAt) }, { strong: ["duration"] }),
    w.note(`mail.${tag}.outro`, "mail.common.never_share"),
  ]);
}

/** One paragraph of a mail, in both bodies. */
export interface Block {
  text: string;
  html: string;
}

/** The messages a mail may use; `app` (APP_NAME) is filled in by the writer. */
type MailKey = MessageKey & (`mail.${string}` | `time.${string}`);
type Vars<K extends MailKey> = MessageParams[K] extends undefined ? Record<string, never> : Omit<NonNullable<MessageParams[K]>, "app">;
type VarsArg<K extends MailKey> = Record<string, never> extends Vars<K> ? [vars?: Vars<K>] : [vars: Vars<K>];

/** Marks a parameter in a rendered message, so the HTML body can escape the text and then emphasise the value. */
const MARK = "\u0001";

/**
 * The writer of one mail: its messages in the envelope's locale with the product name filled in,
 * the times in MAIL_TIME_ZONE, and the blocks both bodies are made of. Parameters are escaped for
 * the HTML body like the rest of the text; `strong` ones are emphasised there.
 */
export function mailWriter(e: Envelope) {
  const say = <K extends MailKey>(key: K, ...[vars]: VarsArg<K>): string =>
    (t as (l: Locale, k: MessageKey, p?: object) => string)(e.locale, key, { app: e.appName, ...vars });

  const paragraph = (text: string, html: string, style?: string): Block => ({
    text,
    html: `<p${style ? ` style="${style}"` : ""}>${html}</p>`,
  });

  return {
    say,
    /** A moment as "7:35 pm IST on 17 May 2031" ("17 मई 2031 को शाम 7:35 बजे (IST)"). */
    moment: (at: Date) => say("time.moment", mailMoment(e.locale, at, e.timeZone)),
    /** A clock time only ("7:35 pm IST"): for codes that expire within the hour. */
    clock: (at: Date) => mailMoment(e.locale, at, e.timeZone).time,
    /** "1 minute", "15 minutes"; whole hours from two hours up ("72 hours"). */
    validFor: (seconds: number) =>
      seconds >= 7200 && seconds % 3600 === 0
        ? say("time.hours", { count: seconds / 3600 })
        : say("time.minutes", { count: Math.max(1, Math.round(seconds / 60)) }),
    days: (seconds: number) => say("time.days", { count: Math.max(1, Math.round(seconds / 86400)) }),

    /** A paragraph of one message; `strong` parameters are emphasised in the HTML body. */
    p<K extends MailKey>(key: K, vars?: Vars<K>, options: { strong?: (keyof Vars<K> & string)[]; muted?: boolean } = {}): Block {
      const strong = options.strong ?? [];
      const marked = { ...vars } as Record<string, unknown>;
      for (const name of strong) marked[name] = `${MARK}${name}${MARK}`;
      const text = (say as (k: MailKey, v?: object) => string)(key, vars);
      const html = escapeHtml((say as (k: MailKey, v?: object) => string)(key, marked)).replace(
        new RegExp(`${MARK}(\\w+)${MARK}`, "g"),
        (_, name: string) => `<strong>${escapeHtml(String((vars as Record<string, unknown>)[name]))}</strong>`,
      );
      return paragraph(text, html, options.muted ? MUTED_STYLE : undefined);
    },
    /** Several messages as one muted paragraph (the closing advice). */
    note(...keys: MailKey[]): Block {
      const text = keys.map((k) => (say as (k: MailKey) => string)(k)).join(" ");
      return paragraph(text, escapeHtml(text), MUTED_STYLE);
    },
    /** A code under its label: one line in the text body, large and spaced in the HTML body. */
    code(label: MailKey, code: string): Block {
      const text = (say as (k: MailKey) => string)(label);
      return { text: `${text} ${code}`, html: `<p>${escapeHtml(text)}</p>\n<p style="${CODE_STYLE}">${escapeHtml(code)}</p>` };
    },
    /** The message: the subject is `mail.<tag>.subject` (with `subject` as its parameters), which never carries a code. */
    mail(tag: MailTag, blocks: Block[], subjectVars?: Record<string, string>): MailMessage {
      const subject = (say as (k: MailKey, v?: object) => string)(`mail.${tag}.subject`, subjectVars);
      const html = htmlDocument(e.locale, subject, blocks.map((b) => b.html).join("\n"));
      return { to: e.to, subject, text: blocks.map((b) => b.text).join("\n\n"), html, tag };
    },
  };
}
