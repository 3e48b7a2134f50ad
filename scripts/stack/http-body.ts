// The request body of a local stand-in server (mail capture, OpenID provider) as text, refused
// with status 413 above `maxBytes`.
import type { IncomingMessage } from "node:http";

/** An error a stand-in server answers with its own HTTP status. */
export type HttpError = Error & { status?: number };

export const httpError = (message: string, status: number): HttpError => Object.assign(new Error(message), { status });

export function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        reject(httpError("body too large", 413));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
