import ipaddr from "ipaddr.js";
import { utf8 } from "../auth/encoding";
import type { Config } from "../config";
import { isolateMemo } from "../isolate-memo";
import { log } from "../log";

/**
 * Who the client is, for rate limits, sessions and audit rows. Normally CF-Connecting-IP (set by
 * Cloudflare, not by the client). Behind the platform's gateway every request would carry the
 * gateway's address, so the gateway forwards the real one in X-Client-IP; that header is believed
 * only when the request comes from an address in TRUSTED_PROXY_IPS AND carries X-Proxy-Secret
 * equal to TRUSTED_PROXY_SECRET. X-Forwarded-For is never read: any client can send it, and a
 * proxy appends to it rather than replacing it.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;
/** A parsed range of TRUSTED_PROXY_IPS: an address and its prefix length. */
export type Cidr = [Address, number];

/**
 * A textual address in its strict form: dotted-quad IPv4 (no octal, hex or short forms, which
 * ipaddr.js would otherwise accept) or IPv6 without a zone; IPv4-mapped IPv6 is its IPv4.
 */
export function parseIp(text: string): Address | null {
  if (text.length > 64) return null;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes("%") || !ipaddr.IPv6.isValid(text)) return null;
  const v6 = ipaddr.IPv6.parse(text);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/**
 * "203.0.113.0/24, 2001:db8::/32, 198.51.100.7" -> ranges (a bare address is a single host).
 * Throws naming the first entry that is not an address or range; /0 is refused (it would trust
 * any source, leaving only the secret).
 */
export function parseCidrs(value: string): Cidr[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [host, bits, extra] = entry.split("/");
      const addr = extra === undefined ? parseIp(host) : null;
      const max = addr?.kind() === "ipv4" ? 32 : 128;
      const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
      if (!addr || !(prefix >= 1 && prefix <= max))
        throw new Error(`"${entry}" is not an IPv4/IPv6 address or CIDR range (prefix 1 to ${max})`);
      return [addr, prefix] as Cidr;
    });
}

const inRanges = (addr: Address, ranges: readonly Cidr[]) =>
  ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));

/** SHA-256 of the configured secret, once per isolate: both sides of the comparison have 32 bytes. */
const digest = (s: string) => crypto.subtle.digest("SHA-256", utf8(s));
const secretDigest = isolateMemo(digest);

async function secretMatches(presented: string, secret: string): Promise<boolean> {
  return crypto.subtle.timingSafeEqual(await digest(presented), await secretDigest(secret));
}

let warnedNoClientIp = false;

/** The client's address, or null when the request has none (only outside Cloudflare). */
export async function clientAddress(req: Request, config: Config): Promise<string | null> {
  const direct = req.headers.get("cf-connecting-ip")?.trim() || null;
  const { TRUSTED_PROXY_SECRET: secret, TRUSTED_PROXY_IPS: ranges } = config;
  if (!direct || !secret || ranges.length === 0) return direct;
  const source = parseIp(direct);
  if (!source || !inRanges(source, ranges)) return direct;
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
