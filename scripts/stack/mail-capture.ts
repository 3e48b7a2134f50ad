// A local stand-in for the Resend API: accepts what the `resend` SDK sends (POST /emails),
// keeps the messages in memory and shows them to people (GET /) and to tests (GET /emails).
// Used by `npm run dev` (scripts/stack/dev.ts) and by the test global setup. Never for production.
// On its own:  node scripts/stack/mail-capture.ts   (port MAIL_CAPTURE_PORT, default 8025; point
// the Worker at it with RESEND_BASE_URL).
//
//   POST   /emails            Resend's "send email": answers {id} (Idempotency-Key honoured)
//   GET    /emails            {object:"list", has_more:false, data:[...]} newest first; ?to=addr filters
//   GET    /emails/:id        one message
//   DELETE /emails            clear the inbox
//   GET    /                  a small HTML inbox page
//   POST   /_control/fail     {count, status?, delayMs?}: the next `count` POST /emails fail with
//                             `status` (default 500), or are stored but answered after `delayMs`
//   GET    /_control          {received, failRemaining}: counters for tests
import http from "node:http";
import { type HttpError, readBody } from "./http-body.ts";
import { listeningPort } from "./local-service.ts";

const MAX_BODY = 10 * 1024 * 1024;
const MAX_MESSAGES = 1000;

export interface CapturedMail {
  id: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  reply_to: string[];
  subject: string;
  text: string | null;
  html: string | null;
  tags: { name: string; value: string }[];
  created_at: string;
}

