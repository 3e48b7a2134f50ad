/** IP addresses and CIDR ranges, parsed strictly (TRUSTED_PROXY_IPS, client addresses). */
import ipaddr from "ipaddr.js";

export type Address = ipaddr.IPv4 | ipaddr.IPv6;
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

export const inRanges = (addr: Address, ranges: readonly Cidr[]) =>
  ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
