// A TCP proxy in front of a local server (the tests' s3rver) that a test can stall and resume,
// to play a storage server that stops answering. Stalled, it still accepts connections and reads
// what clients send, but forwards nothing either way; resumed, it delivers everything it held,
// also the requests of clients that gave up meanwhile: like a paused server that wakes up and
// processes its backlog (a PUT that lands after the API stopped waiting). Loopback only.
//
// Control (HTTP on its own port): POST /stall, POST /resume (answers once the held requests
// were delivered and answered or closed), GET /state ({ stalled, connections, held }: held =
// connections with bytes waiting to be forwarded).
import http from "node:http";
import net from "node:net";
import { listeningPort } from "./local-service.ts";

export interface StallProxy {
  /** Where clients connect (use as S3_ENDPOINT). */
  endpoint: string;
  /** HTTP control: POST /stall, POST /resume, GET /state ({ stalled, connections, held }). */
  control: string;
  stop(): Promise<void>;
}

interface Connection {
  client: net.Socket;
  upstream: net.Socket;
  toUpstream: Buffer[];
  toClient: Buffer[];
  clientEnded: boolean;
  upstreamEnded: boolean;
  /** Set while a resume waits for this connection's answer. */
  answered: (() => void) | null;
}

/** Start the proxy to targetHost:targetPort. */
export async function startStallProxy({
  targetHost = "127.0.0.1",
  targetPort,
  host = "127.0.0.1",
}: {
  targetPort: number;
  targetHost?: string;
  host?: string;
}): Promise<StallProxy> {
  let stalled = false;
  const conns = new Set<Connection>();

  const flush = (c: Connection) => {
    for (const d of c.toUpstream.splice(0)) c.upstream.write(d);
    if (c.clientEnded && !c.upstream.writableEnded) c.upstream.end();
    for (const d of c.toClient.splice(0)) if (!c.client.destroyed) c.client.write(d);
    if (c.upstreamEnded && !c.client.destroyed) c.client.end();
  };

  const proxy = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    const c: Connection = { client, upstream, toUpstream: [], toClient: [], clientEnded: false, upstreamEnded: false, answered: null };
    conns.add(c);
    client.on("data", (d: Buffer) => (stalled ? c.toUpstream.push(d) : upstream.write(d)));
    client.on("end", () => {
      c.clientEnded = true;
      if (!stalled) upstream.end();
    });
    upstream.on("data", (d: Buffer) => {
      c.answered?.();
      if (stalled) c.toClient.push(d);
      else if (!client.destroyed) client.write(d);
    });
    upstream.on("end", () => {
      c.upstreamEnded = true;
      if (!stalled && !client.destroyed) client.end();
    });
    // A client that gave up does not cancel what it already sent (see above).
    client.on("error", () => {});
    client.on("close", () => {
      if (!c.toUpstream.length && !stalled) upstream.end();
    });
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => {
      c.answered?.();
      conns.delete(c);
      client.destroy();
    });
  });

  async function resume() {
    stalled = false;
    const held = [...conns].filter((c) => c.toUpstream.length || c.toClient.length || c.clientEnded);
    const waits = held.map(
      (c) =>
        new Promise<void>((r) => {
          const t = setTimeout(r, 5000);
          c.answered = () => {
            clearTimeout(t);
            r();
          };
        }),
    );
    for (const c of held) flush(c);
    // s3rver answers a PUT once the object is written: after this, the held writes are in the bucket.
    await Promise.all(waits);
  }

  const held = () => [...conns].filter((c) => c.toUpstream.length || c.toClient.length).length;

  const control = http.createServer(async (req, res) => {
    if (req.method === "POST" && req.url === "/stall") stalled = true;
    else if (req.method === "POST" && req.url === "/resume") await resume();
    else if (!(req.method === "GET" && req.url === "/state")) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ stalled, connections: conns.size, held: held() }));
  });

  const listen = (server: net.Server) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, () => resolve(listeningPort(server)));
    });
  const port = await listen(proxy);
  const controlPort = await listen(control);
  return {
    endpoint: `http://${host}:${port}`,
    control: `http://${host}:${controlPort}`,
    stop: async () => {
      for (const c of conns) {
        c.client.destroy();
        c.upstream.destroy();
      }
      await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => control.close(r))]);
    },
  };
}
