import { b64url, randomBytes, sha256Hex } from "../../lib/encoding";

/**
 * The web redirect flow is bound to the browser that started it: start sets a cookie holding 256
 * random bits, the state row keeps only their SHA-256 (the callback's DELETE of the state matches
 * on it, like every token here is looked up by its hash), and the callback must present the
 * cookie (else `oauth_browser_mismatch`, and nothing changes). So a callback URL opened in another
 * browser (an attacker's unopened callback sent to a victim: login CSRF) goes nowhere.
 *
 * - `__Host-` prefix, Secure, HttpOnly, Path=/, no Domain: set and read by this host only, never
 *   over plain http, never by script, never by a sibling subdomain (no cookie tossing).
 * - SameSite=Lax: sent on the provider's top-level GET redirect back (Google), not on a cross-site
 *   POST. Apple's form_post callback is a cross-site POST, so it is answered with a small page that
 *   posts the same fields again from this origin (src/auth/oauth/form-post.ts), with the cookie.
 * - One cookie per flow (its name carries a prefix of the state's hash), so two flows started in
 *   two tabs do not overwrite each other's binding; each lives as long as its state.
 * - Over plain http to this machine (local development), where a browser may refuse Secure
 *   cookies, the same cookie is named `oauth-…` (no prefix, no Secure). A deployment is https.
 */
export interface BindingCookie {
  name: string;
  value: string;
  secure: boolean;
  maxAge: number;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Secure unless the callback is plain http to this machine. */
const isSecure = (callbackUrl: string) => {
  const u = new URL(callbackUrl);
  return !(u.protocol === "http:" && LOOPBACK.has(u.hostname));
};

/** The cookie's name for a flow: `__Host-oauth-<16 hex of the state's hash>` (`oauth-…` on local http). */
export const bindingCookieName = (stateHash: string, callbackUrl: string) =>
  `${isSecure(callbackUrl) ? "__Host-" : ""}oauth-${stateHash.slice(0, 16)}`;

/** A new binding for a flow: the cookie to set and the hash to store with the state. */
export async function newBinding(stateHash: string, callbackUrl: string, maxAge: number) {
  const value = b64url(randomBytes(32));
  const cookie: BindingCookie = { name: bindingCookieName(stateHash, callbackUrl), value, secure: isSecure(callbackUrl), maxAge };
  return { cookie, hash: await sha256Hex(value) };
}

/** The cookie that clears a flow's binding once its state is used. */
export const clearedBinding = (stateHash: string, callbackUrl: string): BindingCookie => ({
  name: bindingCookieName(stateHash, callbackUrl),
  value: "",
  secure: isSecure(callbackUrl),
  maxAge: 0,
});
