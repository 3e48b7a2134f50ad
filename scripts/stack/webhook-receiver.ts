// A local webhook receiver: what a service that subscribes to this API's webhooks runs, reduced
// to what the tests and the bench need. Every delivery is verified with the `standardwebhooks`
// library (as a receiver would, unchanged) against each secret registered for its hook, and
// recorded. Used by the test global setup and the bench. Never for production.
// On its own:  node scripts/stack/webhook-receiver.ts   (port WEBHOOK_RECEIVER_PORT, default 8027).
//
//   POST   /hooks/:name                 a delivery: verified, recorded, then answered as the hook's
//                                       behaviour says (default 204)
//   PUT    /_control/hooks/:name        {secrets?: {label: whsec_...}, fail?: n, failStatus?: s, hang?: n}:
//                                       register a hook: the secrets to verify with, the next `fail`
//                                       deliveries answered `failStatus` (500), the next `hang` ones
//                                       never answered (held until the sender gives up)
//   GET    /_control/hooks/:name        {deliveries: [...], held: n}: what it received, oldest first
//   DELETE /_control/hooks/:name        forget the hook
import http from "node:http";
import { Webhook } from "standardwebhooks";
import { readBody } from "./http-body.ts";
import { listeningPort } from "./local-service.ts";

const MAX_BODY = 256 * 1024;
const MAX_DELIVERIES = 20_000;

export interface ReceivedDelivery {
  /** Headers as sent. */
  webhookId: string;
  webhookTimestamp: string;
  webhookSignature: string;
  /** The body as received (what the signature covers), and parsed. */
  body: string;
  payload: any;
  /** For each registered secret's label: whether the delivery verifies with it (standardwebhooks). */
  verified: Record<string, boolean>;
  /** When it arrived (this machine's clock, ms). */
  receivedAt: number;
  /** The status answered, or null (held: never answered). */
  answered: number | null;
  /** Held deliveries: when the sender closed the connection (gave up), ms. */
  closedAt: number | null;
}

interface Hook {
  secrets: Record<string, string>;
  fail: number;
  failStatus: number;
  hang: number;
  deliveries: ReceivedDelivery[];
  held: Set<http.ServerResponse>;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body?: object) {
  res.writeHead(status, body ? { "content-type": "application/json", "cache-control": "no-store" } : {});
  res.end(body ? JSON.stringify(body) : undefined);
}

function verify(secrets: Record<string, string>, body: string, headers: Record<string, string>) {
  const verified: Record<string, boolean> = {};
  for (const [label, secret] of Object.entries(secrets)) {
    try {
      new Webhook(secret).verify(body, headers);
      verified[label] = true;
    } catch {
      verified[label] = false;
    }
  }
  return verified;
}

/** Start the receiver. `port` 0 or undefined picks a free port. */
export async function startWebhookReceiver({
  port = 0,
  host = "127.0.0.1",
}: {
  port?: number;
  host?: string;
} = {}): Promise<WebhookReceiver> {
  const hooks = new Map<string, Hook>();
  const hook = (name: string) => {
    let h = hooks.get(name);
    if (!h) {
      h = { secrets: {}, fail: 0, failStatus: 500, hang: 0, deliveries: [], held: new Set() };
      hooks.set(name, h);
    }
    return h;
  };

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const m = /^\/(hooks|_control\/hooks)\/([A-Za-z0-9_.-]{1,100})$/.exec(url.pathname);
      if (!m) return send(res, 404, { error: "not found" });
      const [, area, name] = m;
      if (area === "hooks" && req.method === "POST") {
        const body = await readBody(req, MAX_BODY);
        const h = hook(name);
        const headers = {
          "webhook-id": String(req.headers["webhook-id"] ?? ""),
          "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
          "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
        };
        let payload: unknown = null;
        try {
          payload = JSON.parse(body);
        } catch {}
        const delivery: ReceivedDelivery = {
          webhookId: headers["webhook-id"],
          webhookTimestamp: headers["webhook-timestamp"],
          webhookSignature: headers["webhook-signature"],
          body,
          payload,
          verified: verify(h.secrets, body, headers),
          receivedAt: Date.now(),
          answered: null,
          closedAt: null,
        };
        h.deliveries.push(delivery);
        if (h.deliveries.length > MAX_DELIVERIES) h.deliveries.splice(0, h.deliveries.length - MAX_DELIVERIES);
        if (h.hang > 0) {
          h.hang--;
          h.held.add(res);
          res.on("close", () => {
            h.held.delete(res);
            delivery.closedAt = Date.now();
          });
          return;
        }
        const failing = h.fail > 0;
        if (failing) h.fail--;
        const status = failing ? h.failStatus : 204;
        delivery.answered = status;
        return send(res, status);
      }
      if (area === "_control/hooks" && req.method === "PUT") {
        const body = JSON.parse((await readBody(req, MAX_BODY)) || "{}");
        const h = hook(name);
        if (body.secrets) h.secrets = body.secrets;
        h.fail = Math.max(0, Number(body.fail ?? 0) | 0);
        h.failStatus = Number(body.failStatus ?? 500) | 0;
        h.hang = Math.max(0, Number(body.hang ?? 0) | 0);
        return send(res, 200, { name, fail: h.fail, hang: h.hang });
      }
      if (area === "_control/hooks" && req.method === "GET") {
        const h = hook(name);
        return send(res, 200, { deliveries: h.deliveries, held: h.held.size });
      }
      if (area === "_control/hooks" && req.method === "DELETE") {
        const h = hooks.get(name);
        for (const r of h?.held ?? []) r.destroy();
        hooks.delete(name);
        return send(res, 200, { deleted: Boolean(h) });
      }
      return send(res, 405, { error: "method not allowed" });
    } catch (err) {
      if (!res.headersSent) send(res, 500, { error: String((err as Error)?.message ?? err) });
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
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

// node scripts/stack/webhook-receiver.ts: the receiver on its own (register a hook's secret with PUT /_control/hooks/:name).
if (import.meta.main) {
  const receiver = await startWebhookReceiver({ port: Number(process.env.WEBHOOK_RECEIVER_PORT ?? 8027) });
  console.log(`webhook receiver: POST ${receiver.url}/hooks/<name>  (what it got: GET ${receiver.url}/_control/hooks/<name>)`);
  const stop = async () => {
    await receiver.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
