// A local stand-in for Cloudflare Turnstile's siteverify API
// (https://developers.cloudflare.com/turnstile/get-started/server-side-validation/), for tests and
// `npm run dev`. Never for production.
//
//   POST /turnstile/v0/siteverify   form-urlencoded or JSON: secret, response, remoteip?, idempotency_key?
//       Answers like Cloudflare: always JSON {success, "error-codes", challenge_ts?, hostname?, action?,
//       cdata?, metadata?}.
//       - Cloudflare's documented test secrets: 1x0000000000000000000000000000000AA always passes,
//         2x0000000000000000000000000000000AA always fails (invalid-input-response),
//         3x0000000000000000000000000000000AA answers "token already spent" (timeout-or-duplicate).
//         They accept only the dummy token XXXX.DUMMY.TOKEN.XXXX (any other token fails), answer
//         hostname example.com and flag the answer with metadata.result_with_testing_key.
//       - The stand-in's own widgets (`widgets`: a site key and its secret): tokens minted by
//         POST /__tokens are valid for 300 s and verify once; a second verification answers
//         timeout-or-duplicate, unless it carries the idempotency_key of the first (then the first
//         answer again). A token of another widget, a forged or expired one fails.
//       - Unknown secret: invalid-input-secret; none: missing-input-secret; no token:
//         missing-input-response; an idempotency_key that is not a UUID: bad-request.
//   POST /__tokens   {sitekey?, hostname, action?, cdata?, ageSeconds?, behaviour?} -> {token, id}
//       A token as the widget would hand it to a client. behaviour: "hang" (no verification is
//       ever answered; the stand-in notes when the client gives up), "hang-once" (the first
//       verification is carried out, the token spent, but its answer never arrives: a retry with the
//       same idempotency_key gets it, any other a timeout-or-duplicate), "unreachable" (the
//       connection is cut without an answer), "internal-error" (Cloudflare's retryable error).
//       ageSeconds back-dates it (300 or more: expired).
//   GET  /__log      every verification: {id (the token's, when it is one of ours), secret (which
//                    kind), remoteip, idempotency_key, outcome: answered | hung | abandoned |
//                    unreachable, error_codes}. Never the token or the secret themselves.
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import { type HttpError, readBody } from "./http-body.ts";
import { listeningPort } from "./local-service.ts";

export const TEST_SECRETS = {
  pass: "1x0000000000000000000000000000000AA",
  fail: "2x0000000000000000000000000000000AA",
  spent: "3x0000000000000000000000000000000AA",
} as const;
export const DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX";

const TOKEN_TTL_MS = 300_000;
const MAX_TOKEN = 2048;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Behaviour = "hang" | "hang-once" | "unreachable" | "internal-error";
const BEHAVIOURS: readonly string[] = ["hang", "hang-once", "unreachable", "internal-error"];

interface Minted {
  id: string;
  sitekey: string;
  hostname: string;
  action: string;
  cdata: string;
  issuedAt: number;
  behaviour?: Behaviour;
  /** The first verification's idempotency key and answer, once verified. */
  spent?: { key: string | null; answer: SiteverifyAnswer };
}

interface LogEntry {
  id: string | null;
  secret: "test-pass" | "test-fail" | "test-spent" | "widget" | "unknown" | "missing";
  remoteip: string | null;
  idempotency_key: string | null;
  outcome: "answered" | "hung" | "abandoned" | "unreachable";
  error_codes: string[];
}

export interface TurnstileStub {
  url: string;
  /** What TURNSTILE_VERIFY_URL points at. */
  verifyUrl: string;
  port: number;
  log: LogEntry[];
  stop(): Promise<void>;
}

/** What siteverify answers: always `success` and `error-codes`, the rest depends. */
type SiteverifyAnswer = { success: boolean; "error-codes": string[] } & Record<string, unknown>;

const fail = (...codes: string[]): SiteverifyAnswer => ({ success: false, "error-codes": codes, messages: [] });

