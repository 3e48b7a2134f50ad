import { type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { ZodType } from "zod";
import type { AppEnv } from "../context";
import type { Challenge, ErrorCode } from "../errors";
import { type CaptchaSpec, captcha } from "../middleware/captcha";
import { issue } from "./schemas";

/**
 * What a route's `captcha` (route() in ./route.ts) adds to it: the middleware, the token in its
 * JSON body (documented, and accepted by the validator), a sentence in its description, and the
 * codes it can answer. The check itself: src/middleware/captcha.ts; docs/bot-defence.md.
 */

/** The token of a Turnstile widget, in the body of every challenged route. */
const turnstileTokenField = z
  .string()
  .max(2048)
  .regex(/^[!-~]*$/, issue("validation.turnstile_token"))
  .optional()
  .openapi({
    description:
      "With TURNSTILE_SECRET_KEY set: the token of a Turnstile widget rendered with this route's action (docs/bot-defence.md). " +
      "Required on register, forgot-password and sign-in/code; on login and code verification only after captcha_required.",
    example: "XXXX.DUMMY.TOKEN.XXXX",
  });

export const CAPTCHA_CODES: readonly ErrorCode[] = ["captcha_required", "captcha_invalid", "captcha_unavailable"];

/** The examples of a refused challenge show what the client renders the widget with (Cloudflare's always-pass test site key). */
const EXAMPLE: Challenge = { site_key: "1x00000000000000000000AA", action: "register" };
export const CHALLENGE_EXAMPLES: Partial<Record<ErrorCode, Challenge>> = { captcha_required: EXAMPLE, captcha_invalid: EXAMPLE };

const NOTE = {
  always: (action: string) =>
    `Bot defence: with TURNSTILE_SECRET_KEY set, send \`turnstile_token\` from a Turnstile widget with action \`${action}\` ` +
    "(without: 403 captcha_required with the site key; docs/bot-defence.md).",
  risk: (action: string) =>
    "Bot defence: with TURNSTILE_SECRET_KEY set, after TURNSTILE_LOGIN_AFTER_FAILURES failures for the account or from the client " +
    `address, 403 captcha_required until \`turnstile_token\` from a widget with action \`${action}\` comes with it (docs/bot-defence.md).`,
} as const;

const jsonSchemaOf = (request: RouteConfig["request"]) =>
  (request?.body?.content as Record<string, { schema?: unknown }> | undefined)?.["application/json"]?.schema as ZodType | undefined;

function withToken(request: RouteConfig["request"]): RouteConfig["request"] {
  const schema = jsonSchemaOf(request);
  if (!request?.body || !(schema instanceof z.ZodObject)) return request;
  const json = { ...request.body.content["application/json"], schema: schema.extend({ turnstile_token: turnstileTokenField }) };
  return { ...request, body: { ...request.body, content: { ...request.body.content, "application/json": json } } };
}

/** A route's config and middleware with its challenge. */
export function challenged<C extends Pick<RouteConfig, "request" | "description">>(
  spec: CaptchaSpec,
  config: C,
): { config: C; middleware: MiddlewareHandler<AppEnv> } {
  const request = withToken(config.request);
  return {
    config: { ...config, request, description: `${config.description ?? ""} ${NOTE[spec.when](spec.action)}`.trim() },
    middleware: captcha(spec, jsonSchemaOf(request)),
  };
}
