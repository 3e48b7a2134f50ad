import { type AnyColumn, type SQL, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { type Db, UNCACHED } from "../../db/client";
import { identities, mfaFactors, mfaRecoveryCodes, passkeys, users } from "../../db/schema";
import type { CREDENTIALS } from "../events/types";
import { USABLE_PASSWORD_PATTERN } from "../password/formats";

/**
 * The ways in: every method that proves who a user is, declared once. Every rule about sign-in
 * reads this table (through the functions below), never a method's name: a session's assurance
 * (amr, acr, multi-factor, phishing-resistant), whether an account has a second factor (so a
 * first factor alone gets an MFA challenge), which second factors an MFA challenge offers, the
 * admin gate and REQUIRE_MFA_ROLES (src/auth/access.ts), "never remove the last way in", and what
 * a change of owner removes. A new way in is its own files plus one entry here.
 *
 * amr values follow RFC 8176 where one exists: `pwd` (password), `otp` (a one-time code from
 * something the user holds: an authenticator app, or a recovery code from the printed set), `hwk`
 * / `swk` (a key bound to one device / a synced key), `user` (user verification: a PIN or
 * biometric on the authenticator). RFC 8176 has no value for a federated sign-in or a code sent by
 * mail, so those record the provider (`google`, `apple`) and `email`; `email` is never `otp`: it
 * proves the mailbox, a single factor, and must not pass for a second factor.
 */
type FactorKind = "knowledge" | "possession" | "inherence";

/** What the account stores for a way in, as SQL over the account's id (so rules decide in one statement). */
export interface Credential {
  /** The account holds one that can be used now. */
  held: (userId: AnyColumn | SQL) => SQL;
  /**
   * The table its rows live in, when one of its own (with `user_id` and `created_at`): a change of
   * owner removes the rows added before the mailbox was proven, or since an address change it undoes
   * (src/auth/account/owner.ts).
   */
  rows?: PgTable;
  /** Its name in a `credentials.changed` event (docs/services.md), e.g. when a change of owner removes it. */
  event: (typeof CREDENTIALS)[number];
}

export interface WayIn {
  /** The amr values a proof by this method can record, each with the factor kinds it proves. */
  amr: Readonly<Record<string, readonly FactorKind[]>>;
  /** `first`: it can start a sign-in; `second`: it can complete one that needs a second factor; `either`. */
  use: "first" | "second" | "either";
  /** Its proof cannot be relayed by a look-alike site (bound to the origin). */
  phishingResistant: boolean;
  /** What the account stores for it; absent when nothing is stored per account (a code sent by mail). */
  credential?: Credential;
  /** One line for docs/mfa.md's table of ways in (a test checks the table). */
  describe: string;
}

const exists = (table: SQL, userId: AnyColumn | SQL, condition: SQL = sql`true`) =>
  sql`exists (select 1 from ${table} as c where c.user_id = ${userId} and ${condition})`;

const identity = (provider: string): Credential => ({
  held: (userId) => exists(sql`${identities}`, userId, sql`c.provider = ${provider}`),
  rows: identities,
  event: "identity",
});

export const WAYS_IN = {
  password: {
    amr: { pwd: ["knowledge"] },
    use: "first",
    phishingResistant: false,
    credential: {
      held: (userId) => sql`exists (select 1 from ${users} as c where c.id = ${userId} and c.password ~ ${USABLE_PASSWORD_PATTERN})`,
      event: "password",
    },
    describe: "Email and password (POST /auth/login).",
  },
  email_code: {
    // The mailbox's own sign-in, which this service cannot see, like a provider's: one factor,
    // counted with what the user knows (so a mailed code and an authenticator code are two kinds).
    amr: { email: ["knowledge"] },
    use: "first",
    phishingResistant: false,
    describe: "A 6-digit code mailed to the account's address (POST /auth/sign-in/code): proves the mailbox, one factor.",
  },
  google: {
    // The provider's own sign-in, which this service cannot see: one factor, counted like a password.
    amr: { google: ["knowledge"] },
    use: "first",
    phishingResistant: false,
    credential: identity("google"),
    describe: "Sign in with Google (native ID token or the web redirect flow).",
  },
  apple: {
    amr: { apple: ["knowledge"] },
    use: "first",
    phishingResistant: false,
    credential: identity("apple"),
    describe: "Sign in with Apple (native ID token or the web redirect flow).",
  },
  totp: {
    amr: { otp: ["possession"] },
    use: "second",
    phishingResistant: false,
    credential: {
      held: (userId) => exists(sql`${mfaFactors}`, userId, sql`c.kind = 'totp' and c.status = 'active'`),
      rows: mfaFactors,
      event: "totp",
    },
    describe: "A code from an authenticator app (TOTP, RFC 6238).",
  },
  recovery_code: {
    amr: { otp: ["possession"] },
    use: "second",
    phishingResistant: false,
    credential: {
      held: (userId) => exists(sql`${mfaRecoveryCodes}`, userId, sql`c.used_at is null`),
      rows: mfaRecoveryCodes,
      event: "recovery_codes",
    },
    describe: "One of the printed recovery codes, each usable once.",
  },
  passkey: {
    // A WebAuthn credential (src/auth/passkeys/): the key proves possession, bound to one device
    // (`hwk`) or synced between a user's devices (`swk`); with user verification (a PIN or
    // biometric on the authenticator) it proves a second kind too (`user`), so one ceremony is
    // multi-factor. Its signature covers this site's origin: a look-alike site cannot relay it.
    amr: { hwk: ["possession"], swk: ["possession"], user: ["inherence"] },
    use: "either",
    phishingResistant: true,
    credential: {
      held: (userId) => exists(sql`${passkeys}`, userId),
      rows: passkeys,
      event: "passkey",
    },
    describe: "A passkey (WebAuthn): a device-bound or synced key, with user verification when the authenticator did it.",
  },
} as const satisfies Record<string, WayIn>;

export type WayInName = keyof typeof WAYS_IN;
export type FirstFactor = { [K in WayInName]: (typeof WAYS_IN)[K]["use"] extends "second" ? never : K }[WayInName];
export type SecondFactor = { [K in WayInName]: (typeof WAYS_IN)[K]["use"] extends "first" ? never : K }[WayInName];

/** One proof of who the user is: a way in and the amr values this proof recorded. */
export interface Proof<M extends WayInName = WayInName> {
  method: M;
  /** Default: every amr value the way in declares; a ceremony may record fewer (a passkey without user verification). */
  amr?: readonly string[];
}

const entries = Object.entries(WAYS_IN) as [WayInName, WayIn][];

export const isWayIn = (name: string): name is WayInName => Object.hasOwn(WAYS_IN, name);

/** The ways in that can complete a sign-in as its second factor. */
const SECOND_FACTORS = entries.filter(([, w]) => w.use !== "first").map(([n]) => n) as SecondFactor[];

/** The amr values of one proof by a way in (its declared values; a ceremony may record a subset). */
export const amrOf = (name: WayInName): string[] => Object.keys(WAYS_IN[name].amr);

/** Every amr value the registry knows, with what it proves (several ways in may share one, e.g. `otp`). */
const AMR_VALUES = new Map<string, { kinds: readonly FactorKind[]; phishingResistant: boolean }>();
for (const [, w] of entries)
  for (const [value, kinds] of Object.entries(w.amr)) {
    const known = AMR_VALUES.get(value);
    AMR_VALUES.set(value, {
      kinds: [...new Set([...(known?.kinds ?? []), ...kinds])],
      phishingResistant: (known?.phishingResistant ?? true) && w.phishingResistant,
    });
  }

export const isAmrValue = (value: string) => AMR_VALUES.has(value);

/**
 * The assurance levels, the `acr` of sessions and access tokens (docs/tokens-and-sessions.md):
 * - `single-factor`: one kind of factor (a password, a mailed code, Google or Apple, a passkey
 *   without user verification);
 * - `multi-factor`: two or more kinds (a password and an authenticator code);
 * - `phishing-resistant`: two or more kinds, one of them bound to this site's origin (a passkey
 *   with user verification, or a password and a passkey).
 */
export const ACR_VALUES = ["single-factor", "multi-factor", "phishing-resistant"] as const;
export type Acr = (typeof ACR_VALUES)[number];

export interface Assessment {
  /** The distinct factor kinds the session's proofs established. */
  kinds: FactorKind[];
  multiFactor: boolean;
  phishingResistant: boolean;
  acr: Acr;
}

/** What a session's amr proves, from the registry. Throws on a value no way in declares (it would be a rule's blind spot). */
export function assess(amr: readonly string[]): Assessment {
  const kinds = new Set<FactorKind>();
  let bound = false;
  for (const value of amr) {
    const known = AMR_VALUES.get(value);
    if (!known) throw new Error(`amr value "${value}" is not declared by any way in (src/auth/sign-in/ways-in.ts)`);
    for (const k of known.kinds) kinds.add(k);
    bound ||= known.phishingResistant;
  }
  const multiFactor = kinds.size >= 2;
  const phishingResistant = multiFactor && bound;
  return {
    kinds: [...kinds],
    multiFactor,
    phishingResistant,
    acr: phishingResistant ? "phishing-resistant" : multiFactor ? "multi-factor" : "single-factor",
  };
}

const held = (names: readonly WayInName[], userId: AnyColumn | SQL) =>
  names.flatMap((n) => {
    const c = (WAYS_IN[n] as WayIn).credential;
    return c ? [{ name: n, sql: c.held(userId) }] : [];
  });

/** SQL: the account holds a way in that can serve as a second factor (it is an "MFA account"). */
export const hasSecondFactor = (userId: AnyColumn | SQL): SQL => {
  const parts = held(SECOND_FACTORS, userId).map((h) => h.sql);
  return sql`(${sql.join(parts, sql` or `)})`;
};

/** SQL: the names of the second factors the account holds, as a text[] (what an MFA challenge offers). */
export const secondFactorsHeld = (userId: AnyColumn | SQL): SQL<string[]> => {
  const parts = held(SECOND_FACTORS, userId).map((h) => sql`case when ${h.sql} then ${h.name} end`);
  return sql<string[]>`array_remove(array[${sql.join(parts, sql`, `)}]::text[], null)`;
};

/**
 * Of the second factors an account holds, those that complete a sign-in whose first proof recorded
 * `firstAmr`: together they must prove two kinds of factor. After a password every one does; after
 * a passkey without user verification (possession) an authenticator code (possession too) does
 * not, a passkey with user verification does. What an MFA challenge offers and accepts.
 */
export const completingFactors = (firstAmr: readonly string[], held: readonly SecondFactor[]): SecondFactor[] =>
  held.filter((m) => assess([...firstAmr, ...amrOf(m)]).multiFactor);

/** The ways in an account keeps between sign-ins: "never remove the last way in" looks for one of these. */
const STORED_FIRST_FACTORS = entries.filter(([, w]) => w.use !== "second" && w.credential).map(([n]) => n);

/**
 * SQL: the account still holds a stored way to sign in (a usable password, a linked identity, a
 * passkey...). Rules that remove one remove it first, then check this in the same transaction
 * with the account row locked, and roll back when nothing is left. A mailed code does not count:
 * it can be switched off (SIGN_IN_CODE), and it is not a credential the account holds.
 */
const hasFirstFactor = (userId: AnyColumn | SQL): SQL<boolean> => {
  const parts = held(STORED_FIRST_FACTORS, userId).map((h) => h.sql);
  return sql<boolean>`(${sql.join(parts, sql` or `)})`;
};

/** The account still holds a stored way to sign in (see hasFirstFactor), read on `db` (a transaction that changed them). */
export async function holdsWayIn(db: Db, userId: string): Promise<boolean> {
  const [row] = await db.execute<{ held: boolean }>(sql`select ${hasFirstFactor(sql`${userId}::uuid`)} as held, ${UNCACHED} as fresh`);
  return row?.held === true;
}

/**
 * The tables holding ways in, once each (several ways in may share one: Google and Apple
 * identities), with the credential's name in events.
 */
export const CREDENTIAL_TABLES: readonly { table: PgTable; event: Credential["event"] }[] = [
  ...new Map(
    entries.flatMap(([, w]) => {
      const c: Credential | undefined = w.credential;
      return c?.rows ? [[c.rows, { table: c.rows, event: c.event }] as const] : [];
    }),
  ).values(),
];
