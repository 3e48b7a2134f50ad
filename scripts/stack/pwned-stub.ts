// A local stand-in for the Pwned Passwords range API (https://haveibeenpwned.com/API/v3#PwnedPasswords),
// for tests and `npm run dev`. It answers GET /range/{5 hex} like the real API: `SUFFIX:COUNT`
// lines (CRLF) for every breached password whose SHA-1 starts with the prefix, plus, when the
// request says `Add-Padding: true`, padding lines with count 0. GET /__requests lists what was
// asked (path and Add-Padding), so tests can check that only the 5-character prefix leaves.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { listeningPort } from "./local-service.ts";

const sha1 = (pw: string) => createHash("sha1").update(pw.normalize("NFKC"), "utf8").digest("hex").toUpperCase();

export interface PwnedServer {
  url: string;
  port: number;
  requests: { path: string; addPadding: boolean }[];
  stop(): Promise<void>;
}

/**
 * breached: passwords reported with a count > 0; padded: passwords that only ever appear as
 * padding lines (count 0), i.e. must be treated as not breached.
 */
export function startPwnedServer({
  port = 0,
  host = "127.0.0.1",
  breached = [],
  padded = [],
}: {
  port?: number;
  host?: string;
  breached?: string[];
  padded?: string[];
} = {}): Promise<PwnedServer> {
  const known = new Map<string, [suffix: string, count: number][]>(); // by prefix
  const add = (pw: string, count: number) => {
    const h = sha1(pw);
    const list = known.get(h.slice(0, 5)) ?? [];
    list.push([h.slice(5), count]);
    known.set(h.slice(0, 5), list);
  };
  breached.forEach((pw, i) => {
    add(pw, 1000 + i * 37);
  });
  for (const pw of padded) add(pw, 0);
  const requests: PwnedServer["requests"] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    if (req.method === "GET" && url.pathname === "/__requests") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(requests));
    }
    const m = /^\/range\/([0-9A-Fa-f]{5})$/.exec(url.pathname);
    if (req.method !== "GET" || !m) {
      res.writeHead(404, { "content-type": "text/plain" });
      return res.end("Not found");
    }
    const padding = String(req.headers["add-padding"] ?? "").toLowerCase() === "true";
    requests.push({ path: url.pathname, addPadding: padding });
    const prefix = m[1].toUpperCase();
    const lines = (known.get(prefix) ?? []).filter(([, count]) => count > 0 || padding).map(([s, c]) => `${s}:${c}`);
    // Some unrelated real-looking entries, and (with Add-Padding) random padding lines with count 0.
    for (let i = 0; i < 5; i++) lines.push(`${randomBytes(18).toString("hex").slice(0, 35).toUpperCase()}:${1 + i}`);
    if (padding) for (let i = 0; i < 20; i++) lines.push(`${randomBytes(18).toString("hex").slice(0, 35).toUpperCase()}:0`);
    lines.sort();
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(lines.join("\r\n"));
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const actual = listeningPort(server);
      resolve({
        url: `http://${host}:${actual}`,
        port: actual,
        requests,
        stop: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