/** The request's fields, from a form or a JSON body (Cloudflare accepts both). */
function fields(req: http.IncomingMessage, raw: string): Record<string, unknown> | null {
  const type = String(req.headers["content-type"] ?? "").toLowerCase();
  if (type.startsWith("application/json")) {
    try {
      const v = JSON.parse(raw);
      return v && typeof v === "object" && !Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  }
  if (type.startsWith("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(raw));
  return null;
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);

/** Start the stand-in. `widgets`: site key -> secret of the widgets whose tokens POST /__tokens mints. */
export function startTurnstileStub({
  port = 0,
  host = "127.0.0.1",
  widgets = {},
}: {
  port?: number;
  host?: string;
  widgets?: Record<string, string>;
} = {}): Promise<TurnstileStub> {
  const minted = new Map<string, Minted>();
  const log: LogEntry[] = [];
  const held = new Set<http.ServerResponse>();
  const secrets = new Map(Object.entries(widgets).map(([site, secret]) => [secret, site]));

  const send = (res: http.ServerResponse, status: number, body: object) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };

  function verify(req: http.IncomingMessage, res: http.ServerResponse, f: Record<string, unknown> | null) {
    const secret = str(f?.secret);
    const token = str(f?.response);
    const key = str(f?.idempotency_key);
    const entry: LogEntry = {
      id: null,
      secret: !secret
        ? "missing"
        : secret === TEST_SECRETS.pass
          ? "test-pass"
          : secret === TEST_SECRETS.fail
            ? "test-fail"
            : secret === TEST_SECRETS.spent
              ? "test-spent"
              : secrets.has(secret)
                ? "widget"
                : "unknown",
      remoteip: str(f?.remoteip),
      idempotency_key: key,
      outcome: "answered",
      error_codes: [],
    };
    log.push(entry);
    const answer = (body: SiteverifyAnswer) => {
      entry.error_codes = body["error-codes"];
      send(res, 200, body);
    };
    if (!f) return answer(fail("bad-request"));
    if (key !== null && !UUID.test(key)) return answer(fail("bad-request"));
    if (entry.secret === "missing") return answer(fail("missing-input-secret"));
    if (entry.secret === "unknown") return answer(fail("invalid-input-secret"));
    if (!token) return answer(fail("missing-input-response"));
    const testing = { metadata: { result_with_testing_key: true } };
    if (entry.secret.startsWith("test-")) {
      if (token !== DUMMY_TOKEN || entry.secret === "test-fail") return answer({ ...fail("invalid-input-response"), ...testing });
      if (entry.secret === "test-spent") return answer({ ...fail("timeout-or-duplicate"), ...testing });
      return answer({
        success: true,
        "error-codes": [],
        challenge_ts: new Date().toISOString(),
        hostname: "example.com",
        action: "",
        cdata: "",
        ...testing,
      });
    }
    const t = token.length <= MAX_TOKEN ? minted.get(token) : undefined;
    entry.id = t?.id ?? null;
    if (!t || widgets[t.sitekey] !== secret) return answer(fail("invalid-input-response"));
    if (t.behaviour === "unreachable") {
      entry.outcome = "unreachable";
      req.socket.destroy();
      return;
    }
    const hang = () => {
      entry.outcome = "hung";
      held.add(res);
      res.on("close", () => {
        held.delete(res);
        if (!res.writableEnded) entry.outcome = "abandoned";
      });
    };
    if (t.behaviour === "hang") return hang();
    if (t.behaviour === "internal-error") return answer(fail("internal-error"));
    if (t.spent) return t.spent.key !== null && t.spent.key === key ? answer(t.spent.answer) : answer(fail("timeout-or-duplicate"));
    const body: SiteverifyAnswer =
      Date.now() - t.issuedAt >= TOKEN_TTL_MS
        ? fail("timeout-or-duplicate")
        : {
            success: true,
            "error-codes": [],
            challenge_ts: new Date(t.issuedAt).toISOString(),
            hostname: t.hostname,
            action: t.action,
            cdata: t.cdata,
            metadata: { interactive: false },
          };
    t.spent = { key, answer: body };
    if (t.behaviour === "hang-once") return hang();
    answer(body);
  }

  function mint(res: http.ServerResponse, f: Record<string, unknown> | null) {
    const sitekey = str(f?.sitekey) ?? Object.keys(widgets)[0];
    const hostname = str(f?.hostname);
    if (!sitekey || !(sitekey in widgets) || !hostname) return send(res, 400, { error: "need a known sitekey and a hostname" });
    const behaviour = str(f?.behaviour) as Behaviour | null;
    if (behaviour && !BEHAVIOURS.includes(behaviour)) return send(res, 400, { error: `behaviour: one of ${BEHAVIOURS.join(", ")}` });
    const id = randomUUID();
    // Real tokens are long opaque strings; these look alike (and carry no meaning a client could use).
    const token = `0.${randomBytes(96).toString("base64url")}.${id}`;
    minted.set(token, {
      id,
      sitekey,
      hostname,
      action: str(f?.action) ?? "",
      cdata: str(f?.cdata) ?? "",
      issuedAt: Date.now() - Number(f?.ageSeconds ?? 0) * 1000,
      ...(behaviour ? { behaviour } : {}),
    });
    send(res, 201, { token, id });
  }

  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://stub").pathname;
    try {
      if (req.method === "GET" && path === "/__log") return send(res, 200, log);
      if (req.method !== "POST") return send(res, 405, { error: "method not allowed" });
      const body = fields(req, await readBody(req, 64 * 1024));
      if (path === "/turnstile/v0/siteverify") return verify(req, res, body);
      if (path === "/__tokens") return mint(res, body);
      send(res, 404, { error: "not found" });
    } catch (err) {
      send(res, (err as HttpError).status ?? 500, fail("bad-request"));
    }
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const actual = listeningPort(server);
      const url = `http://${host}:${actual}`;
      resolve({
        url,
        verifyUrl: `${url}/turnstile/v0/siteverify`,
        port: actual,
        log,
        stop: () => {
          for (const res of held) res.destroy();
          server.closeAllConnections();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}
