import type { MiddlewareHandler } from "hono";
import type { ZodType } from "zod";
import { normalizeEmail } from "../auth/account/users";
import { assessRisk, countAttempt, settleRisk } from "../auth/bot-defence/risk";
import { type CaptchaAction, captchaOn, checkChallenge } from "../auth/bot-defence/turnstile";
import type { AppEnv } from "../context";
import { describeError } from "../log";
import { ipKey } from "./rate-limit";

/**
 * A route's challenge (route() `captcha`, docs/bot-defence.md): `always`, or only under `risk`
 * (src/auth/bot-defence/risk.ts). It is route middleware, so it runs on whatever spelling of the
 * path Hono routed to the handler (`//register`, `/auth/../register`, `%2e`, a trailing slash,
 * the legacy root aliases): a check on the route cannot be missed by a path no URL match foresaw.
 */
export interface CaptchaSpec {
  action: CaptchaAction;
  when: "always" | "risk";
}

/**
 * Runs after the body limit and the text check, before the validators: a body the route's own
 * schema refuses is left to the validator (400, and no token is spent). The token is the body's
 * `turnstile_token`; risk routes name their account by the body's `email`.
 */
export function captcha(spec: CaptchaSpec, body: ZodType | undefined): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const deps = c.get("deps");
    if (!captchaOn(deps.config)) return next();
    const raw: unknown = await c.req.json().catch(() => undefined);
    if (!raw || typeof raw !== "object" || Array.isArray(raw) || (body && !(await body.safeParseAsync(raw)).success)) return next();
    const { turnstile_token: token, email } = raw as Record<string, unknown>;
    const meta = c.get("meta");
    if (spec.when === "always") {
      await checkChallenge(deps, meta, spec.action, token);
      return next();
    }
    let risk = await assessRisk(deps, spec.action, {
      email: typeof email === "string" ? normalizeEmail(email) : null,
      address: meta.ip ? ipKey(meta.ip) : null,
    });
    let proven = false;
    if (risk.atRisk) {
      proven = (await checkChallenge(deps, meta, spec.action, token)).proven;
      risk = await countAttempt(deps, risk);
    }
    await next();
    const status = c.res.status;
    try {
      await settleRisk(deps, risk, status < 400 ? "success" : status >= 500 ? "fault" : "failure", proven);
    } catch (err) {
      // The answer stands (a session may have started); a count left behind only errs towards a challenge.
      deps.log("error", "captcha risk counters not settled", { action: spec.action, ...describeError(err) });
    }
  };
}
