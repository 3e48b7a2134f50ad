import { describe, expect, it } from "vitest";
import { LEGACY_ROOT_PATHS } from "../../../src/routes/legacy-paths";
import { PASSWORD, uniqueEmail } from "../../support/accounts";
import { captchaEnv } from "../../support/turnstile";
import { call, json } from "../../support/worker";

/**
 * Every spelling of every challenged route that reaches its handler is challenged (better-auth's
 * captcha was bypassed by `//` in the path). The challenge is route middleware, so it runs on
 * whatever path Hono routed; this test generates spellings (doubled and encoded slashes, dot
 * segments, `%2e`, backslashes, letter case, percent-encoded letters, trailing slashes, queries,
 * the legacy root aliases) and checks each one twice: without a secret, to learn whether it reaches
 * the route at all (anything but 404/405), and with one: then it must answer captcha_required.
 */

type Transform = (path: string) => string;

/** Applies to every `/` between segments (not the first). */
const inner =
  (f: (sep: string) => string): Transform =>
  (p) =>
    `/${p.slice(1).split("/").join(f("/"))}`;
const lastSegment =
  (f: (seg: string) => string): Transform =>
  (p) => {
    const i = p.lastIndexOf("/");
    return p.slice(0, i + 1) + f(p.slice(i + 1));
  };
const firstSegment =
  (f: (seg: string) => string): Transform =>
  (p) => {
    const [, first, ...rest] = p.split("/");
    return ["", f(first), ...rest].join("/");
  };

const SINGLE: Record<string, Transform> = {
  as_is: (p) => p,
  leading_double_slash: (p) => `/${p}`,
  all_double_slashes: (p) => p.replaceAll("/", "//"),
  inner_double_slash: inner(() => "//"),
  dot_segment: firstSegment((s) => `./${s}`),
  dot_dot_segment: firstSegment((s) => `x/../${s}`),
  encoded_dot: firstSegment((s) => `%2e/${s}`),
  encoded_dot_dot: firstSegment((s) => `x/%2E%2E/${s}`),
  inner_dot: inner(() => "/./"),
  inner_encoded_slash: inner(() => "%2F"),
  backslash: inner(() => "\\"),
  trailing_slash: (p) => `${p}/`,
  trailing_dot: (p) => `${p}/.`,
  query: (p) => `${p}?next=1`,
  fragment: (p) => `${p}#top`,
  upper_case: (p) => p.toUpperCase(),
  capitalised: lastSegment((s) => s.charAt(0).toUpperCase() + s.slice(1)),
  encoded_letter: lastSegment((s) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`),
  encoded_letter_upper_hex: lastSegment((s) => `%${s.charCodeAt(0).toString(16).toUpperCase()}${s.slice(1)}`),
  encoded_hyphen: (p) => p.replaceAll("-", "%2d"),
  semicolon_param: (p) => `${p};x=1`,
  trailing_space: (p) => `${p}%20`,
};

/** Every single spelling, and each of them with a second one on top (a trailing slash, a `//`, a dot segment...). */
function spellings(path: string): string[] {
  const out = new Set<string>();
  const singles = Object.values(SINGLE);
  for (const f of singles) {
    out.add(f(path));
    for (const g of [SINGLE.leading_double_slash, SINGLE.trailing_slash, SINGLE.dot_dot_segment, SINGLE.encoded_letter, SINGLE.query])
      out.add(g(f(path)));
  }
  return [...out];
}

interface Challenged {
  path: string;
  /** A body the route accepts; for risk routes it names the account brought under risk. */
  body: () => Record<string, unknown>;
  /** Bring the route under risk for that account (risk routes only). */
  prepare?: (env: Record<string, string>) => Promise<void>;
}

const WRONG = "Wrong-Password-42x";
/** One account per risk route (sign-in/code/verify and reset-password share the action verify_code). */
const riskEmail = () => uniqueEmail("spelled");

const ROUTES: Challenged[] = [
  { path: "/auth/register", body: () => ({ full_name: "Spelled Path", email: uniqueEmail("spelled"), password: PASSWORD }) },
  { path: "/auth/forgot-password", body: () => ({ email: uniqueEmail("spelled") }) },
  { path: "/auth/sign-in/code", body: () => ({ email: uniqueEmail("spelled") }) },
  ...(
    [
      ["/auth/login", { email: riskEmail(), password: WRONG }],
      ["/auth/sign-in/code/verify", { email: riskEmail(), code: "000000" }],
      ["/auth/reset-password", { email: riskEmail(), otp: "000000", new_password: "A-New-Long-Passphrase-7" }],
    ] as const
  ).map(([path, body]) => ({
    path,
    body: () => ({ ...body }),
    // One failure for the account with TURNSTILE_LOGIN_AFTER_FAILURES=1: every later attempt needs a token.
    prepare: async (env: Record<string, string>) => {
      expect((await call(path, { body: { ...body }, env })).status).toBe(path === "/auth/login" ? 401 : 400);
    },
  })),
];

describe("every spelling of a challenged route that reaches it is challenged", () => {
  it.each(ROUTES)("$path and its legacy root alias", async (route) => {
    const env = captchaEnv({ TURNSTILE_LOGIN_AFTER_FAILURES: "1" });
    await route.prepare?.(env);
    const alias = route.path.replace(/^\/auth/, "");
    const bases = (LEGACY_ROOT_PATHS as readonly string[]).includes(alias) ? [route.path, alias] : [route.path];
    const reached: string[] = [];
    const problems: string[] = [];
    for (const spelled of bases.flatMap(spellings)) {
      const without = await call(spelled, { body: route.body() });
      const reaches = without.status !== 404 && without.status !== 405;
      const res = await call(spelled, { body: route.body(), env });
      const body = await json(res);
      if (reaches) {
        reached.push(spelled);
        if (res.status !== 403 || body.code !== "captcha_required")
          problems.push(`${spelled} reaches the route (${without.status} without a secret) but answered ${res.status} ${body.code}`);
      } else if (res.status !== without.status) {
        problems.push(`${spelled} does not reach the route (${without.status}) but answered ${res.status} with a secret`);
      }
    }
    expect(problems).toEqual([]);
    // Not vacuous: the canonical path and the alias are among those reached, and so are other spellings.
    for (const base of bases) expect(reached).toContain(base);
    expect(reached.length).toBeGreaterThan(bases.length * 4);
  });
});
