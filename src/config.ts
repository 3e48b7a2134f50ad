import { z } from "zod";

/**
 * Bindings and vars, parsed once per env object into a typed Config.
 * Every setting is documented in README.md ("Settings").
 */
export interface Env {
  HYPERDRIVE: Hyperdrive;
  [key: string]: unknown;
}

const DURATION = /^(\d+)\s*(ms|s|m|h|d)?$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** "900", "900s", "15m", "30d" -> seconds. */
export function parseDuration(value: string): number {
  const m = DURATION.exec(value.trim());
  if (!m) throw new Error(`not a duration: ${value}`);
  return Math.floor(Number(m[1]) * UNIT_SECONDS[m[2] ?? "s"]);
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        return parseDuration(v);
      } catch {
        ctx.addIssue({ code: "custom", message: `expected a duration such as 900, 15m, 7d; got "${v}"` });
        return z.NEVER;
      }
    });
const int = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(fallback);
const bool = (fallback: boolean) =>
  z
    .union([z.boolean(), z.string()])
    .default(fallback)
    .transform((v) => (typeof v === "boolean" ? v : ["1", "true", "yes", "on"].includes(v.toLowerCase())));
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() !== "" ? v.trim() : undefined));
const list = z
  .string()
  .default("")
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

const schema = z.object({
  ENVIRONMENT: z.enum(["production", "development", "test"]).default("production"),
  BASE_PATH: z
    .string()
    .default("/auth")
    .transform((v) => `/${v.replace(/^\/+|\/+$/g, "")}`),
  // Secrets
  AUTH_SECRET: optionalString,
  JWT_PRIVATE_KEYS: optionalString,
  JWT_SECRET: optionalString,
  LEGACY_HS256: bool(false),
  JWT_ALG: z.enum(["EdDSA", "ES256"]).default("EdDSA"),
  JWT_ISSUER: z.string().min(1).default("edge-auth-api"),
  JWT_AUDIENCE: z.string().min(1).default("platform"),
  JWT_CLOCK_SKEW: duration("30s"),
  ACCESS_TOKEN_TTL: duration("15m"),
  REFRESH_TOKEN_TTL: duration("30d"),
  REFRESH_IDLE_TTL: duration("7d"),
  REFRESH_REUSE_GRACE: duration("10s"),
  // Passwords
  SCRYPT_LOG_N: int(14, 10, 20),
  SCRYPT_R: int(8, 1, 32),
  SCRYPT_P: int(5, 1, 16),
  // Legacy hashes (Django PBKDF2): above this many iterations skip Web Crypto for pure-JS noble.
  PBKDF2_WEBCRYPTO_MAX_ITERATIONS: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(1).optional()),
  // Requests
  JSON_BODY_LIMIT: int(16 * 1024, 256, 1024 * 1024),
  CORS_ORIGINS: list,
  // Password reset
  OTP_TTL: duration("10m").pipe(z.number().int().min(60).max(600)),
  OTP_RESEND_INTERVAL: duration("60s"),
  OTP_MAX_ATTEMPTS: int(5, 1, 10),
  // Mail
  RESEND_API_KEY: optionalString,
  RESEND_BASE_URL: optionalString,
  MAIL_FROM: z.string().default("Edge Auth <no-reply@example.com>"),
  MAIL_TIMEOUT_MS: int(5000, 100, 30000),
  MAIL_RETRIES: int(2, 0, 5),
  APP_NAME: z.string().default("Edge Auth"),
  // Storage
  S3_ENDPOINT: optionalString,
  S3_REGION: optionalString,
  S3_BUCKET: optionalString,
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_FORCE_PATH_STYLE: bool(false),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_STORAGE_BUCKET_NAME: optionalString,
  AWS_S3_REGION_NAME: optionalString,
  AVATAR_MAX_BYTES: int(5 * 1024 * 1024, 1024, 50 * 1024 * 1024),
  AVATAR_PUBLIC_BASE_URL: optionalString,
  // Abuse resistance
  LOGIN_THROTTLE_FREE_FAILURES: int(4, 1, 100),
  LOGIN_THROTTLE_BASE_DELAY: duration("1s"),
  LOGIN_THROTTLE_MAX_DELAY: duration("15m"),
  LOGIN_LOCKOUT_FAILURES: int(100, 10, 10000),
  REGISTER_ENUMERATION_SAFE: bool(false),
  BREACHED_PASSWORD_CHECK: z.enum(["off", "fail-open", "fail-closed"]).default("fail-open"),
  PWNED_PASSWORDS_URL: z.string().url().default("https://api.pwnedpasswords.com"),
  PWNED_PASSWORDS_TIMEOUT_MS: int(1500, 50, 10000),
});

type Raw = z.output<typeof schema>;

