import { Resend } from "resend";
import type { Config } from "../config";
import type { LogLevel } from "../log";

/** One message. `tag` names its kind in logs and as a Resend tag (letters, digits, _ and -). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  tag?: string;
}

type SendResult = { ok: true; id: string; attempts: number } | { ok: false; reason: string; attempts: number };

export interface Mailer {
  /** Never throws and never hangs: bounded by MAIL_TIMEOUT_MS per attempt and MAIL_RETRIES. */
  send(message: MailMessage): Promise<SendResult>;
}

type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const MAX_BACKOFF_MS = 2000;
const MAX_RETRY_AFTER_MS = 5000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ResendError {
  statusCode?: number | null;
  name?: string;
  message?: string;
}

/** 429, 5xx and network errors/timeouts (no status) are worth another try; 4xx are not. */
function isTransient(err: ResendError): boolean {
  const status = err.statusCode;
  if (status === null || status === undefined)
    return !err.name || ["application_error", "internal_server_error", "rate_limit_exceeded"].includes(err.name);
  return status === 429 || status >= 500;
}

function backoffMs(attempt: number, headers: Record<string, string> | null): number {
  const retryAfter = Number(headers?.["retry-after"]);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS);
  const base = Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

/**
 * The Resend mailer: the real `resend` SDK, pointed at RESEND_BASE_URL when set (the local
 * capture server in dev and tests). Each attempt is cut off after MAIL_TIMEOUT_MS; 429, 5xx
 * and network failures are retried MAIL_RETRIES times with a short backoff, all under one
 * Idempotency-Key so a retry after a lost answer cannot deliver twice. A final failure is
 * logged (kind of message and reason, never its content or recipient) and returned.
 */
export function createMailer(config: Config, log: Log): Mailer {
  const mail = {
    apiKey: config.RESEND_API_KEY,
    baseUrl: config.RESEND_BASE_URL,
    from: config.MAIL_FROM,
    retries: config.MAIL_RETRIES,
    timeoutMs: config.MAIL_TIMEOUT_MS,
  };
  let client: Resend | undefined;
  return {
    async send(message) {
      const tag = message.tag ?? "mail";
      if (!mail.apiKey) {
        log("error", "mail not sent: RESEND_API_KEY is not set", { tag });
        return { ok: false, reason: "not_configured", attempts: 0 };
      }
      client ??= new Resend(mail.apiKey, mail.baseUrl ? { baseUrl: mail.baseUrl.replace(/\/+$/, "") } : undefined);
      const idempotencyKey = `${tag}/${crypto.randomUUID()}`;
      const payload = {
        from: mail.from,
        to: [message.to],
        subject: message.subject,
        text: message.text,
        html: message.html,
        tags: [{ name: "category", value: tag.replace(/[^A-Za-z0-9_-]/g, "_") }],
      };
      let last: ResendError = {};
      const attemptsAllowed = mail.retries + 1;
      for (let attempt = 0; attempt < attemptsAllowed; attempt++) {
        let result: Awaited<ReturnType<Resend["emails"]["send"]>>;
        try {
          result = await client.emails.send(payload, { idempotencyKey, signal: AbortSignal.timeout(mail.timeoutMs) });
        } catch (err) {
          // The SDK reports HTTP and network failures as values; anything thrown is unexpected.
          result = {
            data: null,
            error: { name: "application_error", message: String((err as Error)?.message ?? err), statusCode: null },
            headers: null,
          } as never;
        }
        if (result.data && !result.error) {
          if (attempt > 0) log("info", "mail sent after retry", { tag, attempts: attempt + 1 });
          return { ok: true, id: result.data.id, attempts: attempt + 1 };
        }
        last = (result.error ?? {}) as ResendError;
        if (!isTransient(last) || attempt === attemptsAllowed - 1) {
          log("error", "mail send failed", {
            tag,
            attempts: attempt + 1,
            status: last.statusCode ?? null,
            reason: last.name ?? "unknown",
            detail: last.message?.slice(0, 200),
          });
          return { ok: false, reason: last.name ?? "unknown", attempts: attempt + 1 };
        }
        log("warn", "mail send failed, retrying", { tag, attempt: attempt + 1, status: last.statusCode ?? null, reason: last.name });
        await sleep(backoffMs(attempt, result.headers ?? null));
      }
      return { ok: false, reason: last.name ?? "unknown", attempts: attemptsAllowed };
    },
  };
}
