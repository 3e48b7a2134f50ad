import type { Config } from "../config";
import { utf8 } from "../lib/encoding";
import { inRanges, parseIp } from "../lib/ip";
import { isolateMemo } from "../lib/isolate-memo";
import { log } from "../log";

/**
 * Who the client is, for rate limits, sessions and audit rows. Normally CF-Connecting-IP (set by
 * Cloudflare, not by the client). Behind the platform's gateway every request would carry the
 * gateway's address, so the gateway forwards the real one in X-Client-IP; that header is believed
 * only when the request comes from an address in TRUSTED_PROXY_IPS AND carries X-Proxy-Secret
 * equal to TRUSTED_PROXY_SECRET. X-Forwarded-For is never read: any client can send it, and a
 * proxy appends to it rather than replacing it.
 */

/** SHA-256 of the configured secret, once per isolate: both sides of the comparison have 32 bytes. */
const digest = (s: string) => crypto.subtle.digest("SHA-256", utf8(s));
const secretDigest = isolateMemo(digest);

async function secretMatches(presented: string, secret: string): Promise<boolean> {
  return crypto.subtle.timingSafeEqual(await digest(presented), await secretDigest(secret));
}

let warnedNoClientIp = false;

/**
 * The client's address in its canonical form (at most 39 characters), or null when the request
 * has none or CF-Connecting-IP is not one IPv4/IPv6 address. Off Cloudflare (locally, or behind
 * another proxy) the header is the client's to forge: a list, a name or 2,000 characters are
 * ignored, as if absent (rate limited under "unknown", stored as null).
 */
export async function clientAddress(req: Request, config: Config): Promise<string | null> {
  const source = parseIp(req.headers.get("cf-connecting-ip")?.trim() ?? "");
  const direct = source?.toString() ?? null;
  const { TRUSTED_PROXY_SECRET: secret, TRUSTED_PROXY_IPS: ranges } = config;
  if (!source || !secret || ranges.length === 0) return direct;
  if (!inRanges(source, ranges)) return direct;
  const presented = req.headers.get("x-proxy-secret");
  if (presented === null || !(await secretMatches(presented, secret))) return direct;
  const forwarded = parseIp(req.headers.get("x-client-ip")?.trim() ?? "");
  if (!forwarded) {
    // The gateway itself, or a gateway that lost the header: its own address, as without a proxy.
    if (!warnedNoClientIp) {
      warnedNoClientIp = true;
      log("warn", "trusted proxy request without a valid X-Client-IP: keyed by the proxy's own address");
    }
    return direct;
  }
  return forwarded.toString();
}