export interface Config {
  environment: Raw["ENVIRONMENT"];
  basePath: string;
  authSecret: string | undefined;
  jwt: {
    alg: "EdDSA" | "ES256";
    privateKeys: string | undefined;
    legacySecret: string | undefined;
    legacyHs256: boolean;
    issuer: string;
    audience: string;
    clockSkew: number;
    accessTtl: number;
  };
  refresh: { ttl: number; idleTtl: number; reuseGrace: number };
  scrypt: { logN: number; r: number; p: number };
  legacy: { pbkdf2WebCryptoMaxIterations: number | undefined };
  jsonBodyLimit: number;
  corsOrigins: string[];
  otp: { ttl: number; resendInterval: number; maxAttempts: number };
  mail: {
    apiKey: string | undefined;
    baseUrl: string | undefined;
    from: string;
    timeoutMs: number;
    retries: number;
    appName: string;
  };
  s3: {
    endpoint: string | undefined;
    region: string;
    bucket: string | undefined;
    accessKeyId: string | undefined;
    secretAccessKey: string | undefined;
    forcePathStyle: boolean;
    publicBaseUrl: string | undefined;
    avatarMaxBytes: number;
  };
  throttle: { freeFailures: number; baseDelay: number; maxDelay: number; lockoutFailures: number };
  registerEnumerationSafe: boolean;
  breached: { mode: "off" | "fail-open" | "fail-closed"; baseUrl: string; timeoutMs: number };
}

export class ConfigError extends Error {}

const cache = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${detail}`);
  }
  const r = parsed.data;
  const config: Config = {
    environment: r.ENVIRONMENT,
    basePath: r.BASE_PATH,
    authSecret: r.AUTH_SECRET,
    jwt: {
      alg: r.JWT_ALG,
      privateKeys: r.JWT_PRIVATE_KEYS,
      legacySecret: r.JWT_SECRET,
      legacyHs256: r.LEGACY_HS256,
      issuer: r.JWT_ISSUER,
      audience: r.JWT_AUDIENCE,
      clockSkew: r.JWT_CLOCK_SKEW,
      accessTtl: r.ACCESS_TOKEN_TTL,
    },
    refresh: { ttl: r.REFRESH_TOKEN_TTL, idleTtl: r.REFRESH_IDLE_TTL, reuseGrace: r.REFRESH_REUSE_GRACE },
    scrypt: { logN: r.SCRYPT_LOG_N, r: r.SCRYPT_R, p: r.SCRYPT_P },
    legacy: { pbkdf2WebCryptoMaxIterations: r.PBKDF2_WEBCRYPTO_MAX_ITERATIONS },
    jsonBodyLimit: r.JSON_BODY_LIMIT,
    corsOrigins: r.CORS_ORIGINS,
    otp: { ttl: r.OTP_TTL, resendInterval: r.OTP_RESEND_INTERVAL, maxAttempts: r.OTP_MAX_ATTEMPTS },
    mail: {
      apiKey: r.RESEND_API_KEY,
      baseUrl: r.RESEND_BASE_URL,
      from: r.MAIL_FROM,
      timeoutMs: r.MAIL_TIMEOUT_MS,
      retries: r.MAIL_RETRIES,
      appName: r.APP_NAME,
    },
    s3: {
      endpoint: r.S3_ENDPOINT,
      region: r.S3_REGION ?? r.AWS_S3_REGION_NAME ?? "us-east-1",
      bucket: r.S3_BUCKET ?? r.AWS_STORAGE_BUCKET_NAME,
      accessKeyId: r.S3_ACCESS_KEY_ID ?? r.AWS_ACCESS_KEY_ID,
      secretAccessKey: r.S3_SECRET_ACCESS_KEY ?? r.AWS_SECRET_ACCESS_KEY,
      forcePathStyle: r.S3_FORCE_PATH_STYLE,
      publicBaseUrl: r.AVATAR_PUBLIC_BASE_URL,
      avatarMaxBytes: r.AVATAR_MAX_BYTES,
    },
    throttle: {
      freeFailures: r.LOGIN_THROTTLE_FREE_FAILURES,
      baseDelay: r.LOGIN_THROTTLE_BASE_DELAY,
      maxDelay: r.LOGIN_THROTTLE_MAX_DELAY,
      lockoutFailures: r.LOGIN_LOCKOUT_FAILURES,
    },
    registerEnumerationSafe: r.REGISTER_ENUMERATION_SAFE,
    breached: { mode: r.BREACHED_PASSWORD_CHECK, baseUrl: r.PWNED_PASSWORDS_URL, timeoutMs: r.PWNED_PASSWORDS_TIMEOUT_MS },
  };
  if (config.environment === "production") {
    if (!config.authSecret || config.authSecret.length < 32)
      throw new ConfigError("AUTH_SECRET must be set (32+ characters) in production");
    if (!config.jwt.privateKeys && !(config.jwt.legacyHs256 && config.jwt.legacySecret))
      throw new ConfigError("JWT_PRIVATE_KEYS must be set in production (or LEGACY_HS256=true with JWT_SECRET)");
  }
  // scrypt needs 128 * N * r bytes; a Worker has 128 MB in all, so keep it at 64 MiB or less.
  if (128 * 2 ** config.scrypt.logN * config.scrypt.r > 64 * 1024 * 1024)
    throw new ConfigError("SCRYPT_LOG_N/SCRYPT_R need more than 64 MiB (128 * N * r): too much for a Worker");
  if (config.jwt.legacyHs256 && (!config.jwt.legacySecret || config.jwt.legacySecret.length < 32))
    throw new ConfigError("LEGACY_HS256=true needs JWT_SECRET of 32+ characters");
  cache.set(env, config);
  return config;
}

/** A per-isolate secret for development and tests when AUTH_SECRET is unset (never in production). */
let devSecret: string | undefined;
export function authSecret(config: Config): string {
  if (config.authSecret) return config.authSecret;
  if (!devSecret) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    devSecret = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  return devSecret;
}
