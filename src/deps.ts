import { type Config, type Env, getConfig } from "./config";
import { createDb, type Db } from "./db/client";
import { type LogLevel, log } from "./log";
import { createMailer, type Mailer } from "./mail/mailer";
import { type AvatarStore, createAvatarStore } from "./storage/s3";

/**
 * Infrastructure handed to the domain: database, clock, logger, outbound fetch, mail and
 * storage. Built per request from the env; tests replace parts (the clock, above all).
 */
export interface Deps {
  config: Config;
  env: Env;
  readonly db: Db;
  /** Transactional mail (Resend), built on first use. */
  readonly mailer: Mailer;
  /** Avatar storage (S3-compatible), built on first use; its writes answer 503 when not configured. */
  readonly storage: AvatarStore;
  now: () => Date;
  log: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;
  fetch: typeof fetch;
  waitUntil: (p: Promise<unknown>) => void;
}

/** Who is asking: recorded on sessions and audit events. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

export interface Overrides {
  now?: () => Date;
  fetch?: typeof fetch;
}

export function createDeps(env: Env, requestId: string, waitUntil: (p: Promise<unknown>) => void, overrides: Overrides = {}): Deps {
  const config = getConfig(env);
  let db: Db | undefined;
  let mailer: Mailer | undefined;
  let storage: AvatarStore | undefined;
  return {
    config,
    env,
    get db() {
      db ??= createDb(env.HYPERDRIVE.connectionString);
      return db;
    },
    get mailer() {
      mailer ??= createMailer(config.mail, (level, msg, fields) => log(level, msg, { requestId, ...fields }));
      return mailer;
    },
    get storage() {
      storage ??= createAvatarStore(config.s3);
      return storage;
    },
    now: overrides.now ?? (() => new Date()),
    log: (level, msg, fields) => log(level, msg, { requestId, ...fields }),
    fetch: overrides.fetch ?? ((input, init) => fetch(input, init)),
    waitUntil,
  };
}

export const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
