// A local S3-compatible server (s3rver) for `npm run dev` and the tests: loopback only,
// objects on disk under `dir`, the bucket created at start. Requests without an Authorization
// header are served anonymously, so an avatar URL opens in a browser; a CORS rule lets web
// pages on any origin read objects too.
import fs from "node:fs";
import S3rver from "s3rver";

const CORS = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

export interface LocalS3 {
  endpoint: string;
  port: number;
  bucket: string;
  stop(): Promise<void>;
}

/** Start s3rver on host:port (port 0 or undefined: a free one) with `bucket`. */
export async function startS3({
  port,
  dir,
  bucket,
  host = "127.0.0.1",
}: {
  port?: number;
  dir: string;
  bucket: string;
  host?: string;
}): Promise<LocalS3> {
  fs.mkdirSync(dir, { recursive: true });
  const server = new S3rver({
    address: host,
    port: port ?? 0,
    directory: dir,
    silent: true,
    configureBuckets: [{ name: bucket, configs: [CORS] }],
  });
  const address = await server.run();
  const actualPort = address.port;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    endpoint: `http://${hostPart}:${actualPort}`,
    port: actualPort,
    bucket,
    stop: () => server.close(),
  };
}
