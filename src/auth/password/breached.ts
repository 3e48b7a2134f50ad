import type { Deps } from "../../deps";
import { hex, utf8 } from "../../lib/encoding";
import { describeError } from "../../log";
import { commonPasswords } from "./common-passwords";
import { normalizePassword } from "./hash";

/**
 * Known-bad passwords, checked where a password is set (register, reset, change):
 *  - offline: the most common passwords, bundled (src/auth/password/common-passwords.ts), always on;
 *  - online: the Pwned Passwords range API with k-anonymity. Only the first 5 hex characters
 *    of the SHA-1 leave the Worker; the answer lists every known suffix with that prefix
 *    (`SUFFIX:COUNT` lines, padded with fake `:0` lines under `Add-Padding: true`), and the
 *    match is made here. BREACHED_PASSWORD_CHECK: off | fail-open (default) | fail-closed.
 * Passwords are NFKC-normalised first, as they are for hashing (password.ts).
 */

/** Whether the password is one of the bundled most common ones (NFKC, case-insensitive). */
export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(normalizePassword(password).toLowerCase());
}

export type BreachResult = { status: "breached"; count: number } | { status: "clean" } | { status: "skipped" } | { status: "unavailable" };

async function sha1Hex(text: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-1", utf8(text))).toUpperCase();
}

/** Find `suffix` in a range answer; padding lines (count 0) and malformed lines are ignored. */
function countInRange(body: string, suffix: string): number {
  for (const line of body.split("\n")) {
    const sep = line.indexOf(":");
    if (sep < 0) continue;
    if (line.slice(0, sep).trim().toUpperCase() !== suffix) continue;
    const count = Number.parseInt(line.slice(sep + 1).trim(), 10);
    if (Number.isFinite(count) && count > 0) return count;
  }
  return 0;
}

/** Ask the range API how often the password appears in known breaches. Never throws. */
export async function checkBreached(deps: Deps, password: string): Promise<BreachResult> {
  const { BREACHED_PASSWORD_CHECK: mode, PWNED_PASSWORDS_URL: baseUrl, PWNED_PASSWORDS_TIMEOUT_MS: timeoutMs } = deps.config;
  if (mode === "off") return { status: "skipped" };
  const hash = await sha1Hex(normalizePassword(password));
  const prefix = hash.slice(0, 5);
  const suffix = hash.slice(5);
  try {
    const res = await deps.fetch(`${baseUrl.replace(/\/+$/, "")}/range/${prefix}`, {
      headers: { "Add-Padding": "true", "User-Agent": "edge-auth-api" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      deps.log("warn", "breached-password check failed", { mode, httpStatus: res.status });
      return { status: "unavailable" };
    }
    const count = countInRange(await res.text(), suffix);
    return count > 0 ? { status: "breached", count } : { status: "clean" };
  } catch (err) {
    // Never the password or its hash prefix in the log.
    deps.log("warn", "breached-password check failed", { mode, ...describeError(err) });
    return { status: "unavailable" };
  }
}
