import type { en } from "./en";
import type { hi } from "./hi";

/** A message with forms per number: Intl.PluralRules categories, and "=0" for exactly none. */
type Plural = { readonly "=0"?: string; readonly other: string } & { readonly [C in Intl.LDMLPluralRule]?: string };
type English = typeof en;
export type Key = keyof English;

/** What every locale's catalog has: exactly English's keys, a plain message where English has one, forms where it has forms. */
export type Catalog = { readonly [K in Key]: English[K] extends string ? string : Plural };

/** The {placeholders} of a message (of all its forms). */
type Holes<M> = M extends string
  ? M extends `${string}{${infer P}}${infer R}`
    ? P | Holes<R>
    : never
  : M extends object
    ? Holes<M[keyof M]>
    : never;
export type HolesOf<K extends Key> = Holes<English[K]>;

// The type check fails, naming the key, when a locale's message has other placeholders than English's.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Mismatched<L extends Catalog> = { [K in Key]: Same<Holes<English[K]>, Holes<L[K]>> extends true ? never : K }[Key];
type Agree<M extends never> = M;
type _Checked = Agree<Mismatched<typeof hi>>;
