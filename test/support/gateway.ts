import { hex } from "../../src/lib/encoding";
import { type CallOptions, call, freshIp } from "./worker";

/**
 * A stand-in for the platform's gateway (Express + http-proxy-middleware): it proxies `/api/*` to
 * the Worker with the prefix stripped and, in `onProxyReq`, sets X-Client-IP to the address the
 * client connected from and X-Proxy-Secret to the shared secret (docs/legacy-clients.md).
 * Cloudflare then sees the gateway's own address as CF-Connecting-IP. `env` is the Worker's side:
 * TRUSTED_PROXY_IPS (the gateway's address unless given) and TRUSTED_PROXY_SECRET.
 */
export function gateway(opts: { address?: string; trusted?: string; sends?: string | null } = {}) {
  const address = opts.address ?? freshIp();
  const secret = hex(crypto.getRandomValues(new Uint8Array(24)));
  const env = { TRUSTED_PROXY_SECRET: secret, TRUSTED_PROXY_IPS: opts.trusted ?? `${address}/32` };
  const sends = opts.sends === undefined ? secret : opts.sends;
  return {
    address,
    secret,
    env,
    /** A client at `clientIp` sends `path` (which starts with /api/) to the gateway. */
    call(clientIp: string, path: string, callOpts: CallOptions = {}) {
      if (!path.startsWith("/api/")) throw new Error(`the gateway proxies /api/* only, not ${path}`);
      const headers = new Headers(callOpts.headers);
      headers.set("cf-connecting-ip", address);
      headers.set("x-client-ip", clientIp);
      if (sends === null) headers.delete("x-proxy-secret");
      else headers.set("x-proxy-secret", sends);
      return call(path.slice("/api".length), {
        ...callOpts,
        headers: Object.fromEntries(headers),
        env: { ...env, ...callOpts.env },
      });
    },
  };
}