export interface MailCapture {
  url: string;
  port: number;
  messages: CapturedMail[];
  stop(): Promise<void>;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

const asList = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

function send(res: http.ServerResponse, status: number, body: string | object, headers: Record<string, string> = {}) {
  const isText = typeof body === "string";
  const payload = isText ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": isText ? "text/html; charset=utf-8" : "application/json",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(payload);
}

const resendError = (res: http.ServerResponse, status: number, name: string, message: string) =>
  send(res, status, { statusCode: status, name, message });

function inboxPage(messages: CapturedMail[]) {
  const items = messages
    .map(
      (m) => `<details>
  <summary><strong>${escapeHtml(m.subject)}</strong> <span class="meta">to ${escapeHtml(m.to.join(", "))} · from ${escapeHtml(m.from)} · ${escapeHtml(m.created_at)}</span></summary>
  <h3>Text</h3><pre>${escapeHtml(m.text ?? "(none)")}</pre>
  <h3>HTML</h3>${m.html ? `<iframe sandbox="" srcdoc="${escapeHtml(m.html)}"></iframe>` : "<p>(none)</p>"}
</details>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mail capture (${messages.length})</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
details{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;margin:.6rem 0}
summary{cursor:pointer}.meta{color:#666;font-size:.9em}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.6rem;border-radius:4px}
iframe{width:100%;height:24rem;border:1px solid #ddd;border-radius:4px;background:#fff}
</style></head><body>
<h1>Mail capture</h1>
<p>${messages.length} message(s), newest first. Nothing here is delivered to anyone. <a href="/">Refresh</a> · JSON at <a href="/emails">/emails</a></p>
${items || "<p>No mail yet.</p>"}
</body></html>`;
}

/** Start the capture server. `port` 0 or undefined picks a free port. */
export async function startMailCapture({ port = 0, host = "127.0.0.1" }: { port?: number; host?: string } = {}): Promise<MailCapture> {
  /** Newest last; listed newest first. */
  const messages: CapturedMail[] = [];
  const byIdempotencyKey = new Map<string, string>();
  let failRemaining = 0;
  let failStatus = 500;
  let delayMs = 0;
  let received = 0;

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const route = `${req.method} ${url.pathname.replace(/\/+$/, "") || "/"}`;

      if (route === "POST /emails") {
        received++;
        const raw = await readBody(req, MAX_BODY);
        if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? ""))
          return resendError(res, 401, "missing_api_key", "Missing API key in the authorization header.");
        if (failRemaining > 0 && !delayMs) {
          failRemaining--;
          return resendError(res, failStatus, failStatus === 429 ? "rate_limit_exceeded" : "internal_server_error", "Simulated failure.");
        }
        let body: Record<string, any>;
        try {
          body = JSON.parse(raw);
        } catch {
          return resendError(res, 400, "invalid_json", "The body is not valid JSON.");
        }
        const to = asList(body.to);
        if (!body.from || to.length === 0 || !body.subject)
          return resendError(res, 422, "validation_error", "`from`, `to` and `subject` are required.");
        const key = req.headers["idempotency-key"];
        const seen = typeof key === "string" ? byIdempotencyKey.get(key) : undefined;
        let id = seen;
        if (!id) {
          id = crypto.randomUUID();
          messages.push({
            id,
            from: String(body.from),
            to,
            cc: asList(body.cc),
            bcc: asList(body.bcc),
            reply_to: asList(body.reply_to),
            subject: String(body.subject),
            text: body.text ?? null,
            html: body.html ?? null,
            tags: body.tags ?? [],
            created_at: new Date().toISOString(),
          });
          if (messages.length > MAX_MESSAGES) messages.splice(0, messages.length - MAX_MESSAGES);
          if (typeof key === "string") byIdempotencyKey.set(key, id);
        }
        if (failRemaining > 0 && delayMs) {
          // Stored, but the answer comes late: a client that gave up will retry.
          failRemaining--;
          await new Promise((r) => setTimeout(r, delayMs));
        }
        return send(res, 200, { id });
      }
      if (route === "GET /emails") {
        const to = url.searchParams.get("to")?.toLowerCase();
        const data = messages
          .filter((m) => !to || m.to.some((t) => t.toLowerCase() === to || t.toLowerCase().endsWith(`<${to}>`)))
          .reverse();
        return send(res, 200, { object: "list", has_more: false, data });
      }
      if (route === "DELETE /emails") {
        messages.length = 0;
        byIdempotencyKey.clear();
        return send(res, 200, { deleted: true });
      }
      if (req.method === "GET" && url.pathname.startsWith("/emails/")) {
        const m = messages.find((x) => x.id === decodeURIComponent(url.pathname.slice("/emails/".length)));
        return m ? send(res, 200, { object: "email", ...m }) : resendError(res, 404, "not_found", "Email not found.");
      }
      if (route === "GET /") return send(res, 200, inboxPage([...messages].reverse()));
      if (route === "POST /_control/fail") {
        const body = JSON.parse((await readBody(req, MAX_BODY)) || "{}");
        failRemaining = Math.max(0, Number(body.count ?? 1) | 0);
        failStatus = Number(body.status ?? 500) | 0;
        delayMs = Math.max(0, Number(body.delayMs ?? 0) | 0);
        return send(res, 200, { failRemaining, status: failStatus, delayMs });
      }
      if (route === "GET /_control") return send(res, 200, { received, failRemaining, messages: messages.length });
      return resendError(res, 404, "not_found", `No route for ${req.method} ${url.pathname}.`);
    } catch (err) {
      if (!res.headersSent)
        resendError(res, (err as HttpError)?.status ?? 500, "application_error", String((err as Error)?.message ?? err));
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = listeningPort(server);
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actual}`,
    port: actual,
    messages,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

// node scripts/stack/mail-capture.ts: the capture server on its own.
if (import.meta.main) {
  const port = Number(process.env.MAIL_CAPTURE_PORT ?? 8025);
  const capture = await startMailCapture({ port, host: process.env.MAIL_CAPTURE_HOST ?? "127.0.0.1" });
  console.log(`mail capture: inbox ${capture.url}/  (JSON ${capture.url}/emails; set RESEND_BASE_URL=${capture.url})`);
  const stop = async () => {
    await capture.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
